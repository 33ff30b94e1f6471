"""Fold ``Participant.search_text`` again now that the fold drops invisible
format characters (zero-width spaces, soft hyphens...): a name stored as
"Ma\\u200bria" is found by "maria".

One pass over the participants not yet anonymized, writing only the rows
whose text changes (those with such characters): cheap at a congress's size.
Like 0007, the fold is imported from the validators so this produces what
``Participant.save()`` produces.
"""

from __future__ import annotations

from django.db import migrations

from registrations.validators import fold

BATCH = 1000


def refold(apps, schema_editor) -> None:
    Participant = apps.get_model("registrations", "Participant")
    manager = Participant.objects.db_manager(schema_editor.connection.alias)
    rows = manager.filter(anonymized_at__isnull=True).only(
        "pk", "full_name", "email", "city", "district", "search_text"
    )
    changed = []
    for row in rows.iterator(chunk_size=BATCH):
        text = fold(" ".join(p for p in (row.full_name, row.email or "", row.city, row.district) if p))
        if text != row.search_text:
            row.search_text = text
            changed.append(row)
        if len(changed) >= BATCH:
            manager.bulk_update(changed, ["search_text"])
            changed = []
    if changed:
        manager.bulk_update(changed, ["search_text"])


class Migration(migrations.Migration):
    dependencies = [
        ("registrations", "0008_participant_no_delete_permission"),
    ]

    operations = [
        migrations.RunPython(refold, migrations.RunPython.noop),
    ]
