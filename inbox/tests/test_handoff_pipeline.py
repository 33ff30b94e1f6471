"""Handoff through the real pipeline: a REAL Celery worker (with beat) on
real Redis and PostgreSQL, messages accepted by /whatsapp, replies landing at
a local fake ``/send-text``, staff answering from the admin inbox."""

from __future__ import annotations

import threading
import time

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db import connections
from django.test import Client
from rest_framework.test import APIClient

from chatbot.models import ConversationState
from congress.testing.procs import child_env, database_url_for_children, start_celery_worker, wait_until
from inbox import services
from inbox.models import Handoff, HandoffMessage
from whatsapp.models import InboundMessage, OutboundMessage
from whatsapp.tests.conftest import GATEWAY_KEY, queued_body

pytestmark = [pytest.mark.resilience, pytest.mark.django_db(transaction=True)]

DEADLINE_S = 90
# How long "nothing arrives" is watched for: bounded, and long against a
# worker that answers in milliseconds.
SILENCE_S = 3.0


@pytest.fixture
def worker(fake_gateway, settings):
    settings.THROTTLE_CONVERSATION_RATE = None
    call_command("load_demo_event")
    workers = []

    def start(**overrides):
        env = child_env(
            database_url=database_url_for_children(),
            redis_url=settings.REDIS_URL,
            GATEWAY_URL=fake_gateway.url,
            GATEWAY_API_KEY=GATEWAY_KEY,
            BOT_API_KEY="",
            OPENAI_API_KEY="",
            THROTTLE_CONVERSATION_RATE="",
            LOCK_TTL_SECONDS=3,
            WA_SWEEP_INTERVAL_S=0.5,
            WA_SWEEP_AGE_S=1,
            WA_RETRY_BACKOFF_S=0.1,
            WA_RETRY_BACKOFF_MAX_S=0.5,
            **{key: str(value) for key, value in overrides.items()},
        )
        process = start_celery_worker(env=env, concurrency=4)
        workers.append(process)
        return process

    yield start
    for process in workers:
        process.stop(timeout=10)


@pytest.fixture
def organizer(db):
    return get_user_model().objects.create_superuser("ana", "ana@congresso.test", "x", first_name="Ana")


def send(chat: str, text: str) -> None:
    client = APIClient()
    try:
        response = client.post("/whatsapp", queued_body(number=chat, jid=f"{chat}@s.whatsapp.net", text=text), format="json")
    finally:
        connections.close_all()
    assert response.status_code == 202, response.content


def texts_to(gateway, chat: str) -> list[str]:
    return [request.text for request in gateway.delivered() if request.number == chat]


def wait_texts(gateway, chat: str, count: int) -> list[str]:
    assert wait_until(lambda: len(texts_to(gateway, chat)) >= count, timeout=DEADLINE_S), texts_to(gateway, chat)
    return texts_to(gateway, chat)


def all_processed(chat: str) -> bool:
    return not InboundMessage.objects.filter(chat_id=chat, status="pending").exists()


def conversation(chat: str) -> ConversationState:
    return ConversationState.objects.get(conversation_id=chat)


def test_a_person_takes_over_answers_and_gives_the_conversation_back(worker, fake_gateway, organizer):
    worker()
    chat = "5561977770001"
    send(chat, "oi")
    wait_texts(fake_gateway, chat, 1)
    send(chat, "quero falar com um atendente")
    assert "aqui mesmo" in wait_texts(fake_gateway, chat, 2)[1]

    # Silence while open: the messages are processed and kept, nothing is sent.
    send(chat, "qual o local do evento?")
    send(chat, "alguém?")
    assert wait_until(lambda: InboundMessage.objects.filter(chat_id=chat).count() == 4 and all_processed(chat), timeout=DEADLINE_S)
    time.sleep(SILENCE_S)
    assert len(texts_to(fake_gateway, chat)) == 2
    admin = Client()
    admin.force_login(organizer)
    page = admin.get(f"/admin/inbox/{conversation(chat).pk}/")
    assert page.status_code == 200
    assert "qual o local do evento?" in page.content.decode()
    assert "alguém?" in admin.get("/admin/inbox/").content.decode()

    # A staff reply from the admin: delivered once, recorded with its author.
    response = admin.post(f"/admin/inbox/{conversation(chat).pk}/", {"text": "Oi! Aqui é a Ana, da organização."})
    assert response.status_code in (302, 303)
    assert wait_texts(fake_gateway, chat, 3)[2] == "Oi! Aqui é a Ana, da organização."
    line = HandoffMessage.objects.get(role="staff")
    assert line.author == organizer and line.outbound.status == OutboundMessage.Status.SENT
    assert conversation(chat).history[-1]["role"] == "staff"

    # "Devolver ao robô": the participant is told, and the bot answers again.
    response = admin.post(f"/admin/inbox/{conversation(chat).pk}/", {"action": "resolve"})
    assert response.status_code in (302, 303)
    assert "assistente virtual voltou" in wait_texts(fake_gateway, chat, 4)[3]
    send(chat, "onde vai ser o evento?")
    answer = wait_texts(fake_gateway, chat, 5)[4]
    assert "Goiânia" in answer or "Centro" in answer, answer
    time.sleep(SILENCE_S)
    assert len(texts_to(fake_gateway, chat)) == 5, "each reply once"


def test_each_way_of_asking_for_a_person_opens_a_handoff(worker, fake_gateway):
    worker()
    asks = {
        "5561977770011": ["quero falar com uma pessoa"],
        "5561977770012": ["me liga por favor"],
        "5561977770013": ["isso é um absurdo, ninguém me responde"],
        "5561977770014": ["oi", "4"],
    }
    for chat, texts in asks.items():
        for text in texts:
            send(chat, text)
    for chat, texts in asks.items():
        assert "aqui mesmo" in wait_texts(fake_gateway, chat, len(texts))[-1]
    assert Handoff.objects.filter(status="open").count() == 4
    assert Handoff.objects.get(conversation__conversation_id="5561977770013").reason == Handoff.Reason.COMPLAINT


def test_an_idle_handoff_closes_by_itself(worker, fake_gateway):
    worker(HANDOFF_IDLE_HOURS=0.001, HANDOFF_SWEEP_INTERVAL_S=0.5)  # 3.6 s
    chat = "5561977770021"
    send(chat, "quero falar com um atendente")
    wait_texts(fake_gateway, chat, 1)
    assert "ficou parada" in wait_texts(fake_gateway, chat, 2)[1]
    assert Handoff.objects.get().closed_reason == Handoff.Closed.IDLE
    send(chat, "onde vai ser o evento?")
    wait_texts(fake_gateway, chat, 3)


def test_concurrent_staff_replies_reach_the_participant_in_order(worker, fake_gateway, organizer):
    worker()
    chat = "5561977770031"
    send(chat, "quero falar com um atendente")
    wait_texts(fake_gateway, chat, 1)
    state = conversation(chat)
    errors = []

    def reply(n: int) -> None:
        try:
            services.staff_reply(conversation=state.pk, user=organizer, text=f"resposta {n}")
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=reply, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    delivered = wait_texts(fake_gateway, chat, 9)[1:]
    recorded = list(HandoffMessage.objects.filter(role="staff").order_by("id").values_list("text", flat=True))
    assert delivered == recorded, "the participant reads them in the order they were recorded"
    assert sorted(delivered) == sorted(f"resposta {n}" for n in range(8))
    time.sleep(SILENCE_S)
    assert len(texts_to(fake_gateway, chat)) == 9
