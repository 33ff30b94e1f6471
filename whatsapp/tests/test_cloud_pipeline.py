"""The Cloud API channel through the pipeline's services, in-process: a
webhook message is answered through the fake Graph API, a voice note is
downloaded and transcribed, a tap advances the registration, retries,
permanent failures, held replies and their release.

The webhook is POSTed through Django's test client; the drain and the
outbox are called directly (enqueue callbacks captured, not published).
The same with a real Celery worker is in test_cloud_worker.py.
"""

from __future__ import annotations

import time

import pytest
from django.urls import reverse

from chatbot.models import ConversationState
from congress.testing.factories import make_event, make_profile
from congress.testing.fake_graph import GraphFailure
from whatsapp.models import InboundMessage, MessageEvent, MessageTemplate, OutboundMessage
from whatsapp.services import RetryLater, chat_drain, message_accept, outbox_deliver
from whatsapp.tests.conftest import CLOUD_WA_ID, cloud_body, cloud_message, new_message_id, signed

pytestmark = pytest.mark.django_db

OGG = b"OggS" + bytes(range(256)) * 4
TWO_DAYS_AGO = int(time.time()) - 2 * 24 * 3600


@pytest.fixture
def webhook(client, fake_graph, settings, django_capture_on_commit_callbacks):
    """POST messages to /whatsapp/cloud, signed; the drain is not run."""

    def webhook(*messages: dict, name: str = "Ana") -> None:
        raw, headers = signed(cloud_body(messages=list(messages), name=name), settings.WA_CLOUD_APP_SECRET)
        with django_capture_on_commit_callbacks():
            response = client.post("/whatsapp/cloud", raw, content_type="application/json", **headers)
        assert response.status_code == 200, response.content

    return webhook


@pytest.fixture
def drain(django_capture_on_commit_callbacks):
    """The drain task's work: answer the chat's messages and send the replies."""

    def drain(chat: str = CLOUD_WA_ID) -> RetryLater | None:
        with django_capture_on_commit_callbacks():
            try:
                chat_drain(chat_id=chat, deliver=True)
            except RetryLater as exc:
                return exc
        return None

    return drain


def deliver(outbound: OutboundMessage) -> RetryLater | None:
    try:
        outbox_deliver(outbound_id=outbound.pk)
    except RetryLater as exc:
        return exc
    return None


def test_a_cloud_message_is_answered_through_the_graph_api(webhook, drain, fake_graph):
    message = cloud_message(body="onde vai ser o evento?")
    webhook(message)
    drain()
    (sent,) = fake_graph.sent()
    assert sent.to == CLOUD_WA_ID and sent.type == "text" and sent.text
    reply = OutboundMessage.objects.get()
    assert (reply.channel, reply.status, reply.provider_message_id, reply.text) == ("cloud", "sent", sent.wamid, sent.text)
    assert InboundMessage.objects.get().status == "done"
    (read,) = fake_graph.reads()
    assert read.json["message_id"] == message["id"], "marked read (and typing) when the worker took it"


def test_each_reply_leaves_through_the_channel_its_message_came_from(webhook, drain, fake_graph, fake_gateway):
    webhook(cloud_message(body="oi pela nuvem"))
    message_accept(message_id=new_message_id(), number="5561977770000", text="oi pelo gateway")
    drain()
    drain("5561977770000")
    assert [r.to for r in fake_graph.sent()] == [CLOUD_WA_ID]
    assert [r.number for r in fake_gateway.delivered()] == ["5561977770000"]
    assert dict(OutboundMessage.objects.values_list("chat_id", "channel")) == {CLOUD_WA_ID: "cloud", "5561977770000": "gateway"}


def test_a_chats_replies_go_out_in_the_order_of_its_messages(webhook, drain, fake_graph):
    webhook(cloud_message(body="primeira"), cloud_message(body="segunda"), cloud_message(body="terceira"))
    drain()
    replies = list(OutboundMessage.objects.order_by("inbound_id").values_list("provider_message_id", flat=True))
    assert [r.wamid for r in fake_graph.sent()] == replies and len(replies) == 3
    history = ConversationState.objects.get(conversation_id=CLOUD_WA_ID).history
    assert [t["text"] for t in history if t["role"] == "user"] == ["primeira", "segunda", "terceira"]


def test_a_voice_note_is_downloaded_transcribed_and_answered(webhook, drain, fake_graph, fake_openai):
    fake_graph.add_media("media-1", OGG)
    fake_openai.transcript_text = "onde fica o evento?"
    webhook(cloud_message("audio", media_id="media-1"))
    drain()
    inbound = InboundMessage.objects.get()
    assert (inbound.status, inbound.transcript, inbound.audio) == ("done", "onde fica o evento?", None)
    (transcription,) = fake_openai.transcription_requests
    assert transcription.files["file"][2] == OGG
    assert len(fake_graph.sent()) == 1
    assert MessageEvent.objects.filter(inbound=inbound, kind="transcribed").exists()


def test_a_voice_note_whose_media_is_gone_gets_a_polite_reply(webhook, drain, fake_graph, fake_openai):
    webhook(cloud_message("audio", media_id="expired"))
    drain()
    (sent,) = fake_graph.sent()
    assert "áudio" in sent.text
    assert fake_openai.transcription_requests == []
    assert MessageEvent.objects.filter(kind="transcription_failed").exists()


def test_a_voice_note_download_that_fails_for_now_is_retried(webhook, drain, fake_graph, fake_openai, fast_retries):
    fake_graph.add_media("media-2", OGG)
    fake_graph.fail_next(GraphFailure.server_error(kind="media"))
    webhook(cloud_message("audio", media_id="media-2"))
    assert isinstance(drain(), RetryLater)
    assert InboundMessage.objects.get().status == "pending"
    drain()
    assert InboundMessage.objects.get().status == "done"
    assert len(fake_openai.transcription_requests) == 1 and len(fake_graph.sent()) == 1


@pytest.mark.parametrize("kind", ["button_reply", "list_reply"])
def test_a_tap_on_sim_gives_consent_and_advances_the_registration(webhook, drain, fake_graph, kind):
    make_profile(make_event(registration_open=True))
    webhook(cloud_message(body="quero me inscrever"))
    drain()
    assert ConversationState.objects.get(conversation_id=CLOUD_WA_ID).registration_step == "asking_consent"
    webhook(cloud_message(kind, reply_id="consent-yes", title="Sim"))
    drain()
    assert ConversationState.objects.get(conversation_id=CLOUD_WA_ID).registration_step == "asking_name"
    assert len(fake_graph.sent()) == 2


def test_a_throttled_reply_is_retried_with_backoff_and_then_sent(webhook, drain, fake_graph, fast_retries):
    fake_graph.fail_next(GraphFailure.rate_limited())
    webhook(cloud_message(body="oi"))
    retry = drain()
    reply = OutboundMessage.objects.get()
    assert (reply.status, reply.attempts) == ("pending", 1)
    assert "130429" in reply.last_error and reply.next_attempt_at is not None
    assert retry is None or retry.countdown <= 0.2
    time.sleep(0.25)
    assert deliver(reply) is None
    reply.refresh_from_db()
    assert reply.status == "sent" and len(fake_graph.sent()) == 1
    assert list(MessageEvent.objects.filter(outbound=reply).values_list("kind", flat=True)) == ["send_retry", "sent"]


def test_a_refused_reply_fails_at_once_with_the_graph_error_visible_in_the_admin(webhook, drain, fake_graph, admin_client):
    fake_graph.fail_next(GraphFailure.invalid_parameter("Parameter value is not valid"))
    webhook(cloud_message(body="oi"))
    drain()
    reply = OutboundMessage.objects.get()
    assert (reply.status, reply.attempts) == ("failed", 1)
    assert reply.last_error.startswith("Graph API 400, code 100/2494010: (#100) Invalid parameter")
    page = admin_client.get(reverse("admin:whatsapp_outboundmessage_changelist"), {"status__exact": "failed"}).content.decode()
    assert "Graph API 400, code 100" in page


# --- the 24-hour window ------------------------------------------------------------------


def test_outside_the_window_without_a_template_the_reply_is_held_and_shown_in_the_admin(webhook, drain, fake_graph, admin_client):
    webhook(cloud_message(body="oi", timestamp=TWO_DAYS_AGO))  # Meta delivered it two days late
    drain()
    reply = OutboundMessage.objects.get()
    assert reply.status == "held" and fake_graph.sent() == []
    assert MessageEvent.objects.filter(outbound=reply, kind="held").exists()
    listing = admin_client.get(reverse("admin:whatsapp_outboundmessage_changelist"), {"status__exact": "held"})
    assert listing.context["cl"].result_count == 1
    assert "Aguardando modelo aprovado" in listing.content.decode()
    templates = admin_client.get(reverse("admin:whatsapp_messagetemplate_changelist")).content.decode()
    assert "1 resposta aguarda um modelo ativo" in templates


def test_a_held_reply_goes_out_as_the_template_once_one_is_active_and_it_is_retried(
    webhook, drain, fake_graph, admin_client, django_capture_on_commit_callbacks
):
    webhook(cloud_message(body="oi", timestamp=TWO_DAYS_AGO))
    drain()
    reply = OutboundMessage.objects.get()
    MessageTemplate.objects.create(name="aviso_congresso", language="pt_BR", active=True)
    with django_capture_on_commit_callbacks() as callbacks:
        admin_client.post(reverse("admin:whatsapp_outboundmessage_changelist"), {"action": "retry", "_selected_action": [reply.pk]})
    assert len(callbacks) == 1, "its send is enqueued"
    reply.refresh_from_db()
    assert reply.status == "pending"
    assert deliver(reply) is None  # what the enqueued send_outbound does
    reply.refresh_from_db()
    (sent,) = fake_graph.sent()
    assert sent.type == "template" and sent.json["template"]["name"] == "aviso_congresso"
    assert (reply.status, reply.provider_message_id) == ("sent", sent.wamid)
    assert MessageEvent.objects.get(outbound=reply, kind="sent").detail == "template aviso_congresso (pt_BR)"


def test_with_an_active_template_a_reply_outside_the_window_is_sent_as_the_template(webhook, drain, fake_graph):
    MessageTemplate.objects.create(name="aviso_congresso", language="pt_BR", active=True)
    webhook(cloud_message(body="oi", timestamp=TWO_DAYS_AGO))
    drain()
    assert [r.type for r in fake_graph.sent()] == ["template"]
    assert OutboundMessage.objects.get().status == "sent"


def test_held_replies_go_out_first_as_text_when_the_participant_writes_again(webhook, drain, fake_graph):
    webhook(cloud_message(body="primeira", timestamp=TWO_DAYS_AGO))
    drain()
    held = OutboundMessage.objects.get()
    assert held.status == "held"
    webhook(cloud_message(body="segunda"))
    drain()
    sent = fake_graph.sent()
    assert [r.type for r in sent] == ["text", "text"]
    replies = list(OutboundMessage.objects.order_by("id"))
    assert [r.provider_message_id for r in replies] == [r.wamid for r in sent]
    assert [r.status for r in replies] == ["sent", "sent"]
    assert MessageEvent.objects.filter(outbound=held, kind="released").exists()


def test_without_a_token_replies_to_cloud_messages_are_only_logged(webhook, drain, fake_graph, settings):
    webhook(cloud_message(body="oi"))
    settings.WA_CLOUD_ACCESS_TOKEN = ""
    drain()
    assert OutboundMessage.objects.get().status == "logged"
    assert fake_graph.sent() == [] and fake_graph.reads() == []


def test_a_message_without_an_inbound_reply_leaves_through_the_chats_last_channel(webhook):
    from whatsapp.services import chat_channel

    assert chat_channel(CLOUD_WA_ID) == "gateway", "a chat never seen: the gateway, as before channels"
    webhook(cloud_message(body="oi"))
    assert chat_channel(CLOUD_WA_ID) == "cloud"


@pytest.mark.parametrize(
    ("env", "ids"),
    [
        ({}, []),
        ({"WA_CLOUD_ACCESS_TOKEN": "t"}, ["whatsapp.W001", "whatsapp.W002", "whatsapp.W003"]),
        ({"WA_CLOUD_ACCESS_TOKEN": "t", "WA_CLOUD_PHONE_NUMBER_ID": "1", "WA_CLOUD_APP_SECRET": "s",
          "WA_CLOUD_VERIFY_TOKEN": "v"}, []),
        ({"WA_CLOUD_API_URL": "graph.facebook.com"}, ["whatsapp.W004"]),
    ],
    ids=["off", "half-configured", "configured", "bad-url"],
)
def test_a_half_configured_cloud_channel_is_reported_at_start(settings, env, ids):
    from whatsapp.checks import cloud_api_settings

    settings.WA_CLOUD_ACCESS_TOKEN = settings.WA_CLOUD_PHONE_NUMBER_ID = ""
    settings.WA_CLOUD_APP_SECRET = settings.WA_CLOUD_VERIFY_TOKEN = ""
    settings.WA_CLOUD_API_URL = "https://graph.facebook.com/v23.0"
    for name, value in env.items():
        setattr(settings, name, value)
    assert [problem.id for problem in cloud_api_settings()] == ids
