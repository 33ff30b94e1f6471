"""CSV export for Excel pt-BR: BOM, delimiter, leading zeros, formula injection, filters."""

from __future__ import annotations

import csv
import io

import pytest
from django.core.management import call_command

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


def test_a_df_administrative_region_is_exported_in_its_own_last_column():
    from registrations.export import participant_row

    class Row:
        full_name, email, cpf_formatted, phone = "Ana Lima", "ana@gmail.com", "123.456.789-09", "+5561999990000"
        city, uf, district, consent_version = "Brasília", "DF", "Ceilândia", "v1"
        created_at = consent_at = None

        class profile:
            name = "Estudante"

        def get_status_display(self):
            return "Confirmada"

        def get_confirmation_email_status_display(self):
            return "Enviado"

    row = participant_row(Row())
    assert HEADER[-1] == "Região administrativa (DF)"
    assert row[-1] == "Ceilândia" and row[HEADER.index("Cidade")] == "Brasília"
