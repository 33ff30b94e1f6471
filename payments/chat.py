"""The chat side of paid registration, read without an LLM.

- ``attachment_turn``: a photo or PDF sent in the chat goes to the review
  queue when the registration awaits one (a category proof first, then a
  static-Pix receipt); otherwise the participant is told nothing is pending.
- ``payment_turn``: "já paguei", "manda o pix de novo", "meu qr code", "sim"
  to an offered seat, another category after a refused proof. ``None`` when
  the message is none of these (the engine goes on as usual).
"""

from __future__ import annotations

import logging
import re

from django.conf import settings
from django.utils.translation import gettext as _

from chatbot.models import ConversationState, TicketCategory
from payments import services
from payments.models import Payment, Review
from payments.tickets import current_price, eligible_tickets
from registrations.models import ACTIVE_STATUSES, Participant
from registrations.reading.answers import read_yes_no
from registrations.reading.numbers import read_choice
from registrations.validators import fold_words

logger = logging.getLogger(__name__)

Status = Participant.Status

_PAID_RE = re.compile(
    r"\b(ja\s+)?(paguei|pagamos|fiz\s+(o\s+)?(pix|pagamento|deposito|transferencia)|efetuei\s+o\s+pagamento|"
    r"transferi|mandei\s+o\s+pix|pix\s+(feito|enviado|realizado)|pagamento\s+(feito|realizado|efetuado)|"
    r"ja\s+fiz\s+o\s+pagamento|acabei\s+de\s+pagar)\b"
)
# About one's own payment only: "o almoço já está pago?" is a question for the FAQ.
_PAID_QUESTION_RE = re.compile(
    r"\b(minha\s+inscricao|meu\s+pagamento|meu\s+pix|meu\s+ingresso|minha\s+vaga)\b[^?!.]*"
    r"\b(paga|pago|confirmad[ao]|quitad[ao]|caiu|entrou|aprovad[ao]|garantid[ao])\b"
    r"|\b(caiu|entrou|recebeu|receberam|confirmou|confirmaram|compensou)\s+(o\s+)?(meu\s+)?(pix|pagamento)\b"
    r"|\bpagamento\s+(ja\s+)?(caiu|entrou|foi\s+confirmado|compensou)\b"
)
_PIX_RE = re.compile(
    r"\b(chave\s+pix|pix\s+copia|copia\s+e\s+cola|copia\s+cola|codigo\s+(do\s+|de\s+)?(pix|pagamento)|"
    r"(manda|mande|envia|envie|reenvia|reenvie|passa|passe)\w*\s+(de\s+novo\s+|novamente\s+)?(o\s+)?(pix|codigo|qr)|"
    r"cade\s+(o\s+)?(meu\s+)?(pix|codigo)|nao\s+recebi\s+(o\s+)?(pix|codigo)|"
    r"como\s+(eu\s+)?(pago|pagar|faco\s+o\s+pagamento|faco\s+pra\s+pagar)|"
    r"link\s+(de|do|para|pra)\s+pagamento|quero\s+pagar|vou\s+pagar|onde\s+pago|"
    r"quanto\s+(eu\s+)?(devo|tenho\s+que\s+pagar|falta\s+pagar))\b|^pix$"
)
_CODE_RE = re.compile(
    r"\b(meu|minha)\s+(qr\s*code|qrcode|qr|codigo|numero\s+de\s+inscricao|ingresso|comprovante\s+de\s+inscricao)\b"
    r"|\b(codigo|numero|n)\s+(da|de|do)\s+(minha\s+)?inscricao\b"
)
# Giving up an offered seat, said plainly (a bare "não" may answer something else).
_DECLINE_RE = re.compile(
    r"\b(nao\s+quero\s+(mais\s+)?(a\s+)?vaga|desisto(\s+da\s+vaga)?|pode\s+liberar(\s+a\s+vaga)?|"
    r"libera\s+(a\s+)?vaga|passa\s+(a\s+vaga\s+)?pro\s+proximo)\b"
)
# Which document a file is, from its caption or name (else: the proof first, then the receipt).
_RECEIPT_HINT_RE = re.compile(r"\b(pix|pagamento|paguei|recibo|transferencia|comprovante\s+de\s+pagamento|deposito)\b")
_PROOF_HINT_RE = re.compile(
    r"\b(carteirinha|carteira|matricula|estudante|declaracao|atestado|associad[oa]|socio|identidade|documento|rg|cnh)\b"
)


# --------------------------------------------------------------------------
# Whose registration
# --------------------------------------------------------------------------


def _registrations(state: ConversationState) -> list[Participant]:
    """This conversation's registrations still in play (newest first), read once per turn."""
    if state.pk is None:
        return []
    return list(
        Participant.objects.filter(conversation=state, status__in=ACTIVE_STATUSES)
        .select_related("ticket", "profile__event")
        .order_by("-updated_at", "-id")[:10]
    )


def _awaiting_file(rows: list[Participant], hint: str = "") -> tuple[Participant, str] | None:
    """The registration a file is for, and what it is. The caption or file name decides when it says
    ("comprovante do pix", "carteirinha.jpg"); otherwise a missing proof first, then a static-Pix receipt."""
    proofs = [row for row in rows if row.proof_status in (Participant.Proof.MISSING, Participant.Proof.REJECTED)]
    receipts = []
    for row in rows:
        if row.status == Status.PENDING_PAYMENT:
            payment = services.open_payment(row)
            if payment is None or payment.mode == Payment.Mode.STATIC:
                receipts.append(row)
    if receipts and _RECEIPT_HINT_RE.search(hint) and not _PROOF_HINT_RE.search(hint):
        return receipts[0], Review.Kind.RECEIPT
    if proofs:
        return proofs[0], Review.Kind.PROOF
    if receipts:
        return receipts[0], Review.Kind.RECEIPT
    return None


# --------------------------------------------------------------------------
# Files
# --------------------------------------------------------------------------


def attachment_turn(state: ConversationState, attachment, *, now, silent: bool = False, caption: str = "") -> list[str]:
    """A photo or PDF the participant sent. Returns the replies ([] when ``silent``: a person holds the chat)."""
    content = attachment.content or b""
    mimetype = (attachment.mimetype or "").split(";", 1)[0].strip().lower()
    if mimetype == "image/jpg":
        mimetype = "image/jpeg"
    limit_mb = f"{settings.MAX_ATTACHMENT_BYTES / (1024 * 1024):g}"
    if mimetype not in services.ALLOWED_MIMETYPES or not content:
        return [] if silent else [
            _("Consigo receber comprovantes em *foto* (JPG ou PNG) ou *PDF*, de até %(mb)s MB. Pode enviar de novo?")
            % {"mb": limit_mb}
        ]
    if len(content) > settings.MAX_ATTACHMENT_BYTES:
        return [] if silent else [
            _("Esse arquivo é grande demais (máximo %(mb)s MB). Pode enviar uma foto do comprovante?") % {"mb": limit_mb}
        ]
    rows = _registrations(state)
    target = _awaiting_file(rows, fold_words(f"{caption} {attachment.filename or ''}".replace("_", " ")))
    if target is None:
        if silent:
            return []
        mode_api = any(row.status == Status.PENDING_PAYMENT for row in rows)
        if mode_api:
            return [_("Aqui o Pix é confirmado automaticamente pelo banco; não precisa mandar comprovante. "
                      "Se já pagou, diga *já paguei* que eu confiro agora.")]
        from chatbot.registration import pending_prompt

        prompt = pending_prompt(state)
        if prompt:
            return [_("Recebi o arquivo 👍 Vamos terminar a inscrição primeiro:") + "\n\n" + prompt]
        return [_("Recebi o arquivo, mas não há pagamento nem comprovante pendente na sua inscrição. "
                  "Se precisar de ajuda, diga *falar com a organização*.")]
    participant, kind = target
    services.review_submit(
        participant, kind=kind, content=content, mimetype=mimetype, filename=attachment.filename or ""
    )
    if silent:
        return []
    if kind == Review.Kind.PROOF:
        label = TicketCategory.Proof(participant.ticket.proof).label if participant.ticket_id and participant.ticket.proof else _("categoria")
        reply = _("📎 Recebi seu *%(what)s*. A organização vai conferir e te aviso aqui. 🙏") % {"what": str(label).lower()}
        if participant.status == Status.PENDING_PAYMENT:
            payment = services.open_payment(participant)
            if payment is not None and payment.mode == Payment.Mode.STATIC:
                reply += "\n\n" + _("Depois de pagar, envie também o *comprovante do Pix* aqui.")
        return [reply]
    return [_("📎 Recebi seu comprovante de pagamento! A organização vai conferir e te aviso aqui assim que "
              "for confirmado. 🙏")]


# --------------------------------------------------------------------------
# Messages
# --------------------------------------------------------------------------


def other_tickets(participant: Participant) -> list[TicketCategory]:
    """The categories a participant whose proof was refused may choose instead."""
    return [
        category
        for category in eligible_tickets(participant.profile.event, participant.profile_id)
        if category.pk != participant.ticket_id
    ]


def other_tickets_text(participant: Participant) -> str:
    from django.utils import timezone

    from chatbot.knowledge import format_price

    options = other_tickets(participant)
    if not options:
        return _("Para seguir, fale com a organização: diga *falar com a organização*.")
    now = timezone.now()
    lines = []
    for index, category in enumerate(options, start=1):
        price = current_price(category, now=now)
        lines.append(f"{index}. {category.name} — {format_price(price.amount)}")
    return _("Escolha outra categoria respondendo com o número:\n%(options)s") % {"options": "\n".join(lines)}


def _menu_just_shown(state: ConversationState) -> bool:
    """The bot's last message was the main menu: a number answers it, not a category list."""
    last = next(
        (turn for turn in reversed(state.history or []) if isinstance(turn, dict) and turn.get("role") == "assistant"),
        None,
    )
    return last is not None and "1️⃣" in str(last.get("text", ""))


def payment_turn(state: ConversationState, text: str) -> list[str] | None:
    """Payment and seat messages of a registered conversation; ``None`` when ``text`` is not one."""
    words = fold_words(text)
    if not words:
        return None
    answer = read_yes_no(text)
    number = read_choice(text, 9)
    about_money = bool(
        _PAID_RE.search(words) or _PAID_QUESTION_RE.search(words) or _PIX_RE.search(words) or _CODE_RE.search(words)
    )
    if not (about_money or answer is not None or number is not None or _DECLINE_RE.search(words)):
        return None  # most messages: no query at all
    rows = _registrations(state)
    if not rows:
        if about_money and state.pk is not None:
            # An expired or cancelled registration: say where it stands rather than guess an answer.
            latest = (
                Participant.objects.filter(conversation=state).select_related("ticket", "profile__event")
                .order_by("-updated_at", "-id").first()
            )
            if latest is not None and latest.ticket_id is not None:
                return [services.status_text(latest)]
        return None
    now = services.timezone.now()
    offered = next((row for row in rows if row.status == Status.WAITLISTED and row.offer_expires_at), None)
    if offered is not None:
        if offered.offer_expires_at <= now:
            if answer == "yes":
                return [_("O prazo para ficar com essa vaga terminou e ela passou para o próximo da lista. 😕 "
                          "Diga *minha inscrição* para ver a situação.")]
        elif answer == "yes" and not about_money:
            placement = services.waitlist_claim(offered, conversation_id=state.conversation_id)
            if placement is None:
                return [_("O prazo dessa vaga já terminou. 😕 Diga *minha inscrição* para ver a situação.")]
            return services.placement_replies(offered)
        elif _DECLINE_RE.search(words):
            from registrations.services import participant_cancel

            participant_cancel(participant=offered, reason="vaga recusada pelo participante", conversation_id=state.conversation_id)
            return [_("Tudo bem, liberei a vaga para o próximo da lista. Obrigado por avisar! 🙏")]
        elif answer == "no":
            return [_("Tudo bem. A vaga fica guardada para você até *%(due)s*: responda *sim* para ficar com ela, "
                      "ou *não quero a vaga* para liberá-la para o próximo da lista.")
                    % {"due": services.format_due(offered.offer_expires_at)}]
    refused = next(
        (row for row in rows if row.proof_status == Participant.Proof.REJECTED and row.status == Status.PENDING_PAYMENT
         and row.paid_at is None and not services.open_payment(row)),
        None,
    )
    if refused is not None and number is not None and not _menu_just_shown(state):
        options = other_tickets(refused)
        chosen = read_choice(text, len(options)) if options else None
        if chosen is not None:
            category = options[chosen - 1]
            services.participant_place(refused, ticket_id=category.pk, conversation_id=state.conversation_id)
            services._record(services.Kind.TICKET_CHANGED, refused, detail=category.name,
                             actor="participante", conversation_id=state.conversation_id)
            return [_("Anotado: categoria *%(ticket)s*. 🎟️") % {"ticket": category.name}, *services.placement_replies(refused)]
    if not about_money:
        return None
    pending = next((row for row in rows if row.status == Status.PENDING_PAYMENT), None)
    if pending is not None and (_PAID_RE.search(words) or _PAID_QUESTION_RE.search(words)):
        return _paid_claim(pending)
    if pending is not None and _PIX_RE.search(words):
        payment = services.open_payment(pending)
        if payment is None:
            return [services.status_text(pending), services.no_pix_text(pending)]
        first, *rest = services.payment_instructions(payment)
        return [services.status_text(pending) + "\n\n" + first, *rest]
    # Confirmed, waitlisted: where it stands (and the check-in QR once confirmed).
    row = rows[0]
    reply = services.status_text(row)
    if row.status == Status.CONFIRMED and row.code:
        reply += services.checkin_line(row)
    return [reply]


def _paid_claim(participant: Participant) -> list[str]:
    payment = services.open_payment(participant)
    if payment is None:
        return [services.status_text(participant), services.no_pix_text(participant)]
    if payment.mode == Payment.Mode.API:
        outcome = services.payment_check(payment, quiet=True)
        if outcome == "paid":
            participant.refresh_from_db()
            return [services.status_text(participant)]
        if outcome == "error":
            return [_("Não consegui consultar o banco agora. Assim que o pagamento for confirmado, te aviso aqui. 🙏")]
        return [_("Ainda não recebi a confirmação do banco. O Pix costuma cair em segundos; te aviso aqui assim "
                  "que confirmar. Se pagou há mais de 1 hora, diga *falar com a organização*.")]
    if Review.objects.filter(participant=participant, kind=Review.Kind.RECEIPT, status=Review.Status.PENDING).exists():
        return [_("Seu comprovante já está com a organização para conferência. Te aviso aqui assim que for confirmado. 🙏")]
    return [_("Ótimo! Envie aqui a *foto ou o PDF do comprovante* do Pix, que a organização confere e eu te aviso. 📎")]
