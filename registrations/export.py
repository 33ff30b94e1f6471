"""Participant exports that open correctly in Excel pt-BR and LibreOffice.

Both formats have the same columns, in the same order. Columns are only ever
appended at the end, so the organizers' spreadsheets and macros keep working.

CSV: UTF-8 with a BOM (so Excel detects the encoding), ``;`` by default
(Excel pt-BR's list separator), a header row, dates in local time
(``dd/mm/aaaa hh:mm``, which spreadsheets read as dates) and the registration
number as a plain number. A CSV cannot say "this cell is text", so every
text column (name, e-mail, CPF, phone, city, district, profile, notice
version...) follows one rule, the same for all of them:

    a text cell gets a leading apostrophe (``'``) when it starts with a
    formula trigger (``= + - @``, tab, CR; OWASP "CSV Injection"), when a
    spreadsheet would read it as a number, a date, a time, a fraction or a
    yes/no ("00123", "12,5", "3e5", "1/2", "2026-11", "nov-26", "10:30",
    "VERDADEIRO"), or when it already starts with an apostrophe.

Everything else is written as is ("Maria", "Quadra 12", "123.456.789-09",
"(61) 99999-0000"). The apostrophe is visible when the CSV is opened
(Excel and LibreOffice only hide it when typed into a cell), but it is honest
and lossless: nothing is converted, and dropping one leading ``'`` gives back
the stored value exactly. An invisible character or a ``="..."`` formula
would be neither. For typed columns without apostrophes, use the XLSX.

Money ("Valor (R$)") is a Decimal: ``480,00`` in the CSV (pt-BR, no
thousands separator, which both spreadsheets read as the number 480), a
numeric cell formatted ``#,##0.00`` in the XLSX.

XLSX (openpyxl, write-only): typed cells. Text columns are text cells (CPF
and phone keep their leading zeros, "2026-11" and "1/2" never become dates,
no apostrophe is shown), dates are real date-time cells in local time with a
pt-BR format, the id is a number; a frozen header row, an autofilter over the
data and column widths. A cell the rule above would protect in the CSV is
written with Excel's "quote prefix" style, so it stays text even when edited;
strings are written as strings even when they start with "=" (openpyxl would
write a formula).

Rows are streamed from the database in chunks: 100,000 participants never sit
in memory (the XLSX goes through a temporary file).
"""

from __future__ import annotations

import csv
import datetime as dt
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from decimal import Decimal
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

# What Excel or LibreOffice (pt-BR or English) turns into something else when
# it opens a CSV. Deliberately precise: "Quadra 12", a CPF "123.456.789-09"
# or a phone "(61) 99999-0000" stay text in both, so they are left alone.
_MONTHS = (
    "jan|janeiro|january|fev|fevereiro|feb|february|mar|março|marco|march|abr|abril|apr|april|mai|maio|may|"
    "jun|junho|june|jul|julho|july|ago|agosto|aug|august|set|setembro|sep|sept|september|out|outubro|oct|"
    "october|nov|novembro|november|dez|dezembro|dec|december"
)
_D = "[0-9]"
_WOULD_CONVERT = re.compile(
    "|".join(
        (
            # numbers: 00123, -1, 12,5, 1.234,56, 3e5, 12%, R$ 10, (12) (negative in accounting)
            rf"[-+]?\(?\s*(?:R\$|US\$|\$|€|£)?\s*(?:{_D}[0-9.,]*|[.,]{_D}+)(?:e[-+]?{_D}+)?\s*%?\s*\)?",
            # dates and fractions: 1/2, 11/2026, 2026-11, 05.11.2026, with an optional time
            rf"{_D}{{1,4}}[-/.]{_D}{{1,4}}(?:[-/.]{_D}{{1,4}})?(?:[ T]{_D}{{1,2}}:{_D}{{2}}(?::{_D}{{2}})?)?",
            # mixed fractions: 1 1/2
            rf"{_D}+\s+{_D}+/{_D}+",
            # times: 10:30, 7:05:00, 10:30 pm
            rf"{_D}{{1,2}}:{_D}{{2}}(?::{_D}{{2}})?(?:\s*[ap]\.?m\.?)?",
            # a month with a day or a year: nov-26, março/2026, 5 nov, 5-nov-2026, may 5
            rf"(?:{_D}{{1,2}}[-/ ])?(?:{_MONTHS})\.?[-/ ]{_D}{{1,4}}",
            rf"{_D}{{1,2}}[-/ ](?:{_MONTHS})\.?(?:[-/ ]{_D}{{1,4}})?",
            # yes/no
            "true|false|verdadeiro|falso",
        )
    ),
    re.IGNORECASE,
)

TEXT = "text"
DATETIME = "datetime"
INTEGER = "integer"
MONEY = "money"

XLSX_DATETIME_FORMAT = "dd/mm/yyyy hh:mm"
XLSX_MONEY_FORMAT = "#,##0.00"


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
    Column("Versão do aviso", TEXT, 15),
    Column("E-mail de confirmação", TEXT, 14),
    # Added after the first exports existed: new columns go last, so staff spreadsheets keep their columns.
    Column("Região administrativa (DF)", TEXT, 22),
    Column("Nº de inscrição", INTEGER, 10),
    # Paid registration (issue 15).
    Column("Código de inscrição", TEXT, 13),
    Column("Categoria", TEXT, 22),
    Column("Lote", TEXT, 12),
    Column("Valor (R$)", MONEY, 11),
    Column("Pago em", DATETIME, 17),
    Column("Vencimento", DATETIME, 17),
)
HEADER = [column.header for column in COLUMNS]


def neutralize(value: object) -> str:
    """Make a cell safe to open in a spreadsheet: prefix formula triggers with '."""
    text = "" if value is None else str(value)
    if text.startswith(_FORMULA_TRIGGERS):
        return "'" + text
    return text


def excel_would_convert(text: str) -> bool:
    """Whether a spreadsheet opening a CSV would read ``text`` as a number, a
    date, a time, a fraction or a yes/no ("00123" -> 123, "1/2" -> 01/fev)."""
    return bool(_WOULD_CONVERT.fullmatch(text.strip()))


def needs_quote(text: str) -> bool:
    """Whether the CSV rule (see the module docstring) prefixes ``text`` with '."""
    return bool(text) and (text.startswith((*_FORMULA_TRIGGERS, "'")) or excel_would_convert(text))


def keep_as_text(value: object) -> str:
    """A CSV text cell that a spreadsheet shows as the text it is: ``'`` first when :func:`needs_quote`."""
    text = "" if value is None else str(value)
    return "'" + text if needs_quote(text) else text


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


def format_money(value: Decimal) -> str:
    """``Decimal("1480.5")`` -> ``"1480,50"``: what a pt-BR spreadsheet reads as a number."""
    return f"{Decimal(value).quantize(Decimal('0.01')):f}".replace(".", ",")


class ChoiceLabels:
    """The status labels, translated once per export instead of once per row."""

    def __init__(self) -> None:
        self.status = {value: str(label) for value, label in Participant.Status.choices}
        self.email = {value: str(label) for value, label in Participant.EmailStatus.choices}


def participant_values(p: Participant, *, full_cpf: bool = True, labels: ChoiceLabels | None = None) -> list[object]:
    """One participant's values in ``COLUMNS`` order, typed (str, local naive datetime, int, Decimal).

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
        p.code or "",
        p.ticket.name if p.ticket_id is not None else "",
        p.lot_name,
        p.amount,
        _local(p.paid_at),
        _local(p.payment_due_at),
    ]


def _csv_cell(column: Column, value: object) -> str:
    if column.kind == DATETIME:
        return value.strftime("%d/%m/%Y %H:%M") if value else ""
    if column.kind == INTEGER:
        return "" if value is None else str(value)
    if column.kind == MONEY:
        return "" if value is None else format_money(value)
    return keep_as_text(value)


def participant_row(p: Participant, *, full_cpf: bool = True, labels: ChoiceLabels | None = None) -> list[str]:
    """One CSV row (strings), in ``HEADER`` order."""
    values = participant_values(p, full_cpf=full_cpf, labels=labels)
    return [_csv_cell(column, value) for column, value in zip(COLUMNS, values, strict=True)]


class _Echo:
    """A file-like object whose write returns the line, for streaming."""

    def write(self, value: str) -> str:
        return value


def export_queryset(queryset: QuerySet[Participant]) -> QuerySet[Participant]:
    return queryset.select_related("profile", "ticket").order_by("created_at", "id")


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

    # One styled cell per date and money column, reused row after row: the
    # writer serializes each row as it is appended.
    styled_cells = {}
    for index, column in enumerate(COLUMNS):
        if column.kind in (DATETIME, MONEY):
            styled_cells[index] = WriteOnlyCell(sheet)
            styled_cells[index].number_format = XLSX_DATETIME_FORMAT if column.kind == DATETIME else XLSX_MONEY_FORMAT

    def cell(index: int, column: Column, value: object) -> object:
        if value is None or value == "":
            return None
        if column.kind in (DATETIME, MONEY):
            styled_cells[index].value = value
            return styled_cells[index]
        if column.kind == INTEGER:
            return value
        # Control characters are not allowed in the XML (openpyxl refuses them).
        text = ILLEGAL_CHARACTERS_RE.sub("", str(value))
        if not needs_quote(text):
            return text  # a plain string cell
        # openpyxl writes a string starting with "=" as a formula: force a
        # string. quotePrefix keeps Excel reading it as text even when the
        # cell is edited, and keeps "2026-11" from becoming a date. The
        # value itself has no apostrophe: an XLSX cell is typed.
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
