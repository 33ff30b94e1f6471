"""The queued path's guarantees (CONTRACT §3) with a REAL Celery worker
process on real Redis and PostgreSQL, not eager mode.

Each test starts ``celery -A congress worker --beat`` pointed at the test
database, with short sweep intervals, lock TTL and backoffs so faults heal in
seconds. Replies land at a local fake ``/send-text``. Waits poll for an outcome
with a generous deadline; nothing asserts on timing.
"""

from __future__ import annotations

import random
import time
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from django.db import connections
from rest_framework.test import APIClient

from chatbot.models import ConversationState
from congress.testing.procs import (
    child_env,
    database_url_for_children,
    start_celery_worker,
    start_redis,
    start_web,
    wait_until,
)
from whatsapp.models import InboundMessage, OutboundMessage
from whatsapp.tests.conftest import GATEWAY_KEY, queued_body

pytestmark = [pytest.mark.resilience, pytest.mark.django_db(transaction=True)]

SWEEP_INTERVAL_S = 0.5
DEADLINE_S = 90


@pytest.fixture
def worker_env(fake_gateway, settings):
    settings.THROTTLE_CONVERSATION_RATE = None  # the tests post faster than a person types
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
        WA_SEND_MAX_ATTEMPTS=200,
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


def post_all(bodies: list[dict], *, threads: int = 12) -> list[int]:
    """POST every body to /whatsapp concurrently; the status codes, in order."""

    def post(body: dict) -> int:
        try:
            return APIClient().post("/whatsapp", body, format="json").status_code
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=threads) as pool:
        return list(pool.map(post, bodies))


def all_answered_and_sent(expected: int) -> bool:
    return (
        InboundMessage.objects.filter(status="done").count() == expected
        and OutboundMessage.objects.filter(status="sent").count() == expected
    )


def settle() -> None:
    """Give stragglers (a duplicate task, a sweep) the time of a few sweeps to show up."""
    time.sleep(SWEEP_INTERVAL_S * 4)


def delivered_keys(gateway) -> list[str]:
    return [r.headers.get("idempotency-key", "") for r in gateway.delivered()]


def test_the_same_message_posted_six_times_at_once_is_answered_once(start_worker, fake_gateway):
    start_worker()
    body = queued_body(text="oi")
    statuses = post_all([body] * 6, threads=6)
    assert sorted(statuses) == [200, 200, 200, 200, 200, 202]
    assert fake_gateway.wait_for(1, timeout=DEADLINE_S)
    assert wait_until(lambda: all_answered_and_sent(1), timeout=DEADLINE_S)
    settle()
    assert len(fake_gateway.delivered()) == 1
    assert InboundMessage.objects.count() == 1


def test_twenty_chats_interleaved_and_delivered_twice_get_eighty_replies_in_order(start_worker, fake_gateway):
    start_worker()
    chats = [f"556190000{n:04d}" for n in range(20)]
    statuses: list[int] = []
    for k in range(1, 5):
        # Round k: message k of every chat, each delivered twice, shuffled and
        # concurrent. Message k+1 of a chat is posted after k was accepted.
        bodies = [queued_body(message_id=f"{chat}-{k}", number=chat, jid=f"{chat}@s.whatsapp.net", text=f"mensagem {k}") for chat in chats]
        twice = bodies * 2
        random.shuffle(twice)
        statuses += post_all(twice)
    assert Counter(statuses) == {202: 80, 200: 80}
    assert fake_gateway.wait_for(80, timeout=DEADLINE_S)
    assert wait_until(lambda: all_answered_and_sent(80), timeout=DEADLINE_S)
    settle()
    assert len(fake_gateway.delivered()) == 80

    for chat in chats:
        state = ConversationState.objects.get(conversation_id=chat)
        assert [t["text"] for t in state.history if t["role"] == "user"] == [f"mensagem {k}" for k in range(1, 5)]
        assert state.turns == 4
    # Each chat's replies reached the gateway in the order of its messages.
    order = {f"outbound-{o.pk}": (o.chat_id, o.inbound_id) for o in OutboundMessage.objects.all()}
    per_chat = defaultdict(list)
    for key in delivered_keys(fake_gateway):
        chat, inbound_id = order[key]
        per_chat[chat].append(inbound_id)
    assert all(ids == sorted(ids) and len(ids) == 4 for ids in per_chat.values())


def test_a_worker_killed_mid_work_loses_nothing_and_repeats_at_most_one_reply_per_child(start_worker, fake_gateway):
    fake_gateway.latency_s = 0.25  # 40 sends take seconds: the kill surely lands mid-work
    worker = start_worker()
    chats = [f"556191111{n:04d}" for n in range(10)]
    bodies = [queued_body(message_id=f"{chat}-{k}", number=chat, jid="", text=f"mensagem {k}") for k in range(4) for chat in chats]
    for k in range(4):
        assert set(post_all(bodies[k * 10 : (k + 1) * 10])) == {202}
    assert fake_gateway.wait_for(5, timeout=DEADLINE_S)
    worker.kill()  # SIGKILL the whole worker, children included, mid-work
    delivered_before = len(fake_gateway.delivered())
    assert delivered_before < 40, "the kill must land mid-work"
    fake_gateway.latency_s = 0.0

    start_worker()
    assert wait_until(lambda: all_answered_and_sent(40), timeout=DEADLINE_S)
    settle()
    keys = delivered_keys(fake_gateway)
    expected = {f"outbound-{pk}" for pk in OutboundMessage.objects.values_list("pk", flat=True)}
    assert set(keys) == expected, "every message answered"
    # The documented in-flight window: a send the gateway took but whose "sent"
    # mark died with the worker is repeated; at most one per worker child (4).
    assert len(keys) - len(set(keys)) <= 4, f"repeated: {Counter(keys).most_common(5)}"
    for chat in chats:
        state = ConversationState.objects.get(conversation_id=chat)
        assert [t["text"] for t in state.history if t["role"] == "user"] == [f"mensagem {k}" for k in range(4)]


def test_messages_queued_when_redis_restarts_empty_are_all_answered(start_worker, worker_env, fake_gateway):
    redis_server = start_redis()
    env = {**worker_env, "REDIS_URL": redis_server.url()}
    web = start_web(env=env)
    try:
        worker = start_worker(REDIS_URL=redis_server.url())
        worker.pause()  # SIGSTOP: the messages wait in the broker
        bodies = [queued_body(number=f"55619222{n:05d}", jid="", text="oi") for n in range(10)]
        statuses = [requests.post(f"{web.url}/whatsapp", json=body, timeout=10).status_code for body in bodies]
        assert statuses == [202] * 10
        redis_server.restart()  # same port, nothing persisted: the queued tasks are gone
        worker.resume()
        assert fake_gateway.wait_for(10, timeout=DEADLINE_S)
        assert wait_until(lambda: all_answered_and_sent(10), timeout=DEADLINE_S)
        settle()
        assert len(fake_gateway.delivered()) == 10
    finally:
        web.stop()
        redis_server.stop()


@pytest.mark.parametrize("outage", ["connection-refused", "http-500"])
def test_a_reply_arrives_once_the_gateway_is_back(start_worker, fake_gateway, outage):
    if outage == "connection-refused":
        fake_gateway.down()
    else:
        fake_gateway.fail_with(500)
    start_worker()
    assert set(post_all([queued_body(number=f"5561933{n:06d}", jid="") for n in range(3)])) == {202}
    assert wait_until(
        lambda: OutboundMessage.objects.filter(attempts__gte=3, status="pending").count() == 3, timeout=DEADLINE_S
    ), "retrying while the gateway is out"
    fake_gateway.up()
    fake_gateway.ok()
    assert fake_gateway.wait_for(3, timeout=DEADLINE_S)
    assert wait_until(lambda: all_answered_and_sent(3), timeout=DEADLINE_S)
    settle()
    assert len(fake_gateway.delivered()) == 3
    assert all(attempts >= 4 for attempts in OutboundMessage.objects.values_list("attempts", flat=True))
