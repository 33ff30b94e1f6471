"""A staff reply on the Cloud API channel: through the Graph API inside the
24-hour window, as the approved template outside it, or held (and shown)
when no template is active."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from chatbot.models import ConversationState
from inbox import services
from whatsapp.models import InboundMessage, MessageTemplate, OutboundMessage
from whatsapp.services import outbox_flush
from whatsapp.tests.conftest import CLOUD_WA_ID, new_wamid

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff(django_user_model):
    return django_user_model.objects.create_user("rita", first_name="Rita")


def wrote(*, hours_ago: float) -> ConversationState:
    InboundMessage.objects.create(
        message_id=new_wamid(), channel="cloud", chat_id=CLOUD_WA_ID, number=CLOUD_WA_ID, text="oi", status="done",
        sent_at=timezone.now() - dt.timedelta(hours=hours_ago),
    )
    return ConversationState.objects.get_or_create(conversation_id=CLOUD_WA_ID)[0]


def reply(state: ConversationState, staff, text: str) -> OutboundMessage:
    line = services.staff_reply(conversation=state, user=staff, text=text)
    outbox_flush(chat_id=CLOUD_WA_ID)
    return OutboundMessage.objects.get(pk=line.outbound_id)


def test_inside_the_window_the_reply_is_free_text_through_the_graph_api(fake_graph, staff):
    outbound = reply(wrote(hours_ago=1), staff, "Oi, aqui é a Rita!")
    assert outbound.channel == "cloud" and outbound.status == OutboundMessage.Status.SENT
    (request,) = fake_graph.sent()
    assert request.json["to"] == CLOUD_WA_ID and request.json["text"]["body"] == "Oi, aqui é a Rita!"


def test_outside_the_window_the_active_template_carries_it(fake_graph, staff):
    MessageTemplate.objects.create(name="aviso_congresso", language="pt_BR", active=True)
    outbound = reply(wrote(hours_ago=30), staff, "Oi, aqui é a Rita! Vi sua mensagem de ontem.")
    assert outbound.status == OutboundMessage.Status.SENT
    (request,) = fake_graph.sent()
    assert request.json["type"] == "template"
    assert request.json["template"]["components"][0]["parameters"][0]["text"] == "Oi, aqui é a Rita! Vi sua mensagem de ontem."


def test_outside_the_window_without_a_template_it_is_held_until_the_participant_writes(fake_graph, staff):
    outbound = reply(wrote(hours_ago=30), staff, "Oi, aqui é a Rita!")
    assert outbound.status == OutboundMessage.Status.HELD
    assert fake_graph.sent() == []
