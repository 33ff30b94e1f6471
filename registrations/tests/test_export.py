"""CSV export for Excel pt-BR: BOM, delimiter, leading zeros, formula injection, filters."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from congress.testing.factories import make_cpf, make_participant, make_profile
from registrations.export import HEADER, iter_csv, neutralize
from registrations.models import ExportRecord, Participant

pytestmark = pytest.mark.django_db


def export_text(**filters) -> str:
    out = io.StringIO()
    call_command("export_participants", stderr=io.StringIO(), stdout=out, **filters)
    return out.getvalue()


def rows_of(text: str, delimiter: str = ";") -> list[list[str]]:
    assert text.startswith("\ufeff")
    return list(csv.reader(io.StringIO(text[1:]), delimiter=delimiter))


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("=HYPERLINK(\"http://x\")", "'=HYPERLINK(\"http://x\")"),
        ("+5561999990000", "'+5561999990000"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tcmd", "'\tcmd"),
        ("\rcmd", "'\rcmd"),
        ("Maria", "Maria"),
        ("", ""),
    ],
    ids=["equals", "plus", "minus", "at", "tab", "cr", "plain", "empty"],
)
def test_cells_that_excel_would_run_as_formulas_are_neutralized(value, expected):
    assert neutralize(value) == expected


def test_export_starts_with_a_bom_and_a_header_and_uses_semicolons_by_default():
    make_participant(full_name="Ana Lima")
    rows = rows_of(export_text())
    assert rows[0][:3] == ["Nome", "E-mail", "CPF"]
    assert rows[1][0] == "Ana Lima"


def test_export_can_use_commas():
    make_participant(full_name="Ana Lima")
    text = export_text(delimiter=",")
    assert text.splitlines()[0].count(",") >= 10
    assert rows_of(text, ",")[1][0] == "Ana Lima"


def test_a_cpf_with_leading_zeros_keeps_them_as_text():
    cpf = make_cpf("001234567")
    make_participant(cpf=cpf)
    row = rows_of(export_text())[1]
    assert row[2] == f"{cpf[:3]}.{cpf[3:6]}.{cpf[6:9]}-{cpf[9:]}"
    assert row[2].startswith("001.")


def test_a_hostile_name_is_exported_neutralized():
    make_participant(full_name='=cmd|"/C calc"!A0')
    assert rows_of(export_text())[1][0] == "'=cmd|\"/C calc\"!A0"


def test_phone_is_exported_in_national_format_not_as_a_formula():
    make_participant(phone="+5561999990000")
    assert rows_of(export_text())[1][3] == "(61) 99999-0000"


def test_filters_are_honoured():
    sp = make_participant(uf="SP", full_name="Paulista Um")
    make_participant(uf="PR", full_name="Paranaense Dois")
    cancelled = make_participant(uf="SP", full_name="Paulista Cancelado", status=Participant.Status.CANCELLED)
    names = {r[0] for r in rows_of(export_text(uf="sp", status="confirmed"))[1:]}
    assert names == {sp.full_name}
    assert cancelled.full_name not in names


def test_profile_filter_by_name():
    student = make_profile(name="Estudante")
    make_participant(profile=student, full_name="Aluna Tal")
    make_participant(full_name="Produtor Tal")
    assert [r[0] for r in rows_of(export_text(profile="estudante"))[1:]] == ["Aluna Tal"]


def test_the_command_writes_a_file_and_records_the_export(tmp_path):
    make_participant()
    make_participant()
    target = tmp_path / "out.csv"
    call_command("export_participants", output=str(target), stderr=io.StringIO())
    data = target.read_bytes()
    assert data.startswith(b"\xef\xbb\xbf")
    assert len(rows_of(data.decode("utf-8"))) == 3
    record = ExportRecord.objects.get()
    assert record.row_count == 2 and record.action == "export_command"


def test_export_streams_rows_without_loading_the_queryset():
    make_participant()
    generator = iter_csv(Participant.objects.all())
    first = next(generator)
    assert first.startswith("\ufeffNome;")
    assert next(generator).count(";") == len(HEADER) - 1


def test_a_df_administrative_region_is_exported_in_its_own_column_after_the_original_ones():
    from registrations.export import participant_row

    class Row:
        pk = 7
        full_name, email, cpf, cpf_formatted, phone = "Ana Lima", "ana@gmail.com", "12345678909", "123.456.789-09", "+5561999990000"
        city, uf, district, consent_version = "Brasília", "DF", "Ceilândia", "v1"
        status, confirmation_email_status = "confirmed", "sent"
        created_at = consent_at = paid_at = payment_due_at = None
        code, ticket_id, ticket, lot_name, amount = None, None, None, "", 0

        class profile:
            name = "Estudante"

    row = participant_row(Row())
    assert row[HEADER.index("Situação")] == "Confirmada" and row[HEADER.index("E-mail de confirmação")] == "Enviado"
    region = HEADER.index("Região administrativa (DF)")
    assert region == 12
    assert row[region] == "Ceilândia" and row[HEADER.index("Cidade")] == "Brasília"


# --------------------------------------------------------------------------
# Columns: the original ones in the same order, new ones appended
# --------------------------------------------------------------------------

ORIGINAL_HEADER = [
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
    "Região administrativa (DF)",
]


# Appended later, in this order, after the original columns.
APPENDED_HEADER = ["Nº de inscrição", "Código de inscrição", "Categoria", "Lote", "Valor (R$)", "Pago em", "Vencimento"]


def test_the_original_columns_keep_their_order_and_new_ones_come_last():
    assert HEADER[: len(ORIGINAL_HEADER)] == ORIGINAL_HEADER
    assert HEADER[len(ORIGINAL_HEADER) :] == APPENDED_HEADER


def test_the_csv_carries_the_participant_id_after_the_original_columns():
    participant = make_participant()
    rows = rows_of(export_text())
    assert rows[0][len(ORIGINAL_HEADER)] == "Nº de inscrição"
    assert rows[1][len(ORIGINAL_HEADER)] == str(participant.pk)


def test_a_registration_without_a_ticket_exports_empty_payment_columns_and_a_zero_amount():
    make_participant()
    row = dict(zip(HEADER, rows_of(export_text())[1], strict=True))
    assert (row["Código de inscrição"], row["Categoria"], row["Lote"]) == ("", "", "")
    assert row["Valor (R$)"] == "0,00"
    assert row["Pago em"] == row["Vencimento"] == ""


# --------------------------------------------------------------------------
# "Versão do aviso" never becomes a date in Excel
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("version", "cell"),
    [
        ("2026-11", "'2026-11"),  # Excel: a date, shown "nov/26"
        ("11/2026", "'11/2026"),  # a date too
        ("1.2", "'1.2"),  # pt-BR Excel: 01/fev
        ("3", "'3"),  # a number
        ("nov-26", "'nov-26"),  # a month name and a year
        ("v3", "v3"),
        ("2026-11 revisado", "2026-11 revisado"),
        ("-1", "'-1"),  # formula trigger, neutralized once
    ],
    ids=["year-month", "month-year", "decimal", "integer", "month-name", "text", "sentence", "minus"],
)
def test_the_notice_version_is_kept_as_text_in_the_csv(version, cell):
    make_participant(consent_version=version)
    rows = rows_of(export_text())
    assert rows[1][HEADER.index("Versão do aviso")] == cell


def test_dates_in_the_csv_stay_dates_for_excel():
    make_participant()
    row = rows_of(export_text())[1]
    assert re.fullmatch(r"\d{2}/\d{2}/\d{4} \d{2}:\d{2}", row[HEADER.index("Inscrito em")])


# --------------------------------------------------------------------------
# XLSX: typed cells, frozen header, filters
# --------------------------------------------------------------------------


def xlsx_sheet(tmp_path, **options):
    from openpyxl import load_workbook

    target = tmp_path / "inscritos.xlsx"
    call_command("export_participants", output=str(target), stderr=io.StringIO(), **options)
    return load_workbook(target).active


def test_xlsx_cells_are_typed(tmp_path):
    participant = make_participant(cpf=make_cpf("012345678"), phone="+5561999990000", consent_version="2026-11")
    sheet = xlsx_sheet(tmp_path)
    header = [cell.value for cell in sheet[1]]
    assert header == HEADER
    row = {name: cell for name, cell in zip(header, sheet[2], strict=True)}
    assert row["CPF"].data_type == "s" and row["CPF"].value == participant.cpf_formatted
    assert row["CPF"].value.startswith("012.")
    assert row["Telefone"].data_type == "s" and row["Telefone"].value == "(61) 99999-0000"
    assert row["Versão do aviso"].data_type == "s" and row["Versão do aviso"].value == "2026-11"
    assert row["Situação"].data_type == "s" and row["Situação"].value == "Confirmada"
    assert row["Nº de inscrição"].data_type == "n" and row["Nº de inscrição"].value == participant.pk
    created = row["Inscrito em"]
    assert created.is_date and isinstance(created.value, dt.datetime)
    assert created.number_format == "dd/mm/yyyy hh:mm"
    local = timezone.localtime(participant.created_at).replace(tzinfo=None, second=0, microsecond=0)
    assert created.value.replace(second=0, microsecond=0) == local


def test_xlsx_has_a_frozen_header_and_filters_over_the_data(tmp_path):
    from openpyxl.utils import get_column_letter

    make_participant()
    make_participant()
    sheet = xlsx_sheet(tmp_path)
    assert sheet.freeze_panes == "A2"
    assert sheet.auto_filter.ref == f"A1:{get_column_letter(len(HEADER))}3" == "A1:T3"
    assert sheet["A1"].font.bold
    assert sheet.column_dimensions["A"].width >= 20


def test_a_formula_looking_name_stays_a_string_in_xlsx(tmp_path):
    make_participant(full_name='=cmd|"/C calc"!A0')
    cell = xlsx_sheet(tmp_path)["A2"]
    assert cell.data_type == "s"
    assert cell.value == '=cmd|"/C calc"!A0'
    assert cell.quotePrefix


def test_xlsx_is_inferred_from_the_output_name_and_audited(tmp_path):
    make_participant(uf="SP")
    target = tmp_path / "out.xlsx"
    call_command("export_participants", output=str(target), uf="sp", stderr=io.StringIO())
    assert target.read_bytes().startswith(b"PK")  # a zip, not a CSV
    record = ExportRecord.objects.get()
    assert record.format == "xlsx" and record.row_count == 1 and record.filters == "UF=SP"


def test_format_csv_wins_over_the_extension(tmp_path):
    make_participant()
    target = tmp_path / "out.xlsx"
    call_command("export_participants", output=str(target), format="csv", stderr=io.StringIO())
    assert target.read_bytes().startswith(b"\xef\xbb\xbf")


def test_xlsx_needs_an_output_file():
    with pytest.raises(CommandError):
        call_command("export_participants", format="xlsx", stdout=io.StringIO(), stderr=io.StringIO())


def test_the_command_can_mask_cpfs(tmp_path):
    make_participant(cpf=make_cpf("123456789"))
    assert rows_of(export_text(mask_cpf=True))[1][2] == "***.456.789-**"


def test_the_command_records_its_filters_in_words():
    make_participant(uf="SP")
    export_text(uf="SP", status="confirmed", since=dt.date(2026, 3, 1))
    record = ExportRecord.objects.get()
    assert record.filters == "situação=Confirmada, UF=SP, inscritos a partir de 01/03/2026"
    assert record.format == "csv"


def test_xlsx_streams_through_a_file_without_loading_the_queryset(tmp_path):
    from registrations.export import write_xlsx

    for _ in range(3):
        make_participant()
    with open(tmp_path / "x.xlsx", "wb") as stream:
        assert write_xlsx(Participant.objects.all(), stream) == 3


# --------------------------------------------------------------------------
# One CSV rule for every text column: what a spreadsheet would convert gets '
# --------------------------------------------------------------------------

TEXT_FIELDS = {"Nome": "full_name", "Cidade": "city", "Região administrativa (DF)": "district", "Versão do aviso": "consent_version"}


@pytest.mark.parametrize("value", ["1/2", "00123", "2026-11", "3e5", "12,5"], ids=["fraction", "zeros", "year-month", "exponent", "decimal"])
@pytest.mark.parametrize("column", list(TEXT_FIELDS), ids=["name", "city", "district", "version"])
def test_text_a_spreadsheet_would_convert_gets_the_same_apostrophe_in_every_text_column(column, value):
    make_participant(**{TEXT_FIELDS[column]: value})
    assert rows_of(export_text())[1][HEADER.index(column)] == "'" + value


@pytest.mark.parametrize(
    "value", ["Maria", "Quadra 12", "2026-11 revisado", "Rua 1/2"], ids=["name", "word-number", "sentence", "address"]
)
@pytest.mark.parametrize("column", list(TEXT_FIELDS), ids=["name", "city", "district", "version"])
def test_text_a_spreadsheet_keeps_as_text_is_written_as_is(column, value):
    make_participant(**{TEXT_FIELDS[column]: value})
    assert rows_of(export_text())[1][HEADER.index(column)] == value


def test_cpf_and_phone_are_never_prefixed():
    participant = make_participant(cpf=make_cpf("001234567"), phone="+5561999990000")
    row = rows_of(export_text())[1]
    assert row[HEADER.index("CPF")] == participant.cpf_formatted
    assert row[HEADER.index("Telefone")] == "(61) 99999-0000"


def test_a_value_starting_with_an_apostrophe_keeps_it_so_dropping_one_gives_the_value_back():
    make_participant(full_name="'Ana")
    assert rows_of(export_text())[1][0] == "''Ana"


def test_the_xlsx_keeps_convertible_text_as_text_without_an_apostrophe(tmp_path):
    make_participant(full_name="00123", city="1/2")
    sheet = xlsx_sheet(tmp_path)
    name, city = sheet["A2"], sheet.cell(row=2, column=HEADER.index("Cidade") + 1)
    assert (name.data_type, name.value, name.quotePrefix) == ("s", "00123", True)
    assert (city.data_type, city.value) == ("s", "1/2")


# --------------------------------------------------------------------------
# export_participants on the command line: clear errors, warnings, pipes
# --------------------------------------------------------------------------


def test_an_impossible_date_is_a_clear_error_not_a_traceback():
    with pytest.raises(CommandError, match=r"--since: invalid date '2026-13-01': use YYYY-MM-DD or DD/MM/YYYY"):
        call_command("export_participants", "--since", "2026-13-01", stdout=io.StringIO(), stderr=io.StringIO())


def test_an_impossible_date_on_the_command_line_prints_the_usage_error_only():
    import subprocess
    import sys
    from pathlib import Path

    from django.conf import settings

    result = subprocess.run(
        [sys.executable, str(Path(settings.BASE_DIR) / "manage.py"), "export_participants", "--since", "2026-13-01"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "invalid date '2026-13-01'" in result.stderr
    assert "Traceback" not in result.stderr


def test_an_unknown_profile_is_warned_about_with_the_valid_ones():
    make_participant(profile=make_profile(name="Estudante"))
    make_profile(name="Produtor rural")
    err = io.StringIO()
    call_command("export_participants", profile="Nope", stdout=io.StringIO(), stderr=err)
    assert "no profile 'Nope'" in err.getvalue()
    assert "Estudante, Produtor rural" in err.getvalue()
    assert "0 participant(s) exported" in err.getvalue()


def test_a_known_profile_is_not_warned_about():
    make_participant(profile=make_profile(name="Estudante"))
    err = io.StringIO()
    call_command("export_participants", profile="estudante", stdout=io.StringIO(), stderr=err)
    assert "warning" not in err.getvalue()


class ClosedAfter(io.StringIO):
    """Standard output whose reader goes away after ``lines`` writes (``| head``)."""

    def __init__(self, lines: int) -> None:
        super().__init__()
        self.left = lines

    def write(self, text: str) -> int:
        if self.left <= 0:
            raise BrokenPipeError(32, "Broken pipe")
        self.left -= 1
        return super().write(text)


def test_a_closed_pipe_ends_the_export_quietly_and_records_what_was_handed_over():
    for _ in range(5):
        make_participant()
    out, err = ClosedAfter(3), io.StringIO()
    call_command("export_participants", stdout=out, stderr=err)  # no BrokenPipeError
    assert out.getvalue().count("\r\n") == 3
    assert err.getvalue() == ""
    record = ExportRecord.objects.get()
    assert record.row_count == 2  # the header and two participants were written
