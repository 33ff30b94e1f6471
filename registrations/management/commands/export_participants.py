"""Export registrants as CSV for Excel pt-BR (UTF-8 with BOM, ';' by default) or as XLSX.

    python manage.py export_participants --output inscritos.csv --uf SP --status confirmed
    python manage.py export_participants --output inscritos.xlsx      # XLSX, from the extension
    python manage.py export_participants --format xlsx -o inscritos.xlsx --mask-cpf
"""

from __future__ import annotations

import datetime as dt

from django.core.management.base import BaseCommand, CommandError

from registrations.audit import command_filters_text, export_record_create
from registrations.export import FORMATS, iter_csv, write_csv, write_xlsx
from registrations.filters import filter_participants
from registrations.models import Participant


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
    help = "Exporta os inscritos em CSV (abre corretamente no Excel em português) ou XLSX."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--output", "-o", help="file to write (default: standard output, CSV only)")
        parser.add_argument(
            "--format", choices=FORMATS, help="csv or xlsx (default: xlsx when --output ends in .xlsx, else csv)"
        )
        parser.add_argument("--delimiter", default=";", choices=[";", ",", "tab"], help="CSV field separator (default ';')")
        parser.add_argument("--mask-cpf", action="store_true", help="mask CPFs (***.456.789-**), as the Equipe role sees them")
        parser.add_argument("--status", choices=[c for c, _ in Participant.Status.choices])
        parser.add_argument("--uf", help="state, e.g. SP")
        parser.add_argument("--profile", help="profile name or id")
        parser.add_argument("--since", type=_date, help="registered on or after (YYYY-MM-DD)")
        parser.add_argument("--until", type=_date, help="registered on or before (YYYY-MM-DD)")
        parser.add_argument("--search", help="name, e-mail, city, phone or CPF")

    def handle(self, *args, output: str | None, delimiter: str, **options) -> None:
        file_format = options.get("format") or ("xlsx" if output and output.lower().endswith(".xlsx") else "csv")
        full_cpf = not options.get("mask_cpf")
        filters = {k: options.get(k) for k in ("status", "uf", "profile", "since", "until", "search")}
        queryset = filter_participants(**filters)
        if file_format == "xlsx":
            if not output:
                raise CommandError("XLSX needs --output FILE.xlsx (it is a binary file)")
            with open(output, "wb") as stream:
                count = write_xlsx(queryset, stream, full_cpf=full_cpf)
        else:
            rows = iter_csv(queryset, delimiter=delimiter, full_cpf=full_cpf)
            if output:
                with open(output, "w", encoding="utf-8", newline="") as stream:
                    count = write_csv(rows, stream)
            else:
                count = write_csv(rows, _Raw(self.stdout))
        export_record_create(
            actor="export_participants",
            action="export_command",
            row_count=count,
            filters=command_filters_text(filters),
            file_format=file_format,
        )
        self.stderr.write(f"{count} participant(s) exported" + (f" to {output}" if output else ""))
