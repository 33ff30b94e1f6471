"""Handoffs: a person takes a conversation over from the bot, and gives it back.

- ``handoff_request``: the participant asked for a person (the engine's turn).
- ``handoff_turn``: a message while a person holds the conversation (silence,
  stored for staff, a short notice at most once per HANDOFF_ACK_MINUTES).
- ``staff_reply``: a person answers from the inbox; it leaves through the
  conversation's WhatsApp channel with the outbox's guarantees.
- ``phone_reply``: a message typed on the business phone itself (neonize
  "from me", Cloud API ``smb_message_echoes``) opens a handoff, recorded as a
  staff line.
- ``handoff_assign`` / ``handoff_resolve``: "Assumir" and "Devolver ao robô".
- ``handoffs_sweep``: closes idle handoffs and e-mails the organizers about
  new ones, batched.

Every write that changes whether the bot answers (the handoff row and
``ConversationState.handoff_open``) happens under the conversation's lock, so
it is ordered with the pipeline's turns of that chat.
"""

from __future__ import annotations

import datetime as dt
import logging
import re

from django.conf import settings
from django.core.cache import cache
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext as _

from chatbot.models import ConversationState, Event
from congress.errors import InvalidValue
from congress.locks import conversation_lock
from inbox import metrics
from inbox.hours import resumes_text, service_hours_text, service_resumes_at
from inbox.models import Handoff, HandoffMessage
from registrations.validators import mask_pii

logger = logging.getLogger(__name__)

# WhatsApp's limit for one text message.
MAX_REPLY_CHARS = 4096
# NUL (PostgreSQL refuses it in text) and the other control characters but tab and new line.
_CONTROL_RE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
# The same text from the same person within this many seconds is one reply (a double click).
DOUBLE_SUBMIT_S = 10


def open_handoff(conversation: ConversationState) -> Handoff | None:
    return Handoff.objects.filter(conversation=conversation, status=Handoff.Status.OPEN).first()


# --- texts (pt-BR) ---------------------------------------------------------------


def opening_text(event: Event | None, *, now: dt.datetime | None = None, in_flow: bool = False) -> str:
    """What the participant reads when a person takes over: who answers, where, when."""
    from chatbot.knowledge import event_contact_line

    now = now or timezone.now()
    lines = [_("Certo! Chamei a equipe da organização: uma pessoa vai responder *aqui mesmo*, nesta conversa. 🙋")]
    hours = service_hours_text(event)
    resumes = service_resumes_at(event, now)
    if hours and resumes is None:
        lines.append(_("Atendimento: %(hours)s. Enquanto isso, o assistente automático fica em silêncio.") % {"hours": hours})
    elif hours:
        lines.append(
            _("Agora estamos fora do horário (%(hours)s): respondemos a partir de %(when)s.")
            % {"hours": hours, "when": resumes_text(resumes, now)}
        )
    else:
        lines.append(_("Respondemos assim que possível. Enquanto isso, o assistente automático fica em silêncio."))
    if in_flow:
        lines.append(_("Os dados da sua inscrição em andamento ficam guardados."))
    contact = event_contact_line(event)
    if contact:
        lines.append(_("Se preferir: %(contact)s.") % {"contact": contact})
    lines.append(_("Para voltar ao assistente, escreva *menu*."))
    return "\n".join(lines)


def ack_text() -> str:
    return _("Recebemos sua mensagem 👍 A equipe responde aqui. Para voltar ao assistente, escreva *menu*.")


# Commands the assistant carries out; while a person holds the chat they are
# passed on, and the participant is told how to reach the assistant.
_SELF_SERVICE = frozenset({"cancel", "cancel_registration", "erase_data", "my_data"})


def self_service_text() -> str:
    return _(
        "Sua mensagem foi passada à equipe, que responde aqui. Se preferir resolver com o assistente automático "
        "(inscrição, cancelamento, seus dados), escreva *menu* e repita o pedido."
    )


def back_to_bot_text(conversation: ConversationState, *, how: str) -> str:
    """The assistant is back: said when the participant, a person or the clock closes the handoff."""
    from chatbot.engine import active_event, menu_text
    from chatbot.registration import pending_prompt

    if how == Handoff.Closed.IDLE:
        lead = _("Como a conversa com a equipe ficou parada, o assistente virtual voltou a responder por aqui. 🤖")
    elif how == Handoff.Closed.STAFF:
        lead = _("A equipe encerrou o atendimento e o assistente virtual voltou a responder por aqui. 🤖")
    else:
        lead = _("Certo, o assistente virtual voltou. 🤖")
    pending = pending_prompt(conversation)
    if pending:
        return lead + "\n\n" + _("Vamos continuar sua inscrição de onde paramos:") + "\n" + pending
    registered = isinstance(conversation.data, dict) and conversation.data.get("participant_id") is not None
    return lead + "\n\n" + menu_text(active_event(), registered=registered)


# --- the engine's side (the caller holds the conversation's lock and transaction) --


def handoff_request(
    conversation: ConversationState, *, reason: str, event: Event | None, now: dt.datetime, in_flow: bool = False
) -> list[str]:
    """The participant asked for a person: open (or keep) the handoff and say who answers and when."""
    # Asked again while one is open: the same one (no second e-mail), the same answer.
    handoff, _created = _open(conversation, reason=reason, now=now)
    text = opening_text(event, now=now, in_flow=in_flow)
    Handoff.objects.filter(pk=handoff.pk).update(last_notice_at=now, last_participant_at=now)
    return [text]


def handoff_turn(conversation: ConversationState, text: str, *, now: dt.datetime) -> list[str]:
    """A message while a person holds the conversation: the replies (usually none).

    "menu", "voltar ao robô" and the like give the conversation back to the
    bot; anything else is stored for staff, answered at most by a short
    notice once per HANDOFF_ACK_MINUTES (none right after the opening notice
    or a person's reply).
    """
    from chatbot.router import route

    handoff = open_handoff(conversation)
    if handoff is None:  # closed between the flag's read and now
        ConversationState.objects.filter(pk=conversation.pk).update(handoff_open=False)
        conversation.handoff_open = False
        return []
    routed = route(text, in_flow=False)
    if wants_bot_back(routed):
        handoff_close(handoff, conversation, how=Handoff.Closed.PARTICIPANT, now=now)
        reply = back_to_bot_text(conversation, how=Handoff.Closed.PARTICIPANT)
        HandoffMessage.objects.bulk_create([
            HandoffMessage(handoff=handoff, role=HandoffMessage.Role.PARTICIPANT, text=text, created_at=now),
            HandoffMessage(handoff=handoff, role=HandoffMessage.Role.BOT, text=reply, created_at=now),
        ])
        return [reply]
    rows = [HandoffMessage(handoff=handoff, role=HandoffMessage.Role.PARTICIPANT, text=text, created_at=now)]
    changes: dict = {"last_participant_at": now}
    replies: list[str] = []
    quiet_since = max(filter(None, (handoff.last_notice_at, handoff.last_staff_at, handoff.opened_at)))
    if routed.command in _SELF_SERVICE:
        # "cancelar", "apagar meus dados": never swallowed; the staff sees it
        # and the participant learns how to do it with the assistant.
        replies.append(self_service_text())
        changes["last_notice_at"] = now
        rows.append(HandoffMessage(handoff=handoff, role=HandoffMessage.Role.BOT, text=replies[0], created_at=now))
    elif now - quiet_since >= dt.timedelta(minutes=settings.HANDOFF_ACK_MINUTES):
        replies.append(ack_text())
        changes["last_notice_at"] = now
        rows.append(HandoffMessage(handoff=handoff, role=HandoffMessage.Role.BOT, text=replies[0], created_at=now))
    HandoffMessage.objects.bulk_create(rows)
    Handoff.objects.filter(pk=handoff.pk).update(**changes)
    return replies


# Besides what the router reads as "menu" ("menu", "voltar", "menu principal"...).
_BACK_TO_BOT = frozenset({
    "voltar ao robo", "voltar para o robo", "voltar pro robo", "voltar ao bot", "voltar ao assistente",
    "voltar para o assistente", "voltar pro assistente", "o robo", "robo", "assistente", "bot", "falar com o robo",
    "falar com o assistente", "encerrar atendimento", "encerrar o atendimento",
    "finalizar atendimento", "ver menu", "abrir menu", "o assistente", "o bot", "voltar o robo", "volta o robo",
    "volta robo", "voltar robo", "chama o robo", "chamar o robo", "voltar pro bot", "voltar para o bot",
})


def wants_bot_back(routed) -> bool:
    """Whether a message while a person holds the conversation asks for the bot back."""
    words = routed.words.removeprefix("quero ").removeprefix("pode ").removesuffix(" por favor")
    return routed.command == "menu" or words in _BACK_TO_BOT


# --- the staff's side ---------------------------------------------------------------


def _open(conversation: ConversationState, *, reason: str, now: dt.datetime) -> tuple[Handoff, bool]:
    """The conversation's open handoff, opened now when there is none (inside a transaction)."""
    handoff = open_handoff(conversation)
    created = False
    if handoff is None:
        try:
            with transaction.atomic():
                handoff = Handoff.objects.create(
                    conversation=conversation, reason=reason, opened_at=now, step_at_open=conversation.registration_step
                )
            created = True
        except IntegrityError:  # opened concurrently (the partial unique index decides)
            handoff = Handoff.objects.get(conversation=conversation, status=Handoff.Status.OPEN)
    ConversationState.objects.filter(pk=conversation.pk).update(handoff_open=True)
    conversation.handoff_open = True
    if created:
        transaction.on_commit(lambda: metrics.OPENED.labels(reason).inc())
        logger.info("inbox.handoff_opened handoff=%s conversation=%s reason=%s", handoff.pk, conversation.pk, reason)
    return handoff, created


def handoff_close(handoff: Handoff, conversation: ConversationState, *, how: str, now: dt.datetime, user=None) -> bool:
    """Close ``handoff`` (only if still open) and let the bot answer ``conversation`` again; True when it closed it."""
    closed = Handoff.objects.filter(pk=handoff.pk, status=Handoff.Status.OPEN).update(
        status=Handoff.Status.CLOSED, closed_at=now, closed_reason=how, closed_by=user
    )
    ConversationState.objects.filter(pk=conversation.pk).update(handoff_open=False)
    conversation.handoff_open = False
    if closed:
        transaction.on_commit(lambda: metrics.CLOSED.labels(how).inc())
        logger.info("inbox.handoff_closed handoff=%s conversation=%s how=%s", handoff.pk, conversation.pk, how)
    return bool(closed)


def _conversation(conversation: ConversationState | int) -> ConversationState:
    pk = conversation.pk if isinstance(conversation, ConversationState) else conversation
    return ConversationState.objects.get(pk=pk)


def _history_append(conversation: ConversationState, entry: dict) -> None:
    """Add a line to the conversation's history (the caller holds its lock)."""
    history = [*list(conversation.history or []), entry]
    history = history[-2 * settings.SESSION_MAX_STORED_TURNS :]
    ConversationState.objects.filter(pk=conversation.pk).update(history=history, version=conversation.version + 1)
    conversation.history = history
    conversation.version += 1


def clean_reply(text: str) -> str:
    from chatbot.engine import clean_text

    text = clean_text(_CONTROL_RE.sub("", text or ""))
    if not text:
        raise InvalidValue(_("Escreva a resposta antes de enviar."))
    if len(text) > MAX_REPLY_CHARS:
        raise InvalidValue(
            _("A resposta tem %(n)s caracteres; o WhatsApp aceita até %(max)s. Divida em duas mensagens.")
            % {"n": len(text), "max": MAX_REPLY_CHARS}
        )
    return text


def staff_name(user) -> str:
    """How a staff member is named in transcripts and audit lines."""
    if user is None:
        return ""
    return (user.get_full_name() or user.get_username())[:150]


def staff_reply(*, conversation: ConversationState | int, user, text: str) -> HandoffMessage:
    """A person answers from the inbox: opens the handoff when none is open
    (the bot must not talk over them), takes it when nobody has, and sends
    the text through the conversation's channel. Raises ``InvalidValue`` for
    an empty or too long text."""
    from whatsapp.models import OutboundMessage
    from whatsapp.services import message_push

    text = clean_reply(text)
    conversation = _conversation(conversation)
    with conversation_lock(conversation.conversation_id), transaction.atomic():
        conversation = _conversation(conversation)
        now = timezone.now()
        handoff, _created = _open(conversation, reason=Handoff.Reason.STAFF, now=now)
        twin = HandoffMessage.objects.filter(
            handoff=handoff, role=HandoffMessage.Role.STAFF, author=user, text=text,
            created_at__gte=now - dt.timedelta(seconds=DOUBLE_SUBMIT_S),
        ).first()
        if twin is not None and user is not None:
            return twin  # the same reply submitted twice: sent once
        outbound = message_push(chat_id=conversation.conversation_id, text=text, kind=OutboundMessage.Kind.STAFF)
        line = HandoffMessage.objects.create(
            handoff=handoff, role=HandoffMessage.Role.STAFF, text=text, author=user, author_name=staff_name(user),
            outbound=outbound, created_at=now,
        )
        _staff_activity(handoff, user=user, now=now)
        _history_append(conversation, {"role": "staff", "text": text, "at": now.isoformat(), "by": staff_name(user)})
        _audit(user, handoff, _("Respondeu no atendimento: “%(text)s”") % {"text": _short(mask_pii(text))})
    logger.info("inbox.staff_reply handoff=%s line=%s outbound=%s", handoff.pk, line.pk, outbound.pk if outbound else None)
    return line


def _staff_activity(handoff: Handoff, *, user, now: dt.datetime) -> None:
    changes: dict = {"last_staff_at": now, "last_notice_at": now}
    if handoff.first_staff_reply_at is None:
        changes["first_staff_reply_at"] = now
        waited = (now - handoff.opened_at).total_seconds()
        transaction.on_commit(lambda: metrics.FIRST_REPLY.observe(max(waited, 0.0)))
    if handoff.assigned_to_id is None and user is not None:
        changes["assigned_to"] = user
    Handoff.objects.filter(pk=handoff.pk).update(**changes)


def phone_reply(*, chat_id: str, text: str, provider_message_id: str, sent_at: dt.datetime | None = None) -> bool:
    """A message the business typed on its own phone, on the same number
    (neonize "from me", Cloud API coexistence echoes): a person is talking,
    so a handoff opens and the line is recorded as theirs. Our own sends
    (their ids are in the outbox) and echoes seen before are ignored.
    Returns whether it was recorded."""
    from whatsapp.models import OutboundMessage

    text = _CONTROL_RE.sub("", text or "").strip()
    if not text or not chat_id:
        return False
    if provider_message_id and (
        OutboundMessage.objects.filter(provider_message_id=provider_message_id).exists()
        or HandoffMessage.objects.filter(provider_message_id=provider_message_id).exists()
    ):
        return False
    if not ConversationState.objects.filter(conversation_id=chat_id).exists():
        # A personal or supplier chat on the same phone, never with the bot:
        # nothing to hand over, nobody to tell later.
        return False
    with conversation_lock(chat_id), transaction.atomic():
        conversation = ConversationState.objects.get(conversation_id=chat_id)
        now = timezone.now()
        handoff, _created = _open(conversation, reason=Handoff.Reason.PHONE, now=now)
        try:
            with transaction.atomic():
                HandoffMessage.objects.create(
                    handoff=handoff, role=HandoffMessage.Role.STAFF, text=text[: settings.MAX_MESSAGE_CHARS],
                    author_name=_("celular da organização"), provider_message_id=provider_message_id or "",
                    created_at=sent_at or now,
                )
        except IntegrityError:
            return False  # the same echo, delivered twice
        _staff_activity(handoff, user=None, now=now)
        _history_append(conversation, {"role": "staff", "text": text, "at": now.isoformat(), "by": "celular"})
    logger.info("inbox.phone_reply handoff=%s", handoff.pk)
    return True


def handoff_assign(*, conversation: ConversationState | int, user) -> Handoff:
    """"Assumir": the user takes the conversation (opening a handoff when none is open)."""
    conversation = _conversation(conversation)
    with conversation_lock(conversation.conversation_id), transaction.atomic():
        conversation = _conversation(conversation)
        handoff, _created = _open(conversation, reason=Handoff.Reason.STAFF, now=timezone.now())
        Handoff.objects.filter(pk=handoff.pk).update(assigned_to=user, last_staff_at=timezone.now())
        _audit(user, handoff, _("Assumiu o atendimento"))
    handoff.refresh_from_db()
    return handoff


def handoff_resolve(*, conversation: ConversationState | int, user=None, how: str = Handoff.Closed.STAFF) -> bool:
    """"Devolver ao robô" (or the idle clock): close the handoff and tell the
    participant the assistant is back. False when none was open."""
    from whatsapp.models import OutboundMessage
    from whatsapp.services import message_push

    conversation = _conversation(conversation)
    with conversation_lock(conversation.conversation_id), transaction.atomic():
        conversation = _conversation(conversation)
        handoff = open_handoff(conversation)
        if handoff is None:
            if conversation.handoff_open:
                ConversationState.objects.filter(pk=conversation.pk).update(handoff_open=False)
            return False
        now = timezone.now()
        if not handoff_close(handoff, conversation, how=how, now=now, user=user):
            return False
        if how == Handoff.Closed.IDLE and handoff.reason == Handoff.Reason.PHONE and handoff.last_participant_at is None:
            # Someone typed on the business phone and the participant never
            # wrote back: the bot takes over again without a word.
            return True
        text = back_to_bot_text(conversation, how=how)
        outbound = message_push(chat_id=conversation.conversation_id, text=text, kind=OutboundMessage.Kind.NOTICE)
        HandoffMessage.objects.create(handoff=handoff, role=HandoffMessage.Role.BOT, text=text, outbound=outbound, created_at=now)
        # The participant's next "1" answers the menu this notice shows.
        _history_append(conversation, {"role": "assistant", "text": text, "at": now.isoformat()})
        if user is not None:
            _audit(user, handoff, _("Devolveu a conversa ao assistente"))
    return True


def _short(text: str, limit: int = 120) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _audit(user, handoff: Handoff, message: str) -> None:
    """The admin's own history ("Histórico") of the handoff: who did what, when."""
    if user is None or not getattr(user, "pk", None):
        return
    from django.contrib.admin.models import CHANGE, LogEntry
    from django.contrib.contenttypes.models import ContentType

    LogEntry.objects.create(
        user_id=user.pk,
        content_type=ContentType.objects.get_for_model(Handoff),
        object_id=str(handoff.pk),
        object_repr=str(handoff)[:200],
        action_flag=CHANGE,
        change_message=message,
    )


# --- the clock -----------------------------------------------------------------------


def handoffs_close_idle(*, now: dt.datetime | None = None) -> int:
    """Close handoffs without staff activity for HANDOFF_IDLE_HOURS, telling each participant."""
    now = now or timezone.now()
    limit = now - dt.timedelta(hours=settings.HANDOFF_IDLE_HOURS)
    idle = (
        Handoff.objects.filter(status=Handoff.Status.OPEN)
        .annotate(active_at=Coalesce("last_staff_at", "opened_at"))
        .filter(active_at__lt=limit)
        .values_list("conversation_id", flat=True)[:200]
    )
    closed = 0
    for conversation_pk in list(idle):
        try:
            closed += handoff_resolve(conversation=conversation_pk, how=Handoff.Closed.IDLE)
        except Exception:
            logger.exception("inbox.idle_close_failed conversation=%s", conversation_pk)
    return closed


def notify_recipients() -> list[str]:
    if settings.HANDOFF_NOTIFY_EMAILS:
        return list(settings.HANDOFF_NOTIFY_EMAILS)
    from chatbot.engine import active_event

    event = active_event()
    return [event.contact_email] if event is not None and event.contact_email else []


_NOTIFY_FAILED_KEY = "inbox:notify-failed"
NOTIFY_RETRY_S = 300


def handoffs_notify(*, now: dt.datetime | None = None) -> int:
    """One e-mail about the handoffs opened since the last one, at most one per
    HANDOFF_NOTIFY_INTERVAL_MINUTES. Returns how many handoffs it named."""
    now = now or timezone.now()
    recipients = notify_recipients()
    if not recipients:
        return 0
    last = Handoff.objects.filter(notified_at__isnull=False).order_by("-notified_at").values_list("notified_at", flat=True).first()
    if last is not None and now - last < dt.timedelta(minutes=settings.HANDOFF_NOTIFY_INTERVAL_MINUTES):
        return 0
    waiting = list(
        Handoff.objects.filter(status=Handoff.Status.OPEN, notified_at__isnull=True)
        .exclude(reason__in=[Handoff.Reason.STAFF, Handoff.Reason.PHONE])
        .select_related("conversation")
        .order_by("opened_at")[:100]
    )
    if not waiting:
        return 0
    if cache.get(_NOTIFY_FAILED_KEY):
        return 0  # the last attempt failed a moment ago: try again later
    subject, body = _notification(waiting, now=now)
    try:
        send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, recipients)
    except Exception as exc:
        # The e-mail service is down or refuses: the handoffs stay
        # un-notified and the next try waits a few minutes.
        cache.set(_NOTIFY_FAILED_KEY, True, timeout=NOTIFY_RETRY_S)
        logger.warning("inbox.notify_failed handoffs=%s error=%s", len(waiting), exc.__class__.__name__)
        return 0
    Handoff.objects.filter(pk__in=[handoff.pk for handoff in waiting]).update(notified_at=now)
    metrics.NOTIFICATIONS.inc()
    logger.info("inbox.notified handoffs=%s recipients=%s", len(waiting), len(recipients))
    return len(waiting)


def _notification(waiting: list[Handoff], *, now: dt.datetime) -> tuple[str, str]:
    from django.urls import reverse

    count = len(waiting)
    subject = (
        _("1 conversa aguarda a equipe no WhatsApp")
        if count == 1
        else _("%(n)s conversas aguardam a equipe no WhatsApp") % {"n": count}
    )
    lines = [subject + ":", ""]
    for handoff in waiting:
        name = handoff.conversation.push_name or _("participante")
        lines.append(
            _("• %(name)s — desde %(when)s (%(reason)s)")
            % {"name": name, "when": f"{timezone.localtime(handoff.opened_at):%d/%m %H:%M}", "reason": handoff.get_reason_display()}
        )
    base = settings.PUBLIC_BASE_URL.rstrip("/")
    if not base:
        host = next((h.lstrip(".") for h in settings.ALLOWED_HOSTS if h not in ("*", "localhost", "127.0.0.1")), "")
        base = f"https://{host}" if host and not settings.DEBUG else ""
    lines += ["", _("Responda pela caixa de atendimento: %(url)s") % {"url": base + reverse("admin-inbox")}]
    # No message text, phone or CPF in the e-mail: the inbox shows them to whoever may see them.
    return subject, "\n".join(lines)


def handoffs_sweep(*, now: dt.datetime | None = None) -> dict[str, int]:
    return {"closed": handoffs_close_idle(now=now), "notified": handoffs_notify(now=now)}


def open_count() -> int:
    return Handoff.objects.filter(status=Handoff.Status.OPEN).count()
