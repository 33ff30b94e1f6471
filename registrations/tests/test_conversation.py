"""Scripted conversations through ``registration_turn`` on the real database."""

from __future__ import annotations

import re

import pytest

from chatbot.models import ConversationState
from registrations.models import Participant, RegistrationEvent
from registrations.tests.conftest import (
    CPF_A,
    CPF_B,
    CPF_C,
    HAPPY_ANSWERS,
    answers_for,
    register,
)

pytestmark = pytest.mark.django_db

PERSONAL_KEYS = {"full_name", "email", "cpf", "phone", "city", "uf", "profile"}


def assert_nothing_stored(chat) -> None:
    assert Participant.objects.count() == 0
    assert not PERSONAL_KEYS & set(chat.fields)


# --- happy path ----------------------------------------------------------------------------


def test_happy_path_with_messy_input_stores_one_clean_participant(chat):
    c = register(chat())
    participant = Participant.objects.get()
    assert (participant.full_name, participant.email, participant.cpf, participant.phone) == (
        "Maria das Dores Souza", "maria.souza@gmail.com", "12345678909", "+5561999990000",
    )  # fmt: skip
    assert (participant.city, participant.uf, participant.city_ibge_code) == ("Londrina", "PR", 4113700)
    assert participant.profile.name == "Produtor rural"
    assert participant.status == Participant.Status.CONFIRMED
    assert participant.consent_version == "2026-11" and participant.consent_at is not None
    assert participant.conversation == c.state
    assert c.step == "completed"


def test_completed_conversation_keeps_no_personal_data_in_its_state(chat):
    c = register(chat())
    assert c.state.data == {"participant_id": Participant.objects.get().pk}


def test_every_step_change_and_the_outcome_are_audited_without_the_cpf(chat):
    c = register(chat())
    events = list(RegistrationEvent.objects.filter(conversation_id=c.conversation_id).order_by("id"))
    steps = [e.step for e in events if e.kind == RegistrationEvent.Kind.STEP]
    assert steps == ["asking_consent", "asking_name", "asking_email", "asking_cpf", "asking_phone",
                     "asking_city", "asking_profile", "confirming", "completed"]  # fmt: skip
    kinds = {e.kind for e in events}
    assert {RegistrationEvent.Kind.CONSENT_GIVEN, RegistrationEvent.Kind.CREATED} <= kinds
    for audit in RegistrationEvent.objects.all():
        assert "12345678909" not in audit.detail and "123.456.789-09" not in audit.detail


def test_message_unrelated_to_the_registration_is_left_to_the_engine(chat):
    c = chat()
    assert c.say("qual o endereço do evento?") is None
    assert c.say("cancelar") is None
    assert c.step == "idle"


def test_menu_option_intent_starts_the_registration(chat):
    c = chat()
    assert "*sim* ou *não*" in c.text("1", intent="register")
    assert c.step == "asking_consent"


# --- error paths -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("bad", "expected"),
    [("123.456.789-00", "não é válido"), ("111.111.111-11", "todos os dígitos iguais")],
    ids=["invalid-check-digits", "repeated-digits"],
)
def test_invalid_cpf_is_refused_and_asked_again(chat, bad, expected):
    c = chat()
    for text in ("quero me inscrever", "sim", "Ana Lima", "ana@gmail.com"):
        c.say(text)
    assert expected in c.text(bad)
    assert c.step == "asking_cpf"
    c.say(CPF_B)
    assert c.step == "asking_phone"


def test_bad_ddd_is_refused_and_asked_again(chat):
    c = chat()
    for text in ("quero me inscrever", "sim", "Ana Lima", "ana@gmail.com", CPF_B):
        c.say(text)
    assert "DDD 20 não existe" in c.text("(20) 99999-0000")
    assert c.step == "asking_phone"


def test_unknown_city_with_a_suggestion_then_ambiguous_city_asks_the_uf(chat):
    c = chat()
    for text in ("quero me inscrever", "sim", "Ana Lima", "ana@gmail.com", CPF_B, "(55) 99999-0000"):
        c.say(text)
    assert "Xique-Xique/BA" in c.text("Xique Xiq")
    c.say("não")
    assert "RN" in c.text("santa maria")
    assert c.step == "asking_state"
    c.say("RS")
    assert (c.fields["city"], c.fields["uf"]) == ("Santa Maria", "RS")
    assert c.step == "asking_profile"


def test_email_typo_suggestion_is_offered_and_accepted(chat):
    c = chat()
    for text in ("quero me inscrever", "sim", "Ana Lima"):
        c.say(text)
    assert "ana.lima@hotmail.com" in c.text("ana.lima@hotmial.com")
    c.say("sim")
    assert c.fields["email"] == "ana.lima@hotmail.com"


def test_question_mid_flow_is_answered_then_the_pending_question_repeated(chat):
    c = chat()
    for text in ("quero me inscrever", "sim", "Ana Lima"):
        c.say(text)
    replies = c.say("qual o endereço do evento? meu cpf é 529.982.247-25")
    assert c.step == "asking_email"
    assert replies[0] == c.answer_text
    assert "e-mail" in replies[1]
    assert c.questions == ["qual o endereço do evento? meu cpf é [CPF removido]"]  # the Q&A never sees a CPF


def test_cancel_mid_flow_stores_nothing(chat):
    c = chat()
    for text in ("quero me inscrever", "sim", "Ana Lima", "ana@gmail.com", CPF_B):
        c.say(text)
    c.say("cancelar")
    assert c.step == "idle"
    assert_nothing_stored(c)
    assert RegistrationEvent.objects.filter(kind=RegistrationEvent.Kind.ABANDONED).count() == 1


def test_consent_refused_stores_nothing(chat):
    c = chat()
    c.say("quero me inscrever")
    c.say("não")
    assert c.step == "idle"
    assert_nothing_stored(c)
    assert RegistrationEvent.objects.filter(kind=RegistrationEvent.Kind.CONSENT_REFUSED).exists()


def test_correction_at_the_summary_keeps_the_other_fields(chat):
    c = register(chat(), confirm=False)
    before = c.fields
    c.say("quero corrigir o e-mail")
    c.say("maria.dores@gmail.com")
    assert c.step == "confirming"
    assert c.fields == {**before, "email": "maria.dores@gmail.com"}
    c.say("sim")
    assert Participant.objects.get().email == "maria.dores@gmail.com"


def test_registration_closed_meanwhile_is_not_stored_at_confirmation(chat, event):
    c = register(chat(), confirm=False)
    event.registration_open = False
    event.save()
    assert "encerradas" in c.text("sim")
    assert_nothing_stored(c)


# --- duplicates -------------------------------------------------------------------------------


def other_registration_leaks(text: str) -> list[str]:
    """Pieces of the first registration (Maria's) that must never appear."""
    pieces = ["Maria", "Souza", "maria.souza", "m***@", "99999-0000", "456.789", "Londrina/PR"]
    return [piece for piece in pieces if piece.lower() in text.lower()]


def test_cpf_of_another_registration_is_refused_without_revealing_anything(chat):
    register(chat())
    c = chat()
    for text in ("quero me inscrever", "sim", "Ana Lima", "ana@gmail.com"):
        c.say(text)
    reply = c.text(CPF_A)
    assert "já está em outra inscrição" in reply
    assert "(43) 99999-1234" in reply  # how to reach the organizers
    assert other_registration_leaks(reply) == []
    assert c.step == "asking_cpf"
    assert Participant.objects.count() == 1


def test_email_of_another_registration_in_another_case_is_refused(chat):
    register(chat())
    c = chat()
    for text in ("quero me inscrever", "sim", "Ana Lima"):
        c.say(text)
    reply = c.text("MARIA.SOUZA@gmail.com")
    assert "já está sendo usado" in reply
    assert other_registration_leaks(reply.replace("MARIA.SOUZA@gmail.com", "")) == []
    assert c.step == "asking_email"


def test_duplicate_that_appears_between_typing_and_confirming_is_refused_at_confirmation(chat):
    slow = chat()
    slow.say("quero me inscrever")
    for text in answers_for(email="ana@gmail.com", cpf=CPF_A):
        slow.say(text)
    register(chat())  # Maria confirms CPF_A first
    reply = slow.text("sim")
    assert "já está em outra inscrição" in reply
    assert other_registration_leaks(reply) == []
    assert slow.step == "asking_cpf"
    slow.say(CPF_C)
    slow.say("sim")
    assert Participant.objects.count() == 2


def test_own_registration_is_offered_minha_inscricao_instead_of_a_new_one(chat):
    c = register(chat())
    reply = c.text("quero me inscrever")
    assert "já tem inscrição confirmada" in reply and "minha inscrição" in reply
    assert Participant.objects.count() == 1


def test_retried_confirmation_creates_no_second_participant(chat):
    c = register(chat(), confirm=False)
    state = c.state
    snapshot = (state.registration_step, dict(state.data))
    c.say("sim")
    # The same "sim" delivered again against the state before it (a retried turn).
    ConversationState.objects.filter(pk=state.pk).update(registration_step=snapshot[0], data=snapshot[1])
    assert "já está confirmada" in c.text("sim")
    assert Participant.objects.count() == 1
    assert RegistrationEvent.objects.filter(kind=RegistrationEvent.Kind.CREATED).count() == 1


# --- self-service --------------------------------------------------------------------------------


def test_minha_inscricao_shows_own_data_with_cpf_masked(chat):
    c = register(chat())
    reply = c.text("minha inscrição")
    assert "Maria das Dores Souza" in reply and "***.456.789-**" in reply
    assert "123.456.789-09" not in reply


def test_self_service_correction_updates_the_participant(chat):
    c = register(chat())
    c.say("corrigir")
    c.say("4")
    assert c.step == "asking_phone"
    assert "Atualizei o telefone" in c.text("(43) 3333-4444")
    assert Participant.objects.get().phone == "+554333334444"
    assert c.step == "completed"
    assert RegistrationEvent.objects.filter(kind=RegistrationEvent.Kind.UPDATED, detail="phone").exists()


def test_self_service_correction_to_someone_elses_cpf_is_refused(chat):
    register(chat(), answers_for(email="ana@gmail.com", cpf=CPF_B))
    c = register(chat())
    c.say("corrigir CPF")
    reply = c.text(CPF_B)
    assert "já está em outra inscrição" in reply and "Ana" not in reply
    assert Participant.objects.get(email="maria.souza@gmail.com").cpf == "12345678909"


def test_self_service_cancel_then_register_again_reactivates_the_same_row(chat):
    c = register(chat())
    participant = Participant.objects.get()
    c.say("cancelar minha inscrição")
    assert Participant.objects.get().status == Participant.Status.CONFIRMED  # not before "sim"
    c.say("sim")
    assert Participant.objects.get().status == Participant.Status.CANCELLED
    assert "cancelada" in c.text("minha inscrição")
    c.say("quero me inscrever")
    summary = c.text("sim")  # consent: the data on file comes back for review, not retyped
    assert "inscrição anterior" in summary and "Maria das Dores Souza" in summary
    c.say("1")
    c.say("Maria Souza")
    c.say("sim")
    reactivated = Participant.objects.get()
    assert reactivated.pk == participant.pk
    assert reactivated.status == Participant.Status.CONFIRMED
    assert reactivated.full_name == "Maria Souza"
    assert RegistrationEvent.objects.filter(kind=RegistrationEvent.Kind.REACTIVATED).count() == 1


def test_self_service_resend_puts_the_email_back_to_pending(chat, django_capture_on_commit_callbacks):
    c = register(chat())
    Participant.objects.update(confirmation_email_status=Participant.EmailStatus.FAILED)
    with django_capture_on_commit_callbacks() as callbacks:
        assert "maria.souza@gmail.com" in c.text("reenviar e-mail")
    assert Participant.objects.get().confirmation_email_status == Participant.EmailStatus.PENDING
    assert len(callbacks) == 1  # the e-mail task, enqueued on commit


def test_a_stale_yes_after_an_unrelated_turn_does_not_cancel(chat):
    c = register(chat())
    c.say("cancelar minha inscrição")
    ConversationState.objects.filter(conversation_id=c.conversation_id).update(turns=c.state.turns + 1)
    assert c.say("sim") is None
    assert Participant.objects.get().status == Participant.Status.CONFIRMED


def test_transcript_reads_as_a_conversation(chat):
    """The sample transcript of the README, kept honest by running it."""
    c = chat()
    script = ["quero me inscrever", "sim", "  MARIA   DAS DORES  souza ", "Maria.Souza@GMIAL.com", "sim",
              "qual o endereço do evento?", "123.456.789-09", "(61) 9 9999-0000", "santa maria", "RS",
              "sou produtor rural", "2", "maria.dores@gmail.com", "sim"]  # fmt: skip
    for text in script:
        assert c.say(text), text
    assert c.step == "completed"
    participant = Participant.objects.get()
    assert (participant.email, participant.city, participant.uf) == ("maria.dores@gmail.com", "Santa Maria", "RS")


assert re and HAPPY_ANSWERS


# --- end to end through the engine (chatbot.engine.conversation_turn) and /chat ---------------------


def turn(text: str, conversation_id: str = "5561988880000"):
    from chatbot.engine import conversation_turn

    return conversation_turn(conversation_id=conversation_id, text=text)


def test_engine_runs_the_whole_registration_and_reports_each_step(event):
    steps = [turn(text).step for text in ("quero me inscrever", *HAPPY_ANSWERS, "sim")]
    assert steps == ["asking_consent", "asking_name", "asking_email", "asking_cpf", "asking_phone", "asking_city",
                     "asking_profile", "confirming", "completed"]  # fmt: skip
    assert Participant.objects.get().conversation.conversation_id == "5561988880000"


def test_engine_answers_a_question_mid_flow_then_repeats_the_pending_question(event):
    for text in ("1", "sim", "Ana Lima"):
        turn(text)
    result = turn("onde vai ser o evento?")
    assert result.step == "asking_email"
    assert len(result.replies) == 2
    assert "Voltando à sua inscrição" in result.replies[-1]


def test_engine_cancel_mid_flow_stores_nothing(event):
    for text in ("quero me inscrever", "sim", "Ana Lima", "ana@gmail.com"):
        turn(text)
    assert turn("cancelar").step == "idle"
    assert Participant.objects.count() == 0
    assert "fields" not in ConversationState.objects.get().data


def test_engine_menu_option_three_shows_own_registration_masked(event):
    for text in ("quero me inscrever", *HAPPY_ANSWERS, "sim"):
        turn(text)
    reply = turn("3").reply
    assert "***.456.789-**" in reply and "Maria das Dores Souza" in reply


def test_engine_greeting_between_which_field_and_a_number_does_not_edit_a_field(event):
    for text in ("quero me inscrever", *HAPPY_ANSWERS, "sim", "corrigir"):
        turn(text)
    assert "Inscrever outra pessoa" in turn("oi").reply  # a registered participant's menu
    result = turn("1")  # menu option 1 ("inscrever outra pessoa"), not field 1
    assert result.step == "asking_consent"
    assert "outra pessoa" in result.reply


def test_chat_endpoint_reports_the_registration_step(event, api_client):
    body = api_client.post("/chat", {"user_id": "5561977770000", "message": "quero me inscrever"}, format="json").json()
    assert body["registration_step"] == "asking_consent"
    body = api_client.post("/chat", {"user_id": "5561977770000", "message": "sim"}, format="json").json()
    assert body["registration_step"] == "asking_name"


def test_a_city_typed_with_a_typo_is_confirmed_before_it_is_stored(chat):
    c = chat()
    for text in ("quero me inscrever", "sim", "Ana Lima", "ana@gmail.com", CPF_B, "(43) 99999-0000"):
        c.say(text)
    assert "Londrina/PR" in c.text("londirna")
    assert c.step == "asking_city"
    assert "city" not in c.fields
    c.say("sim")
    assert (c.fields["city"], c.fields["uf"]) == ("Londrina", "PR")
    assert c.step == "asking_profile"
