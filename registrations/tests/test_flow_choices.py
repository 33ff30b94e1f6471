"""The choices a prompt offers (buttons or a list on the Cloud API): which
prompts offer them, within WhatsApp's limits, only when the turn's last reply
asks them; and, through the real engine, that a tap is the same answer as
typing it. The prompts' texts themselves do not change."""

from __future__ import annotations

import io
import re

import pytest
from django.core.management import call_command
from django.db import transaction

from chatbot.engine import TurnResult, conversation_turn, menu_text
from chatbot.models import ConversationState, Event
from congress.testing.factories import cpf_check_digits
from registrations.flow import FlowState, ProfileOption, offered_choices
from registrations.flow.choices import (
    BUTTON_TITLE_MAX,
    LIST_BUTTON_MAX,
    MAX_BUTTONS,
    MAX_ROWS,
    ROW_DESCRIPTION_MAX,
    ROW_TITLE_MAX,
    buttons,
    choice_list,
    shorten,
)
from registrations.flow.texts import _consent_question, _fields_menu, _which_field
from registrations.flow.types import Choices
from registrations.models import Participant
from registrations.tests.test_flow import OWN, Talk, at_step, confirming
from whatsapp.channels.cloud import ANSWER_ID_PREFIX, inbound_content

CPF_WITH_ZERO = "012345678" + cpf_check_digits("012345678")


def assert_within_limits(choices: Choices) -> None:
    titles = [option.title for option in choices.options]
    if choices.kind == "buttons":
        assert len(titles) <= MAX_BUTTONS
        assert all(0 < len(title) <= BUTTON_TITLE_MAX for title in titles), titles
        assert len(set(titles)) == len(titles), "button titles must differ"
    else:
        assert choices.kind == "list"
        assert len(titles) <= MAX_ROWS
        assert all(0 < len(title) <= ROW_TITLE_MAX for title in titles), titles
        assert all(len(option.description) <= ROW_DESCRIPTION_MAX for option in choices.options)
        assert 0 < len(choices.button) <= LIST_BUTTON_MAX
    answers = [option.answer for option in choices.options]
    assert len(set(answers)) == len(answers), "a tap must name one option"


def choices_of(talk: Talk) -> Choices | None:
    return offered_choices(talk.state, talk.ctx, talk.replies[-1])


def answers(choices: Choices | None) -> list[str]:
    assert choices is not None
    return [option.answer for option in choices.options]


# --------------------------------------------------------------------------
# Within WhatsApp's limits
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "limit", "expected"),
    [
        ("Estudante", 24, "Estudante"),
        ("Pesquisador(a)/Professor(a)", 24, "Pesquisador/Professor"),
        ("Consultor(a)/Técnico(a)", 24, "Consultor(a)/Técnico(a)"),
        ("Santa Rita do Passa Quatro", 20, "Santa Rita do Passa…"),
        ("Santa Maria do Tocantins", 21, "Santa Maria do Tocan…"),
        ("Informações sobre o evento", 20, "Informações sobre…"),
    ],
    ids=["fits", "gender-marks-dropped", "fits-with-marks", "cut-at-a-space", "cut-inside-a-word", "button"],
)
def test_a_title_that_does_not_fit_is_shortened_sensibly(text, limit, expected):
    assert shorten(text, limit) == expected
    assert len(shorten(text, limit)) <= limit


def test_more_options_than_a_list_holds_offer_no_choices():
    rows = [(str(n), f"Opção {n}", "") for n in range(1, 12)]
    assert choice_list(rows[:10], button="Ver opções") is not None
    assert choice_list(rows, button="Ver opções") is None


def test_more_than_three_buttons_or_two_equal_titles_offer_no_buttons():
    assert buttons([("1", "Um"), ("2", "Dois"), ("3", "Três"), ("4", "Quatro")]) is None
    assert buttons([("sim", "Sim"), ("s", "Sim")]) is None


def test_a_shortened_row_keeps_its_full_title_in_the_description():
    (row,) = choice_list([("2", "Uma opção com um nome comprido demais", "")], button="Ver opções").options
    assert len(row.title) <= ROW_TITLE_MAX and row.title.endswith("…")
    assert row.description == "Uma opção com um nome comprido demais"


# --------------------------------------------------------------------------
# Which prompts offer which choices (the pure flow)
# --------------------------------------------------------------------------


def test_the_consent_question_offers_yes_and_no_buttons():
    talk = Talk()
    talk.say("quero me inscrever")
    choices = choices_of(talk)
    assert choices.kind == "buttons" and answers(choices) == ["sim", "não"]
    assert_within_limits(choices)


def test_the_consent_question_asked_again_still_offers_the_buttons():
    talk = Talk(FlowState(step="asking_consent"))
    talk.say("hã?")
    assert talk.state.step == "asking_consent"
    assert answers(choices_of(talk)) == ["sim", "não"]


def test_a_question_that_asks_for_typing_offers_nothing():
    talk = Talk(FlowState(step="asking_consent"))
    talk.say("sim")
    assert talk.state.step == "asking_name"
    assert choices_of(talk) is None


@pytest.mark.parametrize(
    ("step", "text", "kind"),
    [
        ("asking_name", "Maria de Fátima Ribeiro Silva Souza Lima Pereira da Costa", "name_confirm"),
        ("asking_email", "maria@gmail.con", "email_suggestion"),
        ("asking_cpf", CPF_WITH_ZERO[1:], "cpf_suggestion"),
        ("asking_phone", "(61) 9988-7766", "phone_suggestion"),
        ("asking_city", "Santa Rita MG", "city_suggestion"),
        ("asking_city", "Rio Verde MT", "city_suggestion"),
    ],
    ids=["name", "email", "cpf-zero", "phone-nine", "city-typo", "city-other-uf"],
)
def test_is_this_right_questions_offer_yes_and_no_buttons(step, text, kind):
    talk = Talk(at_step(step, full_name="Maria Souza", email="m@x.com", cpf="12345678909", phone="+5561999990000"))
    talk.say(text)
    assert (talk.state.pending or {}).get("kind") == kind
    choices = choices_of(talk)
    assert choices.kind == "buttons" and answers(choices) == ["sim", "não"]
    assert_within_limits(choices)


def test_a_suggestion_still_pending_after_a_question_offers_nothing():
    talk = Talk(at_step("asking_email", full_name="Maria Souza"))
    talk.say("maria@gmail.con")
    talk.say("onde vai ser o evento?")
    assert (talk.state.pending or {}).get("kind") == "email_suggestion"
    assert talk.replies[-1].startswith("↩️"), "the question is answered, then the step is asked again"
    assert choices_of(talk) is None


def test_replacing_a_value_typed_earlier_offers_trocar_or_manter():
    talk = Talk(at_step("asking_cpf", full_name="Maria Souza", email="maria.souza@gmail.com"))
    talk.say("maria@gmail.com")
    assert (talk.state.pending or {}).get("kind") == "replace"
    assert answers(choices_of(talk)) == ["sim", "não"]
    talk.say("sim")
    assert talk.state.fields["email"] == "maria@gmail.com"


def test_the_profile_question_offers_a_list_of_the_events_profiles_by_number():
    talk = Talk(at_step("asking_city", full_name="Maria Souza", email="m@x.com", cpf="12345678909",
                        phone="+5561999990000"))
    talk.say("Londrina")
    assert talk.state.step == "asking_profile"
    choices = choices_of(talk)
    assert choices.kind == "list" and answers(choices) == ["1", "2", "3", "4", "5", "6"]
    assert_within_limits(choices)
    by_answer = {option.answer: option for option in choices.options}
    assert (by_answer["2"].title, by_answer["2"].description) == ("Pesquisador/Professor", "Pesquisador(a)/Professor(a)")


def test_more_profiles_than_a_list_holds_leave_the_numbered_text_alone():
    many = tuple(ProfileOption(n, f"Perfil {n}", ()) for n in range(1, 12))
    talk = Talk(at_step("asking_city", full_name="Maria Souza", email="m@x.com", cpf="12345678909",
                        phone="+5561999990000"), profiles=many)
    talk.say("Londrina")
    assert talk.state.step == "asking_profile" and "11. Perfil 11" in talk.replies[-1]
    assert choices_of(talk) is None


def test_an_ambiguous_city_offers_its_places_answered_by_their_uf():
    talk = Talk(at_step("asking_city", full_name="Maria Souza"))
    talk.say("santa maria")
    assert talk.state.step == "asking_state"
    choices = choices_of(talk)
    assert choices.kind == "list"
    assert_within_limits(choices)
    cities = talk.state.pending["cities"]
    assert answers(choices) == [option[2] for option in cities]
    rs = next(option for option in choices.options if option.answer == "RS")
    assert (rs.title, rs.description) == ("Santa Maria/RS", "Rio Grande do Sul")


def test_places_sharing_a_uf_are_answered_by_their_number():
    state = FlowState(step="asking_state", fields={"full_name": "Maria Souza"}, pending={
        "kind": "city_candidates",
        "cities": [[1, "Brasília", "DF", "Santa Maria"], [2, "Brasília", "DF", "Gama"], [3, "Santa Maria", "RS", ""]],
    })
    talk = Talk(state)
    talk.say("hã")
    assert answers(choices_of(talk)) == ["1", "2", "RS"]


def test_the_summary_offers_confirm_or_correct_and_then_which_field():
    talk = Talk(confirming())
    talk.say("oi")
    choices = choices_of(talk)
    assert choices.kind == "buttons" and answers(choices) == ["sim", "não"]
    assert [option.title for option in choices.options] == ["Confirmar", "Corrigir um dado"]
    talk.say("não")
    choices = choices_of(talk)
    assert choices.kind == "list" and answers(choices) == ["1", "2", "3", "4", "5", "6"]
    assert_within_limits(choices)
    descriptions = {option.title: option.description for option in choices.options}
    assert descriptions["E-mail"] == "maria.souza@gmail.com"
    assert "456.789" in descriptions["CPF"] and "12345678909" not in descriptions["CPF"], "the CPF masked"


def test_after_completion_which_field_and_really_cancel_offer_choices():
    talk = Talk(FlowState(step="completed", participant_id=OWN.id), own=OWN)
    talk.say("corrigir")
    assert answers(choices_of(talk)) == ["1", "2", "3", "4", "5", "6"]
    talk.say("cancelar minha inscrição")
    choices = choices_of(talk)
    assert answers(choices) == ["sim", "não"] and choices.options[0].title == "Sim, cancelar"


def test_the_refactored_texts_are_unchanged():
    assert _consent_question() == "Você concorda com o uso dos seus dados para a inscrição? Responda *sim* ou *não*."
    assert _which_field() == "Qual dado você quer corrigir? Responda com o número (1 a 6)."
    assert _fields_menu() == "1. Nome\n2. E-mail\n3. CPF\n4. Telefone\n5. Cidade\n6. Perfil"
    talk = Talk(FlowState(step="completed", participant_id=OWN.id), own=OWN)
    talk.say("corrigir")
    assert talk.replies == [
        "Qual dado você quer corrigir? Responda com o número:\n1. Nome\n2. E-mail\n3. CPF\n4. Telefone\n5. Cidade\n6. Perfil"
    ]


# --------------------------------------------------------------------------
# Through the real engine: a tap is the answer typed
# --------------------------------------------------------------------------

CHAT = "5562981110001"


class _Undo(Exception):
    """Rolls back the typed answer, so the same conversation can take the tap instead."""


@pytest.fixture
def demo(db, settings) -> Event:
    settings.OPENAI_API_KEY = ""
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    call_command("load_demo_event", stdout=io.StringIO())
    return Event.objects.get(is_active=True)


def tap(result: TurnResult, title: str) -> str:
    """The text the Cloud webhook makes of a tap on ``title`` (``inbound_content``)."""
    assert result.choices is not None, f"no choices offered by:\n{result.reply}"
    option = next(option for option in result.choices.options if option.title == title)
    kind = "button_reply" if result.choices.kind == "buttons" else "list_reply"
    reply_id = ANSWER_ID_PREFIX + result.interactive["options"][result.choices.options.index(option)]["id"]
    message = {"type": "interactive", "interactive": {"type": kind, kind: {"id": reply_id, "title": option.title}}}
    text, _media, _mime = inbound_content(message)
    return text


def flow_data() -> tuple[str, dict]:
    state = ConversationState.objects.get(conversation_id=CHAT)
    data = dict(state.data or {})
    fields = {key: value for key, value in (data.pop("fields", None) or {}).items() if key != "consent_at"}
    data.pop("participant_id", None)  # a rolled-back INSERT still used up its id
    return state.registration_step, {**data, "fields": fields}


def say(text: str) -> TurnResult:
    return conversation_turn(conversation_id=CHAT, text=text)


def typed_or_tapped(result: TurnResult, typed: str, title: str) -> TurnResult:
    """A tap on ``title`` leaves the conversation exactly where typing ``typed`` would
    (the typed answer is tried first and rolled back)."""
    try:
        with transaction.atomic():
            typed_result = say(typed)
            expected = flow_data(), typed_result.replies, typed_result.interactive
            raise _Undo
    except _Undo:
        pass
    tapped = say(tap(result, title))
    assert (flow_data(), _same_code(tapped.replies), tapped.interactive) == (expected[0], _same_code(expected[1]), expected[2])
    return tapped


def _same_code(replies: list[str]) -> list[str]:
    """The registration code is drawn at random for each registration: compare the rest."""
    return [re.sub(r"CBAS-[0-9A-Z]{5}", "CBAS-XXXXX", reply) for reply in replies]


def test_the_main_menu_is_a_list_and_a_tap_starts_the_registration(demo):
    result = say("oi")
    assert result.replies[-1].endswith(menu_text(demo))
    assert result.choices.kind == "list" and answers(result.choices) == ["1", "2", "3", "4"]
    assert_within_limits(result.choices)
    typed_or_tapped(result, "1", "Fazer minha inscrição")
    assert flow_data()[0] == "asking_consent"


def test_a_registration_by_taps_ends_where_the_typed_one_does(demo):
    result = typed_or_tapped(say("quero me inscrever"), "sim", "Sim, concordo")
    assert flow_data()[0] == "asking_name"
    say("Maria Souza")
    typed_or_tapped(say("maria.souza@gmial.com"), "sim", "Sim, está certo")
    assert flow_data()[1]["fields"]["email"] == "maria.souza@gmail.com"
    say("123.456.789-09")
    say("esse mesmo")
    result = say("santa maria")
    assert flow_data()[0] == "asking_state"
    result = typed_or_tapped(result, "RS", "Santa Maria/RS")
    assert flow_data()[0] == "asking_profile"
    result = typed_or_tapped(result, "2", "Pesquisador/Professor")
    assert flow_data()[1]["fields"]["profile_name"] == "Pesquisador(a)/Professor(a)"
    # More than one category fits a researcher: the category is asked, as a list.
    assert flow_data()[0] == "asking_ticket"
    result = typed_or_tapped(result, "1", "Profissional")
    assert flow_data()[1]["fields"]["ticket_name"] == "Profissional"
    assert flow_data()[0] == "confirming"
    result = typed_or_tapped(result, "não", "Corrigir um dado")
    result = typed_or_tapped(result, "6", "Perfil")
    assert flow_data()[0] == "asking_profile"
    result = typed_or_tapped(result, "3", "Estudante")
    assert flow_data()[1]["fields"]["profile_name"] == "Estudante"
    typed_or_tapped(result, "sim", "Confirmar")
    assert flow_data()[0] == "completed"
    participant = Participant.objects.get(conversation__conversation_id=CHAT)
    assert (participant.city, participant.uf, participant.profile.name) == ("Santa Maria", "RS", "Estudante")
    # The student category (the only one a student may choose) replaced the researcher's.
    assert participant.ticket.name.startswith("Estudante")
    assert participant.status == Participant.Status.PENDING_PAYMENT


def test_no_at_the_consent_by_tap_is_a_refusal(demo):
    typed_or_tapped(say("quero me inscrever"), "não", "Não concordo")
    assert flow_data()[0] == "idle"


def test_self_service_taps_correct_and_cancel_as_typed(demo):
    for text in ("quero me inscrever", "sim", "Maria Souza", "maria@gmail.com", "123.456.789-09", "esse mesmo",
                 "Goiânia", "1", "sim"):
        say(text)
    assert flow_data()[0] == "completed"
    typed_or_tapped(say("corrigir"), "5", "Cidade")
    assert flow_data()[0] == "asking_city"
    say("cancelar")
    typed_or_tapped(say("cancelar minha inscrição"), "não", "Não, manter")
    # A rural producer's only category is paid: the registration stays awaiting payment, not cancelled.
    assert Participant.objects.get(conversation__conversation_id=CHAT).status == Participant.Status.PENDING_PAYMENT


def test_the_erasure_question_offers_yes_and_no(demo):
    result = say("apagar meus dados")
    assert answers(result.choices) == ["sim", "não"]
    assert typed_or_tapped(result, "não", "Não, manter").replies == ["Certo, não apaguei nada."]


def test_choices_go_only_with_a_last_reply_that_asks_them(demo):
    say("quero me inscrever")
    result = say("menu")
    assert menu_text(demo) in result.reply and result.replies[-1] != menu_text(demo)
    assert result.choices is None, "the menu is not the last thing said: the pending question is"
    result = say("onde vai ser o evento?")
    assert flow_data()[0] == "asking_consent"
    assert answers(result.choices) == ["sim", "não"], "the answer, then the consent question again"
