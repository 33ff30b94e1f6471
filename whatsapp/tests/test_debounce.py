"""Bursts (WA_DEBOUNCE_MS, issue 13 item 5): a chat's quick messages are
answered as one turn with one reply, still exactly once and in order.

Three layers: the pure plan (``whatsapp.debounce``); the drain service
in-process with the messages' arrival times set by hand (deterministic);
and a REAL Celery worker on real PostgreSQL and Redis, messages arriving
through ``/whatsapp``, the Cloud API webhook and the neonize gateway's
handler, replies at the fake gateway / fake Graph API. The worker tests
assert outcomes (how many replies, what each answered, in which order);
the one timing figure (a completing message is answered well within the
window) has a wide margin.
"""

from __future__ import annotations

import datetime as dt
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from django.db import connections
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from chatbot.models import ConversationState
from congress.testing.factories import make_event, make_profile
from congress.testing.procs import (
    child_env,
    database_url_for_children,
    start_celery_worker,
    start_redis,
    start_web,
    wait_until,
)
from whatsapp import debounce
from whatsapp.models import InboundMessage, MessageEvent, OutboundMessage
from whatsapp.services import RetryLater, chat_drain, inbound_reprocess, message_accept
from whatsapp.tests.conftest import (
    CLOUD_WA_ID,
    GATEWAY_KEY,
    cloud_body,
    cloud_message,
    new_message_id,
    queued_body,
    signed,
)

WINDOW_MS = 1500
WINDOW_S = WINDOW_MS / 1000
CHAT = "5561977776666"
OGG = b"OggS" + bytes(range(256)) * 4
T0 = dt.datetime(2026, 12, 1, 12, 0, tzinfo=dt.UTC)


# --- the plan (pure) --------------------------------------------------------------------------------


def pending(*offsets: float, texts: tuple[str, ...] = ()) -> list[debounce.Pending]:
    texts = texts or tuple(f"m{n}" for n in range(len(offsets)))
    return [debounce.Pending(id=n + 1, created_at=T0 + dt.timedelta(seconds=s), text=t)
            for n, (s, t) in enumerate(zip(offsets, texts, strict=True))]


def plan(messages, *, now: float, completes=lambda text: False, max_chars: int = 4096) -> debounce.Plan:
    return debounce.plan_burst(messages, now=T0 + dt.timedelta(seconds=now), window=WINDOW_S, max_chars=max_chars,
                               completes=completes)


@pytest.mark.parametrize(
    ("offsets", "now", "expected"),
    [
        pytest.param((0.0,), 0.1, (1, 1.4, "open"), id="one-fresh-message-waits-the-rest-of-its-window"),
        pytest.param((0.0, 0.1, 0.2), 0.3, (3, 1.4, "open"), id="the-window-restarts-at-each-message"),
        pytest.param((0.0, 0.1, 0.2), 1.8, (3, 0.0, "quiet"), id="a-window-after-the-last-it-is-answered"),
        pytest.param((0.0, 0.1, 3.0), 3.1, (2, 0.0, "gap"), id="a-message-a-window-later-starts-the-next-burst"),
        pytest.param((0.0, 1.4, 2.8, 4.2, 5.6), 5.7, (5, 0.3, "open"), id="a-long-chain-waits-at-most-four-windows"),
        pytest.param((0.0, 1.4, 2.8, 4.2, 5.6), 6.0, (5, 0.0, "waited"), id="four-windows-after-its-first-it-is-answered"),
        pytest.param(tuple(0.01 * n for n in range(12)), 0.2, (10, 0.0, "full"), id="ten-messages-at-most"),
    ],
)
def test_the_plan_groups_messages_by_the_window(offsets, now, expected):
    result = plan(pending(*offsets), now=now)
    assert (result.size, round(result.wait, 3), result.reason) == expected


def test_the_plan_ends_a_burst_at_a_message_that_completes_the_step():
    messages = pending(0.0, 0.1, 0.2, texts=("oi", "ana@example.com", "e o preço"))
    assert plan(messages, now=0.3, completes=lambda text: "@" in text) == debounce.Plan(2, 0.0, "complete")


@pytest.mark.parametrize(
    "texts",
    [("Pedro", "quanto custa a inscrição?"), ("Goiânia", "onde vai ser?"), ("Estudante", "tem certificado?")],
    ids=["name-then-question", "city-then-question", "profile-then-question"],
)
def test_a_question_after_other_messages_gets_its_own_turn(texts):
    """Joined, "Pedro" + "quanto custa a inscrição?" would be read as a name, or the question would swallow the city."""
    messages = pending(0.0, 0.2, texts=texts)
    first = plan(messages, now=0.3, completes=lambda text: text.rstrip().endswith("?"))
    assert first == debounce.Plan(1, 0.0, "question")
    assert plan(messages[1:], now=0.3, completes=lambda text: text.rstrip().endswith("?")).reason == "complete"


def test_a_greeting_stays_with_the_question_that_follows():
    messages = pending(0.0, 0.2, texts=("oi", "bom dia"))
    messages += pending(0.4, texts=("quanto custa a inscrição?",))
    result = plan(messages, now=0.5, completes=lambda text: text.rstrip().endswith("?"))
    assert (result.size, result.reason) == (3, "complete")


def test_a_question_that_opens_the_burst_is_answered_at_once():
    messages = pending(0.0, 0.1, texts=("quando é o evento?", "e onde?"))
    assert plan(messages, now=0.2, completes=lambda text: text.rstrip().endswith("?")) == debounce.Plan(1, 0.0, "complete")


def test_the_plan_never_joins_more_text_than_the_engine_reads():
    messages = pending(0.0, 0.1, texts=("a" * 3000, "b" * 2000))
    assert plan(messages, now=0.2) == debounce.Plan(1, 0.0, "full")


def test_the_plan_never_waits_longer_than_a_window_even_for_a_message_stamped_in_the_future():
    assert plan(pending(5.0), now=0.0).wait == WINDOW_S


@pytest.mark.parametrize(
    ("text", "step", "data", "expected"),
    [
        pytest.param("quanto custa?", "idle", {}, True, id="a-question"),
        pytest.param("oi", "idle", {}, False, id="a-greeting"),
        pytest.param("quero me inscrever", "idle", {}, False, id="a-request-may-go-on"),
        pytest.param("2", "idle", {}, True, id="a-menu-option"),
        pytest.param("sim", "asking_consent", {}, True, id="yes-to-consent"),
        pytest.param("meu nome é João", "asking_consent", {}, False, id="not-an-answer-to-consent"),
        pytest.param("João Silva", "asking_name", {}, True, id="a-full-name"),
        pytest.param("João", "asking_name", {}, False, id="a-first-name-may-be-followed-by-the-surname"),
        pytest.param("joao.silva@example.com", "asking_email", {}, True, id="an-email"),
        pytest.param("joao.silva@", "asking_email", {}, False, id="half-an-email"),
        pytest.param("529.982.247-25", "asking_cpf", {}, True, id="a-cpf"),
        pytest.param("529.982", "asking_cpf", {}, False, id="half-a-cpf"),
        pytest.param("(61) 99999-0000", "asking_phone", {}, True, id="a-phone"),
        pytest.param("GO", "asking_state", {}, True, id="a-uf"),
        pytest.param("3", "asking_profile", {}, True, id="a-profile-number"),
        pytest.param("Londrina", "asking_city", {}, False, id="a-city-waits-for-its-uf"),
        pytest.param("sim", "confirming", {}, True, id="yes-at-the-summary"),
        pytest.param("sim", "asking_email", {"pending": {"kind": "email_suggestion", "value": "a@b.com"}}, True,
                     id="yes-to-a-suggestion"),
        pytest.param("", "idle", {}, False, id="a-voice-note-not-heard-yet"),
    ],
)
def test_a_message_completes_the_pending_step_when_it_is_a_valid_answer(text, step, data, expected):
    assert debounce.completes(text, step=step, data=data) is expected


# --- the drain, in-process ----------------------------------------------------------------------------


@pytest.fixture
def accept(django_capture_on_commit_callbacks):
    def accept(text: str = "oi", *, chat: str = CHAT, at: float | None = None, message_id: str | None = None,
               **extra) -> InboundMessage:
        with django_capture_on_commit_callbacks():
            result = message_accept(message_id=message_id or new_message_id(), number=chat,
                                    jid=f"{chat}@s.whatsapp.net", text=text, **extra)
        if at is not None:  # arrived ``at`` seconds from now (negative: in the past)
            InboundMessage.objects.filter(pk=result.inbound_id).update(created_at=timezone.now() + dt.timedelta(seconds=at))
        return InboundMessage.objects.get(pk=result.inbound_id)

    return accept


@pytest.fixture
def drain(django_capture_on_commit_callbacks):
    """The drain task's work with a window; the RetryLater it raises, if any."""

    def drain(chat: str = CHAT, *, debounce_ms: int = WINDOW_MS) -> RetryLater | None:
        try:
            with django_capture_on_commit_callbacks():
                chat_drain(chat_id=chat, debounce_ms=debounce_ms)
        except RetryLater as exc:
            return exc
        return None

    return drain


def user_turns(chat: str = CHAT) -> list[str]:
    state = ConversationState.objects.filter(conversation_id=chat).first()
    return [turn["text"] for turn in state.history if turn["role"] == "user"] if state else []


def fresh(*rows: InboundMessage) -> list[InboundMessage]:
    for row in rows:
        row.refresh_from_db()
    return list(rows)


@pytest.mark.django_db
def test_a_burst_inside_its_window_is_left_pending_and_the_drain_comes_back_when_the_window_ends(accept, drain):
    accept("oi", at=-0.3)
    accept("quero me inscrever", at=-0.2)
    accept("meu nome é João Silva", at=-0.1)
    retry = drain()
    assert isinstance(retry, RetryLater) and 1.0 < retry.countdown <= WINDOW_S
    assert InboundMessage.objects.filter(status="pending").count() == 3
    assert set(InboundMessage.objects.values_list("attempts", flat=True)) == {0}, "nothing claimed while waiting"
    assert not OutboundMessage.objects.exists() and user_turns() == []


@pytest.mark.django_db
def test_a_drain_that_finds_the_burst_open_does_not_come_back_when_another_is_due_by_its_end(accept, drain):
    from whatsapp.services import _drain_due_note

    accept("oi", at=-0.2)
    accept("tudo bem", at=-0.1)
    _drain_due_note(CHAT, time.time() + WINDOW_S)  # what the newest message's accept recorded
    assert drain() is None, "no second task for the same window end"
    assert InboundMessage.objects.filter(status="pending").count() == 2


def broker_messages() -> list[dict]:
    import base64
    import json

    from congress.redis import get_redis

    return [{"task": m["headers"]["task"], "args": json.loads(base64.b64decode(m["body"]))[0], "eta": m["headers"]["eta"]}
            for m in (json.loads(raw) for raw in get_redis().lrange("celery", 0, -1))]


@pytest.mark.django_db
@pytest.mark.parametrize(("text", "scheduled"), [("oi", "after the window"), ("quanto custa?", "now"), ("sim", "now")],
                         ids=["completes-nothing", "a-question", "may-answer-a-question"])
def test_the_accept_schedules_the_drain_for_the_end_of_the_window_unless_the_message_may_complete_a_step(
    settings, django_capture_on_commit_callbacks, text, scheduled
):
    settings.WA_DEBOUNCE_MS = WINDOW_MS
    with django_capture_on_commit_callbacks(execute=True):
        message_accept(message_id=new_message_id(), number=CHAT, text=text)
    (task,) = broker_messages()
    assert task["task"] == "whatsapp.tasks.drain_chat" and task["args"] == [CHAT]
    assert (task["eta"] is not None) is (scheduled == "after the window")


@pytest.mark.django_db
def test_a_burst_whose_window_passed_is_answered_once_with_its_texts_joined_in_order(accept, drain):
    first, second, last = accept("oi", at=-2.3), accept("quero me inscrever", at=-2.2), accept("meu nome é João Silva", at=-2.1)
    assert drain() is None
    first, second, last = fresh(first, second, last)
    assert user_turns() == ["oi\nquero me inscrever\nmeu nome é João Silva"]
    (reply,) = OutboundMessage.objects.all()
    assert reply.inbound_id == last.pk, "the reply is attached to the burst's last message"
    assert [m.status for m in (first, second, last)] == ["done"] * 3
    assert (first.answered_with_id, second.answered_with_id, last.answered_with_id) == (last.pk, last.pk, None)
    assert list(last.answered_together.order_by("id")) == [first, second]
    assert MessageEvent.objects.filter(inbound=first, kind="processed").get().detail == f"respondida junto com #{last.pk}"
    assert [m.attempts for m in (first, second, last)] == [1, 1, 1]


@pytest.mark.django_db
def test_messages_more_than_a_window_apart_are_answered_as_two_turns_in_order(accept, drain):
    accept("oi", at=-6.0)
    accept("tudo bem", at=-5.9)
    accept("qual a programação", at=-3.0)
    assert drain() is None
    assert user_turns() == ["oi\ntudo bem", "qual a programação"]
    replies = list(OutboundMessage.objects.order_by("id").values_list("inbound__text", flat=True))
    assert replies == ["tudo bem", "qual a programação"]


@pytest.mark.django_db
def test_a_message_that_completes_the_pending_step_is_answered_at_once(accept, drain):
    ConversationState.objects.create(conversation_id=CHAT, registration_step="asking_email",
                                     data={"fields": {"full_name": "João Silva", "consent_at": "2026-12-01T12:00:00+00:00"}})
    email = accept("joao.silva@example.com")  # just arrived: its window has barely started
    assert drain() is None
    assert fresh(email)[0].status == "done" and email.replies.count() == 1


@pytest.mark.django_db
def test_a_completing_message_ends_its_burst_even_when_the_next_one_is_already_pending(accept, drain):
    ConversationState.objects.create(conversation_id=CHAT, registration_step="asking_email",
                                     data={"fields": {"full_name": "João Silva", "consent_at": "2026-12-01T12:00:00+00:00"}})
    email, later = accept("joao.silva@example.com", at=-0.2), accept("e a cidade", at=-0.1)
    retry = drain()
    email, later = fresh(email, later)
    assert email.status == "done" and email.answered_with_id is None and email.replies.count() == 1
    assert later.status == "pending" and isinstance(retry, RetryLater), "the next message starts its own burst"


@pytest.mark.django_db
def test_a_question_mark_answers_the_burst_at_once(accept, drain):
    accept("oi", at=-0.2)
    question = accept("quanto custa a inscrição?")
    assert drain() is None
    assert user_turns() == ["oi\nquanto custa a inscrição?"]
    assert OutboundMessage.objects.get().inbound_id == question.pk


@pytest.mark.django_db
def test_without_a_window_each_message_is_answered_on_its_own(accept, drain):
    for text in ("oi", "quero me inscrever", "meu nome é João Silva"):
        accept(text)
    assert drain(debounce_ms=0) is None
    assert user_turns() == ["oi", "quero me inscrever", "meu nome é João Silva"]
    assert OutboundMessage.objects.count() == 3
    assert not InboundMessage.objects.filter(answered_with__isnull=False).exists()


@pytest.mark.django_db
def test_a_voice_note_that_cannot_be_heard_ends_the_burst_before_it(accept, drain, settings):
    settings.OPENAI_API_KEY = ""  # no transcription
    before, voice, after = accept("oi", at=-2.3), accept("", audio=OGG, mimetype="audio/ogg", at=-2.2), accept("tudo bem", at=-2.1)
    assert drain() is None
    before, voice, after = fresh(before, voice, after)
    replies = list(OutboundMessage.objects.order_by("id").values_list("inbound_id", "text"))
    assert [pk for pk, _text in replies] == [before.pk, voice.pk, after.pk], "each answered in order"
    assert replies[1][1] == "Não consegui ouvir seu áudio, pode escrever?"
    assert [m.status for m in (before, voice, after)] == ["done"] * 3
    assert [m.attempts for m in (before, voice, after)] == [1, 1, 1], "an attempt given back when left for later"


@pytest.mark.django_db
def test_a_voice_note_is_transcribed_and_joined_with_the_texts_around_it(accept, drain, fake_openai):
    fake_openai.transcript_text = "quero me inscrever"
    accept("oi", at=-2.3)
    voice = accept("", audio=OGG, mimetype="audio/ogg", at=-2.2)
    accept("meu nome é João Silva", at=-2.1)
    assert drain() is None
    assert user_turns() == ["oi\nquero me inscrever\nmeu nome é João Silva"]
    assert fresh(voice)[0].transcript == "quero me inscrever" and voice.audio is None


@pytest.fixture
def broken_engine(monkeypatch):
    import chatbot.engine

    def crash(**kwargs):
        raise RuntimeError("engine bug")

    monkeypatch.setattr(chatbot.engine, "conversation_turn", crash)


@pytest.mark.django_db
def test_a_burst_that_keeps_failing_is_given_up_together_with_one_apology(accept, drain, broken_engine, settings):
    settings.WA_PROCESS_MAX_ATTEMPTS = 1
    first, last = accept("oi", at=-2.2), accept("tudo bem", at=-2.1)
    assert drain() is None
    first, last = fresh(first, last)
    assert (first.status, last.status) == ("failed", "failed")
    assert first.answered_with_id == last.pk
    (apology,) = OutboundMessage.objects.all()
    assert apology.inbound_id == last.pk and apology.kind == "apology"

    assert inbound_reprocess(inbound_ids=[last.pk], actor="admin") == 2, "the burst comes back whole"
    first, last = fresh(first, last)
    assert (first.status, first.answered_with_id, first.attempts) == ("pending", None, 0)


@pytest.mark.django_db
def test_a_duplicate_delivery_inside_a_burst_is_stored_once_and_read_once(accept, drain):
    first = accept("oi", at=-2.3, message_id="3EB0DUPBURST1")
    assert accept("oi", message_id="3EB0DUPBURST1").pk == first.pk  # the gateway's retry: no new row
    accept("quero me inscrever", at=-2.2)
    assert drain() is None
    assert user_turns() == ["oi\nquero me inscrever"]


@pytest.mark.django_db
def test_the_chat_endpoint_is_never_debounced(api_client, settings):
    settings.WA_DEBOUNCE_MS = WINDOW_MS
    replies = [api_client.post("/chat", {"user_id": CHAT, "message": text}, format="json")
               for text in ("oi", "quero me inscrever", "meu nome é João Silva")]
    assert [r.status_code for r in replies] == [200, 200, 200] and all(r.json()["reply"] for r in replies)
    assert replies[-1].json()["turns"] == 3


@pytest.mark.django_db
def test_the_embedded_default_answers_each_message_at_once(accept, settings):
    from whatsapp.tasks import drain_chat

    settings.WA_DEBOUNCE_MS = WINDOW_MS
    accept("oi")
    accept("tudo bem")
    drain_chat.apply(args=(CHAT,))  # eager: it could not come back after the window
    assert user_turns() == ["oi", "tudo bem"]


@pytest.mark.django_db
def test_the_admin_shows_which_messages_were_answered_together(accept, drain, admin_client):
    first, last = accept("oi", at=-2.2), accept("tudo bem", at=-2.1)
    drain()
    listing = admin_client.get(reverse("admin:whatsapp_inboundmessage_changelist")).content.decode()
    assert f"respondida junto com <a href=\"{reverse('admin:whatsapp_inboundmessage_change', args=[last.pk])}\">#{last.pk}</a>" in listing
    detail = admin_client.get(reverse("admin:whatsapp_inboundmessage_change", args=[first.pk])).content.decode()
    assert f"#{last.pk}</a>" in detail and "respondida junto com" in detail
    carrier = admin_client.get(reverse("admin:whatsapp_inboundmessage_change", args=[last.pk])).content.decode()
    assert "respondeu também" in carrier and f"#{first.pk}</a>" in carrier
    transcript = admin_client.get(reverse("admin:whatsapp_chat_transcript", args=[CHAT])).content.decode()
    assert f"respondida junto com <a href=\"{reverse('admin:whatsapp_inboundmessage_change', args=[last.pk])}\">#{last.pk}</a>" in transcript


# --- a real worker --------------------------------------------------------------------------------------

SWEEP_INTERVAL_S = 0.5
DEADLINE_S = 60


@pytest.fixture
def worker_env(fake_gateway, settings):
    settings.THROTTLE_CONVERSATION_RATE = None
    return child_env(
        database_url=database_url_for_children(),
        redis_url=settings.REDIS_URL,
        GATEWAY_URL=fake_gateway.url,
        GATEWAY_API_KEY=GATEWAY_KEY,
        BOT_API_KEY="",
        OPENAI_API_KEY="",
        THROTTLE_CONVERSATION_RATE="",
        LOCK_TTL_SECONDS=3,
        WA_SWEEP_INTERVAL_S=SWEEP_INTERVAL_S,
        WA_SWEEP_AGE_S=1,
        WA_RETRY_BACKOFF_S=0.1,
        WA_RETRY_BACKOFF_MAX_S=0.5,
        WA_DEBOUNCE_MS=WINDOW_MS,
    )


@pytest.fixture
def start_worker(worker_env):
    workers = []

    def start(**overrides):
        worker = start_celery_worker(env={**worker_env, **{k: str(v) for k, v in overrides.items()}}, concurrency=4)
        workers.append(worker)
        return worker

    yield start
    for worker in workers:
        worker.stop(timeout=10)


def post(body: dict) -> int:
    try:
        return APIClient().post("/whatsapp", body, format="json").status_code
    finally:
        connections.close_all()


def post_burst(texts: list[str], *, chat: str = CHAT, gap: float = 0.1) -> list[float]:
    """POST the texts to /whatsapp ``gap`` apart (three in 300 ms); when each was accepted."""
    accepted = []
    for n, text in enumerate(texts):
        if n:
            time.sleep(gap)
        assert post(queued_body(number=chat, jid=f"{chat}@s.whatsapp.net", text=text)) == 202
        accepted.append(time.monotonic())
    return accepted


def settle() -> None:
    """A window and a few sweeps: time for a wrong second reply to show up."""
    time.sleep(WINDOW_S + SWEEP_INTERVAL_S * 4)


def all_done() -> bool:
    return not InboundMessage.objects.exclude(status="done").exists()


def worker_test(function):
    return pytest.mark.resilience(pytest.mark.django_db(transaction=True)(function))


BURST = ["oi", "quero me inscrever", "meu nome é João Silva"]


@worker_test
@pytest.mark.parametrize(("debounce_ms", "replies"), [(WINDOW_MS, 1), (0, 3)], ids=["debounce-1500", "debounce-off"])
def test_a_burst_of_three_messages_in_300_ms_is_answered_once_with_a_window_and_three_times_without(
    start_worker, fake_gateway, debounce_ms, replies
):
    start_worker(WA_DEBOUNCE_MS=debounce_ms)
    post_burst(BURST)
    assert fake_gateway.wait_for(replies, timeout=DEADLINE_S) and wait_until(all_done, timeout=DEADLINE_S)
    settle()
    assert len(fake_gateway.delivered()) == replies
    assert InboundMessage.objects.filter(answered_with__isnull=False).count() == 3 - replies
    expected_turns = ["\n".join(BURST)] if replies == 1 else BURST
    assert user_turns() == expected_turns


@worker_test
def test_the_one_reply_reflects_the_whole_burst_and_the_bot_keeps_the_name(start_worker, fake_gateway):
    make_profile(make_event(registration_open=True))
    start_worker()
    post_burst(BURST)
    assert fake_gateway.wait_for(1, timeout=DEADLINE_S)
    state = ConversationState.objects.get(conversation_id=CHAT)
    assert state.registration_step == "asking_consent", "the registration the second message asked for"
    first, second, last = InboundMessage.objects.order_by("id")
    assert (first.answered_with_id, second.answered_with_id, last.answered_with_id) == (last.pk, last.pk, None)
    assert OutboundMessage.objects.get().inbound_id == last.pk
    # "sim" completes the consent step: answered at once, and the name held
    # from the burst is taken.
    post_burst(["sim"])
    assert fake_gateway.wait_for(2, timeout=DEADLINE_S)
    state.refresh_from_db()
    assert state.data["fields"]["full_name"] == "João Silva"
    settle()
    assert len(fake_gateway.delivered()) == 2 and all_done()


@worker_test
def test_two_bursts_of_one_chat_are_answered_in_order(start_worker, fake_gateway):
    start_worker()
    post_burst(["oi", "tudo bem"])
    time.sleep(WINDOW_S + 0.3)  # quiet for longer than the window: the next messages are another burst
    post_burst(["qual a programação", "de quarta"])
    assert fake_gateway.wait_for(2, timeout=DEADLINE_S)
    settle()
    assert [r.text for r in fake_gateway.delivered()] == list(OutboundMessage.objects.order_by("inbound_id").values_list("text", flat=True))
    assert len(fake_gateway.delivered()) == 2
    assert user_turns() == ["oi\ntudo bem", "qual a programação\nde quarta"]


@worker_test
def test_two_chats_are_independent(start_worker, fake_gateway):
    start_worker()
    other = "5561966665555"
    waiting = post_burst(["oi", "tudo bem"])
    # The other chat asks a question meanwhile: answered at once, long before
    # the first chat's window ends.
    post_burst(["quanto custa a inscrição?"], chat=other)
    assert fake_gateway.wait_for(2, timeout=DEADLINE_S)
    first, second = fake_gateway.delivered()
    assert first.number == other and second.number == CHAT
    assert second.at - waiting[-1] >= WINDOW_S * 0.5, "the first chat still waited for its window"
    settle()
    assert user_turns() == ["oi\ntudo bem"] and user_turns(other) == ["quanto custa a inscrição?"]


@worker_test
def test_a_message_that_completes_the_step_is_answered_without_waiting(start_worker, fake_gateway):
    start_worker()
    ConversationState.objects.create(conversation_id=CHAT, registration_step="asking_email",
                                     data={"fields": {"full_name": "João Silva", "consent_at": "2026-12-01T12:00:00+00:00"}})
    email_at, _later_at = post_burst(["joao.silva@example.com", "e a cidade"])  # 100 ms apart
    assert fake_gateway.wait_for(2, timeout=DEADLINE_S)
    email, later = InboundMessage.objects.order_by("id")
    assert email.answered_with_id is None and later.answered_with_id is None, "not merged"
    assert user_turns() == ["joao.silva@example.com", "e a cidade"]
    first = fake_gateway.delivered()[0]
    elapsed = first.at - email_at
    print(f"completing message answered {elapsed * 1000:.0f} ms after it was accepted (window {WINDOW_MS} ms)")
    assert elapsed < WINDOW_S, "answered at once, not after the window"


@worker_test
def test_duplicate_deliveries_inside_a_burst_are_answered_once(start_worker, fake_gateway):
    start_worker()
    bodies = [queued_body(number=CHAT, jid="", text=text) for text in BURST]
    statuses = []
    for body in bodies:
        with ThreadPoolExecutor(max_workers=3) as pool:  # the gateway delivers each one three times at once
            statuses += list(pool.map(post, [body] * 3))
        time.sleep(0.1)
    assert sorted(statuses) == [200] * 6 + [202] * 3
    assert fake_gateway.wait_for(1, timeout=DEADLINE_S)
    settle()
    assert len(fake_gateway.delivered()) == 1 and InboundMessage.objects.count() == 3
    assert user_turns() == ["\n".join(BURST)]


@worker_test
def test_a_burst_through_the_cloud_api_webhook_is_answered_once(fake_graph, fake_openai, settings):
    env = child_env(
        database_url=database_url_for_children(), redis_url=settings.REDIS_URL, GATEWAY_URL="", BOT_API_KEY="",
        OPENAI_API_KEY="", WA_CLOUD_API_URL=fake_graph.base_url, WA_CLOUD_ACCESS_TOKEN=fake_graph.access_token,
        WA_CLOUD_PHONE_NUMBER_ID=fake_graph.phone_number_id, WA_CLOUD_TIMEOUT_S=2, LOCK_TTL_SECONDS=3,
        WA_SWEEP_INTERVAL_S=SWEEP_INTERVAL_S, WA_SWEEP_AGE_S=1, WA_DEBOUNCE_MS=WINDOW_MS,
    )
    worker = start_celery_worker(env=env, concurrency=4)
    try:
        for n, text in enumerate(BURST):
            if n:
                time.sleep(0.1)
            raw, headers = signed(cloud_body(messages=[cloud_message(body=text)]), settings.WA_CLOUD_APP_SECRET)
            assert Client().post("/whatsapp/cloud", raw, content_type="application/json", **headers).status_code == 200
            connections.close_all()
        assert fake_graph.wait_for(1, timeout=DEADLINE_S)
        settle()
        assert len(fake_graph.sent()) == 1
        assert user_turns(CLOUD_WA_ID) == ["\n".join(BURST)]
        assert InboundMessage.objects.filter(channel="cloud", status="done").count() == 3
    finally:
        worker.stop(timeout=10)


@worker_test
def test_a_burst_through_the_neonize_gateway_is_answered_once(start_worker, fake_gateway, tmp_path):
    from neonize.client import NewClient
    from neonize.events import MessageEv
    from neonize.proto.Neonize_pb2 import JID, MessageInfo, MessageSource
    from neonize.proto.waE2E.WAWebProtobufsE2E_pb2 import Message

    from whatsapp.gateway import GatewayHandler

    start_worker()
    client = NewClient(str(tmp_path / "session.sqlite3"))  # not connected: WhatsApp is the fake edge
    handler = GatewayHandler(inline=True, typing=False)
    sender = JID(User=CHAT, Server="s.whatsapp.net", Device=0, RawAgent=0, Integrator=0, IsEmpty=False)
    for n, text in enumerate(BURST):
        if n:
            time.sleep(0.1)
        source = MessageSource(Chat=sender, Sender=sender, IsFromMe=False, IsGroup=False)
        info = MessageInfo(ID=f"3EB0NEONIZE{n:04d}", Pushname="Ana", Timestamp=int(time.time()), MessageSource=source)
        handler.on_message(client, MessageEv(Info=info, Message=Message(conversation=text)))
    connections.close_all()
    assert fake_gateway.wait_for(1, timeout=DEADLINE_S)
    settle()
    assert len(fake_gateway.delivered()) == 1
    assert user_turns() == ["\n".join(BURST)]


@worker_test
def test_a_worker_killed_while_a_burst_waits_loses_nothing_and_answers_it_once(start_worker, fake_gateway):
    worker = start_worker()
    post_burst(BURST)
    worker.kill()  # its countdown tasks die with it, unacknowledged
    assert not OutboundMessage.objects.exists()
    start_worker()  # the sweeper finds the pending messages in PostgreSQL
    assert fake_gateway.wait_for(1, timeout=DEADLINE_S) and wait_until(all_done, timeout=DEADLINE_S)
    settle()
    assert len(fake_gateway.delivered()) == 1
    assert user_turns() == ["\n".join(BURST)]


@worker_test
def test_a_burst_queued_when_redis_restarts_empty_is_answered_once(start_worker, worker_env, fake_gateway):
    redis_server = start_redis()
    env = {**worker_env, "REDIS_URL": redis_server.url()}
    web = start_web(env=env)
    try:
        worker = start_worker(REDIS_URL=redis_server.url())
        worker.pause()  # SIGSTOP: the drains wait in the broker
        for n, text in enumerate(BURST):
            if n:
                time.sleep(0.1)
            body = queued_body(number=CHAT, jid="", text=text)
            assert requests.post(f"{web.url}/whatsapp", json=body, timeout=10).status_code == 202
        redis_server.restart()  # same port, nothing persisted: the queued drains are gone
        worker.resume()
        assert fake_gateway.wait_for(1, timeout=DEADLINE_S) and wait_until(all_done, timeout=DEADLINE_S)
        settle()
        assert len(fake_gateway.delivered()) == 1
        assert user_turns() == ["\n".join(BURST)]
    finally:
        web.stop()
        redis_server.stop()
