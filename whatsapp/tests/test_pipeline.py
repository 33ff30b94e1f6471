"""The pipeline's services in-process: drain, process, send, sweep.

The services are called directly (enqueue callbacks are captured, not run);
the real-worker guarantees are in test_worker.py.
"""

from __future__ import annotations

import base64
import datetime as dt
import json

import pytest
from django.db.models import F
from django.utils import timezone

from chatbot.models import ConversationState
from congress.locks import LockLost, lock_is_held, release_lock, try_conversation_lock
from congress.redis import get_redis
from whatsapp import services
from whatsapp.models import InboundMessage, MessageEvent, OutboundMessage
from whatsapp.services import (
    LockKeeper,
    Outcome,
    RetryLater,
    chat_drain,
    message_accept,
    outbox_deliver,
    pipeline_sweep,
)
from whatsapp.tests.conftest import GATEWAY_KEY, new_message_id

pytestmark = pytest.mark.django_db

CHAT = "5561988887777"
OGG = b"OggS" + bytes(range(256)) * 4


@pytest.fixture
def accept(django_capture_on_commit_callbacks):
    def accept(text: str = "oi", *, chat: str = CHAT, **extra) -> InboundMessage:
        with django_capture_on_commit_callbacks():
            result = message_accept(message_id=new_message_id(), number=chat, jid=f"{chat}@s.whatsapp.net", text=text, **extra)
        return InboundMessage.objects.get(pk=result.inbound_id)

    return accept


@pytest.fixture
def drain(django_capture_on_commit_callbacks):
    """Run chat_drain with its enqueue callbacks captured (not published)."""

    def drain(chat: str = CHAT) -> None:
        with django_capture_on_commit_callbacks():
            chat_drain(chat_id=chat)

    return drain


@pytest.fixture
def deliver(django_capture_on_commit_callbacks):
    def deliver(outbound: OutboundMessage) -> RetryLater | None:
        try:
            outbox_deliver(outbound_id=outbound.pk)
        except RetryLater as exc:
            return exc
        return None

    return deliver


def user_messages(chat: str = CHAT) -> list[str]:
    history = ConversationState.objects.get(conversation_id=chat).history
    return [turn["text"] for turn in history if turn["role"] == "user"]


def queued_tasks() -> list[tuple[str, list]]:
    """(task name, args) of the messages waiting in the broker's default queue."""
    tasks = []
    for raw in get_redis().lrange("celery", 0, -1):
        message = json.loads(raw)
        args = json.loads(base64.b64decode(message["body"]))[0]
        tasks.append((message["headers"]["task"], args))
    return tasks


# --- drain and process ----------------------------------------------------------------


def test_the_drain_answers_a_chats_pending_messages_oldest_first(accept, drain):
    first, second, third = accept("primeira"), accept("segunda"), accept("terceira")
    drain()
    assert user_messages() == ["primeira", "segunda", "terceira"]
    assert set(InboundMessage.objects.values_list("status", flat=True)) == {"done"}
    replies = OutboundMessage.objects.order_by("id")
    assert [r.inbound_id for r in replies] == [first.pk, second.pk, third.pk]
    assert all(r.text and r.status == OutboundMessage.Status.PENDING for r in replies)


def test_the_drain_leaves_other_chats_alone(accept, drain):
    accept("minha", chat=CHAT)
    other = accept("outra", chat="5561977776666")
    drain(CHAT)
    other.refresh_from_db()
    assert other.status == InboundMessage.Status.PENDING


def test_the_drain_returns_at_once_when_another_worker_holds_the_chat(accept, drain):
    inbound = accept()
    holder = try_conversation_lock(CHAT)
    drain()
    inbound.refresh_from_db()
    assert inbound.status == InboundMessage.Status.PENDING and inbound.attempts == 0
    release_lock(holder)


def test_the_drain_releases_the_chat_lock_when_done(accept, drain):
    accept()
    drain()
    assert not lock_is_held(CHAT)


def test_the_drain_asks_to_run_again_when_its_batch_is_used_up(accept, settings, django_capture_on_commit_callbacks):
    settings.WA_DRAIN_BATCH = 2
    for n in range(3):
        accept(f"m{n}")
    with pytest.raises(RetryLater), django_capture_on_commit_callbacks():
        chat_drain(chat_id=CHAT)
    assert InboundMessage.objects.filter(status="pending").count() == 1


def test_the_turn_the_status_and_the_reply_commit_together(accept, drain):
    inbound = accept("quero saber o endereço")
    drain()
    inbound.refresh_from_db()
    reply = inbound.replies.get()
    state = ConversationState.objects.get(conversation_id=CHAT)
    assert inbound.status == "done" and inbound.processed_at is not None
    assert state.history[-1]["text"] == reply.text
    assert list(inbound.events.values_list("kind", flat=True)) == ["accepted", "processed"]


# --- the lock's owner check ----------------------------------------------------------------


def test_a_stale_holder_cannot_release_a_lock_someone_else_now_holds():
    stale = try_conversation_lock(CHAT)
    get_redis().set(stale.key, "new-holder-token")  # the TTL expired; another worker took it
    assert release_lock(stale) is False
    assert get_redis().get(stale.key) == b"new-holder-token"


def test_a_stale_holder_cannot_renew_a_lock_someone_else_now_holds():
    stale = try_conversation_lock(CHAT)
    get_redis().set(stale.key, "new-holder-token")
    with pytest.raises(LockLost):
        stale.extend()


def test_a_stale_holder_cannot_commit_its_turn(accept, django_capture_on_commit_callbacks):
    inbound = accept("oi")
    stale = try_conversation_lock(CHAT)
    get_redis().set(stale.key, "new-holder-token")
    with django_capture_on_commit_callbacks():
        outcome, _delay = services.inbound_process(inbound=inbound, keeper=LockKeeper(stale))
    inbound.refresh_from_db()
    assert outcome is Outcome.RETRY
    assert inbound.status == InboundMessage.Status.PENDING
    assert not OutboundMessage.objects.exists()
    assert not ConversationState.objects.filter(conversation_id=CHAT).exists(), "the state write was rolled back"


def test_a_turn_whose_conversation_changed_underneath_is_rolled_back_and_retried(accept, drain, monkeypatch):
    import chatbot.engine

    accept("oi")
    ConversationState.objects.create(conversation_id=CHAT)
    real_dispatch = chatbot.engine._dispatch

    def another_holder_commits_meanwhile(state, text, event):
        ConversationState.objects.filter(pk=state.pk).update(version=F("version") + 1)
        return real_dispatch(state, text, event)

    monkeypatch.setattr(chatbot.engine, "_dispatch", another_holder_commits_meanwhile)
    with pytest.raises(RetryLater):
        drain()
    inbound = InboundMessage.objects.get()
    assert inbound.status == "pending" and "changed during the turn" in inbound.last_error
    assert not OutboundMessage.objects.exists()

    monkeypatch.setattr(chatbot.engine, "_dispatch", real_dispatch)
    drain()
    assert InboundMessage.objects.get().status == "done"
    assert OutboundMessage.objects.count() == 1


def test_a_message_already_answered_by_a_previous_holder_is_not_answered_again(accept, drain):
    inbound = accept("oi")
    drain()
    outcome, _ = services.inbound_process(inbound=inbound, keeper=LockKeeper(try_conversation_lock(CHAT)))
    assert outcome is Outcome.DONE
    assert OutboundMessage.objects.count() == 1
    assert ConversationState.objects.get(conversation_id=CHAT).turns == 1


# --- failures of one message ------------------------------------------------------------------


@pytest.fixture
def broken_engine(monkeypatch):
    import chatbot.engine

    calls = []

    def crash(**kwargs):
        calls.append(kwargs["text"])
        if kwargs["text"] == "quebra":
            raise RuntimeError("engine bug")
        return real(**kwargs)

    real = chatbot.engine.conversation_turn
    monkeypatch.setattr(chatbot.engine, "conversation_turn", crash)
    return calls


def test_an_engine_error_leaves_the_message_pending_and_holds_back_the_chat(accept, drain, broken_engine):
    broken, after = accept("quebra"), accept("depois")
    with pytest.raises(RetryLater):
        drain()
    broken.refresh_from_db()
    after.refresh_from_db()
    assert (broken.status, broken.attempts) == ("pending", 1)
    assert "RuntimeError: engine bug" in broken.last_error
    assert after.status == "pending", "the next message waits, to keep the chat's order"


def test_a_message_that_keeps_failing_is_given_up_with_an_apology_and_the_chat_moves_on(accept, drain, broken_engine, settings):
    settings.WA_PROCESS_MAX_ATTEMPTS = 2
    broken, after = accept("quebra"), accept("depois")
    with pytest.raises(RetryLater):
        drain()
    drain()
    broken.refresh_from_db()
    after.refresh_from_db()
    assert broken.status == InboundMessage.Status.FAILED
    apology = broken.replies.get()
    assert apology.kind == OutboundMessage.Kind.APOLOGY and "Desculpe" in apology.text
    assert after.status == "done"


def test_a_message_that_killed_its_workers_too_often_is_given_up(accept, drain, settings):
    inbound = accept("oi")
    InboundMessage.objects.filter(pk=inbound.pk).update(attempts=settings.WA_PROCESS_MAX_ATTEMPTS)
    drain()
    inbound.refresh_from_db()
    assert inbound.status == "failed"
    assert inbound.replies.get().kind == "apology"
    assert not ConversationState.objects.filter(conversation_id=CHAT).exists()


# --- voice notes --------------------------------------------------------------------------------


def test_a_voice_note_is_transcribed_and_answered_as_text(accept, drain, fake_openai):
    fake_openai.transcript_text = "qual o endereço do evento?"
    inbound = accept("", audio=OGG, mimetype="audio/ogg; codecs=opus")
    drain()
    inbound.refresh_from_db()
    assert inbound.status == "done" and inbound.transcript == "qual o endereço do evento?"
    assert inbound.audio is None, "the recording is not kept once transcribed"
    assert user_messages() == ["qual o endereço do evento?"]
    assert len(fake_openai.transcription_requests) == 1


def test_a_voice_note_without_an_openai_key_gets_a_polite_reply(accept, drain, settings):
    settings.OPENAI_API_KEY = ""
    inbound = accept("", audio=OGG, mimetype="audio/ogg")
    drain()
    inbound.refresh_from_db()
    assert inbound.status == "done"
    assert inbound.replies.get().text == "Não consegui ouvir seu áudio, pode escrever?"
    assert list(inbound.events.values_list("kind", flat=True)) == ["accepted", "transcription_failed"]


def test_a_voice_note_whose_transcription_fails_gets_a_polite_reply(accept, drain, fake_openai):
    from congress.testing.fake_openai import FakeFailure

    fake_openai.fail_always(FakeFailure.server_error(500))
    inbound = accept("", audio=OGG, mimetype="audio/ogg")
    drain()
    assert inbound.replies.get().text == "Não consegui ouvir seu áudio, pode escrever?"


# --- delivery ---------------------------------------------------------------------------------


def answered(accept, drain, *texts: str) -> list[OutboundMessage]:
    for text in texts:
        accept(text)
    drain()
    return list(OutboundMessage.objects.order_by("id"))


def test_replies_are_delivered_in_order_with_the_gateways_contract(accept, drain, deliver, fake_gateway):
    replies = answered(accept, drain, "um", "dois")
    assert deliver(replies[0]) is None
    delivered = fake_gateway.delivered()
    assert [r.body for r in delivered] == [
        {"number": CHAT, "jid": f"{CHAT}@s.whatsapp.net", "text": reply.text} for reply in replies
    ]
    assert delivered[0].headers["x-api-key"] == GATEWAY_KEY
    assert delivered[0].headers["idempotency-key"] == f"outbound-{replies[0].pk}"
    assert set(OutboundMessage.objects.values_list("status", flat=True)) == {"sent"}


def test_a_gateway_error_schedules_a_retry_with_backoff(accept, drain, deliver, fake_gateway, fast_retries):
    (reply,) = answered(accept, drain, "oi")
    fake_gateway.fail_with(500)
    retry = deliver(reply)
    reply.refresh_from_db()
    assert retry is not None and retry.countdown > 0
    assert (reply.status, reply.attempts) == ("pending", 1)
    assert reply.next_attempt_at > timezone.now() - dt.timedelta(seconds=1)
    assert "500" in reply.last_error


def test_a_retried_reply_goes_out_once_the_gateway_is_back(accept, drain, deliver, fake_gateway, fast_retries):
    (reply,) = answered(accept, drain, "oi")
    fake_gateway.down()
    deliver(reply)
    fake_gateway.up()
    OutboundMessage.objects.filter(pk=reply.pk).update(next_attempt_at=timezone.now())
    assert deliver(reply) is None
    reply.refresh_from_db()
    assert (reply.status, reply.attempts) == ("sent", 2)
    assert len(fake_gateway.delivered()) == 1


def test_a_reply_waiting_for_a_retry_holds_back_the_next_one(accept, drain, deliver, fake_gateway, fast_retries):
    first, second = answered(accept, drain, "um", "dois")
    fake_gateway.fail_with(503)
    deliver(first)
    fake_gateway.ok()
    retry = deliver(second)
    assert retry is not None, "the head is still in its backoff"
    assert fake_gateway.delivered() == []


@pytest.mark.parametrize("status", [400, 401, 404], ids=["bad-request", "wrong-key", "not-found"])
def test_a_permanent_gateway_error_fails_the_reply_at_once_and_the_next_goes_out(accept, drain, deliver, fake_gateway, status):
    first, second = answered(accept, drain, "um", "dois")
    fake_gateway.fail_with(status)
    deliver(first)
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.status, first.attempts) == ("failed", 1)
    assert second.status == "failed", "the same permanent error"
    assert list(first.events.values_list("kind", flat=True)) == ["send_failed"]


def test_a_reply_is_failed_after_its_last_attempt(accept, drain, deliver, fake_gateway, settings, fast_retries):
    settings.WA_SEND_MAX_ATTEMPTS = 2
    (reply,) = answered(accept, drain, "oi")
    fake_gateway.fail_with(500)
    deliver(reply)
    OutboundMessage.objects.filter(pk=reply.pk).update(next_attempt_at=timezone.now())
    assert deliver(reply) is None
    reply.refresh_from_db()
    assert (reply.status, reply.attempts) == ("failed", 2)


def test_without_a_gateway_url_replies_are_only_logged_and_marked_so(accept, drain, deliver, settings):
    settings.GATEWAY_URL = ""
    (reply,) = answered(accept, drain, "oi")
    deliver(reply)
    reply.refresh_from_db()
    assert reply.status == OutboundMessage.Status.LOGGED


# --- sweep ---------------------------------------------------------------------------------------


def age(model, seconds: float = 60) -> None:
    model.objects.update(created_at=timezone.now() - dt.timedelta(seconds=seconds))


def test_the_sweeper_re_enqueues_chats_with_old_pending_messages(accept, settings):
    accept("a", chat="5561911110000")
    accept("b", chat="5561922220000")
    age(InboundMessage)
    assert pipeline_sweep() == {"chats": 2, "replies": 0}
    assert sorted(queued_tasks()) == [
        ("whatsapp.tasks.drain_chat", ["5561911110000"]),
        ("whatsapp.tasks.drain_chat", ["5561922220000"]),
    ]


def test_the_sweeper_leaves_fresh_messages_to_their_own_task(accept):
    accept("a")
    assert pipeline_sweep() == {"chats": 0, "replies": 0}


def test_the_sweeper_skips_a_chat_whose_lock_is_held(accept):
    accept("a")
    age(InboundMessage)
    lock = try_conversation_lock(CHAT)
    assert pipeline_sweep()["chats"] == 0
    release_lock(lock)


def test_the_sweeper_re_enqueues_the_first_stuck_reply_of_each_chat(accept, drain):
    replies = answered(accept, drain, "um", "dois")
    age(OutboundMessage)
    get_redis().delete("celery")
    assert pipeline_sweep() == {"chats": 0, "replies": 1}
    assert queued_tasks() == [("whatsapp.tasks.send_outbound", [replies[0].pk])]


def test_the_sweeper_waits_for_a_replys_backoff(accept, drain):
    answered(accept, drain, "um")
    age(OutboundMessage)
    OutboundMessage.objects.update(next_attempt_at=timezone.now() + dt.timedelta(minutes=5))
    assert pipeline_sweep()["replies"] == 0


def test_accepting_a_message_enqueues_its_chat_after_commit(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        message_accept(message_id=new_message_id(), number=CHAT, text="oi")
    assert queued_tasks() == [("whatsapp.tasks.drain_chat", [CHAT])]


def test_a_broker_outage_does_not_lose_an_accepted_message(settings, django_capture_on_commit_callbacks):
    from congress.celery import app

    app.conf.broker_url = "redis://127.0.0.1:1/0"
    app._pool = None
    try:
        with django_capture_on_commit_callbacks(execute=True):
            result = message_accept(message_id=new_message_id(), number=CHAT, text="oi")
    finally:
        app.conf.broker_url = settings.CELERY_BROKER_URL
        app._pool = None
    assert result.status == "queued"
    assert InboundMessage.objects.get().status == "pending", "stored; the sweeper enqueues it"


def test_every_stage_leaves_an_event_row(accept, drain, deliver, fake_gateway):
    (reply,) = answered(accept, drain, "oi")
    deliver(reply)
    kinds = list(MessageEvent.objects.order_by("id").values_list("kind", flat=True))
    assert kinds == ["accepted", "processed", "sent"]


# --- embedded default and counters ---------------------------------------------------------------


@pytest.fixture
def embedded_default(settings):
    """Eager Celery and no Redis, as with no environment variables at all."""
    from congress.celery import app

    settings.REDIS_URL = ""
    get_redis.cache_clear()
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = False
    get_redis.cache_clear()


@pytest.mark.django_db(transaction=True)
def test_on_the_embedded_default_the_reply_is_delivered_inline(api_client, embedded_default, fake_gateway):
    from whatsapp.tests.conftest import queued_body

    response = api_client.post("/whatsapp", queued_body(text="oi"), format="json")
    assert response.status_code == 202
    assert len(fake_gateway.delivered()) == 1
    assert OutboundMessage.objects.get().status == "sent"


@pytest.mark.django_db(transaction=True)
def test_on_the_embedded_default_a_gateway_outage_leaves_the_reply_pending_for_the_admin(
    api_client, embedded_default, fake_gateway, fast_retries
):
    from whatsapp.tests.conftest import queued_body

    fake_gateway.down()
    assert api_client.post("/whatsapp", queued_body(text="oi"), format="json").status_code == 202
    reply = OutboundMessage.objects.get()
    assert (reply.status, reply.attempts) == ("pending", 1)


def counter(name: str, **labels) -> float:
    from prometheus_client import REGISTRY

    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_each_stage_is_counted(accept, drain, deliver, fake_gateway):
    before = {
        "accepted": counter("whatsapp_inbound_accepted_total", source="api"),
        "duplicate": counter("whatsapp_inbound_duplicate_total", source="api"),
        "processed": counter("whatsapp_inbound_processed_total"),
        "sent": counter("whatsapp_outbound_sent_total", mode="gateway"),
        "retries": counter("whatsapp_retries_total", stage="send"),
    }
    inbound = accept("oi")
    message_accept(message_id=inbound.message_id, number=CHAT, text="oi")
    drain()
    reply = OutboundMessage.objects.get()
    fake_gateway.fail_with(500)
    deliver(reply)
    fake_gateway.ok()
    OutboundMessage.objects.update(next_attempt_at=None)
    deliver(reply)
    after = {
        "accepted": counter("whatsapp_inbound_accepted_total", source="api"),
        "duplicate": counter("whatsapp_inbound_duplicate_total", source="api"),
        "processed": counter("whatsapp_inbound_processed_total"),
        "sent": counter("whatsapp_outbound_sent_total", mode="gateway"),
        "retries": counter("whatsapp_retries_total", stage="send"),
    }
    assert {key: after[key] - before[key] for key in before} == {
        "accepted": 1, "duplicate": 1, "processed": 1, "sent": 1, "retries": 1
    }


def test_the_sweeper_re_enqueues_a_chat_at_most_once_per_repeat_window(accept):
    accept("a")
    age(InboundMessage)
    assert pipeline_sweep()["chats"] == 1
    assert pipeline_sweep()["chats"] == 0, "its drain may just be waiting in a long queue"
    get_redis().delete(f"congress:swept:{CHAT}")  # the window passed
    assert pipeline_sweep()["chats"] == 1
