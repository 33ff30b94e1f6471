"""The conversation corpus (issue #11): realistic conversations through the real engine.

Every scenario in ``corpus.py`` runs through ``chatbot.engine.conversation_turn``
(the same turn as /chat and WhatsApp) on PostgreSQL with the demo event and no
OpenAI key, and is judged on what the participant is told, where the
conversation stands, what was stored and what reached the organizers' queue.
"""

from __future__ import annotations

import io
from datetime import UTC, datetime

import pytest
from django.core.management import call_command

from chatbot.engine import conversation_turn
from chatbot.models import ConversationState, Event, TicketCategory, UnansweredQuestion
from registrations.models import Participant
from registrations.validators import fold
from tests.conversation.corpus import SCENARIOS, Scenario

# A Brazilian mobile as the conversation id, as WhatsApp gives it.
CONVERSATION = "5562981234567"
WHATSAPP_PHONE = "+5562981234567"


@pytest.fixture
def demo(db, settings) -> Event:
    settings.OPENAI_API_KEY = ""
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    call_command("load_demo_event", stdout=io.StringIO())
    return Event.objects.get(is_active=True)


def _registers(scenario: Scenario) -> bool:
    return any(fold(turn.message) in ("quero me inscrever", "inscrever outra pessoa") or "inscrev" in fold(turn.message)
               for turn in scenario.turns) or scenario.registered_before is not None


def _register_elsewhere(event: Event, spec: dict) -> Participant:
    other = ConversationState.objects.create(conversation_id="5511900000000")
    participant = Participant.objects.create(
        full_name="Dona Outra Pessoa",
        email=spec["email"],
        cpf=spec["cpf"],
        phone="+5511900000000",
        city="São Paulo",
        uf="SP",
        profile=event.profiles.order_by("order").first(),
        consent_at=datetime(2026, 11, 1, tzinfo=UTC),
        consent_version="2026-11",
        conversation=other,
        status=Participant.Status.CANCELLED if spec.get("cancelled") else Participant.Status.CONFIRMED,
    )
    return participant


def _check_reply(scenario: Scenario, index: int, message: str, reply: str, step: str, expect: tuple[str, ...]) -> None:
    where = f"[{scenario.id}] turn {index + 1} {message!r}\n--- reply ({step}) ---\n{reply}\n"
    folded = fold(reply)
    for item in expect:
        if item.startswith("@"):
            assert step == item[1:], where + f"expected step {item[1:]}"
        elif item.startswith("!"):
            assert fold(item[1:]) not in folded, where + f"must not contain {item[1:]!r}"
        else:
            assert fold(item) in folded, where + f"must contain {item!r}"


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s.id for s in SCENARIOS])
def test_conversation_corpus(demo, scenario: Scenario):
    if _registers(scenario):
        # Registrations in the corpus check the conversation's mechanics on a free
        # event (no ticket categories: confirmed at once, as before paid tickets);
        # paid registration by chat is tested in payments/tests.
        TicketCategory.objects.update(active=False)
    if scenario.registered_before:
        _register_elsewhere(demo, scenario.registered_before)
    queued_before = UnansweredQuestion.objects.count()
    for index, turn in enumerate(scenario.turns):
        result = conversation_turn(conversation_id=CONVERSATION, text=turn.message)
        # The replies of a turn leave as one WhatsApp message (``TurnResult.reply``).
        assert len(result.reply) <= 1000 or _asked_for_a_list(turn.message), (
            f"[{scenario.id}] reply of {len(result.reply)} characters to {turn.message!r}"
        )
        _check_reply(scenario, index, turn.message, result.reply, result.step, turn.expect)

    mine = Participant.objects.filter(conversation__conversation_id=CONVERSATION).order_by("-id")
    if scenario.stored == "unchecked":
        pass
    elif scenario.stored is None:
        assert not mine.filter(status=Participant.Status.CONFIRMED).exists(), f"[{scenario.id}] nothing should be stored"
    else:
        participant = mine.first()
        assert participant is not None, f"[{scenario.id}] a participant should be stored"
        for name, expected in scenario.stored.items():
            actual = participant.profile.name if name == "profile" else getattr(participant, name)
            if expected == "WHATSAPP":
                expected = WHATSAPP_PHONE
            assert actual == expected, f"[{scenario.id}] stored {name}={actual!r}, expected {expected!r}"
    if scenario.participants is not None:
        assert mine.count() == scenario.participants
    if scenario.queued is not None:
        assert UnansweredQuestion.objects.count() - queued_before == scenario.queued, (
            f"[{scenario.id}] queue: {list(UnansweredQuestion.objects.values_list('question', flat=True))}"
        )
    for full_name, fields in scenario.extra.get("by_name", {}).items():
        row = Participant.objects.filter(full_name=full_name).order_by("-id").first()
        assert row is not None, f"[{scenario.id}] {full_name} should be registered"
        for name, expected in fields.items():
            assert getattr(row, name) == expected, f"[{scenario.id}] {full_name}.{name}={getattr(row, name)!r}"
    excluded = scenario.extra.get("queue_excludes")
    if excluded:
        for question in UnansweredQuestion.objects.values_list("question", flat=True):
            assert excluded not in question


def _asked_for_a_list(message: str) -> bool:
    words = fold(message)
    return any(
        word in words
        for word in ("programacao", "quanto custa", "quanto e", "valores", "precos", "palestras", "lista", "how much", "price",
                     "ticket", "cuanto", "precio")
    )


def test_the_corpus_covers_every_class_with_at_least_150_scenarios():
    assert len(SCENARIOS) >= 150
    assert {scenario.klass for scenario in SCENARIOS} == set(range(1, 13))
    assert len({scenario.id for scenario in SCENARIOS}) == len(SCENARIOS)
