"""What organizers read in the admin is pt-BR and in words: labels, the
security section, message transcripts with WhatsApp formatting, and links
between a conversation, its registrations and its WhatsApp messages."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from chatbot.models import ConversationState, FAQEntry, ProgrammeSession
from congress.testing.factories import make_cpf, make_participant
from registrations.validators import format_cpf
from whatsapp.models import InboundMessage, OutboundMessage

pytestmark = pytest.mark.django_db

CHAT = "5562988881111"


@pytest.fixture
def organizer(client):
    user = get_user_model().objects.create_superuser("organizadora", "org@example.com", "senha-forte-123")
    client.force_login(user)
    return client


@pytest.fixture
def demo():
    call_command("load_demo_event", stdout=io.StringIO())


def test_the_admin_index_names_every_section_in_portuguese(organizer):
    page = organizer.get(reverse("admin:index"), HTTP_ACCEPT_LANGUAGE="en-US,en;q=0.9").content.decode()
    assert "Segurança" in page and "Tentativas de acesso" in page and "Registros de acesso" in page
    for english in ("Access attempts", "Access logs", "Axes", "Authentication and Authorization", "Recent actions"):
        assert english not in page


def test_the_event_filter_and_the_programme_are_labelled_in_portuguese(organizer, demo):
    faq = FAQEntry.objects.first()
    form = organizer.get(reverse("admin:chatbot_faqentry_change", args=[faq.pk])).content.decode()
    assert 'for="id_event">Evento:</label>' in form
    programme = organizer.get(reverse("admin:chatbot_programmesession_changelist")).content.decode()
    count = ProgrammeSession.objects.count()
    assert f"{count} atividades da programação" in programme
    assert FAQEntry.objects.exists()


def test_no_environment_variable_names_in_message_statuses():
    for label in (*OutboundMessage.Status.labels, *InboundMessage.Status.labels):
        assert "GATEWAY_URL" not in label and "_" not in label


def _message(text: str, *, reply: str = "") -> InboundMessage:
    inbound = InboundMessage.objects.create(
        message_id=f"MK-{InboundMessage.objects.count()}", chat_id=CHAT, number=CHAT, text=text, status="done"
    )
    if reply:
        OutboundMessage.objects.create(inbound=inbound, chat_id=CHAT, number=CHAT, text=reply, status="sent")
    return inbound


def test_the_transcript_renders_whatsapp_formatting_and_masks_cpfs(organizer):
    cpf = make_cpf()
    _message(f"meu cpf é {format_cpf(cpf)}", reply="*Nome:* Ana\n_Confere?_")
    page = organizer.get(reverse("admin:whatsapp_chat_transcript", args=[CHAT])).content.decode()
    assert "<strong>Nome:</strong> Ana<br><em>Confere?</em>" in page
    assert format_cpf(cpf) not in page and cpf not in page and f"***.{cpf[3:6]}.{cpf[6:9]}-**" in page
    inbound_list = organizer.get(reverse("admin:whatsapp_inboundmessage_changelist")).content.decode()
    assert format_cpf(cpf) not in inbound_list


def test_conversation_registration_and_whatsapp_messages_link_to_each_other(organizer):
    conversation = ConversationState.objects.create(conversation_id=CHAT, registration_step="completed")
    participant = make_participant(full_name="Ana Conceição", conversation=conversation)
    _message("oi", reply="Olá!")
    change = organizer.get(reverse("admin:chatbot_conversationstate_change", args=[conversation.pk])).content.decode()
    assert reverse("admin:registrations_participant_change", args=[participant.pk]) in change
    assert reverse("admin:whatsapp_chat_transcript", args=[CHAT]) in change
    changelist = organizer.get(reverse("admin:chatbot_conversationstate_changelist")).content.decode()
    assert "Ana Conceição" in changelist
    transcript = organizer.get(reverse("admin:whatsapp_chat_transcript", args=[CHAT])).content.decode()
    assert reverse("admin:chatbot_conversationstate_change", args=[conversation.pk]) in transcript
    assert reverse("admin:registrations_participant_change", args=[participant.pk]) in transcript


def test_a_conversation_outside_whatsapp_says_so(organizer):
    conversation = ConversationState.objects.create(conversation_id="site-user-1")
    page = organizer.get(reverse("admin:chatbot_conversationstate_change", args=[conversation.pk])).content.decode()
    assert "Conversa fora do WhatsApp" in page


def test_the_stuck_filter_lists_registrations_stopped_for_more_than_a_day(organizer):
    now = timezone.now()
    stuck = ConversationState.objects.create(conversation_id="5562900000001", registration_step="asking_email")
    recent = ConversationState.objects.create(conversation_id="5562900000002", registration_step="asking_email")
    idle = ConversationState.objects.create(conversation_id="5562900000003", registration_step="idle")
    ConversationState.objects.filter(pk__in=[stuck.pk, idle.pk]).update(last_activity_at=now - dt.timedelta(hours=30))
    ConversationState.objects.filter(pk=recent.pk).update(last_activity_at=now - dt.timedelta(hours=2))
    response = organizer.get(reverse("admin:chatbot_conversationstate_changelist"), {"stuck": "1"})
    assert response.status_code == 200
    assert [c.pk for c in response.context["cl"].result_list] == [stuck.pk]


@pytest.mark.parametrize("role", ["superuser", "Equipe"])
def test_message_detail_pages_never_show_a_whole_cpf(client, role):
    from django.contrib.auth.models import Group

    if role == "superuser":
        user = get_user_model().objects.create_superuser("org2", "org2@example.com", "senha-forte-123")
    else:
        user = get_user_model().objects.create_user("equipe", "eq@example.com", "senha-forte-123", is_staff=True)
        user.groups.add(Group.objects.get(name=role))
    client.force_login(user)
    cpf = make_cpf()
    inbound = _message(f"meu cpf é {format_cpf(cpf)} ou {cpf}", reply=f"*CPF:* {format_cpf(cpf)}\nConfere?")
    InboundMessage.objects.filter(pk=inbound.pk).update(transcript=f"cpf {cpf}", has_audio=True)
    outbound = inbound.replies.get()
    pages = [
        client.get(reverse("admin:whatsapp_inboundmessage_change", args=[inbound.pk])),
        client.get(reverse("admin:whatsapp_outboundmessage_change", args=[outbound.pk])),
        client.get(reverse("admin:whatsapp_outboundmessage_changelist")),
    ]
    for response in pages:
        page = response.content.decode()
        assert response.status_code == 200
        assert cpf not in page and format_cpf(cpf) not in page
        assert f"***.{cpf[3:6]}.{cpf[6:9]}-**" in page
    assert "<strong>CPF:</strong>" in pages[1].content.decode()


def test_error_pages_are_in_portuguese(client, settings):
    settings.DEBUG = False
    page = client.get("/nada-aqui/")
    assert page.status_code == 404 and "Página não encontrada" in page.content.decode()
    user = get_user_model().objects.create_user("eq", "eq@example.com", "senha-forte-123", is_staff=True)
    client.force_login(user)
    participant = make_participant()
    denied = client.post(reverse("admin:registrations_participant_delete", args=[participant.pk]))
    assert denied.status_code == 403
    assert "Você não tem permissão" in denied.content.decode() and "Forbidden" not in denied.content.decode()
    settings.ALLOWED_HOSTS = ["testserver"]
    bad_host = client.get("/", HTTP_HOST="evil.example")
    assert bad_host.status_code == 400 and "Não foi possível atender" in bad_host.content.decode()
