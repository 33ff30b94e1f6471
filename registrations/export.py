"""Participant exports that open correctly in Excel pt-BR and LibreOffice.

Both formats have the same columns, in the same order. Columns are only ever
appended at the end, so the organizers' spreadsheets and macros keep working.

CSV: UTF-8 with a BOM (so Excel detects the encoding), ``;`` by default
(Excel pt-BR's list separator), a header row, CPF and phone formatted as text
so leading zeros survive, dates in local time, and every cell that Excel would
run as a formula neutralized (OWASP "CSV Injection") with a leading ``'``.
The same ``'`` marks a "Versão do aviso" that Excel would otherwise turn into
a date or a number ("2026-11" becomes "nov/26"): a CSV cannot say "this is
text", and a visible apostrophe is honest where an invisible character or a
``="..."`` formula would not be. A reader undoes both with one rule: drop a
leading ``'``.

XLSX (openpyxl, write-only): typed cells. CPF, phone and "Versão do aviso" are
text cells (leading zeros kept, never a date), dates are real date-time cells
in local time with a pt-BR format, the id is a number; a frozen header row, an
autofilter over the data and column widths. Strings are written as strings
even when they start with "=" (openpyxl would write a formula).

Rows are streamed from the database in chunks: 100,000 participants never sit
in memory (the XLSX goes through a temporary file).
"""

from __future__ import annotations

import csv
import datetime as dt
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import IO

from django.db.models import QuerySet
from django.utils import timezone

from registrations.models import Participant
from registrations.validators import mask_cpf

BOM = "\ufeff"
DELIMITERS = {";": ";", ",": ",", "tab": "\t", "\\t": "\t", "\t": "\t"}
FORMATS = ("csv", "xlsx")
CONTENT_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
# OWASP: cells starting with these are interpreted as formulas by spreadsheet apps.
_FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r", "\n", "\uff1d", "\uff0b", "\uff0d", "\uff20")
# What Excel (pt-BR or en) turns into a date or a number when it opens a CSV:
# digits with separators ("2026-11", "1.2", "11/2026", "3") or a month name
# with a number ("nov-26", "março/2026").
_EXCEL_WOULD_CONVERT = re.compile(
    r"^\s*[\d.,/:\- ]*\d[\d.,/:\- ]*\s*$|^\s*[^\W\d_]{3,9}\.?[-/ ]\d{1,4}\s*$", re.IGNORECASE
)

TEXT = "text"
TEXT_NOT_NUMBER = "text-not-number"  # text that Excel would read as a date or a number
DATETIME = "datetime"
INTEGER = "integer"

XLSX_DATETIME_FORMAT = "dd/mm/yyyy hh:mm"


@dataclass(frozen=True)
class Column:
    header: str
    kind: str
    width: float  # XLSX column width, in characters


COLUMNS: tuple[Column, ...] = (
    Column("Nome", TEXT, 32),
    Column("E-mail", TEXT, 32),
    Column("CPF", TEXT, 16),
    Column("Telefone", TEXT, 17),
    Column("Cidade", TEXT, 22),
    Column("UF", TEXT, 5),
    Column("Perfil", TEXT, 24),
    Column("Situação", TEXT, 12),
    Column("Inscrito em", DATETIME, 17),
    Column("Consentimento em", DATETIME, 17),
    Column("Versão do aviso", TEXT_NOT_NUMBER, 15),
    Column("E-mail de confirmação", TEXT, 14),
    # Added after the first exports existed: new columns go last, so staff spreadsheets keep their columns.
    Column("Região administrativa (DF)", TEXT, 22),
    Column("Nº de inscrição", INTEGER, 10),
)
HEADER = [column.header for column in COLUMNS]


def neutralize(value: object) -> str:
    """Make a cell safe to open in a spreadsheet: prefix formula triggers with '."""
    text = "" if value is None else str(value)
    if text.startswith(_FORMULA_TRIGGERS):
        return "'" + text
    return text


def excel_would_convert(text: str) -> bool:
    """Whether Excel would read ``text`` as a date or a number ("2026-11" -> nov/26)."""
    return bool(_EXCEL_WOULD_CONVERT.match(text))


def keep_as_text(value: object) -> str:
    """A CSV cell that Excel shows as text: formula triggers and date or number look-alikes get a leading '."""
    text = neutralize(value)
    if text and not text.startswith("'") and excel_would_convert(text):
        return "'" + text
    return text


def _local(moment: dt.datetime | None) -> dt.datetime | None:
    """Naive local time (Excel has no time zones): what the organizers' clock said."""
    return timezone.localtime(moment).replace(tzinfo=None) if moment else None


def format_phone_national(e164: str) -> str:
    digits = e164.removeprefix("+55")
    if len(digits) == 11:
        return f"({digits[:2]}) {digits[2:7]}-{digits[7:]}"
    if len(digits) == 10:
        return f"({digits[:2]}) {digits[2:6]}-{digits[6:]}"
    return e164


class ChoiceLabels:
    """The status labels, translated once per export instead of once per row."""

    def __init__(self) -> None:
        self.status = {value: str(label) for value, label in Participant.Status.choices}
        self.email = {value: str(label) for value, label in Participant.EmailStatus.choices}


def participant_values(p: Participant, *, full_cpf: bool = True, labels: ChoiceLabels | None = None) -> list[object]:
    """One participant's values in ``COLUMNS`` order, typed (str, local naive datetime, int).

    ``full_cpf=False``: the CPF masked (``***.456.789-**``), for viewers
    without the "Ver CPF completo" permission.
    """
    labels = labels or ChoiceLabels()
    if not p.cpf:
        cpf = ""
    else:
        cpf = p.cpf_formatted if full_cpf else mask_cpf(p.cpf)
    return [
        p.full_name,
        p.email or "",
        cpf,
        format_phone_national(p.phone),
        p.city,
        p.uf,
        p.profile.name,
        labels.status.get(p.status, p.status),
        _local(p.created_at),
        _local(p.consent_at),
        p.consent_version,
        labels.email.get(p.confirmation_email_status, p.confirmation_email_status),
        p.district,
        p.pk,
    ]


def _csv_cell(column: Column, value: object) -> str:
    if column.kind == DATETIME:
        return value.strftime("%d/%m/%Y %H:%M") if value else ""
    if column.kind == INTEGER:
        return "" if value is None else str(value)
    if column.kind == TEXT_NOT_NUMBER:
        return keep_as_text(value)
    return neutralize(value)


def participant_row(p: Participant, *, full_cpf: bool = True, labels: ChoiceLabels | None = None) -> list[str]:
    """One CSV row (strings), in ``HEADER`` order."""
    values = participant_values(p, full_cpf=full_cpf, labels=labels)
    return [_csv_cell(column, value) for column, value in zip(COLUMNS, values, strict=True)]


class _Echo:
    """A file-like object whose write returns the line, for streaming."""

    def write(self, value: str) -> str:
        return value


def export_queryset(queryset: QuerySet[Participant]) -> QuerySet[Participant]:
    return queryset.select_related("profile").order_by("created_at", "id")


def iter_csv(queryset: QuerySet[Participant], *, delimiter: str = ";", full_cpf: bool = True) -> Iterator[str]:
    """Yield the CSV text, BOM and header first, a line at a time."""
    writer = csv.writer(_Echo(), delimiter=DELIMITERS.get(delimiter, delimiter), lineterminator="\r\n")
    yield BOM + writer.writerow(HEADER)
    labels = ChoiceLabels()
    for participant in export_queryset(queryset).iterator(chunk_size=2000):
        yield writer.writerow(participant_row(participant, full_cpf=full_cpf, labels=labels))


def write_csv(rows: Iterable[str], stream) -> int:
    count = -1  # the header is not a participant
    for line in rows:
        stream.write(line)
        count += 1
    return count


def write_xlsx(queryset: QuerySet[Participant], stream: IO[bytes], *, full_cpf: bool = True) -> int:
    """Write the participants as an XLSX workbook to ``stream`` (binary); returns the row count.

    openpyxl's write-only mode writes each row to a temporary file as it is
    appended, so memory stays flat whatever the number of participants.
    """
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(title="Participantes")
    # Sheet layout must be set before the first row in write-only mode.
    sheet.freeze_panes = "A2"
    for index, column in enumerate(COLUMNS, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = column.width
    bold = Font(bold=True)

    def header_cell(text: str) -> WriteOnlyCell:
        cell = WriteOnlyCell(sheet, value=text)
        cell.font = bold
        return cell

    # One styled cell per date column, reused row after row: the writer
    # serializes each row as it is appended.
    date_cells = {}
    for index, column in enumerate(COLUMNS):
        if column.kind == DATETIME:
            date_cells[index] = WriteOnlyCell(sheet)
            date_cells[index].number_format = XLSX_DATETIME_FORMAT

    def cell(index: int, column: Column, value: object) -> object:
        if value is None or value == "":
            return None
        if column.kind == DATETIME:
            date_cells[index].value = value
            return date_cells[index]
        if column.kind == INTEGER:
            return value
        # Control characters are not allowed in the XML (openpyxl refuses them).
        text = ILLEGAL_CHARACTERS_RE.sub("", str(value))
        if not (text.startswith(_FORMULA_TRIGGERS) or excel_would_convert(text)):
            return text  # a plain string cell
        # openpyxl writes a string starting with "=" as a formula: force a
        # string. quotePrefix keeps Excel reading it as text even when the
        # cell is edited, and keeps "2026-11" from becoming a date.
        forced = WriteOnlyCell(sheet, value=text)
        forced.data_type = "s"
        forced.quotePrefix = True
        return forced

    sheet.append([header_cell(header) for header in HEADER])
    count = 0
    labels = ChoiceLabels()
    for participant in export_queryset(queryset).iterator(chunk_size=2000):
        values = participant_values(participant, full_cpf=full_cpf, labels=labels)
        sheet.append(
            [cell(index, column, value) for index, (column, value) in enumerate(zip(COLUMNS, values, strict=True))]
        )
        count += 1
    sheet.auto_filter.ref = f"A1:{get_column_letter(len(COLUMNS))}{count + 1}"
    workbook.save(stream)
    return count
