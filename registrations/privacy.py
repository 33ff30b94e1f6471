"""LGPD data-subject rights and retention (Art. 18): show everything stored
about a participant, and anonymize it.

Anonymization keeps counts and non-personal fields (city, UF, profile, dates,
statuses) for statistics, and removes names, e-mails, CPFs, phones, WhatsApp
ids and message bodies from every table, and the conversation's keys from
Redis.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass

import redis
from django.db import models, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from chatbot.models import ConversationState, UnansweredQuestion
from congress.redis import redis_usable
from registrations.export import format_phone_national
from registrations.models import Participant, RegistrationEvent
from registrations.validators import mask_cpf

logger = logging.getLogger(__name__)

ERASED = "[apagado]"


@dataclass(frozen=True)
class ErasureResult:
    participants: int
    conversations: int
    messages: int


def _message_models():
    from whatsapp.models import InboundMessage, MessageEvent, OutboundMessage

    return InboundMessage, OutboundMessage, MessageEvent


def personal_data_report(*, conversation: ConversationState) -> str:
    """Everything stored about the person behind ``conversation``, in pt-BR.

    Only their own data: the participant registered from this conversation.
    """
    InboundMessage, OutboundMessage, _events = _message_models()
    lines = [_("*Seus dados guardados por nós*")]
    relatives = relative_ids(conversation)
    mine = Participant.objects.filter(conversation=conversation).exclude(pk__in=relatives).select_related("profile")
    # The active registration first, else the newest one.
    participant = mine.order_by(
        models.Case(models.When(status=Participant.Status.CONFIRMED, then=0), default=1), "-updated_at", "-id"
    ).first()
    if participant is None:
        lines.append(_("Nenhuma inscrição feita a partir desta conversa."))
    else:
        lines += [
            "",
            _("*Inscrição*"),
            _("Nome: %(v)s") % {"v": participant.full_name},
            _("E-mail: %(v)s") % {"v": participant.email},
            # Masked even for the owner: a chat screen is easily seen by others.
            _("CPF: %(v)s (guardado completo, só para evitar inscrição duplicada e emitir o certificado)")
            % {"v": mask_cpf(participant.cpf or "")},
            _("Telefone: %(v)s") % {"v": format_phone_national(participant.phone)},
            _("Cidade: %(city)s/%(uf)s") % {"city": participant.city, "uf": participant.uf},
            _("Perfil: %(v)s") % {"v": participant.profile.name},
            _("Situação: %(v)s") % {"v": participant.get_status_display()},
            _("Inscrito em: %(v)s") % {"v": timezone.localtime(participant.created_at).strftime("%d/%m/%Y %H:%M")},
            "",
            _("*Consentimento (LGPD)*"),
            _("Dado em %(when)s, aviso de privacidade versão %(version)s.")
            % {
                "when": timezone.localtime(participant.consent_at).strftime("%d/%m/%Y %H:%M"),
                "version": participant.consent_version,
            },
        ]
    held = (conversation.data or {}).get("fields") if isinstance(conversation.data, dict) else None
    if held and any(held.get(name) for name in ("full_name", "email", "cpf", "phone", "city")):
        # A registration under way: what it holds so far is theirs too.
        lines += ["", _("*Inscrição em andamento (ainda não confirmada)*")]
        if held.get("full_name"):
            lines.append(_("Nome: %(v)s") % {"v": held["full_name"]})
        if held.get("email"):
            lines.append(_("E-mail: %(v)s") % {"v": held["email"]})
        if held.get("cpf"):
            lines.append(_("CPF: %(v)s") % {"v": mask_cpf(held["cpf"])})
        if held.get("phone"):
            lines.append(_("Telefone: %(v)s") % {"v": format_phone_national(held["phone"])})
        if held.get("city"):
            lines.append(_("Cidade: %(city)s/%(uf)s") % {"city": held["city"], "uf": held.get("uf", "")})
    others = list(Participant.objects.filter(conversation=conversation, pk__in=relatives).order_by("id"))
    if others:
        lines += [
            "",
            _("*Inscrições de outras pessoas feitas por aqui*"),
            *(f"{other.full_name} ({other.get_status_display()})" for other in others),
        ]
    received = InboundMessage.objects.filter(chat_id=conversation.conversation_id).count()
    sent = OutboundMessage.objects.filter(chat_id=conversation.conversation_id).count()
    lines += [
        "",
        _("*Conversa*"),
        _("Identificador: %(v)s") % {"v": conversation.conversation_id},
        _("Mensagens guardadas no histórico: %(v)d") % {"v": len(conversation.history or [])},
        _("Mensagens de WhatsApp recebidas: %(received)d; enviadas: %(sent)d") % {"received": received, "sent": sent},
        _("Início: %(v)s") % {"v": timezone.localtime(conversation.created_at).strftime("%d/%m/%Y")},
        "",
        _("Para apagar tudo, escreva *apagar meus dados*."),
    ]
    return "\n".join(lines)


def _forget_redis_keys(identifiers: list[str]) -> None:
    client = redis_usable()
    if client is None:
        return
    try:
        for ident in identifiers:
            if not ident:
                continue
            for key in client.scan_iter(match=f"*{ident}*", count=1000):
                client.delete(key)
    except redis.RedisError:
        logger.warning("Could not scan Redis while anonymizing; keys expire by their TTL")


def relative_ids(conversation: ConversationState | None) -> set[int]:
    """Registrations a conversation made for other people (``data["others"]``): not "its" data."""
    data = conversation.data if conversation is not None and isinstance(conversation.data, dict) else {}
    return {int(pk) for pk in data.get("others") or () if str(pk).isdigit()}


def conversation_anonymize(*, conversation_id: str, actor: str, keep_relatives: bool = False) -> ErasureResult:
    """Anonymize the conversation ``conversation_id``, its messages and the
    participant registered from it. Idempotent.

    ``keep_relatives``: the participant asked from the chat, so the people they
    registered (spouse, child...) keep their registrations; each of them has
    their own rights. Organizers erasing a conversation erase them all."""
    InboundMessage, OutboundMessage, MessageEvent = _message_models()
    anon_id = f"anon-{uuid.uuid4().hex[:16]}"
    now = timezone.now()
    with transaction.atomic():
        state = ConversationState.objects.select_for_update().filter(conversation_id=conversation_id).first()
        participants = list(Participant.objects.filter(conversation=state)) if state else []
        if keep_relatives:
            kept = relative_ids(state)
            participants = [p for p in participants if p.pk not in kept]
        # Identifiers to scrub elsewhere: the conversation key, the WhatsApp ids.
        idents = {conversation_id}
        inbound = InboundMessage.objects.filter(chat_id=conversation_id)
        for number, jid in inbound.values_list("number", "jid").distinct():
            idents.update(x for x in (number, jid) if x)
        for p in participants:
            participant_anonymize(participant=p, actor=actor, now=now)
        messages = inbound.update(
            chat_id=anon_id, number="", jid="", push_name="", text=ERASED, audio=None, transcript="", last_error="",
            attachment=None, attachment_name="",
        )
        messages += OutboundMessage.objects.filter(chat_id=conversation_id).update(
            chat_id=anon_id, number="", jid="", text=ERASED, last_error=""
        )
        MessageEvent.objects.filter(inbound__chat_id=anon_id).update(detail="")
        MessageEvent.objects.filter(outbound__chat_id=anon_id).update(detail="")
        UnansweredQuestion.objects.filter(conversation_id=conversation_id).update(conversation_id=anon_id, question=ERASED)
        RegistrationEvent.objects.filter(conversation_id=conversation_id).update(conversation_id=anon_id, detail="")
        if state is not None:
            from inbox.models import Handoff, HandoffMessage
            from inbox.services import handoff_close, open_handoff

            # What was said with the staff goes too; an open handoff ends.
            HandoffMessage.objects.filter(handoff__conversation=state).update(text=ERASED, author_name="")
            handoff = open_handoff(state)
            if handoff is not None:
                handoff_close(handoff, state, how=Handoff.Closed.ERASED, now=now)
            ConversationState.objects.filter(pk=state.pk).update(
                conversation_id=anon_id, data={}, history=[], push_name=""
            )
        RegistrationEvent.objects.create(
            kind=RegistrationEvent.Kind.ANONYMIZED,
            conversation_id=anon_id,
            actor=actor[:150],
            detail=_("Dados pessoais anonimizados a pedido (LGPD art. 18)."),
        )
        transaction.on_commit(lambda: _forget_redis_keys(sorted(idents)))
    logger.info("Anonymized conversation (%d participant(s), %d message(s)) by %s", len(participants), messages, actor)
    return ErasureResult(participants=len(participants), conversations=1 if state else 0, messages=messages)


def participant_anonymize(*, participant: Participant, actor: str, now=None) -> None:
    """Remove the personal fields of one participant, keeping statistics."""
    now = now or timezone.now()
    Participant.objects.filter(pk=participant.pk).update(
        full_name=ERASED,
        email=None,
        cpf=None,
        phone="",
        search_text="",  # it held the name and the e-mail
        anonymized_at=now,
        status=Participant.Status.CANCELLED,
    )
    RegistrationEvent.objects.filter(participant=participant).update(detail="")
    from payments.models import Review
    from payments.services import charges_cancel_for

    # Receipts and proofs are documents about the person: the files go; the
    # decisions (who approved what, when) stay for the accounts.
    Review.objects.filter(participant=participant).update(content=None, filename="", size=0)
    charges_cancel_for(participant, reason="dados apagados (LGPD)", now=now)
    RegistrationEvent.objects.create(
        participant=participant, kind=RegistrationEvent.Kind.ANONYMIZED, actor=actor[:150], detail=_("Dados pessoais anonimizados.")
    )


def participant_erase(*, participant: Participant, actor: str) -> ErasureResult:
    """Admin entry point: anonymize a participant and, when known, their conversation."""
    if participant.conversation_id:
        conversation_id = participant.conversation.conversation_id
        return conversation_anonymize(conversation_id=conversation_id, actor=actor)
    with transaction.atomic():
        participant_anonymize(participant=participant, actor=actor)
    return ErasureResult(participants=1, conversations=0, messages=0)


def purge_personal_data(*, after_event_days: int, message_days: int | None, dry_run: bool, actor: str = "retention") -> dict[str, int]:
    """Retention: anonymize everyone once the event ended ``after_event_days``
    ago; erase message bodies older than ``message_days``."""
    from datetime import timedelta

    from chatbot.models import Event

    InboundMessage, OutboundMessage, _events = _message_models()
    counts = {"participants": 0, "conversations": 0, "messages_erased": 0}
    today = timezone.localdate()
    ended = Event.objects.filter(ends_on__lte=today - timedelta(days=after_event_days)).exists()
    if ended and not Event.objects.filter(ends_on__gt=today - timedelta(days=after_event_days)).exists():
        conversations = list(
            ConversationState.objects.exclude(conversation_id__startswith="anon-").values_list("conversation_id", flat=True)
        )
        counts["conversations"] = len(conversations)
        counts["participants"] = Participant.objects.filter(anonymized_at__isnull=True).count()
        if not dry_run:
            for conversation_id in conversations:
                conversation_anonymize(conversation_id=conversation_id, actor=actor)
            for participant in Participant.objects.filter(anonymized_at__isnull=True):
                with transaction.atomic():
                    participant_anonymize(participant=participant, actor=actor)
    if message_days is not None:
        cutoff = timezone.now() - timedelta(days=message_days)
        old_in = InboundMessage.objects.filter(created_at__lt=cutoff).exclude(text=ERASED).exclude(status="pending")
        old_out = OutboundMessage.objects.filter(created_at__lt=cutoff).exclude(text=ERASED).exclude(status="pending")
        # The conversation history holds message text too.
        idle = ConversationState.objects.filter(last_activity_at__lt=cutoff).exclude(history=[])
        counts["messages_erased"] = old_in.count() + old_out.count()
        counts["histories_cleared"] = idle.count()
        from inbox.models import HandoffMessage

        old_lines = HandoffMessage.objects.filter(created_at__lt=cutoff).exclude(text=ERASED)
        counts["messages_erased"] += old_lines.count()
        if not dry_run:
            old_in.update(text=ERASED, audio=None, transcript="", attachment=None, attachment_name="")
            from payments.models import Review

            # Reviewed receipts and proofs: the decision stays, the file goes.
            counts["files_erased"] = (
                Review.objects.filter(created_at__lt=cutoff, content__isnull=False)
                .exclude(status=Review.Status.PENDING)
                .update(content=None, filename="", size=0)
            )
            old_out.update(text=ERASED)
            old_lines.update(text=ERASED)
            idle.update(history=[])
    return counts
