"""Participants have no "delete" permission any more.

Nobody deletes a participant (the admin refuses it to everyone, superusers
included): cancelling and the LGPD erasure are the only ways out. The
permission "Can delete participante" still existed and could be granted
although it did nothing, so the model stops declaring it and this migration
removes the stale row (and with it any grant to a user or a group).
"""

from __future__ import annotations

from django.db import migrations


def delete_stale_permission(apps, schema_editor) -> None:
    Permission = apps.get_model("auth", "Permission")
    alias = schema_editor.connection.alias
    Permission.objects.using(alias).filter(
        content_type__app_label="registrations",
        content_type__model="participant",
        codename="delete_participant",
    ).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("registrations", "0007_participant_search_text_backfill"),
    ]

    operations = [
        migrations.AlterModelOptions(
            name="participant",
            options={
                "default_permissions": ("add", "change", "view"),
                "ordering": ["-created_at"],
                "permissions": [
                    ("export_participant", "Pode exportar participantes"),
                    ("view_full_cpf", "Ver CPF completo"),
                    ("erase_participant", "Apagar dados pessoais (LGPD)"),
                ],
                "verbose_name": "participante",
                "verbose_name_plural": "participantes",
            },
        ),
        # Nothing to put back: the permission is recreated by ``migrate`` only
        # if the model declares it again.
        migrations.RunPython(delete_stale_permission, migrations.RunPython.noop),
    ]
