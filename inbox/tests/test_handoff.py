"""Handoff to a person, at the engine and service level: who opens it, the
bot's silence while it is open, coming back, the clock, the e-mails."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core import mail
from django.utils import timezone
from prometheus_client import REGISTRY

from chatbot.engine import conversation_turn
from chatbot.models import ConversationState
from congress.errors import InvalidValue
from congress.testing.factories import make_event, make_profile
from inbox import services
from inbox.hours import service_hours_text, service_resumes_at
from inbox.models import Handoff, HandoffMessage
from whatsapp.models import OutboundMessage

pytestmark = pytest.mark.django_db

CHAT = "5561999990010"


@pytest.fixture
def event(fake_gateway):
    # A configured gateway: staff replies and notices have a channel to leave through.
    event = make_event(name="Congresso Agro Teste")
    for name in ("Produtor rural", "Estudante", "Outro"):
        make_profile(event, name)
    return event


def metric_value(name: str, labels: dict | None = None) -> float:
    return REGISTRY.get_sample_value(name, labels or {}) or 0.0


def say(text: str, chat: str = CHAT):
    return conversation_turn(conversation_id=chat, text=text)


def open_row(chat: str = CHAT) -> Handoff | None:
    return Handoff.objects.filter(conversation__conversation_id=chat, status=Handoff.Status.OPEN).first()


REQUESTS = [
    "quero falar com um atendente",
    "Quero falar com alguém da organização",
    "posso falar com uma pessoa de verdade?",
    "preciso de um humano",
    "atendimento humano por favor",
    "ATENDENTE",
    "tem alguém aí?",
    "me liga por favor",
    "alguém pode me ligar?",
    "não quero falar com robô",
    "me passa pra um atendente",
    "quero ser atendido por uma pessoa",
    "quero atendimento",
    "chama alguém",
    "q falar cm atendente",
    "quero falar com o pessoal da organização",
    "vcs tem alguem ai pra falar cmg?",
    "tem um atendente online?",
]
COMPLAINTS = [
    "quero fazer uma reclamação",
    "vocês não respondem, ninguém me atende",
    "isso é um absurdo!",
    "péssimo atendimento",
    "fui cobrado duas vezes",
    "robô burro, você não entende nada",
]
NOT_REQUESTS = [
    "qual o horário de atendimento?",
    "qual o telefone da organização?",
    "quero inscrever uma pessoa",
    "quantas pessoas vão ao evento?",
    "onde fica o evento?",
    "obrigado",
    "preciso de pessoa jurídica nota fiscal",
    "preciso de um responsável para menores?",
    "tem alguém que fale inglês?",
    "tem alguém pra me ajudar com a inscrição?",
    "a organização vai me ligar?",
    "vocês me ligam para confirmar?",
    "meu chefe vai me ligar",
    "me liga não, prefiro whatsapp",
    "não quero falar com atendente",
    "vou falar com alguém do meu time e volto",
    "vou conversar com a equipe e te retorno",
    "onde fica a ouvidoria?",
    "tenho uma reclamação sobre o hotel, qual o endereço?",
    "o que acontece se eu for cobrado duas vezes?",
]


@pytest.mark.parametrize("text", REQUESTS)
def test_a_request_for_a_person_opens_a_handoff_and_says_who_answers(event, text):
    result = say(text)
    assert result.handoff is True
    assert "aqui mesmo" in result.reply and "*menu*" in result.reply
    handoff = open_row()
    assert handoff is not None and handoff.reason == Handoff.Reason.REQUEST
    assert ConversationState.objects.get(conversation_id=CHAT).handoff_open is True


@pytest.mark.parametrize("text", COMPLAINTS)
def test_a_complaint_opens_a_handoff_marked_as_a_complaint(event, text):
    result = say(text)
    assert result.handoff is True
    assert open_row().reason == Handoff.Reason.COMPLAINT


@pytest.mark.parametrize("text", NOT_REQUESTS)
def test_questions_about_contact_or_people_do_not_open_one(event, text):
    result = say(text)
    assert result.handoff is False
    assert not Handoff.objects.exists()


def test_the_menu_option_opens_one_only_after_the_menu(event):
    say("oi")
    result = say("4")
    assert result.handoff is True and open_row() is not None


def test_while_open_the_bot_is_silent_and_keeps_every_message_for_staff(event):
    say("quero falar com um atendente")
    for text in ("oi?", "qual o local do evento?", "obrigado", "2"):
        result = say(text)
        assert result.reply == "" and result.handoff is True
    lines = list(open_row().messages.values_list("role", "text"))
    assert lines == [("participant", t) for t in ("oi?", "qual o local do evento?", "obrigado", "2")]
    state = ConversationState.objects.get(conversation_id=CHAT)
    assert state.registration_step == "idle", "nothing reached the flow"
    assert [t["role"] for t in state.history[-4:]] == ["user"] * 4, "no bot turn recorded while silent"


def test_a_short_notice_at_most_once_per_half_hour(event):
    say("quero falar com um atendente")
    handoff = open_row()
    Handoff.objects.filter(pk=handoff.pk).update(
        opened_at=timezone.now() - dt.timedelta(minutes=31), last_notice_at=timezone.now() - dt.timedelta(minutes=31)
    )
    first = say("alguém aí?")
    second = say("??")
    assert "Recebemos sua mensagem" in first.reply
    assert second.reply == ""


def test_no_notice_soon_after_a_staff_reply(event, django_user_model):
    say("quero falar com um atendente")
    user = django_user_model.objects.create_user("ana", first_name="Ana", last_name="Souza")
    Handoff.objects.update(opened_at=timezone.now() - dt.timedelta(hours=2), last_notice_at=timezone.now() - dt.timedelta(hours=2))
    services.staff_reply(conversation=ConversationState.objects.get(conversation_id=CHAT), user=user, text="Oi, sou a Ana!")
    assert say("obrigado Ana").reply == ""


@pytest.mark.parametrize("text", ["menu", "voltar ao robô", "Voltar pro assistente", "quero o robô", "MENU!"])
def test_the_participant_brings_the_bot_back(event, text):
    say("oi")
    say("quero falar com um atendente")
    result = say(text)
    assert result.handoff is False
    assert "assistente virtual voltou" in result.reply
    assert "1️⃣" in result.reply, "the menu, so a number answers it"
    handoff = Handoff.objects.get()
    assert handoff.status == Handoff.Status.CLOSED and handoff.closed_reason == Handoff.Closed.PARTICIPANT
    assert say("2").reply.startswith("*Congresso Agro Teste")


def test_mid_registration_the_data_is_kept_and_the_flow_resumes(event):
    for text in ("quero me inscrever", "sim", "Maria Aparecida da Silva"):
        say(text)
    opened = say("quero falar com uma pessoa")
    assert "ficam guardados" in opened.reply
    assert say("maria@example.com").reply == "", "not read as the e-mail while a person holds the chat"
    back = say("menu")
    assert "continuar sua inscrição" in back.reply and "e-mail" in back.reply
    result = say("maria@example.com")
    assert result.step == "asking_cpf"
    data = ConversationState.objects.get(conversation_id=CHAT).data
    assert "Maria Aparecida da Silva" in str(data) and "maria@example.com" in str(data)


def test_asking_again_keeps_the_same_handoff(event):
    say("quero falar com um atendente")
    say("menu")
    say("quero falar com um atendente")
    assert Handoff.objects.count() == 2 and Handoff.objects.filter(status="open").count() == 1


def test_staff_reply_is_queued_through_the_channel_and_recorded(event, django_user_model):
    say("oi")
    say("quero falar com um atendente")
    user = django_user_model.objects.create_user("bia", first_name="Bia")
    line = services.staff_reply(conversation=ConversationState.objects.get(conversation_id=CHAT), user=user, text="Olá! Posso ajudar?")
    outbound = OutboundMessage.objects.get(kind=OutboundMessage.Kind.STAFF)
    assert outbound.chat_id == CHAT and outbound.text == "Olá! Posso ajudar?" and outbound.inbound_id is None
    assert line.outbound_id == outbound.pk and line.author == user and line.author_name == "Bia"
    handoff = open_row()
    assert handoff.assigned_to == user and handoff.first_staff_reply_at is not None
    history = ConversationState.objects.get(conversation_id=CHAT).history
    assert history[-1]["role"] == "staff" and history[-1]["by"] == "Bia"


def test_a_staff_reply_without_an_open_handoff_opens_one(event, django_user_model):
    say("oi")
    user = django_user_model.objects.create_user("caio")
    services.staff_reply(conversation=ConversationState.objects.get(conversation_id=CHAT), user=user, text="Oi!")
    assert open_row().reason == Handoff.Reason.STAFF
    assert say("qual o local?").reply == "", "the bot does not talk over a person"


@pytest.mark.parametrize("text", ["", "   ", "\u200b", "x" * 4097])
def test_an_empty_or_too_long_staff_reply_is_refused_and_nothing_is_sent(event, django_user_model, text):
    say("quero falar com um atendente")
    user = django_user_model.objects.create_user("dani")
    with pytest.raises(InvalidValue):
        services.staff_reply(conversation=ConversationState.objects.get(conversation_id=CHAT), user=user, text=text)
    assert not OutboundMessage.objects.filter(kind="staff").exists()
    assert not HandoffMessage.objects.filter(role="staff").exists()


def test_a_conversation_without_a_whatsapp_address_keeps_the_reply_unsent(event, django_user_model):
    say("quero falar com um atendente", chat="web-visitor-7")
    user = django_user_model.objects.create_user("eva")
    line = services.staff_reply(conversation=ConversationState.objects.get(conversation_id="web-visitor-7"), user=user, text="Oi")
    assert line.outbound is None
    assert not OutboundMessage.objects.exists()


def test_resolve_closes_it_and_tells_the_participant(event, django_user_model, django_capture_on_commit_callbacks):
    say("oi")
    say("quero falar com um atendente")
    user = django_user_model.objects.create_user("fabi")
    before = metric_value("handoffs_closed_total", {"how": "staff"})
    with django_capture_on_commit_callbacks(execute=True):
        assert services.handoff_resolve(conversation=ConversationState.objects.get(conversation_id=CHAT), user=user) is True
    handoff = Handoff.objects.get()
    assert handoff.status == "closed" and handoff.closed_by == user and handoff.closed_reason == "staff"
    notice = OutboundMessage.objects.get(kind=OutboundMessage.Kind.NOTICE)
    assert "assistente virtual voltou" in notice.text
    assert metric_value("handoffs_closed_total", {"how": "staff"}) == before + 1
    assert say("2").reply.startswith("*Congresso Agro Teste"), "the notice's menu is answered"
    assert services.handoff_resolve(conversation=handoff.conversation, user=user) is False, "nothing to close twice"
    assert OutboundMessage.objects.filter(kind=OutboundMessage.Kind.NOTICE).count() == 1


def test_idle_handoffs_close_by_themselves_and_tell_the_participant(event, settings, django_user_model):
    settings.HANDOFF_IDLE_HOURS = 24
    say("quero falar com um atendente")
    say("quero falar com uma pessoa", chat="5561999990011")
    user = django_user_model.objects.create_user("gabi")
    services.staff_reply(conversation=ConversationState.objects.get(conversation_id="5561999990011"), user=user, text="Oi")
    later = timezone.now() + dt.timedelta(hours=23)
    assert services.handoffs_close_idle(now=later) == 0
    much_later = timezone.now() + dt.timedelta(hours=24, minutes=1)
    Handoff.objects.filter(conversation__conversation_id="5561999990011").update(last_staff_at=much_later - dt.timedelta(hours=1))
    assert services.handoffs_close_idle(now=much_later) == 1
    closed = Handoff.objects.get(conversation__conversation_id=CHAT)
    assert closed.status == "closed" and closed.closed_reason == Handoff.Closed.IDLE
    assert open_row("5561999990011") is not None, "recent staff activity keeps it open"
    notice = OutboundMessage.objects.get(kind=OutboundMessage.Kind.NOTICE, chat_id=CHAT)
    assert "ficou parada" in notice.text
    assert say("onde fica o evento?").handoff is False


def test_new_handoffs_are_emailed_in_batches(event, settings):
    settings.HANDOFF_NOTIFY_EMAILS = []
    settings.HANDOFF_NOTIFY_INTERVAL_MINUTES = 60
    for n in range(3):
        conversation_turn(conversation_id=f"55619999900{20 + n}", text="quero falar com um atendente", push_name=f"Pessoa {n}")
    now = timezone.now()
    assert services.handoffs_notify(now=now) == 3
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["contato@congresso.test"], "the event's contact e-mail by default"
    assert "3 conversas" in message.subject
    assert "Pessoa 0" in message.body and "/admin/inbox/" in message.body
    assert "5561999990020" not in message.body, "no phone numbers in the e-mail"
    for n in range(5):
        conversation_turn(conversation_id=f"55619999900{30 + n}", text="me liga por favor")
    assert services.handoffs_notify(now=now + dt.timedelta(minutes=20)) == 0, "a busy hour is one e-mail"
    assert services.handoffs_notify(now=now + dt.timedelta(minutes=61)) == 5
    assert len(mail.outbox) == 2
    assert services.handoffs_notify(now=now + dt.timedelta(minutes=200)) == 0, "each handoff once"


def test_notification_recipients_come_from_the_setting(event, settings):
    settings.HANDOFF_NOTIFY_EMAILS = ["equipe@congresso.test", "ana@congresso.test"]
    say("quero falar com um atendente")
    services.handoffs_notify()
    assert mail.outbox[0].to == ["equipe@congresso.test", "ana@congresso.test"]


def test_opening_and_first_reply_are_counted(event, django_user_model, django_capture_on_commit_callbacks):
    opened = metric_value("handoffs_opened_total", {"reason": "request"})
    count = metric_value("handoff_first_staff_reply_seconds_count")
    user = django_user_model.objects.create_user("hugo")
    with django_capture_on_commit_callbacks(execute=True):
        say("quero falar com um atendente")
        state = ConversationState.objects.get(conversation_id=CHAT)
        services.staff_reply(conversation=state, user=user, text="Oi")
        services.staff_reply(conversation=state, user=user, text="Tudo bem?")
    assert metric_value("handoffs_opened_total", {"reason": "request"}) == opened + 1
    assert metric_value("handoff_first_staff_reply_seconds_count") == count + 1, "only the first reply"


# --- service hours ------------------------------------------------------------------


def local(day: int, hour: int, minute: int = 0) -> dt.datetime:
    # 2026-12-07 is a Monday.
    return timezone.make_aware(dt.datetime(2026, 12, day, hour, minute))


def test_service_hours_are_described_from_the_event(event):
    assert service_hours_text(event) == "seg a sex, das 8h às 18h"
    event.service_weekdays = "1,3,5"
    event.service_starts_at = dt.time(9, 30)
    assert service_hours_text(event) == "seg, qua, sex, das 9h30 às 18h"
    event.service_starts_at = None
    assert service_hours_text(event) == ""


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (local(7, 10), None),  # Monday 10h: on duty
        (local(7, 7, 30), local(7, 8)),  # before opening: today 8h
        (local(7, 18), local(8, 8)),  # closing time: tomorrow
        (local(11, 20), local(14, 8)),  # Friday night: Monday
        (local(12, 12), local(14, 8)),  # Saturday noon: Monday
    ],
)
def test_when_the_staff_answers_again(event, now, expected):
    assert service_resumes_at(event, now) == expected


def test_outside_hours_the_opening_says_when(event):
    text = services.opening_text(event, now=local(11, 20))
    assert "fora do horário" in text and "segunda (14/12) às 8h" in text
    assert "amanhã às 8h" in services.opening_text(event, now=local(8, 19))
    assert "fora do horário" not in services.opening_text(event, now=local(8, 9))


def test_erasing_the_conversation_erases_what_was_said_to_the_staff(event, django_user_model):
    from registrations.privacy import ERASED, conversation_anonymize

    say("quero falar com um atendente")
    say("sou a Maria, meu e-mail é maria@example.com")
    state = ConversationState.objects.get(conversation_id=CHAT)
    services.staff_reply(conversation=state, user=django_user_model.objects.create_user("ivo"), text="Obrigado, Maria!")
    conversation_anonymize(conversation_id=CHAT, actor="test")
    assert set(HandoffMessage.objects.values_list("text", flat=True)) == {ERASED}
    assert not Handoff.objects.filter(status="open").exists()
    state.refresh_from_db()
    assert state.handoff_open is False and state.conversation_id.startswith("anon-")


def test_the_audit_of_a_staff_reply_masks_personal_data(event, django_user_model):
    from django.contrib.admin.models import LogEntry

    say("quero falar com um atendente")
    user = django_user_model.objects.create_user("jo")
    state = ConversationState.objects.get(conversation_id=CHAT)
    services.staff_reply(conversation=state, user=user, text="Achei: CPF 529.982.247-25, e-mail maria@example.com")
    (entry,) = LogEntry.objects.filter(user=user)
    assert entry.change_message.startswith("Respondeu no atendimento")
    assert "529.982.247-25" not in entry.change_message and "maria@example.com" not in entry.change_message


# --- review findings ------------------------------------------------------------------


def test_a_phone_message_to_someone_who_never_talked_to_the_bot_changes_nothing(event):
    assert services.phone_reply(chat_id="5511912345678", text="Oi mãe, chego às 8", provider_message_id="ABC1") is False
    assert not Handoff.objects.exists() and not ConversationState.objects.filter(conversation_id="5511912345678").exists()


def test_a_phone_opened_handoff_is_not_emailed_and_closes_silently(event, settings):
    settings.HANDOFF_NOTIFY_EMAILS = ["equipe@congresso.test"]
    say("oi")
    assert services.phone_reply(chat_id=CHAT, text="Oi! Aqui é a Ana", provider_message_id="ABC2") is True
    assert services.handoffs_notify() == 0 and mail.outbox == []
    assert services.handoffs_close_idle(now=timezone.now() + dt.timedelta(hours=25)) == 1
    assert not OutboundMessage.objects.filter(kind=OutboundMessage.Kind.NOTICE).exists()


def test_control_characters_in_a_staff_reply_are_dropped(event, django_user_model):
    say("quero falar com um atendente")
    user = django_user_model.objects.create_user("lia")
    line = services.staff_reply(conversation=ConversationState.objects.get(conversation_id=CHAT), user=user, text="olá\x00 mun\x07do")
    assert line.text == "olá mundo"


def test_the_same_reply_submitted_twice_is_sent_once(event, django_user_model):
    say("quero falar com um atendente")
    user = django_user_model.objects.create_user("mel")
    state = ConversationState.objects.get(conversation_id=CHAT)
    first = services.staff_reply(conversation=state, user=user, text="Oi!")
    second = services.staff_reply(conversation=state, user=user, text="Oi!")
    assert first.pk == second.pk
    assert OutboundMessage.objects.filter(kind=OutboundMessage.Kind.STAFF).count() == 1


@pytest.mark.parametrize("text", ["cancelar", "apagar meus dados", "meus dados"])
def test_self_service_commands_while_open_are_acknowledged_not_swallowed(event, text):
    say("quero falar com um atendente")
    result = say(text)
    assert "*menu*" in result.reply and result.handoff is True
    assert open_row().messages.filter(role="participant", text=text).exists()


@pytest.mark.parametrize("chat", ["12345678901", "web-visitor-9"])
def test_no_reply_goes_to_a_number_that_only_looks_like_a_phone(event, django_user_model, fake_gateway, chat):
    say("quero falar com um atendente", chat=chat)
    user = django_user_model.objects.create_user("nina")
    line = services.staff_reply(conversation=ConversationState.objects.get(conversation_id=chat), user=user, text="Oi")
    assert line.outbound is None and not OutboundMessage.objects.exists()


def test_a_chat_user_with_a_phone_id_is_answered_through_the_configured_gateway(event, django_user_model, fake_gateway):
    say("quero falar com um atendente")
    user = django_user_model.objects.create_user("otto")
    line = services.staff_reply(conversation=ConversationState.objects.get(conversation_id=CHAT), user=user, text="Oi")
    assert line.outbound.channel == "gateway" and line.outbound.number == CHAT


def test_without_any_channel_a_staff_reply_is_kept_unsent(event, django_user_model, settings):
    settings.GATEWAY_URL = ""
    settings.WA_CLOUD_ACCESS_TOKEN = ""
    say("quero falar com um atendente")
    user = django_user_model.objects.create_user("pia")
    line = services.staff_reply(conversation=ConversationState.objects.get(conversation_id=CHAT), user=user, text="Oi")
    assert line.outbound is None


def test_a_failing_mail_service_is_retried_later_not_raised(event, settings, monkeypatch):
    settings.HANDOFF_NOTIFY_EMAILS = ["equipe@congresso.test"]
    say("quero falar com um atendente")

    def broken(*args, **kwargs):
        raise ConnectionRefusedError("smtp down")

    monkeypatch.setattr(services, "send_mail", broken)
    assert services.handoffs_notify() == 0
    assert Handoff.objects.get().notified_at is None
    monkeypatch.undo()
    assert services.handoffs_notify() == 0, "backing off"
    from django.core.cache import cache

    cache.delete("inbox:notify-failed")
    assert services.handoffs_notify() == 1


def test_the_conversation_admin_names_staff_lines_as_staff(event, admin_client, admin_user):
    say("quero falar com um atendente")
    state = ConversationState.objects.get(conversation_id=CHAT)
    services.staff_reply(conversation=state, user=admin_user, text="Oi, aqui é a equipe")
    page = admin_client.get(f"/admin/chatbot/conversationstate/{state.pk}/change/").content.decode()
    assert f"Equipe ({services.staff_name(admin_user)})" in page
