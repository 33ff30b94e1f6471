"""The pure registration flow: ``advance`` with plain data, no database."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

import pytest

from chatbot.router import route
from registrations import flow
from registrations.flow import (
    AskQuestion,
    CancelParticipant,
    FlowContext,
    FlowState,
    OwnRegistration,
    ProfileOption,
    RecordOutcome,
    RegisterParticipant,
    RegisterResult,
    ResendEmail,
    UpdateParticipant,
    UpdateResult,
    advance,
)

NOW = dt.datetime(2026, 11, 25, 10, 0, tzinfo=dt.UTC)
PROFILES = (
    ProfileOption(1, "Produtor rural", ("agricultor", "pecuarista")),
    ProfileOption(2, "Pesquisador(a)/Professor(a)", ()),
    ProfileOption(3, "Estudante", ("aluno",)),
    ProfileOption(4, "Empresa/Expositor", ()),
    ProfileOption(5, "Consultor(a)/Técnico(a)", ("agrônomo",)),
    ProfileOption(6, "Outro", ()),
)
COMPLETE = {
    "consent_at": NOW.isoformat(),
    "consent_version": "2026-11",
    "full_name": "Maria das Dores Souza",
    "email": "maria.souza@gmail.com",
    "cpf": "12345678909",
    "phone": "+5561999990000",
    "city": "Londrina",
    "uf": "PR",
    "city_ibge_code": 4113700,
    "profile": 1,
    "profile_name": "Produtor rural",
}
OWN = OwnRegistration(
    id=7,
    full_name="Maria das Dores Souza",
    email="maria.souza@gmail.com",
    cpf="12345678909",
    phone="+5561999990000",
    city="Londrina",
    uf="PR",
    profile_name="Produtor rural",
    active=True,
    email_status="sent",
)


def make_ctx(**overrides) -> FlowContext:
    values = {
        "now": NOW,
        "event_name": "Congresso Agro 2026",
        "profiles": PROFILES,
        "privacy_notice_url": "https://example.org/privacidade",
        "privacy_notice_version": "2026-11",
        "contact": "WhatsApp (43) 99999-1234",
    }
    values.update(overrides)
    return FlowContext(**values)


class Talk:
    """Feeds messages to ``advance`` with an increasing turn counter."""

    def __init__(self, state: FlowState | None = None, **ctx) -> None:
        self.state = state or FlowState()
        self.ctx = make_ctx(**ctx)
        self.turn = 0
        self.replies: list[str] = []
        self.effects: list = []

    def say(self, text: str, **ctx) -> str:
        # What the engine's router makes of the message, as in production.
        understood = route(text, in_flow=self.state.step in flow.IN_FLOW_STEPS).for_flow()
        if ctx.get("intent"):
            understood = replace(understood, intent=ctx["intent"])
        ctx.setdefault("understood", understood)
        context = replace(self.ctx, turn=self.turn, **ctx)
        self.state, self.replies, self.effects = advance(self.state, text, ctx=context)
        self.turn += 1
        return "\n".join(self.replies)


def at_step(step: str, **fields) -> FlowState:
    base = {"consent_at": NOW.isoformat(), "consent_version": "2026-11"}
    return FlowState(step=step, fields={**base, **fields})


def confirming(**changes) -> FlowState:
    return FlowState(step="confirming", fields={**COMPLETE, **changes})


@pytest.mark.parametrize(
    ("text", "profile_id"),
    [("1", 1), ("sou produtor rural", 1), ("agricultor", 1), ("professora", 2), ("sou estudante de agronomia", 3),
     ("expositor", 4), ("técnica", 5), ("outro", 6), ("produtora rural", 1), ("9", None), ("banana", None),
     ("estudante e produtor rural", None)],
    ids=lambda value: str(value),
)  # fmt: skip
def test_match_profile_by_number_name_or_keyword(text, profile_id):
    chosen = flow.match_profile(text, PROFILES)
    assert (chosen.id if chosen else None) == profile_id


# --- start and consent -----------------------------------------------------------


def test_registration_intent_starts_with_the_consent_notice_before_any_personal_data():
    talk = Talk()
    reply = talk.say("quero me inscrever")
    assert talk.state.step == "asking_consent"
    assert "https://example.org/privacidade" in reply
    assert "*sim* ou *não*" in reply


def test_the_events_own_privacy_notice_replaces_the_default_text():
    talk = Talk(privacy_notice="Seus dados ficam com a Fundação X.")
    assert "Seus dados ficam com a Fundação X." in talk.say("quero me inscrever")


def test_consent_yes_records_time_and_notice_version_and_asks_the_name():
    talk = Talk(FlowState(step="asking_consent"))
    talk.say("sim")
    assert talk.state.step == "asking_name"
    assert talk.state.fields == {"consent_at": NOW.isoformat(), "consent_version": "2026-11"}
    assert RecordOutcome("consent_given", "2026-11") in talk.effects


def test_consent_refused_ends_politely_and_keeps_nothing():
    talk = Talk(FlowState(step="asking_consent"))
    reply = talk.say("não")
    assert (talk.state.step, dict(talk.state.fields), talk.state.held) == ("idle", {}, None)
    assert "nenhum dado" in reply
    assert [e.kind for e in talk.effects] == ["consent_refused"]


def test_a_change_of_mind_right_after_refusing_is_the_consent():
    talk = Talk(FlowState(step="asking_consent"))
    talk.say("não")
    assert "nome completo" in talk.say("ok pode ser, quero sim")
    assert talk.state.step == "asking_name" and "consent_at" in talk.state.fields


def test_personal_data_typed_before_consent_is_not_kept():
    talk = Talk(FlowState(step="asking_consent"))
    talk.say("maria@gmail.com 123.456.789-09")
    assert talk.state.step == "asking_consent"
    assert talk.state.fields == {}


def test_closed_registration_is_refused_politely_with_the_contact():
    talk = Talk(registration_open=False)
    reply = talk.say("quero me inscrever")
    assert talk.state.step == "idle"
    assert "encerradas" in reply and "(43) 99999-1234" in reply


# --- the happy path with messy input ------------------------------------------------


def test_happy_path_with_messy_input_reaches_a_summary_with_clean_values():
    talk = Talk()
    for text in ("quero me inscrever", "sim", "  MARIA   DAS DORES  souza ", "Maria.Souza@GMAIL.com",
                 "123.456.789-09", "(61) 9 9999-0000", "londrina", "sou produtor rural"):  # fmt: skip
        talk.say(text)
    assert talk.state.step == "confirming"
    assert {k: talk.state.fields[k] for k in COMPLETE} == COMPLETE
    summary = talk.replies[-1]
    for line in ("1. Nome: Maria das Dores Souza", "2. E-mail: maria.souza@gmail.com", "3. CPF: 123.456.789-09",
                 "4. Telefone: (61) 99999-0000", "5. Cidade: Londrina/PR", "6. Perfil: Produtor rural"):  # fmt: skip
        assert line in summary


def test_yes_at_the_summary_asks_to_register_exactly_the_collected_data():
    talk = Talk(confirming())
    talk.say("sim")
    (effect,) = talk.effects
    assert isinstance(effect, RegisterParticipant)
    assert effect.data.cpf == "12345678909"
    assert effect.data.profile_id == 1
    assert effect.data.consent_at == NOW
    assert effect.data.consent_version == "2026-11"


def test_after_register_created_completes_and_drops_personal_data_from_the_state():
    state, replies = flow.after_register(confirming(), RegisterResult("created", participant_id=9), make_ctx())
    assert state == FlowState(step="completed", participant_id=9)
    assert "maria.souza@gmail.com" in replies[0]
    assert "minha inscrição" in replies[0]


# --- validation errors --------------------------------------------------------------


@pytest.mark.parametrize(
    ("step", "text", "expected"),
    [
        ("asking_name", "Maria", "nome e sobrenome"),
        ("asking_cpf", "123.456.789-00", "não é válido"),
        ("asking_cpf", "111.111.111-11", "todos os dígitos iguais"),
        ("asking_cpf", "1234567", "11 dígitos"),
        ("asking_phone", "(20) 99999-0000", "DDD 20 não existe"),
        ("asking_phone", "(00) 99999-0000", "DDD"),
        ("asking_phone", "99999-0000", "DDD"),
        ("asking_email", "maria souza", "@"),
        ("asking_city", "Cidadezinha Inexistente", "Não encontrei a cidade"),
    ],
    ids=["one-word-name", "cpf-check-digits", "cpf-repeated-digits", "cpf-short", "ddd-20", "ddd-00",
         "phone-without-ddd", "email-without-at", "unknown-city"],
)  # fmt: skip
def test_invalid_answer_says_what_to_fix_and_stays_at_the_step(step, text, expected):
    talk = Talk(at_step(step, full_name="Ana Lima") if step != "asking_name" else at_step(step))
    reply = talk.say(text)
    assert talk.state.step == step
    assert expected in reply
    assert "exemplo" in reply.lower() or "no formato" in reply  # an example of what is expected


def test_email_domain_typo_is_offered_a_correction_and_yes_takes_it():
    talk = Talk(at_step("asking_email", full_name="Ana Lima"))
    reply = talk.say("ana@gmial.com")
    assert talk.state.step == "asking_email"
    assert "ana@gmail.com" in reply
    talk.say("sim")
    assert talk.state.fields["email"] == "ana@gmail.com"
    assert talk.state.step == "asking_cpf"


def test_email_domain_typo_refused_asks_again_instead_of_keeping_the_typo():
    talk = Talk(at_step("asking_email", full_name="Ana Lima"))
    talk.say("ana@gmial.com")
    assert "de novo" in talk.say("não")
    assert "email" not in talk.state.fields
    talk.say("ana@gmial.com")  # typed again exactly: the participant knows the address
    assert talk.state.fields["email"] == "ana@gmial.com"


def test_email_without_tld_is_offered_the_completed_address():
    talk = Talk(at_step("asking_email", full_name="Ana Lima"))
    assert "ana@gmail.com" in talk.say("ana@gmail")
    talk.say("sim")
    assert talk.state.fields["email"] == "ana@gmail.com"


def test_city_found_in_one_uf_settles_the_uf():
    talk = Talk(at_step("asking_city"))
    talk.say("londrina")
    assert (talk.state.fields["city"], talk.state.fields["uf"]) == ("Londrina", "PR")
    assert talk.state.step == "asking_name"  # first missing field


def test_ambiguous_city_asks_the_uf_then_settles_it():
    talk = Talk(at_step("asking_city", full_name="Ana Lima"))
    reply = talk.say("Santa Maria")
    assert talk.state.step == "asking_state"
    assert "Santa Maria/RN" in reply and "Santa Maria/RS" in reply
    talk.say("rio grande do sul")
    assert (talk.state.fields["city"], talk.state.fields["uf"], talk.state.fields["city_ibge_code"]) == (
        "Santa Maria", "RS", 4316907,
    )  # fmt: skip


def test_ambiguous_city_accepts_the_option_number():
    talk = Talk(at_step("asking_city", full_name="Ana Lima"))
    options = talk.say("Santa Maria")
    assert "Santa Maria (Brasília/DF)" in options and "Santa Maria/RS" in options
    number = next(line.split(".")[0] for line in options.splitlines() if "Santa Maria/RN" in line)
    talk.say(number)
    assert talk.state.fields["uf"] == "RN"


def test_city_with_uf_in_the_text_is_settled_at_once():
    talk = Talk(at_step("asking_city", full_name="Ana Lima"))
    talk.say("Santa Maria - RS")
    assert talk.state.fields["uf"] == "RS"


def test_unknown_city_gets_a_suggestion_that_yes_accepts():
    talk = Talk(at_step("asking_city", full_name="Ana Lima"))
    reply = talk.say("Pindamonhangabinha")
    assert "Pindamonhangaba/SP" in reply
    assert talk.state.step == "asking_city"
    talk.say("sim")
    assert (talk.state.fields["city"], talk.state.fields["uf"]) == ("Pindamonhangaba", "SP")


def test_unknown_profile_lists_the_options_again():
    talk = Talk(at_step("asking_profile"))
    reply = talk.say("astronauta")
    assert talk.state.step == "asking_profile"
    assert "6. Outro" in reply


# --- out-of-turn data -----------------------------------------------------------------


def test_email_cpf_and_phone_typed_with_the_name_are_kept_and_only_the_rest_asked():
    talk = Talk(at_step("asking_name"))
    reply = talk.say("Maria Souza, maria@gmail.com, CPF 123.456.789-09, (61) 99999-0000")
    fields = talk.state.fields
    assert (fields["full_name"], fields["email"], fields["cpf"], fields["phone"]) == (
        "Maria Souza", "maria@gmail.com", "12345678909", "+5561999990000",
    )  # fmt: skip
    assert talk.state.step == "asking_city"
    assert "cidade" in reply


def test_a_cpf_typed_at_the_email_step_is_kept_and_the_email_asked_again():
    talk = Talk(at_step("asking_email", full_name="Ana Lima"))
    reply = talk.say("meu cpf é 529.982.247-25")
    assert talk.state.fields["cpf"] == "52998224725"
    assert talk.state.step == "asking_email"
    assert "e-mail" in reply


def test_out_of_turn_values_never_overwrite_what_was_already_given():
    talk = Talk(at_step("asking_phone", full_name="Ana Lima", email="ana@gmail.com", cpf="52998224725"))
    talk.say("(43) 98888-7777 outro@gmail.com")
    assert talk.state.fields["email"] == "ana@gmail.com"
    assert talk.state.fields["phone"] == "+5543988887777"


# --- questions and cancelling mid-flow --------------------------------------------------


@pytest.mark.parametrize(
    "step", ["asking_name", "asking_email", "asking_cpf", "asking_phone", "asking_city", "asking_profile"]
)
def test_question_mid_flow_is_sent_to_the_qa_and_the_pending_question_repeated(step):
    state = at_step(step)
    talk = Talk(state)
    reply = talk.say("qual o endereço do evento?")
    assert talk.state == state
    assert talk.effects == [AskQuestion("qual o endereço do evento?")]
    assert "Voltando à sua inscrição" in reply


def test_question_at_the_summary_repeats_the_confirmation_question():
    talk = Talk(confirming())
    reply = talk.say("tem estacionamento?")
    assert (talk.state.step, talk.state.fields) == ("confirming", confirming().fields)
    assert talk.effects == [AskQuestion("tem estacionamento?")]
    assert "*sim*" in reply


def test_ok_after_a_question_at_the_summary_is_not_a_confirmation():
    talk = Talk(confirming())
    talk.say("tem estacionamento?")
    talk.say("ok")
    assert talk.effects == [] and talk.state.step == "confirming"
    talk.say("sim")
    assert isinstance(talk.effects[0], RegisterParticipant)


@pytest.mark.parametrize("word", ["cancelar", "sair", "parar", "Cancelar!", "quero cancelar"])
@pytest.mark.parametrize("step", ["asking_consent", "asking_name", "asking_cpf", "asking_state", "confirming"])
def test_cancel_word_mid_flow_abandons_and_keeps_nothing(step, word):
    talk = Talk(replace(confirming(), step=step))
    reply = talk.say(word)
    assert talk.state == FlowState(step="idle")
    assert "descartei os dados" in reply
    assert talk.effects == [RecordOutcome("abandoned", step)]


# --- corrections at the summary ---------------------------------------------------------


@pytest.mark.parametrize("text", ["2", "quero corrigir o e-mail", "não, o e-mail está errado"])
def test_naming_a_field_at_the_summary_asks_only_that_field(text):
    talk = Talk(confirming())
    reply = talk.say(text)
    assert talk.state.step == "asking_email"
    assert "maria.souza@gmail.com" in reply  # the current value is shown


def test_correction_at_the_summary_changes_one_field_and_returns_to_the_summary():
    talk = Talk(confirming())
    talk.say("4")
    reply = talk.say("(43) 3333-4444")
    assert talk.state.step == "confirming"
    assert talk.state.fields == {**COMPLETE, "phone": "+554333334444"}
    assert "4. Telefone: (43) 3333-4444" in reply


def test_plain_no_at_the_summary_asks_which_field():
    talk = Talk(confirming())
    reply = talk.say("não")
    assert talk.state.step == "confirming"
    assert "Qual dado" in reply
    talk.say("6")
    talk.say("estudante")
    assert talk.state.fields["profile_name"] == "Estudante"
    assert talk.state.step == "confirming"


def test_new_value_typed_with_the_correction_request_is_applied_at_once():
    talk = Talk(confirming())
    talk.say("corrigir e-mail para maria.dores@gmail.com")
    assert talk.state.step == "confirming"
    assert talk.state.fields["email"] == "maria.dores@gmail.com"


def test_correcting_the_city_to_an_ambiguous_name_passes_by_the_uf_question():
    talk = Talk(confirming())
    talk.say("5")
    talk.say("Santa Maria")
    assert talk.state.step == "asking_state"
    talk.say("RS")
    assert talk.state.step == "confirming"
    assert talk.state.fields["uf"] == "RS"
    assert talk.state.fields["full_name"] == COMPLETE["full_name"]


# --- duplicates ---------------------------------------------------------------------------


@pytest.mark.parametrize(("step", "text", "key"), [
    ("asking_cpf", "123.456.789-09", "cpf:12345678909"),
    ("asking_email", "maria.souza@gmail.com", "email:maria.souza@gmail.com"),
])  # fmt: skip
def test_cpf_or_email_of_another_registration_is_refused_without_revealing_it(step, text, key):
    talk = Talk(at_step(step, full_name="Ana Lima"), owners={key: "other"})
    reply = talk.say(text)
    assert talk.state.step == step
    assert "cpf" not in talk.state.fields and "email" not in talk.state.fields
    assert "(43) 99999-1234" in reply  # how to reach the organizers
    assert RecordOutcome("duplicate_refused", f"{key.split(':')[0]} at {step}") in talk.effects


def test_duplicate_found_at_confirmation_asks_that_field_again():
    state, replies = flow.after_register(confirming(), RegisterResult("duplicate", field="cpf"), make_ctx())
    assert state.step == "asking_cpf"
    assert "cpf" not in state.fields
    assert state.fields["email"] == COMPLETE["email"]
    assert "CPF" in replies[0]


def test_already_registered_by_this_conversation_offers_minha_inscricao():
    talk = Talk(own=OWN)
    reply = talk.say("quero me inscrever")
    assert talk.state.step == "completed"
    assert "minha inscrição" in reply


def test_cancelled_own_registration_can_register_again():
    talk = Talk(own=replace(OWN, active=False))
    talk.say("quero me inscrever")
    assert talk.state.step == "asking_consent"


# --- self-service after completion ------------------------------------------------------------


def done() -> FlowState:
    return FlowState(step="completed", participant_id=OWN.id)


def test_minha_inscricao_shows_own_data_with_the_cpf_masked():
    talk = Talk(done(), own=OWN)
    reply = talk.say("minha inscrição")
    assert "Maria das Dores Souza" in reply
    assert "***.456.789-**" in reply
    assert "123.456.789-09" not in reply


def test_minha_inscricao_without_a_registration_explains_how_to_register():
    talk = Talk()
    reply = talk.say("", intent="my_registration")
    assert "quero me inscrever" in reply


def test_unrelated_message_after_completion_is_left_to_the_engine():
    talk = Talk(done(), own=OWN)
    assert talk.say("qual a programação?") == ""
    assert talk.effects == []


def test_cancel_registration_asks_for_confirmation_then_cancels():
    talk = Talk(done(), own=OWN)
    talk.say("cancelar minha inscrição")
    assert talk.effects == []
    talk.say("sim")
    assert talk.effects == [CancelParticipant(OWN.id)]


def test_cancel_registration_answered_no_keeps_it():
    talk = Talk(done(), own=OWN)
    talk.say("cancelar minha inscrição")
    assert "continua confirmada" in talk.say("não")
    assert talk.effects == []


def test_a_stale_confirmation_question_is_not_answered_by_a_later_yes():
    talk = Talk(done(), own=OWN)
    talk.say("cancelar minha inscrição")
    talk.turn += 1  # the engine handled a message in between (e.g. "oi")
    talk.say("sim")
    assert talk.effects == []


def test_resend_asks_for_the_email_again():
    talk = Talk(done(), own=OWN)
    assert "maria.souza@gmail.com" in talk.say("reenviar e-mail")
    assert talk.effects == [ResendEmail(OWN.id)]


def test_correct_after_completion_asks_which_field_then_updates_it():
    talk = Talk(done(), own=OWN)
    talk.say("corrigir")
    talk.say("4")
    assert talk.state.step == "asking_phone"
    talk.say("(43) 98888-7777")
    assert talk.effects == [UpdateParticipant(OWN.id, "phone", {"phone": "+5543988887777"})]


def test_cancel_during_a_correction_changes_nothing_and_keeps_the_registration():
    talk = Talk(done(), own=OWN)
    talk.say("corrigir e-mail")
    reply = talk.say("cancelar")
    assert talk.state.step == "completed"
    assert talk.effects == []
    assert "não alterei nada" in reply


def test_correction_to_an_email_of_another_registration_is_refused():
    talk = Talk(done(), own=OWN, owners={"email:outra@gmail.com": "other"})
    talk.say("corrigir e-mail")
    talk.say("outra@gmail.com")
    assert [type(e) for e in talk.effects] == [RecordOutcome]
    assert talk.state.step == "asking_email"


def test_after_update_confirms_the_change():
    state = FlowState(step="asking_email", mode="amend", editing="email", participant_id=OWN.id)
    new, replies = flow.after_update(state, UpdateResult("updated"), make_ctx(own=OWN))
    assert new == FlowState(step="completed", participant_id=OWN.id)
    assert "Atualizei o e-mail" in replies[0]


# --- state (de)serialisation ----------------------------------------------------------------


def test_state_round_trips_through_the_conversation_data():
    state = FlowState(step="asking_state", fields={"full_name": "Ana Lima"},
                      pending={"kind": "city_candidates", "cities": [[1, "X", "RS"]]}, editing="city")  # fmt: skip
    assert FlowState.from_data(state.step, state.to_data()) == state


def test_unknown_step_in_stored_data_reads_as_idle():
    assert FlowState.from_data("bogus", {}).step == "idle"
