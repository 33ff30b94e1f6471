"""Fixtures for the registration tests: an active event with the six demo
profiles, conversations, and a ``Chat`` driver that runs ``registration_turn``
the way the engine does (state locked, saved with the turn counter)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import pytest
from django.db import transaction

from chatbot.models import ConversationState, Event, Profile
from chatbot.registration import registration_turn
from congress.testing.fake_smtp import FakeSMTP

DEMO_PROFILES = (
    ("Produtor rural", "agricultor, agricultora, pecuarista, fazendeiro, fazendeira, produtora, sitiante"),
    ("Pesquisador(a)/Professor(a)", "pesquisa, docente, cientista"),
    ("Estudante", "aluno, aluna, universitário, universitária, graduando, graduanda"),
    ("Empresa/Expositor", "empresário, empresária, expositora, patrocinador"),
    ("Consultor(a)/Técnico(a)", "agrônomo, agrônoma, engenheiro agrônomo, técnico agrícola, assistência técnica"),
    ("Outro", "outra, outros"),
)

# Valid CPFs (check digits verified), none with repeated digits.
CPF_A = "123.456.789-09"
CPF_B = "529.982.247-25"
CPF_C = "111.444.777-35"
CPF_D = "935.411.347-80"


def make_event(**overrides) -> Event:
    values = {
        "name": "Congresso Brasileiro do Agronegócio",
        "edition": "2026",
        "starts_on": dt.date(2026, 12, 8),
        "ends_on": dt.date(2026, 12, 10),
        "hours": "das 8h às 18h",
        "venue": "Centro de Convenções",
        "address": "Av. das Nações, 1000",
        "city": "Londrina",
        "uf": "PR",
        "contact_email": "contato@congresso.example",
        "contact_whatsapp": "(43) 99999-1234",
        "privacy_notice_url": "https://congresso.example/privacidade",
        "privacy_notice_version": "2026-11",
        "registration_open": True,
        "is_active": True,
    }
    values.update(overrides)
    event = Event.objects.create(**values)
    for order, (name, keywords) in enumerate(DEMO_PROFILES, start=1):
        Profile.objects.create(event=event, name=name, keywords=keywords, order=order)
    return event


@pytest.fixture
def event(db) -> Event:
    return make_event()


@dataclass
class Chat:
    """One participant talking to ``registration_turn`` as the engine would."""

    conversation_id: str
    questions: list[str] = field(default_factory=list)
    answer_text: str = "O evento será no Centro de Convenções de Londrina."

    def answer(self, question: str) -> str:
        self.questions.append(question)
        return self.answer_text

    def say(self, text: str, *, intent: str | None = None) -> list[str] | None:
        with transaction.atomic():
            state, _ = ConversationState.objects.select_for_update().get_or_create(conversation_id=self.conversation_id)
            replies = registration_turn(conversation=state, text=text, intent=intent, answer=self.answer)
            state.turns += 1
            state.version += 1
            state.save()
        return replies

    def text(self, text: str, **kwargs) -> str:
        """The replies joined, for assertions on content."""
        replies = self.say(text, **kwargs)
        assert replies is not None, f"registration ignored {text!r}"
        return "\n\n".join(replies)

    @property
    def state(self) -> ConversationState:
        return ConversationState.objects.get(conversation_id=self.conversation_id)

    @property
    def step(self) -> str:
        return self.state.registration_step

    @property
    def fields(self) -> dict:
        return dict(self.state.data.get("fields") or {})


@pytest.fixture
def chat(event) -> Callable[[str], Chat]:
    counter = iter(range(1, 10_000))

    def make(conversation_id: str | None = None) -> Chat:
        return Chat(conversation_id or f"55619999{next(counter):05d}")

    return make


HAPPY_ANSWERS = (
    "sim",
    "  MARIA   DAS DORES  souza ",
    "Maria.Souza@GMAIL.com",
    CPF_A,
    "(61) 9 9999-0000",
    "londrina",
    "sou produtor rural",
)


def register(chat: Chat, answers: tuple[str, ...] = HAPPY_ANSWERS, *, confirm: bool = True) -> Chat:
    """Drive ``chat`` from "quero me inscrever" to the summary (and "sim")."""
    chat.say("quero me inscrever")
    for answer in answers:
        chat.say(answer)
    assert chat.step == "confirming", chat.state.data
    if confirm:
        chat.say("sim")
    return chat


def answers_for(*, name: str = "Ana Lima", email: str, cpf: str, phone: str = "(43) 98888-7777") -> tuple[str, ...]:
    return ("sim", name, email, cpf, phone, "Londrina/PR", "2")


@pytest.fixture
def celery_eager() -> Iterator[None]:
    """Run tasks inline (tests run with a Redis broker and no worker).

    Eager retries only run inline when the Retry is not propagated, so
    propagation is off; tests check outcomes (outbox, statuses), not results.
    """
    from congress.celery import app

    previous = app.conf.task_always_eager, app.conf.task_eager_propagates
    app.conf.task_always_eager, app.conf.task_eager_propagates = True, False
    try:
        yield
    finally:
        app.conf.task_always_eager, app.conf.task_eager_propagates = previous


# --------------------------------------------------------------------------
# A local SMTP server: the mail edge we do not own
# --------------------------------------------------------------------------


@pytest.fixture
def fake_smtp(settings) -> Iterator[FakeSMTP]:
    server = FakeSMTP().start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = server.port
    settings.EMAIL_USE_TLS = False
    settings.EMAIL_USE_SSL = False
    settings.EMAIL_HOST_USER = ""
    settings.EMAIL_HOST_PASSWORD = ""
    settings.EMAIL_TIMEOUT = 5
    try:
        yield server
    finally:
        server.stop()


