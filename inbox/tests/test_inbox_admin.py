"""The organizers' inbox in the admin (/admin/inbox/): the waiting list, one
conversation's transcript, answering, taking and giving back a conversation,
who may do it, and the dashboard's figure. Handoffs are opened through the
engine, as participants open them."""

from __future__ import annotations

import datetime as dt
import itertools
import re

import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.auth.models import Group, Permission, User
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from chatbot.engine import conversation_turn
from chatbot.models import ConversationState
from congress.locks import release_lock, try_conversation_lock
from congress.roles import ORGANIZERS, STAFF
from congress.testing.factories import make_cpf, make_event, make_participant
from inbox.models import Handoff, HandoffMessage
from whatsapp.models import OutboundMessage
from whatsapp.tests.conftest import fake_gateway  # noqa: F401 - fixture

pytestmark = pytest.mark.django_db

INBOX = "/admin/inbox/"
ASK = "quero falar com um atendente"
_numbers = itertools.count(1)


@pytest.fixture(autouse=True)
def event(settings):
    # A gateway is configured (replies have a channel); tests that check
    # the delivery itself start the fake one.
    settings.GATEWAY_URL = settings.GATEWAY_URL or "http://127.0.0.1:9/unused"
    return make_event(name="Congresso Agro Teste")


def new_number() -> str:
    return f"55619877{next(_numbers):05d}"


def ask_for_person(number: str | None = None, *, push_name: str = "Ana", text: str = ASK) -> ConversationState:
    """A participant asks for a person through the engine; the handoff it opened."""
    number = number or new_number()
    result = conversation_turn(conversation_id=number, text=text, push_name=push_name)
    assert result.handoff is True
    return ConversationState.objects.get(conversation_id=number)


def page_of(conversation: ConversationState) -> str:
    return f"{INBOX}{conversation.pk}/"


def open_since(conversation: ConversationState, ago: dt.timedelta) -> None:
    Handoff.objects.filter(conversation=conversation, status="open").update(opened_at=timezone.now() - ago)


def member(group_name: str, *, username: str, first_name: str = "", last_name: str = "") -> User:
    user = User.objects.create_user(
        username=username, password="x-Very-long-pass-123", is_staff=True, first_name=first_name, last_name=last_name
    )
    user.groups.add(Group.objects.get(name=group_name))
    return user


@pytest.fixture
def organizer() -> User:
    return member(ORGANIZERS, username="org", first_name="Olga", last_name="Organizadora")


@pytest.fixture
def organizer_client(client, organizer) -> Client:
    client.force_login(organizer)
    return client


@pytest.fixture
def equipe() -> User:
    return member(STAFF, username="equipe", first_name="Edu", last_name="Equipe")


@pytest.fixture
def equipe_client(client, equipe) -> Client:
    client.force_login(equipe)
    return client


@pytest.fixture
def eager_celery():
    """Sends run inline when enqueued, as on the embedded default."""
    from congress.celery import app

    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = False


def rows_of(response) -> list[str]:
    """The list's rows as text, top to bottom."""
    html = response.content.decode()
    body = html[html.index("<tbody>", html.index('id="inbox-list"')) : html.index("</tbody>")]
    return [" ".join(re.sub(r"<[^>]+>", " ", "<tr" + row).split()) for row in body.split("<tr")[1:]]


def transcript_lines(response) -> list[tuple[str, str]]:
    """``[(who, text)]`` of the transcript, in order."""
    html = response.content.decode()
    section = html[html.index('id="transcript"') : html.index("</ol>")]
    found = []
    for item in section.split("<li")[1:]:
        who = re.search(r'class="inbox-who">([^<]*)<', item).group(1)
        text = re.search(r'class="inbox-text">(.*?)</div>', item, re.S).group(1)
        found.append((who, " ".join(re.sub(r"<[^>]+>", " ", text).split())))
    return found


# --------------------------------------------------------------------------
# The list
# --------------------------------------------------------------------------


def test_the_list_shows_open_handoffs_oldest_first_with_name_last_message_and_assignee(organizer_client, organizer):
    newer = ask_for_person(push_name="Bruno")
    older = ask_for_person(push_name="Ana", text="quero falar com uma pessoa")
    conversation_turn(conversation_id=older.conversation_id, text="meu boleto não chegou")
    open_since(older, dt.timedelta(hours=2, minutes=5, seconds=10))
    open_since(newer, dt.timedelta(minutes=7, seconds=5))
    closed = ask_for_person(push_name="Carla")
    conversation_turn(conversation_id=closed.conversation_id, text="menu")
    organizer_client.post(page_of(newer), {"action": "assign"})

    rows = rows_of(organizer_client.get(INBOX))

    assert len(rows) == 2
    assert rows[0].startswith("há 2 h 5 min Ana")
    assert "Participante: meu boleto não chegou" in rows[0] and "ninguém" in rows[0]
    assert rows[1].startswith("há 7 min Bruno")
    assert f"Participante: {ASK}" in rows[1] and "Olga Organizadora" in rows[1]
    assert "Pedido do participante" in rows[0]


def test_the_list_names_the_participant_by_their_registration(organizer_client):
    conversation = ask_for_person(push_name="Zé")
    make_participant(full_name="José Registrado da Silva", conversation=conversation)
    rows = rows_of(organizer_client.get(INBOX))
    assert rows[0].startswith("há menos de 1 min José Registrado da Silva no WhatsApp: Zé")


def test_the_list_shows_a_staff_reply_as_the_last_message(organizer_client):
    conversation = ask_for_person()
    organizer_client.post(page_of(conversation), {"text": "Oi Ana, já vejo seu caso."})
    (row,) = rows_of(organizer_client.get(INBOX))
    assert "Olga Organizadora: Oi Ana, já vejo seu caso." in row


def test_the_empty_inbox_says_so_in_portuguese(organizer_client):
    response = organizer_client.get(INBOX)
    assert response.status_code == 200
    assert "Nenhuma conversa aguardando a equipe" in response.content.decode()


def test_recently_closed_conversations_have_their_own_tab(organizer_client):
    waiting = ask_for_person(push_name="Ana")
    gone = ask_for_person(push_name="Beto")
    conversation_turn(conversation_id=gone.conversation_id, text="voltar ao robô")
    rows = rows_of(organizer_client.get(INBOX, {"status": "closed"}))
    assert len(rows) == 1 and "Beto" in rows[0] and "Participante voltou ao assistente" in rows[0]
    assert "Ana" not in rows[0] and waiting.handoff_open


def test_the_list_costs_the_same_queries_whatever_the_number_of_rows(organizer_client):
    ask_for_person()
    organizer_client.get(INBOX)  # warm the session and permission caches
    with CaptureQueriesContext(connection) as one:
        assert organizer_client.get(INBOX).status_code == 200
    for n in range(6):
        conversation = ask_for_person(push_name=f"P{n}")
        make_participant(full_name=f"Pessoa {n}", conversation=conversation)
        conversation_turn(conversation_id=conversation.conversation_id, text=f"mensagem {n}")
        organizer_client.post(page_of(conversation), {"text": f"resposta {n}"})
    with CaptureQueriesContext(connection) as seven:
        response = organizer_client.get(INBOX)
    assert len(response.context["rows"]) == 7
    assert len(seven) == len(one)


# --------------------------------------------------------------------------
# One conversation
# --------------------------------------------------------------------------


def test_the_transcript_shows_bot_participant_and_staff_lines_with_the_staff_name(organizer_client):
    number = new_number()
    conversation_turn(conversation_id=number, text="oi", push_name="Ana")
    conversation = ask_for_person(number)
    conversation_turn(conversation_id=number, text="meu pagamento não aparece")
    organizer_client.post(page_of(conversation), {"text": "Oi Ana! Vou verificar *agora*."})

    response = organizer_client.get(page_of(conversation))

    lines = transcript_lines(response)
    assert [who for who, _text in lines] == [
        "Participante", "Assistente", "Participante", "Assistente", "Participante", "Olga Organizadora",
    ]
    assert lines[0][1] == "oi" and "Congresso Agro Teste" in lines[1][1]
    assert lines[2][1] == ASK and "uma pessoa vai responder" in lines[3][1]
    assert lines[4][1] == "meu pagamento não aparece"
    assert "<strong>agora</strong>" in response.content.decode()  # WhatsApp formatting rendered
    assert "Ninguém assumiu" not in response.content.decode()  # the reply took it


def test_the_transcript_escapes_what_the_participant_typed(organizer_client):
    conversation = ask_for_person()
    conversation_turn(conversation_id=conversation.conversation_id, text="<script>alert(1)</script>")
    html = organizer_client.get(page_of(conversation)).content.decode()
    assert "<script>alert(1)" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_a_staff_line_shows_its_delivery_status(organizer_client):
    conversation = ask_for_person()
    organizer_client.post(page_of(conversation), {"text": "Olá"})
    OutboundMessage.objects.filter(kind="staff").update(status=OutboundMessage.Status.HELD)
    html = organizer_client.get(page_of(conversation)).content.decode()
    assert "Aguardando modelo aprovado (fora da janela de 24 h)" in html
    OutboundMessage.objects.filter(kind="staff").update(status=OutboundMessage.Status.FAILED)
    assert "inbox-status-bad" in organizer_client.get(page_of(conversation)).content.decode()


def test_a_conversation_is_found_by_its_number_too(organizer_client):
    conversation = ask_for_person()
    response = organizer_client.get(f"{INBOX}{conversation.conversation_id}/")
    assert response.status_code == 200 and response.context["conversation"] == conversation


def test_an_unknown_conversation_is_a_404_page(organizer_client):
    response = organizer_client.get(f"{INBOX}999999/")
    assert response.status_code == 404
    assert "Erro 404" in response.content.decode() or "não encontrada" in response.content.decode()


def test_the_equipe_sees_cpfs_masked_in_the_transcript(equipe_client):
    cpf = make_cpf("529982247")
    conversation = ask_for_person()
    conversation_turn(conversation_id=conversation.conversation_id, text=f"meu CPF é {cpf[:3]}.{cpf[3:6]}.{cpf[6:9]}-{cpf[9:]}")
    html = equipe_client.get(page_of(conversation)).content.decode()
    assert "***.982.247-**" in html
    assert cpf not in html and f"{cpf[:3]}.{cpf[3:6]}" not in html


def test_the_list_masks_a_cpf_in_the_last_message(equipe_client):
    cpf = make_cpf("529982247")
    conversation = ask_for_person()
    conversation_turn(conversation_id=conversation.conversation_id, text=f"meu cpf {cpf}")
    (row,) = rows_of(equipe_client.get(INBOX))
    assert "meu cpf ***.982.247-**" in row and cpf not in row


def test_a_long_last_message_is_cut_without_leaving_part_of_a_cpf(equipe_client):
    cpf = make_cpf("529982247")
    conversation = ask_for_person()
    # The database reads the first 640 characters: nine of the CPF's digits,
    # which the list would show once the spaces are folded.
    text = "cpf" + " " * 628 + cpf + " fim"
    conversation_turn(conversation_id=conversation.conversation_id, text=text)
    (row,) = rows_of(equipe_client.get(INBOX))
    assert "Participante: cpf" in row and "52998" not in row


# --------------------------------------------------------------------------
# Answering
# --------------------------------------------------------------------------


def test_a_reply_makes_one_staff_message_and_one_transcript_line_with_its_author(organizer_client, organizer):
    conversation = ask_for_person()
    response = organizer_client.post(page_of(conversation), {"text": "Oi, aqui é a Olga."})
    assert response.status_code in (302, 303) and response["Location"] == page_of(conversation)
    outbound = OutboundMessage.objects.get()
    assert (outbound.kind, outbound.text, outbound.chat_id) == ("staff", "Oi, aqui é a Olga.", conversation.conversation_id)
    line = HandoffMessage.objects.get(role="staff")
    assert (line.author, line.author_name, line.outbound) == (organizer, "Olga Organizadora", outbound)
    assert "Resposta enviada." in organizer_client.get(page_of(conversation)).content.decode()


def test_a_reply_reaches_the_gateway_exactly_once(
    organizer_client, fake_gateway, eager_celery, django_capture_on_commit_callbacks  # noqa: F811
):
    conversation = ask_for_person()
    with django_capture_on_commit_callbacks(execute=True):
        organizer_client.post(page_of(conversation), {"text": "Resposta da equipe"})
    delivered = fake_gateway.delivered()
    assert [(r.number, r.text) for r in delivered] == [(conversation.conversation_id, "Resposta da equipe")]
    assert OutboundMessage.objects.get().status == "sent"
    assert "Enviada" in organizer_client.get(page_of(conversation)).content.decode()
    history = ConversationState.objects.get(pk=conversation.pk).history
    assert history[-1]["role"] == "staff" and history[-1]["by"] == "Olga Organizadora"


@pytest.mark.parametrize(
    ("text", "error"),
    [("   ", "Escreva a resposta antes de enviar."), ("a" * 4097, "o WhatsApp aceita até 4096")],
    ids=["empty", "too-long"],
)
def test_an_empty_or_too_long_reply_is_refused_with_the_text_kept(organizer_client, text, error):
    conversation = ask_for_person()
    response = organizer_client.post(page_of(conversation), {"text": text})
    assert response.status_code == 200
    html = response.content.decode()
    assert error in html
    assert response.context["draft"] == text
    if text.strip():
        assert text in html  # back in the textarea
    assert not OutboundMessage.objects.exists() and not HandoffMessage.objects.filter(role="staff").exists()


def test_a_busy_conversation_asks_to_try_again_and_sends_nothing(organizer_client, settings):
    conversation = ask_for_person()
    held = try_conversation_lock(conversation.conversation_id)  # a turn in progress
    assert held is not None
    settings.LOCK_TTL_SECONDS = 0.2  # how long the view waits for it
    try:
        response = organizer_client.post(page_of(conversation), {"text": "Olá"})
    finally:
        release_lock(held)
    assert response.status_code == 200
    assert "A conversa está ocupada agora" in response.content.decode()
    assert response.context["draft"] == "Olá"
    assert not OutboundMessage.objects.exists()


def test_an_unknown_action_is_a_400_and_changes_nothing(organizer_client):
    conversation = ask_for_person()
    response = organizer_client.post(page_of(conversation), {"action": "delete"})
    assert response.status_code == 400
    handoff = Handoff.objects.get()
    assert (handoff.status, handoff.assigned_to) == ("open", None)
    assert not LogEntry.objects.exists() and not OutboundMessage.objects.exists()


def test_a_post_without_the_csrf_token_is_refused(organizer):
    conversation = ask_for_person()
    client = Client(enforce_csrf_checks=True)
    client.force_login(organizer)
    assert client.post(page_of(conversation), {"text": "Olá"}).status_code == 403
    assert not OutboundMessage.objects.exists()


# --------------------------------------------------------------------------
# Assumir / Devolver ao robô
# --------------------------------------------------------------------------


def test_assign_takes_the_conversation_and_is_audited(organizer_client, organizer):
    conversation = ask_for_person()
    response = organizer_client.post(page_of(conversation), {"action": "assign"}, follow=True)
    assert "Você assumiu a conversa." in response.content.decode()
    handoff = Handoff.objects.get()
    assert handoff.assigned_to == organizer
    history = organizer_client.get(reverse("admin:inbox_handoff_history", args=[handoff.pk]))
    assert history.status_code == 200 and "Assumiu o atendimento" in history.content.decode()


def test_assign_on_a_conversation_with_the_bot_opens_a_handoff(organizer_client, organizer):
    number = new_number()
    conversation_turn(conversation_id=number, text="oi")
    conversation = ConversationState.objects.get(conversation_id=number)
    organizer_client.post(page_of(conversation), {"action": "assign"})
    conversation.refresh_from_db()
    assert conversation.handoff_open
    assert Handoff.objects.get().assigned_to == organizer
    assert conversation_turn(conversation_id=number, text="quanto custa?").replies == []  # the bot is silent


def test_resolve_gives_the_conversation_back_and_tells_the_participant(
    organizer_client, organizer, fake_gateway, eager_celery, django_capture_on_commit_callbacks  # noqa: F811
):
    conversation = ask_for_person()
    with django_capture_on_commit_callbacks(execute=True):
        response = organizer_client.post(page_of(conversation), {"action": "resolve"})
    assert response.status_code in (302, 303)
    conversation.refresh_from_db()
    assert conversation.handoff_open is False
    handoff = Handoff.objects.get()
    assert (handoff.status, handoff.closed_reason, handoff.closed_by) == ("closed", "staff", organizer)
    (notice,) = fake_gateway.delivered()
    assert "assistente virtual voltou" in notice.text
    assert OutboundMessage.objects.get().kind == "notice"
    assert "Conversa devolvida ao assistente." in organizer_client.get(page_of(conversation)).content.decode()
    assert conversation_turn(conversation_id=conversation.conversation_id, text="oi").replies  # the bot answers again


def test_resolve_when_nothing_is_open_says_so(organizer_client):
    number = new_number()
    conversation_turn(conversation_id=number, text="oi")
    conversation = ConversationState.objects.get(conversation_id=number)
    response = organizer_client.post(page_of(conversation), {"action": "resolve"}, follow=True)
    assert "já estava com o assistente" in response.content.decode()
    assert not OutboundMessage.objects.exists()


# --------------------------------------------------------------------------
# Who may
# --------------------------------------------------------------------------


def test_anonymous_visitors_are_sent_to_the_admin_login(client):
    conversation = ask_for_person()
    for url in (INBOX, page_of(conversation)):
        response = client.get(url)
        assert response.status_code == 302 and response["Location"].startswith("/admin/login/")
    assert client.post(page_of(conversation), {"text": "Olá"}).status_code == 302
    assert not OutboundMessage.objects.exists()


def test_a_staff_user_without_the_permission_gets_the_403_page(client):
    user = User.objects.create_user(username="semperm", password="x-Very-long-pass-123", is_staff=True)
    user.user_permissions.add(Permission.objects.get(content_type__app_label="inbox", codename="view_handoff"))
    client.force_login(user)
    conversation = ask_for_person()
    response = client.get(INBOX)
    assert response.status_code == 403 and "Você não tem permissão para isso" in response.content.decode()
    assert client.get(page_of(conversation)).status_code == 403
    assert client.post(page_of(conversation), {"text": "Olá"}).status_code == 403
    assert not OutboundMessage.objects.exists()


def test_the_equipe_can_answer(equipe_client, equipe):
    conversation = ask_for_person()
    assert equipe_client.get(INBOX).status_code == 200
    response = equipe_client.post(page_of(conversation), {"text": "Oi, é o Edu."})
    assert response.status_code in (302, 303)
    assert HandoffMessage.objects.get(role="staff").author == equipe


def test_the_equipe_still_cannot_edit_participants(equipe_client):
    participant = make_participant(full_name="Nome Original")
    url = reverse("admin:registrations_participant_change", args=[participant.pk])
    response = equipe_client.post(url, {"full_name": "Nome Trocado", "city": "Londrina", "uf": "PR"})
    assert response.status_code == 403
    participant.refresh_from_db()
    assert participant.full_name == "Nome Original"


# --------------------------------------------------------------------------
# The Handoff admin, the dashboard and the links
# --------------------------------------------------------------------------


def test_the_handoff_admin_is_read_only_with_its_lines(equipe_client):
    conversation = ask_for_person()
    conversation_turn(conversation_id=conversation.conversation_id, text="alguém aí?")
    handoff = Handoff.objects.get()
    listing = equipe_client.get(reverse("admin:inbox_handoff_changelist"), {"status__exact": "open"})
    assert listing.status_code == 200 and listing.context["cl"].result_count == 1
    page = equipe_client.get(reverse("admin:inbox_handoff_change", args=[handoff.pk]))
    assert page.status_code == 200 and "alguém aí?" in page.content.decode()
    assert page.context["has_change_permission"] is False
    assert equipe_client.get(reverse("admin:inbox_handoff_add")).status_code == 403
    assert equipe_client.post(reverse("admin:inbox_handoff_delete", args=[handoff.pk]), {"post": "yes"}).status_code == 403
    assert Handoff.objects.filter(pk=handoff.pk).exists()


def test_the_staff_reply_is_in_the_handoffs_history(organizer_client):
    conversation = ask_for_person()
    organizer_client.post(page_of(conversation), {"text": "Resolvido!"})
    handoff = Handoff.objects.get()
    page = organizer_client.get(reverse("admin:inbox_handoff_history", args=[handoff.pk]))
    assert page.status_code == 200 and "Respondeu no atendimento" in page.content.decode()


def test_the_dashboard_counts_the_conversations_waiting_and_links_to_the_inbox(equipe_client, client):
    ask_for_person()
    ask_for_person()
    closed = ask_for_person()
    conversation_turn(conversation_id=closed.conversation_id, text="menu")
    html = equipe_client.get("/admin/").content.decode()
    assert re.search(
        r'href="/admin/inbox/" data-figure="open_handoffs"><b class="dash-value">2</b> '
        r'<span class="dash-caption">conversas aguardando a equipe</span>',
        html,
    )
    assert 'href="/admin/inbox/">Caixa de atendimento</a>' in html  # the link on every admin page


def test_who_cannot_answer_sees_no_inbox_figure_or_link(client):
    user = User.objects.create_user(username="leitor", password="x-Very-long-pass-123", is_staff=True)
    user.user_permissions.add(Permission.objects.get(content_type__app_label="registrations", codename="view_participant"))
    client.force_login(user)
    ask_for_person()
    html = client.get("/admin/").content.decode()
    assert "open_handoffs" not in html and "/admin/inbox/" not in html
