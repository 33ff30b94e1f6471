"""Helpers for the few hot statements written as SQL instead of the ORM
(docs/benchmarks.md, "What changed"): the ORM compiles the same query on
every message, which was most of a turn's CPU.

Column and table names always come from the models; values are always
parameters. Rows come back as model instances through each field's own
conversion (``from_db_value``, e.g. JSON), as the ORM would build them.
"""

from __future__ import annotations

import functools

from django.db import connection, models


@functools.cache
def _fields_by_attname(model: type[models.Model]) -> dict[str, models.Field]:
    return {field.attname: field for field in model._meta.concrete_fields}


@functools.cache
def _loading(model: type[models.Model]) -> tuple[list[str], list]:
    fields = model._meta.concrete_fields
    converters = [getattr(field, "from_db_value", None) for field in fields]
    return [field.attname for field in fields], converters


def columns(model: type[models.Model], alias: str = "") -> str:
    """The model's concrete columns, in field order, for a SELECT or RETURNING."""
    prefix = f"{alias}." if alias else ""
    return ", ".join(prefix + field.column for field in model._meta.concrete_fields)


def from_row(model: type[models.Model], row) -> models.Model:
    """An instance from a row holding ``columns(model)`` in order."""
    names, converters = _loading(model)
    values = [value if convert is None else convert(value, None, connection) for convert, value in zip(converters, row, strict=True)]
    return model.from_db(connection.alias, names, values)


def insert(model: type[models.Model], values: dict) -> int:
    """INSERT one row (``values`` keyed by attname, each through its field's
    own preparation) and return its id: one ``INSERT … RETURNING``, the same
    SQL on PostgreSQL and SQLite, where ``Model.save()`` costs several times
    the statement itself."""
    fields = _fields_by_attname(model)
    names = [fields[name].column for name in values]
    params = [fields[name].get_db_prep_save(value, connection) for name, value in values.items()]
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {model._meta.db_table} ({', '.join(names)})"  # noqa: S608 - names from the model
            f" VALUES ({', '.join(['%s'] * len(names))}) RETURNING id",
            params,
        )
        return cursor.fetchone()[0]
