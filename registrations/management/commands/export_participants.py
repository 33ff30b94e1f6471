"""Export registrants as CSV for Excel pt-BR (UTF-8 with BOM, ';' by default).

    python manage.py export_participants --output inscritos.csv --uf SP --status confirmed
"""

from __future__ import annotations

import datetime as dt

from django.core.management.base import BaseCommand, CommandError

from registrations.export import iter_csv, write_csv
from registrations.filters import filter_participants
from registrations.models import ExportRecord, Participant


def _date(value: str) -> dt.date:
    for fmt in ("%Y-%m-%d", "%d/%m/%Y"):
        try:
            return dt.datetime.strptime(value, fmt).date()
        except ValueError:
            continue
    raise CommandError(f"invalid date {value!r}: use YYYY-MM-DD or DD/MM/YYYY")


class _Raw:
    """Write through Django's OutputWrapper without it adding line endings."""

    def __init__(self, wrapper) -> None:
        self.wrapper = wrapper

    def write(self, text: str) -> None:
        self.wrapper.write(text, ending="")


class Command(BaseCommand):
    help = "Exporta os inscritos em CSV (abre corretamente no Excel em português)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--output", "-o", help="file to write (default: standard output)")
        parser.add_argument("--delimiter", default=";", choices=[";", ",", "tab"], help="field separator (default ';')")
        parser.add_argument("--status", choices=[c for c, _ in Participant.Status.choices])
        parser.add_argument("--uf", help="state, e.g. SP")
        parser.add_argument("--profile", help="profile name or id")
        parser.add_argument("--since", type=_date, help="registered on or after (YYYY-MM-DD)")
        parser.add_argument("--until", type=_date, help="registered on or before (YYYY-MM-DD)")
        parser.add_argument("--search", help="name, e-mail, phone or CPF")

    def handle(self, *args, output: str | None, delimiter: str, **options) -> None:
        filters = {k: options.get(k) for k in ("status", "uf", "profile", "since", "until", "search")}
        queryset = filter_participants(**filters)
        rows = iter_csv(queryset, delimiter=delimiter)
        if output:
            with open(output, "w", encoding="utf-8", newline="") as stream:
                count = write_csv(rows, stream)
        else:
            count = write_csv(rows, _Raw(self.stdout))
        ExportRecord.objects.create(
            actor="export_participants",
            action="export_command",
            row_count=count,
            filters=" ".join(f"{k}={v}" for k, v in filters.items() if v)[:1000],
        )
        self.stderr.write(f"{count} participant(s) exported" + (f" to {output}" if output else ""))
