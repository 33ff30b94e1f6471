"""The Cloud API channel end to end: the real webhook (signed POSTs through
Django's test client), real PostgreSQL and Redis, a REAL Celery worker
process, and the local fake Graph API (and fake OpenAI for voice notes).

The same guarantees as the gateway's queued path (test_worker.py): a message
Meta delivers several times is answered once, a chat's replies leave in
order, throttling is retried and a refusal is final and visible.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connections
from django.test import Client

from chatbot.models import ConversationState
from congress.testing.factories import make_event, make_profile
from congress.testing.fake_graph import GraphFailure
from congress.testing.procs import child_env, database_url_for_children, start_celery_worker, wait_until
from whatsapp.models import InboundMessage, MessageEvent, OutboundMessage
from whatsapp.tests.conftest import CLOUD_WA_ID, cloud_body, cloud_message, cloud_status, signed

pytestmark = [pytest.mark.resilience, pytest.mark.django_db(transaction=True)]

DEADLINE_S = 60
SWEEP_INTERVAL_S = 0.5


@pytest.fixture
def start_worker(fake_graph, fake_openai, settings):
    env = child_env(
        database_url=database_url_for_children(),
        redis_url=settings.REDIS_URL,
        GATEWAY_URL="",
        BOT_API_KEY="",
        OPENAI_API_KEY=settings.OPENAI_API_KEY,
        OPENAI_BASE_URL=fake_openai.base_url,
        WA_CLOUD_API_URL=fake_graph.base_url,
        WA_CLOUD_ACCESS_TOKEN=fake_graph.access_token,
        WA_CLOUD_PHONE_NUMBER_ID=fake_graph.phone_number_id,
        WA_CLOUD_TIMEOUT_S=2,
        LOCK_TTL_SECONDS=3,
        WA_SWEEP_INTERVAL_S=SWEEP_INTERVAL_S,
        WA_SWEEP_AGE_S=1,
        WA_RETRY_BACKOFF_S=0.1,
        WA_RETRY_BACKOFF_MAX_S=0.5,
    )
    workers = []

    def start():
        worker = start_celery_worker(env=env, concurrency=4)
        workers.append(worker)
        return worker

    yield start
    for worker in workers:
        worker.stop(timeout=10)


def post(body: dict, secret: str) -> int:
    """POST one signed webhook body; the status code."""
    raw, headers = signed(body, secret)
    try:
        return Client().post("/whatsapp/cloud", raw, content_type="application/json", **headers).status_code
    finally:
        connections.close_all()


def settle() -> None:
    """Give stragglers (a duplicate task, a sweep) the time of a few sweeps to show up."""
    time.sleep(SWEEP_INTERVAL_S * 4)


def test_a_text_delivered_three_times_is_answered_once(start_worker, fake_graph, settings):
    start_worker()
    body = cloud_body(messages=[cloud_message(body="oi")])
    with ThreadPoolExecutor(max_workers=2) as pool:
        statuses = list(pool.map(lambda _: post(body, settings.WA_CLOUD_APP_SECRET), range(2)))
    statuses.append(post(body, settings.WA_CLOUD_APP_SECRET))
    assert statuses == [200, 200, 200]
    assert fake_graph.wait_for(1, timeout=DEADLINE_S)
    settle()
    assert len(fake_graph.sent()) == 1
    assert InboundMessage.objects.count() == 1
    reply = OutboundMessage.objects.get()
    assert wait_until(lambda: OutboundMessage.objects.get().status == "sent", timeout=DEADLINE_S)
    # Meta then reports the delivery, and a late "sent" must not move it back.
    wamid = fake_graph.sent()[0].wamid
    post(cloud_body(statuses=[cloud_status(wamid, "delivered")]), settings.WA_CLOUD_APP_SECRET)
    post(cloud_body(statuses=[cloud_status(wamid, "sent")]), settings.WA_CLOUD_APP_SECRET)
    reply.refresh_from_db()
    assert (reply.status, reply.provider_message_id) == ("delivered", wamid)


def test_a_chats_replies_leave_in_the_order_of_its_messages(start_worker, fake_graph, settings):
    start_worker()
    texts = [f"mensagem {n}" for n in range(1, 6)]
    for text in texts:  # each in its own webhook, as Meta sends them
        assert post(cloud_body(messages=[cloud_message(body=text)]), settings.WA_CLOUD_APP_SECRET) == 200
    assert fake_graph.wait_for(5, timeout=DEADLINE_S)
    settle()
    sent = [r.wamid for r in fake_graph.sent()]
    by_inbound = list(OutboundMessage.objects.order_by("inbound_id").values_list("provider_message_id", flat=True))
    assert sent == by_inbound and len(sent) == 5
    history = ConversationState.objects.get(conversation_id=CLOUD_WA_ID).history
    assert [t["text"] for t in history if t["role"] == "user"] == texts


def test_a_voice_note_is_downloaded_transcribed_and_answered(start_worker, fake_graph, fake_openai, settings):
    fake_graph.add_media("4455667788", b"OggS" + bytes(range(256)) * 8)
    fake_openai.transcript_text = "onde vai ser o congresso?"
    start_worker()
    assert post(cloud_body(messages=[cloud_message("audio", media_id="4455667788")]), settings.WA_CLOUD_APP_SECRET) == 200
    assert fake_graph.wait_for(1, timeout=DEADLINE_S)
    inbound = InboundMessage.objects.get()
    assert (inbound.status, inbound.transcript) == ("done", "onde vai ser o congresso?")
    assert len(fake_graph.of_kind("media_download")) == 1
    assert len(fake_openai.transcription_requests) == 1


def test_a_button_tap_and_a_list_choice_advance_the_registration(start_worker, fake_graph, settings):
    make_profile(make_event(registration_open=True))
    start_worker()
    secret = settings.WA_CLOUD_APP_SECRET

    def step() -> str:
        return ConversationState.objects.get(conversation_id=CLOUD_WA_ID).registration_step

    post(cloud_body(messages=[cloud_message(body="quero me inscrever")]), secret)
    assert fake_graph.wait_for(1, timeout=DEADLINE_S) and step() == "asking_consent"
    post(cloud_body(messages=[cloud_message("button_reply", reply_id="consent-yes", title="Sim")]), secret)
    assert fake_graph.wait_for(2, timeout=DEADLINE_S) and step() == "asking_name"
    # "cancelar" is a global command: a list choice carrying it ends the flow.
    post(cloud_body(messages=[cloud_message("list_reply", reply_id="menu-cancel", title="cancelar")]), secret)
    assert fake_graph.wait_for(3, timeout=DEADLINE_S) and step() == "idle"


def test_a_throttled_reply_is_retried_until_sent_and_a_refused_one_fails_visibly(start_worker, fake_graph, settings):
    fake_graph.fail_next(GraphFailure.rate_limited(), GraphFailure.server_error(500))
    start_worker()
    post(cloud_body(messages=[cloud_message(body="oi")]), settings.WA_CLOUD_APP_SECRET)
    assert fake_graph.wait_for(1, timeout=DEADLINE_S)
    assert wait_until(lambda: OutboundMessage.objects.filter(status="sent").count() == 1, timeout=DEADLINE_S)
    reply = OutboundMessage.objects.get()
    assert reply.attempts == 3
    assert list(MessageEvent.objects.filter(outbound=reply).values_list("kind", flat=True)) == ["send_retry", "send_retry", "sent"]

    fake_graph.fail_next(GraphFailure.invalid_parameter("Parameter value is not valid"))
    post(cloud_body(messages=[cloud_message(body="de novo")]), settings.WA_CLOUD_APP_SECRET)
    assert wait_until(lambda: OutboundMessage.objects.filter(status="failed").count() == 1, timeout=DEADLINE_S)
    settle()
    failed = OutboundMessage.objects.get(status="failed")
    assert failed.attempts == 1 and "code 100" in failed.last_error
    assert len(fake_graph.sent()) == 1


def test_a_reply_due_outside_the_24_hour_window_is_held_not_sent(start_worker, fake_graph, settings):
    start_worker()
    late = int(time.time()) - 30 * 3600
    post(cloud_body(messages=[cloud_message(body="oi", timestamp=late)]), settings.WA_CLOUD_APP_SECRET)
    assert wait_until(lambda: OutboundMessage.objects.filter(status="held").count() == 1, timeout=DEADLINE_S)
    settle()
    assert fake_graph.sent() == []
    assert OutboundMessage.objects.get().status == "held", "the sweeper leaves held replies alone"
