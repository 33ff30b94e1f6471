"""The audit trail in words: registration events and export records."""

from __future__ import annotations

import re

import pytest

from registrations.audit import (
    command_filters_text,
    export_record_summary,
    legacy_filters_text,
    registration_event_summary,
    selection_text,
)
from registrations.models import ExportRecord, RegistrationEvent
from registrations.tests.conftest import register

Kind = RegistrationEvent.Kind

# What a sentence must never show: arrows, step codes, field names, English.
RAW = re.compile(r"->|\basking_|\bfull_name\b|\bcity_ibge_code\b|_id\b|\balready\b|\bregistered\b|\bgave up\b|\bto \w")


def event(kind: str, *, step: str = "", detail: str = "", actor: str = "participante") -> RegistrationEvent:
    return RegistrationEvent(kind=kind, step=step, detail=detail, actor=actor)


@pytest.mark.parametrize(
    ("row", "sentence"),
    [
        (event(Kind.STEP, step="asking_cpf", detail="asking_email -> asking_cpf"), "Chegou à etapa: CPF"),
        (
            event(Kind.STEP, step="confirming", detail="asking_profile -> confirming"),
            "Chegou à etapa: Confirmação dos dados",
        ),
        (
            event(Kind.STEP, step="completed", detail="confirming -> completed"),
            "Chegou ao fim da conversa de inscrição",
        ),
        (event(Kind.STEP, step="idle", detail="asking_name -> idle"), "Saiu da inscrição em andamento"),
        (
            event(Kind.CONSENT_GIVEN, step="asking_consent", detail="2026-11"),
            "Aceitou o aviso de privacidade (versão 2026-11)",
        ),
        (event(Kind.CONSENT_REFUSED, detail="2026-11"), "Recusou o aviso de privacidade (versão 2026-11)"),
        (event(Kind.ABANDONED, step="asking_email", detail="asking_email"), "Desistiu da inscrição na etapa: E-mail"),
        (event(Kind.ABANDONED, detail="registration closed"), "Inscrição interrompida: as inscrições estão encerradas"),
        (
            event(Kind.ABANDONED, detail="registered elsewhere: resend"),
            "Desistiu: já estava inscrito por outro número e pediu o reenvio da confirmação",
        ),
        (
            event(Kind.CREATED, detail="cpf ***.456.789-**, e-mail m***@gmail.com"),
            "Confirmou a inscrição (CPF ***.456.789-**, e-mail m***@gmail.com)",
        ),
        (event(Kind.CREATED, detail="", actor="maria"), "Inscrição criada no admin por maria"),
        (
            event(Kind.REACTIVATED, detail="cpf ***.456.789-**, e-mail m***@gmail.com"),
            "Confirmou a inscrição de novo (estava cancelada) (CPF ***.456.789-**, e-mail m***@gmail.com)",
        ),
        (event(Kind.UPDATED, detail="email"), "Corrigiu o e-mail"),
        (event(Kind.UPDATED, detail="email, full_name"), "Corrigiu o e-mail e o nome"),
        (event(Kind.UPDATED, detail="city, city_ibge_code, uf"), "Corrigiu a cidade e a UF"),
        (event(Kind.UPDATED, detail="profile_id"), "Corrigiu o perfil"),
        (
            event(Kind.ADMIN_EDIT, detail="email, city", actor="maria"),
            "Dados alterados no admin por maria: e-mail, cidade",
        ),
        (
            event(Kind.ADMIN_EDIT, detail="full_name", actor="maria"),
            "Dados alterados no admin por maria: nome completo",
        ),
        (event(Kind.CANCELLED, detail="pedido pelo participante"), "Cancelou a inscrição (pelo participante)"),
        (event(Kind.CANCELLED, detail="admin", actor="maria"), "Inscrição cancelada no admin por maria"),
        (
            event(Kind.DUPLICATE_REFUSED, detail="cpf ***.456.789-** already registered"),
            "Recusado: o CPF já pertence a outra inscrição (***.456.789-**)",
        ),
        (
            event(Kind.DUPLICATE_REFUSED, detail="email at asking_email"),
            "Recusado: o e-mail já pertence a outra inscrição (na etapa: E-mail)",
        ),
        (
            event(Kind.DUPLICATE_REFUSED, detail="cpf already registered (correction refused)"),
            "Correção recusada: o CPF já pertence a outra inscrição",
        ),
        (
            event(Kind.DUPLICATE_REFUSED, detail="email at amend"),
            "Correção recusada: o e-mail já pertence a outra inscrição",
        ),
        (
            event(Kind.EMAIL_SENT, detail="to m***@gmail.com", actor="sistema"),
            "E-mail de confirmação enviado para m***@gmail.com",
        ),
        (
            event(
                Kind.EMAIL_FAILED,
                detail="gave up after 5 retries: connection to the mail server failed",
                actor="sistema",
            ),
            "Falha ao enviar o e-mail de confirmação (desistimos depois de 5 tentativas)",
        ),
        (
            event(Kind.EMAIL_FAILED, detail="ESP refused the address: Rejected", actor="sistema"),
            "Falha ao enviar o e-mail de confirmação: o serviço de e-mail recusou o endereço",
        ),
        (
            event(Kind.EMAIL_RESEND, detail="confirmation e-mail resend requested"),
            "Pediu o reenvio do e-mail de confirmação",
        ),
        (event(Kind.EMAIL_RESEND, actor="maria"), "Reenvio do e-mail de confirmação pedido no admin por maria"),
        (event(Kind.ANONYMIZED, actor="maria"), "Dados pessoais apagados (LGPD) por maria"),
        (event(Kind.ANONYMIZED, actor="participant"), "Dados pessoais apagados a pedido do participante (LGPD)"),
        (event(Kind.ANONYMIZED, actor="purge_personal_data"), "Dados pessoais apagados pelo prazo de retenção (LGPD)"),
        (event(Kind.EXPORTED), "Incluída numa exportação"),
    ],
)
def test_every_kind_of_event_reads_as_a_sentence(row, sentence):
    assert registration_event_summary(row) == sentence
    assert not RAW.search(registration_event_summary(row))


@pytest.mark.django_db
def test_a_real_registration_history_reads_in_words(chat, django_capture_on_commit_callbacks):
    c = register(chat())
    c.say("quero corrigir o e-mail")
    c.say("maria.dores@gmail.com")
    c.say("sim")
    c.say("cancelar minha inscrição")
    c.say("sim")
    events = list(RegistrationEvent.objects.order_by("id"))
    sentences = [registration_event_summary(e) for e in events]
    assert "Chegou à etapa: CPF" in sentences
    assert any(s.startswith("Confirmou a inscrição (CPF ***.") for s in sentences)
    assert "Cancelou a inscrição (pelo participante)" in sentences
    for sentence in sentences:
        assert not RAW.search(sentence), sentence


@pytest.mark.parametrize(
    ("action", "raw", "words"),
    [
        ("export_selected", "ids=[3, 2, 1]", "nº 1, 2, 3"),
        ("export_selected", "ids=[9, 8]…", "nº 8, 9…"),
        ("export_filtered", "uf__exact=GO&status__exact=confirmed", "UF=GO, situação=Confirmada"),
        ("export_filtered", "q=maria&o=-9&p=2", 'busca="maria"'),
        ("export_filtered", "q=12345678909", 'busca="***.456.789-**"'),
        (
            "export_filtered",
            "created_at__gte=2026-03-05+00%3A00%3A00-03%3A00&created_at__lt=2026-03-06+00%3A00%3A00-03%3A00",
            "inscritos a partir de 05/03/2026 e antes de 06/03/2026",
        ),
        ("export_filtered", "confirmation_email_status__exact=failed", "e-mail de confirmação=Falhou"),
        (
            "export_command",
            "uf=SP status=confirmed search=maria souza",
            'UF=SP, situação=Confirmada, busca="maria souza"',
        ),
        ("export_command", "since=2026-03-01", "inscritos a partir de 01/03/2026"),
    ],
    ids=[
        "ids",
        "ids-ellipsis",
        "uf-status",
        "search-ignores-paging",
        "cpf-masked",
        "dates",
        "email",
        "command",
        "since",
    ],
)
def test_old_filters_are_put_into_words(action, raw, words):
    assert legacy_filters_text(action, raw) == words


def test_a_selection_lists_the_first_twenty_ids_in_order():
    assert selection_text([3, 2, 1]) == "nº 1, 2, 3"
    assert selection_text(range(30, 0, -1)).endswith("20…")


def test_command_filters_in_words():
    import datetime as dt

    text = command_filters_text({"status": "cancelled", "uf": "go", "profile": None, "since": dt.date(2026, 3, 1)})
    assert text == "situação=Cancelada, UF=GO, inscritos a partir de 01/03/2026"


@pytest.mark.parametrize(
    ("record", "sentence"),
    [
        (
            ExportRecord(action="export_filtered", row_count=3, filters="UF=GO, situação=Confirmada", format="csv"),
            "Exportou 3 participantes (filtros: UF=GO, situação=Confirmada)",
        ),
        (
            ExportRecord(action="export_filtered", row_count=1, filters="", format="xlsx"),
            "Exportou 1 participante (sem filtros)",
        ),
        (
            ExportRecord(action="export_selected", row_count=3, filters="ids=[3, 2, 1]"),
            "Exportou 3 participantes selecionados (nº 1, 2, 3)",
        ),
        (ExportRecord(action="cancel_selected", row_count=2), "Cancelou 2 inscrições"),
        (ExportRecord(action="erase_personal_data", row_count=1), "Apagou os dados pessoais (LGPD) de 1 participante"),
        (ExportRecord(action="outbound_retry", row_count=4), "Mandou enviar de novo 4 respostas"),
    ],
    ids=["filtered", "no-filters", "legacy-selection", "cancel", "erase", "whatsapp-retry"],
)
def test_export_records_read_as_sentences(record, sentence):
    assert export_record_summary(record) == sentence


@pytest.mark.parametrize(
    ("pairs", "words"),
    [
        ([("uf", "zz")], "UF=ZZ"),
        ([("uf", "SP"), ("uf", "GO")], "UF=SP ou GO"),
        ([("status__exact", "zzz")], "situação=zzz"),
        ([("uf__isnull", "True")], "UF=(vazio)"),
        (
            [("created_at__lt", "2026-11-26 00:00:00-03:00"), ("uf", "GO"), ("created_at__gte", "2026-11-25")],
            "inscritos antes de 26/11/2026 e a partir de 25/11/2026, UF=GO",
        ),
        ([("created_at__year", "2026"), ("created_at__month", "3"), ("created_at__day", "5")], "inscritos em 05/03/2026"),
        ([("created_at__gte", "not a date")], "inscritos a partir de not a date"),
        ([("o", "-6"), ("p", "2"), ("q", "ana")], 'busca="ana"'),
    ],
    ids=["no-choice", "several-values", "unknown-label", "isnull", "range-split", "hierarchy", "garbage-kept", "ignored"],
)
def test_filter_parameters_in_words(pairs, words):
    from registrations.audit import params_text

    assert params_text(pairs) == words


@pytest.mark.django_db
def test_an_event_and_a_record_print_as_their_sentences_without_a_time():
    from congress.testing.factories import make_participant

    participant = make_participant()
    event = RegistrationEvent.objects.create(participant=participant, kind=Kind.EMAIL_RESEND, actor="maria")
    assert str(event) == "Reenvio do e-mail de confirmação pedido no admin por maria"
    record = ExportRecord.objects.create(actor="maria", action="cancel_selected", row_count=1)
    assert str(record) == "Cancelou 1 inscrição"
