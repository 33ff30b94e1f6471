"""Payments, seats, the waitlist and the review queue: every state change, race-safe.

- ``participant_place``: a registration just stored (or a waitlist claim, or
  another category after a refused proof) gets its seat, its price and its
  charge: confirmed (free), pending_payment (a Pix charge), or waitlisted.
- ``payment_mark_paid`` / ``payment_refund`` / ``payment_cancel``: money moves,
  only on the provider's word (the PSP's cob lookup) or an organizer's
  (a reviewed receipt, a manual mark, audited with a reason).
- ``review_submit`` / ``review_approve`` / ``review_reject``: receipts and
  category proofs sent in the chat.
- ``waitlist_advance`` / ``waitlist_claim``: a freed seat is offered to the
  first in line for WAITLIST_CLAIM_HOURS.
- ``payments_sweep``: reminders, expiries (the seat is released), lapsed offers.

Seats are decided with the event's row locked (``payments.tickets``); status
moves are compare-and-swap updates, so a webhook delivered three times or two
organizers clicking at once change things once. Participants are told through
``whatsapp.services.message_push`` (enqueued on commit).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import re
import secrets
from dataclasses import dataclass, replace
from decimal import Decimal

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone
from django.utils.translation import gettext as _

from chatbot.knowledge import format_price
from chatbot.models import TicketCategory
from payments.models import Payment, Review
from payments.tickets import current_price, lock_event, seats_for
from registrations.codes import new_code
from registrations.models import Participant, RegistrationEvent
from registrations.validators import mask_email

logger = logging.getLogger(__name__)

Status = Participant.Status
Kind = RegistrationEvent.Kind
SYSTEM_ACTOR = "sistema"
ALLOWED_MIMETYPES = frozenset({"image/jpeg", "image/png", "image/webp", "image/heic", "application/pdf"})


# --------------------------------------------------------------------------
# Mode and texts
# --------------------------------------------------------------------------


def pix_mode() -> str:
    """``"api"`` (a PSP confirms), ``"static"`` (a key; receipts reviewed) or ``""`` (no Pix configured)."""
    if settings.PIX_API_URL and settings.PIX_CLIENT_ID:
        return Payment.Mode.API
    if settings.PIX_KEY:
        return Payment.Mode.STATIC
    return ""


def format_due(moment: dt.datetime) -> str:
    """``15/03 às 18h`` (local time)."""
    local = timezone.localtime(moment)
    hour = f"{local.hour}h{local.minute:02d}" if local.minute else f"{local.hour}h"
    return _("%(date)s às %(hour)s") % {"date": local.strftime("%d/%m"), "hour": hour}


def public_base_url() -> str:
    """The site's public address for links sent to participants ("" when unknown: no link is sent)."""
    base = (settings.PUBLIC_BASE_URL or "").rstrip("/")
    if not base:
        host = next((h.lstrip(".") for h in settings.ALLOWED_HOSTS if h not in ("*", "") and "localhost" not in h and not h.startswith("127.")), "")
        base = f"https://{host}" if host else ""
    return base


def qr_link(kind: str, value: str) -> str:
    """A public link to a QR image: ``checkin`` (a registration code) or ``pix`` (a charge's txid).

    The value is signed, so nobody can make a link for another registration by guessing."""
    from django.core import signing
    from django.urls import reverse

    base = public_base_url()
    if not base or not value:
        return ""
    token = signing.Signer(salt=f"payments.qr.{kind}").sign(value)
    return f"{base}{reverse('payments:qr', args=[kind, token])}"


def status_text(participant: Participant, *, now: dt.datetime | None = None) -> str:
    """One plain sentence about where the registration stands (chat replies, "minha inscrição")."""
    now = now or timezone.now()
    code = participant.code or ""
    ticket = participant.ticket.name if participant.ticket_id else ""
    if participant.status == Status.PENDING_PAYMENT:
        text = _("📝 Pré-inscrição recebida — falta o pagamento de *%(amount)s* até *%(due)s*.") % {
            "amount": format_price(participant.amount),
            "due": format_due(participant.payment_due_at) if participant.payment_due_at else "—",
        }
    elif participant.status == Status.CONFIRMED:
        text = _("✅ Inscrição confirmada") + (
            _(" (pagamento de %(amount)s recebido).") % {"amount": format_price(participant.amount)}
            if participant.paid_at and participant.amount
            else "."
        )
    elif participant.status == Status.WAITLISTED:
        if participant.offer_expires_at and participant.offer_expires_at > now:
            text = _("🎟️ Abriu uma vaga para você! Responda *sim* até *%(due)s* para ficar com ela.") % {
                "due": format_due(participant.offer_expires_at)
            }
        else:
            text = _("⏳ Você está na lista de espera (posição %(position)s).") % {"position": waitlist_position(participant)}
    elif participant.status == Status.EXPIRED:
        text = _("⌛ Inscrição expirada: o prazo de pagamento passou e a vaga foi liberada. Para se inscrever de novo, diga *quero me inscrever*.")
    else:
        text = _("❌ Inscrição cancelada.")
    lines = [text]
    if ticket:
        lines.append(_("Categoria: %(ticket)s") % {"ticket": ticket} + (f" ({participant.lot_name})" if participant.lot_name else ""))
    if code:
        lines.append(_("Nº de inscrição: *%(code)s*") % {"code": code})
    if participant.proof_status in (Participant.Proof.MISSING, Participant.Proof.REJECTED):
        lines.append(_("Falta o comprovante da categoria: envie uma foto ou PDF aqui."))
    elif participant.proof_status == Participant.Proof.PENDING:
        lines.append(_("Seu comprovante da categoria está em análise."))
    return "\n".join(lines)


def checkin_line(participant: Participant) -> str:
    """"\nQR code para o credenciamento: <link>" ("" when no public address is configured)."""
    link = qr_link("checkin", participant.code or "")
    return ("\n" + _("QR code para o credenciamento: %(link)s") % {"link": link}) if link else ""


def waitlist_position(participant: Participant) -> int:
    if participant.status != Status.WAITLISTED or participant.waitlisted_at is None:
        return 0
    ahead = Participant.objects.filter(
        status=Status.WAITLISTED, profile__event_id=participant.profile.event_id, waitlisted_at__lt=participant.waitlisted_at
    ).count()
    return ahead + 1


def payment_instructions(payment: Payment) -> list[str]:
    """How to pay, as chat messages: the instructions, then the "copia e cola" alone (easy to copy)."""
    if payment.mode == Payment.Mode.STATIC:
        how = _(
            "Pague com o Pix *copia e cola* da próxima mensagem (no app do banco: Pix > Copia e cola) e me envie "
            "aqui a *foto ou PDF do comprovante*. A organização confere e eu te aviso. 🙏"
        )
    elif payment.brcode:
        how = _("Pague com o Pix *copia e cola* da próxima mensagem. A confirmação é automática assim que o Pix cair. ⚡")
    else:
        how = _("Estou gerando seu Pix; o código chega aqui em instantes. ⏳")
    if not payment.brcode:
        return [how]
    qr = qr_link("pix", payment.txid)
    if qr:
        how += "\n" + _("QR code para pagar de outro aparelho: %(link)s") % {"link": qr}
    return [how, payment.brcode]


def no_pix_text(participant: Participant) -> str:
    from chatbot.knowledge import event_contact_line

    return _("A organização vai te enviar como pagar. Dúvidas: %(contact)s") % {
        "contact": event_contact_line(participant.profile.event) or _("diga *falar com a organização*")
    }


# --------------------------------------------------------------------------
# Placement: a seat, a price, a charge
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class Placement:
    status: str
    replies: tuple[str, ...] = ()


_CONTROL_RE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def clean_reason(reason: str) -> str:
    """A reason typed by an organizer, safe to store and to send: no control characters, at most 500."""
    return " ".join(_CONTROL_RE.sub(" ", reason or "").split())[:500]


def _record(kind: str, participant: Participant | int, *, detail: str = "", actor: str = SYSTEM_ACTOR, conversation_id: str = "") -> None:
    from registrations.services import registration_event_record

    registration_event_record(kind=kind, participant=participant, detail=detail, actor=actor, conversation_id=conversation_id)


def _enqueue_confirmation(participant_id: int) -> None:
    from registrations.services import _enqueue_confirmation as enqueue

    enqueue(participant_id)


def code_assign(participant: Participant) -> str:
    """Give ``participant`` a registration code if it has none; the unique column decides clashes."""
    if participant.code:
        return participant.code
    for _attempt in range(8):
        code = new_code()
        try:
            with transaction.atomic():
                if Participant.objects.filter(pk=participant.pk, code__isnull=True).update(code=code):
                    participant.code = code
                    return code
        except IntegrityError:
            continue
        participant.refresh_from_db(fields=["code"])
        return participant.code or ""
    raise RuntimeError("could not find a free registration code")


def _txid(participant: Participant, mode: str) -> str:
    base = (participant.code or "").replace("-", "")
    if mode == Payment.Mode.API:
        # The PSP wants 26-35 letters and digits, unique per charge.
        return (base + secrets.token_hex(16))[:32]
    earlier = Payment.objects.filter(participant=participant).count()
    return base if earlier == 0 else f"{base}R{earlier + 1}"[:25]


def _charge_create(participant: Participant, *, now: dt.datetime) -> Payment | None:
    mode = pix_mode()
    if not mode:
        return None
    brcode = ""
    txid = _txid(participant, mode)
    if mode == Payment.Mode.STATIC:
        from payments.brcode import static_brcode

        brcode = static_brcode(
            key=settings.PIX_KEY,
            amount=participant.amount,
            merchant_name=settings.PIX_MERCHANT_NAME or str(participant.profile.event.name) or "CONGRESSO",
            merchant_city=settings.PIX_MERCHANT_CITY or participant.profile.event.city or "BRASIL",
            txid=txid,
        )
    payment = Payment.objects.create(
        participant=participant,
        txid=txid,
        mode=mode,
        amount=participant.amount,
        due_at=participant.payment_due_at,
        brcode=brcode,
    )
    _record(Kind.PAYMENT_CREATED, participant, detail=f"{mode} {txid} {participant.amount}")
    if mode == Payment.Mode.API:
        from payments.tasks import create_charge

        transaction.on_commit(lambda: create_charge.delay(payment.pk), robust=True)
    return payment


def _line_ahead(category: TicketCategory | None, *, event_id: int, exclude_pk: int) -> bool:
    """Whether someone already waiting (without an offer) could take this seat: in the same category,
    or in any category that has room when the event's own limit is what keeps them waiting."""
    waiting = Participant.objects.filter(
        status=Status.WAITLISTED, profile__event_id=event_id, offer_expires_at__isnull=True
    ).exclude(pk=exclude_pk)
    if category is not None and waiting.filter(ticket=category).exists():
        return True
    from chatbot.models import Event

    event = Event.objects.filter(pk=event_id).first()
    if event is None or event.capacity is None:
        return category is None and waiting.exists()
    now = timezone.now()
    for other in waiting.select_related("ticket").order_by("waitlisted_at", "id")[:20]:
        # Not counting the newcomer itself (its row exists already, not yet placed).
        if seats_for(other.ticket, event=event, now=now, exclude_pk=exclude_pk).available:
            return True
    return False


def _round_up_to_hour(moment: dt.datetime) -> dt.datetime:
    """A deadline people can read: "até 15/03 às 18h", never "às 17h43"."""
    floor = moment.replace(minute=0, second=0, microsecond=0)
    return floor if floor == moment else floor + dt.timedelta(hours=1)


def participant_place(
    participant: Participant,
    *,
    ticket_id: int | None,
    now: dt.datetime | None = None,
    conversation_id: str = "",
    claim: bool = False,
) -> Placement:
    """Decide the seat, price and charge of a stored registration (inside the caller's transaction).

    No category (an event without tickets) or a free one: confirmed, as
    before. Full (category or event): waitlisted. Otherwise the current
    lot's price and a Pix charge due in PAYMENT_EXPIRY_HOURS. ``claim``: a
    waitlisted participant answering "sim" to an offered seat (the offer
    holds the seat, so it is not counted against itself).
    """
    now = now or timezone.now()
    with transaction.atomic():
        code_assign(participant)
        event = lock_event(participant.profile.event_id)
        participant.refresh_from_db()
        category = (
            TicketCategory.objects.filter(pk=ticket_id, event_id=participant.profile.event_id).prefetch_related("lots").first()
            if ticket_id
            else None
        )
        if category is None:
            # Never free by omission: an event that sells categories always places one.
            from payments.tickets import eligible_tickets

            fitting = eligible_tickets(event, participant.profile_id)
            if fitting:
                logger.warning("Registration %s placed without a category: using %s", participant.pk, fitting[0].pk)
                category = TicketCategory.objects.prefetch_related("lots").get(pk=fitting[0].pk)
        fields = ["status", "ticket", "lot_name", "amount", "payment_due_at", "paid_at", "proof_status",
                  "waitlisted_at", "offer_expires_at", "payment_reminder_at", "updated_at"]
        participant.ticket = category
        participant.paid_at = None
        participant.payment_reminder_at = None
        participant.offer_expires_at = None
        seats = seats_for(category, event=event, now=now, exclude_pk=participant.pk)
        if seats.available and not claim and _line_ahead(category, event_id=participant.profile.event_id, exclude_pk=participant.pk):
            # A seat just freed belongs to the first in line (offered on commit), not to a newcomer.
            seats = replace(seats, available=False)
            transaction.on_commit(lambda: waitlist_advance(event_id=participant.profile.event_id), robust=True)
        if not seats.available:
            participant.status = Status.WAITLISTED
            participant.waitlisted_at = participant.waitlisted_at if claim else now
            participant.amount = Decimal("0")
            participant.lot_name = ""
            participant.payment_due_at = None
            participant.save(update_fields=fields)
            _record(Kind.WAITLISTED, participant, detail=category.name if category else "", conversation_id=conversation_id)
            return Placement(Status.WAITLISTED)
        price = current_price(category, now=now) if category is not None else None
        participant.amount = price.amount if price is not None else Decimal("0")
        participant.lot_name = price.lot_name if price is not None else ""
        participant.waitlisted_at = None
        participant.proof_status = (
            Participant.Proof.MISSING if category is not None and category.proof else Participant.Proof.NOT_NEEDED
        )
        if price is None or price.free:
            participant.status = Status.CONFIRMED
            participant.payment_due_at = None
            participant.save(update_fields=fields)
            _enqueue_confirmation(participant.pk)
            return Placement(Status.CONFIRMED)
        participant.status = Status.PENDING_PAYMENT
        participant.payment_due_at = _round_up_to_hour(now + dt.timedelta(hours=settings.PAYMENT_EXPIRY_HOURS))
        participant.save(update_fields=fields)
        _charge_create(participant, now=now)
    return Placement(Status.PENDING_PAYMENT)


def placement_replies(participant: Participant) -> list[str]:
    """What the participant reads right after registering (or claiming a seat), beyond "anotei seus dados"."""
    participant.refresh_from_db()
    replies = [status_text(participant)]
    if participant.status == Status.PENDING_PAYMENT:
        payment = open_payment(participant)
        if payment is None:
            replies.append(no_pix_text(participant))
        else:
            first, *rest = payment_instructions(payment)
            replies[0] += "\n\n" + first
            replies.extend(rest)
    elif participant.status == Status.WAITLISTED:
        replies[0] += "\n\n" + _("Se abrir uma vaga, te aviso aqui e você terá %(hours)s h para confirmar.") % {
            "hours": _hours(settings.WAITLIST_CLAIM_HOURS)
        }
    elif participant.status == Status.CONFIRMED and participant.code:
        replies[0] += checkin_line(participant)
    return replies


def _hours(value: float) -> str:
    return f"{value:g}"


def open_payment(participant: Participant) -> Payment | None:
    return Payment.objects.filter(participant=participant, status=Payment.Status.PENDING).order_by("-id").first()


# --------------------------------------------------------------------------
# Telling the participant
# --------------------------------------------------------------------------


def notify(participant: Participant, *texts: str) -> None:
    """Push ``texts`` to the participant's chat (after commit); logged when there is no channel."""
    from whatsapp.models import OutboundMessage
    from whatsapp.services import message_push

    conversation = participant.conversation
    if conversation is None:
        logger.info("Participant %s has no conversation to notify", participant.pk)
        return
    for text in texts:
        if text and message_push(chat_id=conversation.conversation_id, text=text, kind=OutboundMessage.Kind.NOTICE) is None:
            logger.info("No WhatsApp channel for participant %s: notice kept for 'minha inscrição'", participant.pk)
            return


# --------------------------------------------------------------------------
# Money
# --------------------------------------------------------------------------


def payment_mark_paid(
    payment: Payment,
    *,
    actor: str,
    reason: str = "",
    end_to_end_id: str | None = None,
    now: dt.datetime | None = None,
    quiet: bool = False,
) -> bool:
    """A pending charge paid: the registration is confirmed, the participant told, the e-mail sent.

    Returns False when nothing changed (already paid, cancelled, refunded,
    or this endToEndId already paid something).
    """
    now = now or timezone.now()
    reason = clean_reason(reason)
    with transaction.atomic():
        row = Payment.objects.select_for_update().select_related("participant").filter(pk=payment.pk).first()
        if row is None or row.status not in (Payment.Status.PENDING, Payment.Status.EXPIRED):
            return False
        participant = row.participant
        if row.status == Payment.Status.EXPIRED or participant.status != Status.PENDING_PAYMENT:
            # Paid after the seat was released: confirmed only if a seat is still free.
            event = lock_event(participant.profile.event_id)
            if participant.status not in (Status.PENDING_PAYMENT, Status.EXPIRED) or not seats_for(
                participant.ticket, event=event, now=now, exclude_pk=participant.pk
            ).available:
                return _paid_without_seat(row, participant, actor=actor, end_to_end_id=end_to_end_id, now=now)
        try:
            with transaction.atomic():
                row.status = Payment.Status.PAID
                row.paid_at = now
                row.end_to_end_id = end_to_end_id or None
                row.confirmed_by = actor[:150]
                row.reason = reason[:500]
                row.save(update_fields=["status", "paid_at", "end_to_end_id", "confirmed_by", "reason", "updated_at"])
        except IntegrityError:
            return False  # this endToEndId already paid another charge
        # Any other open charge of this registration (a new one after an expiry) is void now.
        Payment.objects.filter(participant=participant, status=Payment.Status.PENDING).exclude(pk=row.pk).update(
            status=Payment.Status.CANCELLED, reason=_("pago por outra cobrança"), updated_at=now
        )
        Participant.objects.filter(pk=participant.pk).update(
            status=Status.CONFIRMED,
            paid_at=now,
            payment_due_at=None,
            confirmation_email_status=Participant.EmailStatus.PENDING,
            confirmation_email_sent_at=None,
            updated_at=now,
        )
        _record(Kind.PAID, participant, detail=f"{row.txid} {row.amount} {reason}".strip(), actor=actor)
        _enqueue_confirmation(participant.pk)
        participant.refresh_from_db()
        if quiet:  # the participant is reading the answer in the chat right now
            return True
        notify(
            participant,
            _("✅ *Pagamento confirmado!* Sua inscrição no evento está garantida.") + "\n"
            + _("Nº de inscrição: *%(code)s*") % {"code": participant.code}
            + checkin_line(participant)
            + "\n" + _("Enviamos também por e-mail para %(email)s.") % {"email": mask_email(participant.email or "")},
        )
    return True


def _paid_without_seat(
    payment: Payment, participant: Participant, *, actor: str, end_to_end_id: str | None, now: dt.datetime
) -> bool:
    """Money arrived for a registration that lost its seat (paid after the deadline, the seat taken):
    the payment is recorded as paid, so it shows in the admin to be refunded; the registration stays
    as it is and the participant is told. Returns False (nothing confirmed)."""
    try:
        with transaction.atomic():
            Payment.objects.filter(pk=payment.pk).update(
                status=Payment.Status.PAID, paid_at=now, end_to_end_id=end_to_end_id or None,
                confirmed_by=actor[:150], reason=_("pago sem vaga disponível: estornar"), updated_at=now,
            )
    except IntegrityError:
        return False
    logger.error("Payment %s arrived for registration %s without a seat (%s): refund it", payment.pk, participant.pk, participant.status)
    _record(Kind.PAID, participant, detail=f"{payment.txid} {payment.amount}: sem vaga, estornar", actor=actor)
    if participant.status == Status.CONFIRMED:
        notify(participant, _(
            "Recebemos um pagamento de %(amount)s em duplicidade: sua inscrição já estava paga. "
            "A organização vai te procurar para devolver o valor."
        ) % {"amount": format_price(payment.amount)})
    else:
        notify(participant, _(
            "Recebemos seu pagamento de %(amount)s, mas ele chegou depois do prazo e a vaga já tinha sido ocupada. 😕 "
            "A organização vai te procurar para devolver o valor."
        ) % {"amount": format_price(payment.amount)})
    return False


def _release(participant: Participant, *, now: dt.datetime) -> None:
    """A seat was given back: offer it to the waitlist, after this transaction commits."""
    event_id = participant.profile.event_id
    transaction.on_commit(lambda: waitlist_advance(event_id=event_id), robust=True)


def payment_refund(payment: Payment, *, actor: str, reason: str, now: dt.datetime | None = None) -> bool:
    """A paid charge refunded (at the bank or PSP): the registration is cancelled and the seat freed."""
    reason = clean_reason(reason)
    now = now or timezone.now()
    with transaction.atomic():
        changed = Payment.objects.filter(pk=payment.pk, status=Payment.Status.PAID).update(
            status=Payment.Status.REFUNDED, reason=reason[:500], confirmed_by=actor[:150], updated_at=now
        )
        if not changed:
            return False
        participant = Participant.objects.get(pk=payment.participant_id)
        _record(Kind.REFUNDED, participant, detail=f"{payment.txid}: {reason}"[:500], actor=actor)
        if Payment.objects.filter(participant=participant, status=Payment.Status.PAID).exists():
            # A duplicate (or late) payment refunded: another one still pays for the registration.
            notify(participant, _("Seu pagamento em duplicidade de %(amount)s foi estornado. Sua inscrição continua "
                                  "garantida.") % {"amount": format_price(payment.amount)})
        elif Participant.objects.filter(
            pk=participant.pk, status__in=(Status.CONFIRMED, Status.PENDING_PAYMENT), paid_at__isnull=False
        ).update(status=Status.CANCELLED, updated_at=now):
            notify(participant, _("Seu pagamento de %(amount)s foi estornado e a inscrição cancelada. Motivo: %(reason)s")
                   % {"amount": format_price(payment.amount), "reason": reason})
            _release(participant, now=now)
        else:
            # Money for a registration that never had its seat (paid late): returned, nothing else changes.
            notify(participant, _("Seu pagamento de %(amount)s foi estornado.") % {"amount": format_price(payment.amount)})
    payment.refresh_from_db()
    return True


def payment_cancel(payment: Payment, *, actor: str, reason: str, now: dt.datetime | None = None) -> bool:
    """A pending charge cancelled by an organizer: the registration is cancelled and the seat freed."""
    reason = clean_reason(reason)
    now = now or timezone.now()
    with transaction.atomic():
        changed = Payment.objects.filter(pk=payment.pk, status=Payment.Status.PENDING).update(
            status=Payment.Status.CANCELLED, reason=reason[:500], confirmed_by=actor[:150], updated_at=now
        )
        if not changed:
            return False
        participant = Participant.objects.get(pk=payment.participant_id)
        cancelled = Participant.objects.filter(pk=participant.pk, status=Status.PENDING_PAYMENT).update(
            status=Status.CANCELLED, payment_due_at=None, updated_at=now
        )
        _record(Kind.CANCELLED, participant, detail=f"{payment.txid}: {reason}"[:500], actor=actor)
        if cancelled:
            notify(participant, _("Sua pré-inscrição foi cancelada pela organização. Motivo: %(reason)s") % {"reason": reason})
            _release(participant, now=now)
    payment.refresh_from_db()
    return True


def charges_cancel_for(participant: Participant, *, reason: str, now: dt.datetime) -> None:
    """The participant cancelled (chat or admin): its open charge is cancelled and its seat freed."""
    Payment.objects.filter(participant=participant, status=Payment.Status.PENDING).update(
        status=Payment.Status.CANCELLED, reason=reason[:500], updated_at=now
    )
    _release(participant, now=now)


def payment_check(payment: Payment, *, actor: str = SYSTEM_ACTOR, quiet: bool = False) -> str:
    """Ask the PSP about an API charge (``GET /v2/cob/{txid}``): ``paid``, ``pending``, ``mismatch`` or ``error``.

    Paid only when the PSP says CONCLUIDA and the amount equals the amount due.
    """
    from payments.psp import PixApi, PixApiError

    if payment.mode != Payment.Mode.API:
        return "pending"
    try:
        charge = PixApi.from_settings().get_charge(payment.txid)
    except PixApiError as error:
        logger.warning("Pix API lookup of %s failed: %s", payment.txid, error)
        return "error"
    if not charge.concluded:
        return "pending"
    if Decimal(charge.amount) != payment.amount or not charge.paid_for(payment.amount):
        logger.error("Pix charge %s CONCLUIDA with %s, due %s: not marked paid", payment.txid, charge.amount, payment.amount)
        return "mismatch"
    e2e = charge.paid_e2e_ids[0] if charge.paid_e2e_ids else None
    if payment_mark_paid(payment, actor=actor, reason=_("confirmado pelo PSP"), end_to_end_id=e2e, quiet=quiet):
        return "paid"
    payment.refresh_from_db()
    return "late" if payment.status == Payment.Status.PAID else "ignored"


# --------------------------------------------------------------------------
# Reviews (receipts and proofs)
# --------------------------------------------------------------------------


def review_submit(participant: Participant, *, kind: str, content: bytes, mimetype: str, filename: str = "") -> Review:
    """Queue a file for the organizers; an earlier pending file of the same kind is superseded."""
    payment = open_payment(participant) if kind == Review.Kind.RECEIPT else None
    Review.objects.filter(participant=participant, kind=kind, status=Review.Status.PENDING).update(
        status=Review.Status.SUPERSEDED
    )
    review = Review.objects.create(
        participant=participant,
        payment=payment,
        kind=kind,
        content=content,
        mimetype=mimetype,
        filename=filename[:200],
        size=len(content),
        sha256=hashlib.sha256(content).hexdigest(),
    )
    if kind == Review.Kind.PROOF:
        Participant.objects.filter(pk=participant.pk).update(proof_status=Participant.Proof.PENDING)
    _record(Kind.REVIEW_SUBMITTED, participant, detail=f"{kind} #{review.pk} ({mimetype}, {len(content)} bytes)")
    return review


def review_approve(review: Review, *, actor: str) -> bool:
    """A receipt approved marks its charge paid; a proof approved clears the category."""
    with transaction.atomic():
        changed = Review.objects.filter(pk=review.pk, status=Review.Status.PENDING).update(
            status=Review.Status.APPROVED, reviewed_by=actor[:150], reviewed_at=timezone.now()
        )
        if not changed:
            return False
        review.refresh_from_db()
        participant = review.participant
        _record(Kind.REVIEW_APPROVED, participant, detail=f"{review.kind} #{review.pk}", actor=actor)
        if review.kind == Review.Kind.RECEIPT:
            payment = (
                review.payment
                or open_payment(participant)
                # Sent when no charge was open (cancelled with a refused proof): the latest one it was for.
                or Payment.objects.filter(participant=participant).exclude(status=Payment.Status.PAID).order_by("-id").first()
            )
            if payment is not None and payment.status in (Payment.Status.CANCELLED, Payment.Status.EXPIRED):
                # The charge was cancelled meanwhile (a refused proof): the money is recorded, to be settled.
                _paid_without_seat(payment, participant, actor=actor, end_to_end_id=None, now=timezone.now())
            elif payment is None or not payment_mark_paid(payment, actor=actor, reason=_("comprovante aprovado")):
                # Nothing left to pay (already paid, or cancelled): the approval stands as a record.
                logger.info("Receipt #%s approved without a pending charge", review.pk)
        else:
            Participant.objects.filter(pk=participant.pk).update(proof_status=Participant.Proof.APPROVED)
            participant.refresh_from_db()
            texts = [_("✅ Seu comprovante da categoria *%(ticket)s* foi aprovado.")
                     % {"ticket": participant.ticket.name if participant.ticket_id else ""}]
            if participant.status == Status.PENDING_PAYMENT and participant.amount > 0 and open_payment(participant) is None:
                # Its charge was cancelled with an earlier refusal: a fresh one, due from now.
                now = timezone.now()
                participant.payment_due_at = _round_up_to_hour(now + dt.timedelta(hours=settings.PAYMENT_EXPIRY_HOURS))
                participant.save(update_fields=["payment_due_at", "updated_at"])
                payment = _charge_create(participant, now=now)
                texts[0] += "\n\n" + status_text(participant)
                if payment is not None:
                    first, *rest = payment_instructions(payment)
                    texts[0] += "\n\n" + first
                    texts.extend(rest)
            notify(participant, *texts)
    return True


def review_reject(review: Review, *, actor: str, reason: str) -> bool:
    """Refused with a reason the participant reads. A refused proof: the charge is cancelled and the
    participant chooses another category in the chat."""
    reason = clean_reason(reason)
    if not reason:
        raise ValueError("a rejection needs a reason")
    with transaction.atomic():
        changed = Review.objects.filter(pk=review.pk, status=Review.Status.PENDING).update(
            status=Review.Status.REJECTED, reviewed_by=actor[:150], reviewed_at=timezone.now(), reason=reason[:500]
        )
        if not changed:
            return False
        review.refresh_from_db()
        participant = review.participant
        _record(Kind.REVIEW_REJECTED, participant, detail=f"{review.kind} #{review.pk}: {reason}"[:500], actor=actor)
        if review.kind == Review.Kind.RECEIPT:
            notify(participant, _(
                "Não conseguimos confirmar seu pagamento pelo comprovante enviado. Motivo: %(reason)s\n\n"
                "Se já pagou, envie outro comprovante (foto ou PDF) aqui."
            ) % {"reason": reason})
            return True
        Participant.objects.filter(pk=participant.pk).update(proof_status=Participant.Proof.REJECTED)
        refused = _("Seu comprovante da categoria *%(ticket)s* não foi aceito. Motivo: %(reason)s") % {
            "ticket": participant.ticket.name if participant.ticket_id else "", "reason": reason,
        }
        if participant.paid_at is not None or participant.status != Status.PENDING_PAYMENT:
            # Already paid (or confirmed): the difference is for the organizers to settle, never a second charge.
            notify(participant, refused + "\n\n" + _(
                "Você pode enviar outro comprovante aqui, ou a organização vai te procurar para acertar a categoria."
            ))
            return True
        if Review.objects.filter(participant=participant, kind=Review.Kind.RECEIPT, status=Review.Status.PENDING).exists():
            # A receipt waits for review: the charge stays (the money may be there); a person settles the category.
            notify(participant, refused + "\n\n" + _(
                "Você pode enviar outro comprovante aqui; a organização confere seu pagamento e fala com você sobre a categoria."
            ))
            return True
        # The charge is cancelled; the deadline stands (the sweep expires it if nothing follows).
        Payment.objects.filter(participant=participant, status=Payment.Status.PENDING).update(
            status=Payment.Status.CANCELLED, reason=reason[:500], updated_at=timezone.now()
        )
        from payments.chat import other_tickets_text

        notify(participant, refused + "\n\n" + _("Se tiver outro comprovante, envie aqui.") + " " + other_tickets_text(participant))
    return True


# --------------------------------------------------------------------------
# Waitlist
# --------------------------------------------------------------------------


def waitlist_advance(*, event_id: int, now: dt.datetime | None = None) -> int:
    """Offer freed seats to the first in line (by the time they joined); returns how many were offered."""
    now = now or timezone.now()
    offered = 0
    with transaction.atomic():
        event = lock_event(event_id)
        if event is None:
            return 0
        line = (
            Participant.objects.filter(status=Status.WAITLISTED, profile__event_id=event_id, offer_expires_at__isnull=True)
            .select_related("ticket", "conversation")
            .order_by("waitlisted_at", "id")
        )
        for participant in line:
            seats = seats_for(participant.ticket, event=event, now=now)
            if not seats.available:
                if seats.event_full:
                    break
                continue
            participant.offer_expires_at = now + dt.timedelta(hours=settings.WAITLIST_CLAIM_HOURS)
            participant.save(update_fields=["offer_expires_at", "updated_at"])
            _record(Kind.SEAT_OFFERED, participant, detail=f"until {participant.offer_expires_at.isoformat()}")
            notify(participant, _(
                "🎟️ Abriu uma vaga no evento para você (categoria %(ticket)s)! Responda *sim* até *%(due)s* para "
                "ficar com ela. Depois disso, ela passa para o próximo da lista."
            ) % {"ticket": participant.ticket.name if participant.ticket_id else "—", "due": format_due(participant.offer_expires_at)})
            offered += 1
    return offered


def waitlist_claim(participant: Participant, *, now: dt.datetime | None = None, conversation_id: str = "") -> Placement | None:
    """The participant said "sim" to an offered seat: placed (pending payment or confirmed); None when no offer stands."""
    now = now or timezone.now()
    with transaction.atomic():
        lock_event(participant.profile.event_id)
        row = Participant.objects.filter(
            pk=participant.pk, status=Status.WAITLISTED, offer_expires_at__gt=now
        ).first()
        if row is None:
            return None
        placement = participant_place(row, ticket_id=row.ticket_id, now=now, conversation_id=conversation_id, claim=True)
        _record(Kind.SEAT_CLAIMED, row, conversation_id=conversation_id, actor="participante")
    return placement


# --------------------------------------------------------------------------
# The sweep: reminders, expiries, lapsed offers
# --------------------------------------------------------------------------


def payments_sweep(*, now: dt.datetime | None = None, limit: int = 500) -> dict[str, int]:
    now = now or timezone.now()
    counts = {"reminded": 0, "expired": 0, "paid": 0, "offers_lapsed": 0, "offered": 0}
    remind_before = dt.timedelta(hours=settings.PAYMENT_REMINDER_HOURS)
    for payment in Payment.objects.filter(
        status=Payment.Status.PENDING, reminder_sent_at__isnull=True, due_at__gt=now, due_at__lte=now + remind_before
    ).select_related("participant")[:limit]:
        with transaction.atomic():
            if Payment.objects.filter(pk=payment.pk, reminder_sent_at__isnull=True).update(reminder_sent_at=now):
                Participant.objects.filter(pk=payment.participant_id).update(payment_reminder_at=now)
                _record(Kind.PAYMENT_REMINDER, payment.participant)
                notify(payment.participant, _(
                    "⏰ Lembrete: sua pré-inscrição vence em *%(due)s*. Falta o pagamento de *%(amount)s*."
                ) % {"due": format_due(payment.due_at), "amount": format_price(payment.amount)}, *payment_instructions(payment))
                counts["reminded"] += 1
    events: set[int] = set()
    counts["lookup_failed"] = counts["charges_requeued"] = 0
    awaiting_review = Review.objects.filter(
        kind=Review.Kind.RECEIPT, status=Review.Status.PENDING, participant_id=OuterRef("participant_id")
    )
    counts["skipped_in_review"] = (
        Payment.objects.filter(status=Payment.Status.PENDING, due_at__lte=now).filter(Exists(awaiting_review)).count()
    )
    for payment in (
        Payment.objects.filter(status=Payment.Status.PENDING, due_at__lte=now)
        .exclude(Exists(awaiting_review))  # a receipt waits for the organizers: never expired under them
        .select_related("participant__profile")
        .order_by("due_at")[:limit]
    ):
        if payment.mode == Payment.Mode.API:
            outcome = payment_check(payment)
            if outcome in ("paid", "late"):
                counts["paid"] += 1  # paid, and the webhook never came
                continue
            if outcome == "error":
                counts["lookup_failed"] += 1  # the PSP did not answer: ask again on the next sweep
                continue
        with transaction.atomic():
            if not Payment.objects.filter(pk=payment.pk, status=Payment.Status.PENDING).update(
                status=Payment.Status.EXPIRED, updated_at=now
            ):
                continue
            participant = payment.participant
            if Participant.objects.filter(pk=participant.pk, status=Status.PENDING_PAYMENT).update(
                status=Status.EXPIRED, updated_at=now
            ):
                _record(Kind.PAYMENT_EXPIRED, participant, detail=payment.txid)
                notify(participant, _(
                    "⌛ O prazo de pagamento da sua pré-inscrição (%(code)s) terminou e a vaga foi liberada. "
                    "Se ainda quiser participar, diga *quero me inscrever*."
                ) % {"code": participant.code})
                events.add(participant.profile.event_id)
                counts["expired"] += 1
    # A registration awaiting payment with no open charge (its proof refused, nothing chosen since).
    for participant in (
        Participant.objects.filter(status=Status.PENDING_PAYMENT, payment_due_at__lte=now)
        .exclude(payments__status=Payment.Status.PENDING)
        .exclude(Exists(Review.objects.filter(participant_id=OuterRef("pk"), status=Review.Status.PENDING)))
        .select_related("profile")[:limit]
    ):
        with transaction.atomic():
            if Participant.objects.filter(pk=participant.pk, status=Status.PENDING_PAYMENT).update(
                status=Status.EXPIRED, updated_at=now
            ):
                _record(Kind.PAYMENT_EXPIRED, participant, detail="no open charge")
                notify(participant, _(
                    "⌛ O prazo da sua pré-inscrição (%(code)s) terminou e a vaga foi liberada. "
                    "Se ainda quiser participar, diga *quero me inscrever*."
                ) % {"code": participant.code})
                events.add(participant.profile.event_id)
                counts["expired"] += 1
    # API charges whose creation never ran (a broker outage at registration): queued again.
    stale = now - dt.timedelta(minutes=2)
    for payment_id in Payment.objects.filter(
        status=Payment.Status.PENDING, mode=Payment.Mode.API, brcode="", created_at__lte=stale, due_at__gt=now,
        created_at__gte=now - dt.timedelta(days=1),  # a charge the PSP keeps refusing is left to the organizers
    ).values_list("pk", flat=True)[:limit]:
        from payments.tasks import create_charge

        try:
            create_charge.delay(payment_id)
            counts["charges_requeued"] += 1
        except Exception:  # the broker is still down: the next sweep tries again
            logger.exception("Could not queue the charge of payment %s", payment_id)
            break
    for participant in Participant.objects.filter(status=Status.WAITLISTED, offer_expires_at__lte=now).select_related("profile")[:limit]:
        with transaction.atomic():
            if Participant.objects.filter(pk=participant.pk, status=Status.WAITLISTED, offer_expires_at__lte=now).update(
                status=Status.EXPIRED, updated_at=now
            ):
                _record(Kind.OFFER_EXPIRED, participant)
                notify(participant, _(
                    "⌛ O prazo para ficar com a vaga terminou e ela passou para o próximo da lista. "
                    "Se ainda quiser participar, diga *quero me inscrever*."
                ))
                events.add(participant.profile.event_id)
                counts["offers_lapsed"] += 1
    from chatbot.engine import active_event

    event = active_event()
    if event is not None:
        events.add(event.pk)
    for event_id in events:
        counts["offered"] += waitlist_advance(event_id=event_id, now=now)
    return counts


def charge_register(*, payment_id: int) -> bool:
    """API mode: create the charge at the PSP and send its "copia e cola"; True when it was created now."""
    from payments.brcode import is_valid
    from payments.psp import PixApi

    payment = Payment.objects.select_related("participant__profile__event").filter(pk=payment_id).first()
    if payment is None or payment.status != Payment.Status.PENDING or payment.brcode:
        return False
    seconds = max(60, int((payment.due_at - timezone.now()).total_seconds()))
    event = payment.participant.profile.event
    charge = PixApi.from_settings().create_charge(
        payment.txid, payment.amount, expires_in_s=seconds,
        description=_("Inscrição %(code)s — %(event)s") % {"code": payment.participant.code, "event": event.name},
    )
    if Decimal(charge.amount) != payment.amount or not is_valid(charge.pix_copia_e_cola):
        logger.error("PSP answered charge %s with amount %s or an invalid code", payment.txid, charge.amount)
        return False
    with transaction.atomic():
        if not Payment.objects.filter(pk=payment.pk, status=Payment.Status.PENDING, brcode="").update(
            brcode=charge.pix_copia_e_cola, updated_at=timezone.now()
        ):
            return False
        payment.brcode = charge.pix_copia_e_cola
        notify(payment.participant, *payment_instructions(payment))
    return True
