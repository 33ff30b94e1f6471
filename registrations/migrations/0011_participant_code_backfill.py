"""Give every existing registration a registration code (CBAS-XXXXX)."""

import secrets

from django.conf import settings
from django.db import migrations

ALPHABET = "2345679ACDEFGHJKMNPQRTUVWXYZ"


def backfill(apps, schema_editor):
    Participant = apps.get_model("registrations", "Participant")
    prefix = getattr(settings, "REGISTRATION_CODE_PREFIX", "CBAS").upper()
    used = set(Participant.objects.exclude(code=None).values_list("code", flat=True))
    for pk in Participant.objects.filter(code=None).values_list("pk", flat=True).iterator():
        while True:
            code = f"{prefix}-{''.join(secrets.choice(ALPHABET) for _ in range(5))}"
            if code not in used:
                break
        used.add(code)
        Participant.objects.filter(pk=pk).update(code=code)


class Migration(migrations.Migration):
    dependencies = [("registrations", "0010_paid_registration")]
    operations = [migrations.RunPython(backfill, migrations.RunPython.noop)]
