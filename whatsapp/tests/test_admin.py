"""The message log in the admin: lists, filters, a chat in order, repairs."""

from __future__ import annotations

import itertools

import pytest
from django.urls import reverse

from whatsapp.models import InboundMessage, MessageEvent, OutboundMessage

pytestmark = pytest.mark.django_db

CHAT = "5561955554444"
_ids = itertools.count(1)


def inbound(text: str, *, chat: str = CHAT, status: str = "done") -> InboundMessage:
    return InboundMessage.objects.create(message_id=f"ADM{next(_ids):06d}", chat_id=chat, number=chat, text=text, status=status)


def reply(to: InboundMessage, text: str, *, status: str = "sent", kind: str = "reply") -> OutboundMessage:
    return OutboundMessage.objects.create(inbound=to, chat_id=to.chat_id, number=to.number, text=text, status=status, kind=kind)


def test_the_inbound_list_filters_by_status_and_chat(admin_client):
    inbound("oi")
    inbound("falhou", status="failed")
    inbound("de outro", chat="5561900000000")
    url = reverse("admin:whatsapp_inboundmessage_changelist")
    assert admin_client.get(url, {"status__exact": "failed"}).context["cl"].result_count == 1
    assert admin_client.get(url, {"chat": CHAT}).context["cl"].result_count == 2


def test_the_outbound_list_filters_by_status(admin_client):
    message = inbound("oi")
    reply(message, "olá", status="failed")
    url = reverse("admin:whatsapp_outboundmessage_changelist")
    assert admin_client.get(url, {"status__exact": "failed"}).context["cl"].result_count == 1
    assert admin_client.get(url, {"status__exact": "sent"}).context["cl"].result_count == 0


def test_a_chats_messages_are_shown_in_order_each_followed_by_its_reply(admin_client):
    first, second = inbound("primeira pergunta"), inbound("segunda pergunta")
    reply(first, "primeira resposta")
    reply(second, "segunda resposta")
    response = admin_client.get(reverse("admin:whatsapp_chat_transcript", args=[CHAT]))
    page = response.content.decode()
    positions = [page.index(text) for text in ("primeira pergunta", "primeira resposta", "segunda pergunta", "segunda resposta")]
    assert response.status_code == 200 and positions == sorted(positions)


def test_reprocess_puts_failed_messages_back_in_the_queue(admin_client, django_capture_on_commit_callbacks):
    failed = inbound("quebrou", status="failed")
    InboundMessage.objects.filter(pk=failed.pk).update(attempts=5)
    done = inbound("ok")
    with django_capture_on_commit_callbacks() as callbacks:
        response = admin_client.post(
            reverse("admin:whatsapp_inboundmessage_changelist"),
            {"action": "reprocess", "_selected_action": [failed.pk, done.pk]},
            follow=True,
        )
    failed.refresh_from_db()
    done.refresh_from_db()
    assert (failed.status, failed.attempts) == ("pending", 0)
    assert done.status == "done", "only failed messages are reprocessed"
    assert len(callbacks) == 1
    assert MessageEvent.objects.filter(inbound=failed, kind="reprocess").exists()
    assert "1 mensagem voltou para a fila" in response.content.decode()
    from registrations.models import ExportRecord

    assert ExportRecord.objects.get(action="inbound_reprocess").row_count == 1


def test_retry_puts_failed_replies_back_in_the_send_queue(admin_client, django_capture_on_commit_callbacks):
    failed = reply(inbound("oi"), "olá", status="failed")
    with django_capture_on_commit_callbacks() as callbacks:
        admin_client.post(
            reverse("admin:whatsapp_outboundmessage_changelist"), {"action": "retry", "_selected_action": [failed.pk]}
        )
    failed.refresh_from_db()
    assert (failed.status, failed.attempts, failed.next_attempt_at) == ("pending", 0, None)
    assert len(callbacks) == 1


def test_retry_sends_a_reply_waiting_for_its_backoff_now_and_leaves_sent_ones_alone(admin_client, django_capture_on_commit_callbacks):
    from django.utils import timezone

    waiting = reply(inbound("um"), "olá", status="pending")
    OutboundMessage.objects.filter(pk=waiting.pk).update(attempts=3, next_attempt_at=timezone.now())
    sent = reply(inbound("dois"), "olá", status="sent")
    with django_capture_on_commit_callbacks() as callbacks:
        admin_client.post(
            reverse("admin:whatsapp_outboundmessage_changelist"), {"action": "retry", "_selected_action": [waiting.pk, sent.pk]}
        )
    waiting.refresh_from_db()
    sent.refresh_from_db()
    assert (waiting.status, waiting.attempts, waiting.next_attempt_at) == ("pending", 0, None)
    assert sent.status == "sent"
    assert len(callbacks) == 1


def test_a_message_page_shows_its_reply_and_what_happened(admin_client):
    message = inbound("oi")
    reply(message, "resposta enviada")
    MessageEvent.objects.create(inbound=message, kind="processed", detail="step=idle turns=1")
    response = admin_client.get(reverse("admin:whatsapp_inboundmessage_change", args=[message.pk]))
    page = response.content.decode()
    assert "resposta enviada" in page and "step=idle turns=1" in page


def test_organizers_cannot_add_messages_by_hand(admin_client):
    assert admin_client.get(reverse("admin:whatsapp_inboundmessage_add")).status_code == 403
