"""CSV export of participants that opens correctly in Excel pt-BR.

UTF-8 with a BOM (so Excel detects the encoding), ``;`` by default (Excel
pt-BR's list separator), a header row, CPF and phone formatted as text so
leading zeros survive, dates in local time, and every cell that Excel would
run as a formula neutralized (OWASP "CSV Injection"). Rows are streamed, so
100,000 participants never sit in memory.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator

from django.db.models import QuerySet
from django.utils import timezone

from registrations.models import Participant

BOM = "\ufeff"
DELIMITERS = {";": ";", ",": ",", "tab": "\t", "\\t": "\t", "\t": "\t"}
# OWASP: cells starting with these are interpreted as formulas by spreadsheet apps.
_FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r", "\n", "\uff1d", "\uff0b", "\uff0d", "\uff20")

HEADER = [
    "Nome",
    "E-mail",
    "CPF",
    "Telefone",
    "Cidade",
    "UF",
    "Perfil",
    "Situação",
    "Inscrito em",
    "Consentimento em",
    "Versão do aviso",
    "E-mail de confirmação",
    # Added after the first exports existed: new columns go last, so staff spreadsheets keep their columns.
    "Região administrativa (DF)",
]


def neutralize(value: object) -> str:
    """Make a cell safe to open in a spreadsheet: prefix formula triggers with '."""
    text = "" if value is None else str(value)
    if text.startswith(_FORMULA_TRIGGERS):
        return "'" + text
    return text


def _local(dt) -> str:
    return timezone.localtime(dt).strftime("%d/%m/%Y %H:%M") if dt else ""


def format_phone_national(e164: str) -> str:
    digits = e164.removeprefix("+55")
    if len(digits) == 11:
        return f"({digits[:2]}) {digits[2:7]}-{digits[7:]}"
    if len(digits) == 10:
        return f"({digits[:2]}) {digits[2:6]}-{digits[6:]}"
    return e164


def participant_row(p: Participant) -> list[str]:
    return [
        neutralize(v)
        for v in (
            p.full_name,
            p.email,
            p.cpf_formatted,
            format_phone_national(p.phone),
            p.city,
            p.uf,
            p.profile.name,
            p.get_status_display(),
            _local(p.created_at),
            _local(p.consent_at),
            p.consent_version,
            p.get_confirmation_email_status_display(),
            p.district,
        )
    ]


class _Echo:
    """A file-like object whose write returns the line, for streaming."""

    def write(self, value: str) -> str:
        return value


def export_queryset(queryset: QuerySet[Participant]) -> QuerySet[Participant]:
    return queryset.select_related("profile").order_by("created_at", "id")


def iter_csv(queryset: QuerySet[Participant], *, delimiter: str = ";") -> Iterator[str]:
    """Yield the CSV text, BOM and header first, a line at a time."""
    writer = csv.writer(_Echo(), delimiter=DELIMITERS.get(delimiter, delimiter), lineterminator="\r\n")
    yield BOM + writer.writerow(HEADER)
    for participant in export_queryset(queryset).iterator(chunk_size=2000):
        yield writer.writerow(participant_row(participant))


def write_csv(rows: Iterable[str], stream) -> int:
    count = -1  # the header is not a participant
    for line in rows:
        stream.write(line)
        count += 1
    return count
