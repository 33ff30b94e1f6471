"""Fill ``Participant.search_text`` for existing rows, and index it on PostgreSQL.

The admin searches ``search_text LIKE '%term%'``; a B-tree index cannot serve
that, a trigram GIN index can. ``pg_trgm`` ships with PostgreSQL (contrib) and
is a trusted extension since PostgreSQL 13, so the database owner may create
it; where that is refused the search still works, by a sequential scan, and
the migration says so instead of failing a deployment. SQLite gets no index
(its LIKE cannot use one).

The fold is imported from the validators, not the model, on purpose: the
migration must keep producing what ``Participant.save()`` produces.
"""

from __future__ import annotations

import logging

from django.db import DatabaseError, migrations, transaction

from registrations.validators import fold

logger = logging.getLogger(__name__)

INDEX = "participant_search_text_trgm"
BATCH = 1000


def backfill(apps, schema_editor) -> None:
    Participant = apps.get_model("registrations", "Participant")
    manager = Participant.objects.db_manager(schema_editor.connection.alias)
    rows = manager.filter(anonymized_at__isnull=True)
    batch = []
    for row in rows.only("pk", "full_name", "email", "city", "district").iterator(chunk_size=BATCH):
        row.search_text = fold(" ".join(p for p in (row.full_name, row.email or "", row.city, row.district) if p))
        batch.append(row)
        if len(batch) >= BATCH:
            manager.bulk_update(batch, ["search_text"])
            batch = []
    if batch:
        manager.bulk_update(batch, ["search_text"])


def create_trigram_index(apps, schema_editor) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    try:
        with transaction.atomic(using=schema_editor.connection.alias):
            schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    except DatabaseError as exc:
        logger.warning("pg_trgm unavailable (%s): participant search works without an index", exc)
        return
    schema_editor.execute(
        f"CREATE INDEX IF NOT EXISTS {INDEX} ON registrations_participant USING gin (search_text gin_trgm_ops)"
    )


def drop_trigram_index(apps, schema_editor) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"DROP INDEX IF EXISTS {INDEX}")


class Migration(migrations.Migration):
    dependencies = [
        ("registrations", "0006_search_text_permissions_protected_history"),
    ]

    operations = [
        migrations.RunPython(backfill, migrations.RunPython.noop),
        migrations.RunPython(create_trigram_index, drop_trigram_index),
    ]
