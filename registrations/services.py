"""Writes to registrations, race-safe by construction.

The database decides: ``cpf`` is unique and ``Lower(email)`` is unique, every
insert runs in its own ``atomic()`` savepoint, and an ``IntegrityError`` means
another conversation won the race. Status moves (the confirmation e-mail's
claim) are compare-and-swap ``UPDATE ... WHERE status = ...``.

Every outcome is a :class:`RegistrationEvent` row without the CPF in clear.
The confirmation e-mail is enqueued with ``transaction.on_commit`` so a rolled
back registration never sends one.

These services are called inside the engine's transaction (the conversation
state is saved in the same transaction) and from the admin.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.db.models import Q
from django.db.models.functions import Lower
from django.utils import timezone

from chatbot.models import ConversationState, Profile
from congress import sql
from registrations.flow import RegisterResult, RegistrationData, UpdateResult
from registrations.models import ACTIVE_STATUSES, Participant, RegistrationEvent
from registrations.validators import mask_cpf, mask_email

logger = logging.getLogger(__name__)

Kind = RegistrationEvent.Kind
PARTICIPANT_ACTOR = "participante"
SYSTEM_ACTOR = "sistema"

# Fields a participant (or the admin) may change through participant_update.
UPDATABLE_FIELDS = frozenset({"full_name", "email", "cpf", "phone", "city", "uf", "city_ibge_code", "district", "profile_id"})


def registration_event_record(
    *,
    kind: str,
    participant: Participant | int | None = None,
    conversation_id: str = "",
    step: str = "",
    detail: str = "",
    actor: str = "",
) -> RegistrationEvent:
    """Append one audit row. ``detail`` must never hold a CPF in clear (callers mask)."""
    participant_id = participant.pk if isinstance(participant, Participant) else participant
    values = {
        "participant_id": participant_id,
        "conversation_id": conversation_id[:128],
        "kind": kind,
        "step": str(step)[:32],
        "detail": detail[:500],
        "actor": actor[:150],
        "created_at": timezone.now(),
    }
    # A row on nearly every registration step: one plain INSERT, not save().
    event = RegistrationEvent(pk=sql.insert(RegistrationEvent, values), **values)
    event._state.adding, event._state.db = False, connection.alias
    return event


def _enqueue_confirmation(participant_id: int) -> None:
    from registrations.tasks import send_confirmation_email

    # robust: a broker outage must not undo or break the participant's turn;
    # the sweep (sweep_confirmation_emails) picks up what was not enqueued.
    transaction.on_commit(lambda: send_confirmation_email.delay(participant_id), robust=True)


def _rows_for(*, cpf: str, email: str) -> list[Participant]:
    return list(
        Participant.objects.select_for_update()
        .alias(email_lower=Lower("email"))
        .filter(Q(cpf=cpf) | Q(email_lower=email.lower()))
        .order_by("pk")
    )


def _conversation_pk(conversation: ConversationState | None) -> int | None:
    return conversation.pk if conversation is not None else None


def participant_register(
    *,
    data: RegistrationData,
    conversation: ConversationState | None = None,
    actor: str = PARTICIPANT_ACTOR,
) -> RegisterResult:
    """Store a confirmed registration; at most one per CPF and per e-mail.

    Outcomes (``RegisterResult.outcome``):

    * ``created``: a new participant; the confirmation e-mail is enqueued on commit;
    * ``reactivated``: a cancelled registration with this CPF (or e-mail) is
      confirmed again with the new data, in the same row; e-mail enqueued;
    * ``already_registered``: this conversation's own active registration
      already holds the CPF or e-mail (a retried confirmation): nothing
      written, no second e-mail;
    * ``duplicate``: an active registration of someone else holds the CPF or
      e-mail (``field`` says which); nothing written but the audit row.
    """
    email = data.email.strip().lower()
    conversation_id = conversation.conversation_id if conversation is not None else ""
    conversation_pk = _conversation_pk(conversation)
    with transaction.atomic():
        rows = _rows_for(cpf=data.cpf, email=email)
        if not rows:
            try:
                with transaction.atomic():
                    participant = Participant.objects.create(
                        full_name=data.full_name,
                        email=email,
                        cpf=data.cpf,
                        phone=data.phone,
                        city=data.city,
                        city_ibge_code=data.city_ibge_code,
                        uf=data.uf,
                        district=data.district,
                        profile_id=data.profile_id,
                        consent_at=data.consent_at,
                        consent_version=data.consent_version,
                        conversation_id=conversation_pk,
                    )
            except IntegrityError:
                # Another conversation inserted the same CPF or e-mail between
                # our read and our insert; its row is visible now.
                rows = _rows_for(cpf=data.cpf, email=email)
                if not rows:  # not a uniqueness clash after all
                    raise
            else:
                registration_event_record(
                    kind=Kind.CREATED,
                    participant=participant,
                    conversation_id=conversation_id,
                    detail=f"cpf {mask_cpf(data.cpf)}, e-mail {mask_email(email)}",
                    actor=actor,
                )
                return _placed("created", participant, data=data, conversation_id=conversation_id)
        return _register_against(rows, data=data, email=email, conversation=conversation, actor=actor)


def _register_against(
    rows: list[Participant],
    *,
    data: RegistrationData,
    email: str,
    conversation: ConversationState | None,
    actor: str,
) -> RegisterResult:
    """Decide against existing rows (locked): already ours, someone else's, or reactivate."""
    conversation_id = conversation.conversation_id if conversation is not None else ""
    conversation_pk = _conversation_pk(conversation)
    by_cpf = next((row for row in rows if row.cpf == data.cpf), None)
    by_email = next((row for row in rows if row.email.lower() == email), None)

    def mine(row: Participant) -> bool:
        return conversation_pk is not None and row.conversation_id == conversation_pk

    for name, row in (("cpf", by_cpf), ("email", by_email)):
        if row is not None and row.is_active and not mine(row):
            return _duplicate(name, data=data, conversation_id=conversation_id, actor=actor)
    for row in (by_cpf, by_email):
        if row is not None and row.is_active and mine(row):
            return RegisterResult(outcome="already_registered", participant_id=row.pk)
    if data.for_other:
        # Someone registered from this phone for another person never takes over
        # a registration of this conversation (the owner's own, even cancelled).
        for name, row in (("cpf", by_cpf), ("email", by_email)):
            if row is not None and mine(row):
                return _duplicate(name, data=data, conversation_id=conversation_id, actor=actor)
    # A cancelled registration comes back only from its own conversation:
    # from another phone, someone else's CPF would reactivate *her* record
    # with another name and e-mail, and lock her out.
    for name, row in (("cpf", by_cpf), ("email", by_email)):
        if row is not None and not mine(row):
            return _duplicate(name, data=data, conversation_id=conversation_id, actor=actor)
    if by_cpf is not None and by_email is not None and by_cpf.pk != by_email.pk:
        # Two cancelled registrations, one with this CPF and another with this
        # e-mail: they cannot be merged without the organizers.
        return _duplicate("email", data=data, conversation_id=conversation_id, actor=actor)
    row = by_cpf or by_email
    assert row is not None
    row.full_name = data.full_name
    row.email = email
    row.cpf = data.cpf
    row.phone = data.phone
    row.city = data.city
    row.city_ibge_code = data.city_ibge_code
    row.uf = data.uf
    row.district = data.district
    row.profile_id = data.profile_id
    row.consent_at = data.consent_at
    row.consent_version = data.consent_version
    row.status = Participant.Status.CONFIRMED
    row.conversation_id = conversation_pk
    row.confirmation_email_status = Participant.EmailStatus.PENDING
    row.confirmation_email_sent_at = None
    try:
        with transaction.atomic():
            row.save()
    except IntegrityError:
        return _duplicate("email", data=data, conversation_id=conversation_id, actor=actor)
    registration_event_record(
        kind=Kind.REACTIVATED,
        participant=row,
        conversation_id=conversation_id,
        detail=f"cpf {mask_cpf(data.cpf)}, e-mail {mask_email(email)}",
        actor=actor,
    )
    return _placed("reactivated", row, data=data, conversation_id=conversation_id)


def _placed(outcome: str, participant: Participant, *, data: RegistrationData, conversation_id: str) -> RegisterResult:
    """Seat, price and charge (payments): confirmed, pending_payment or waitlisted; the e-mail when confirmed."""
    from payments.services import participant_place, placement_replies

    placement = participant_place(participant, ticket_id=data.ticket_id, conversation_id=conversation_id)
    replies: tuple[str, ...] = ()
    if placement.status != Participant.Status.CONFIRMED or data.ticket_id is not None:
        replies = tuple(placement_replies(participant))
        if placement.status == Participant.Status.CONFIRMED:
            replies = ()  # a free category: the usual confirmation (with the code) says it all
    return RegisterResult(
        outcome=outcome, participant_id=participant.pk, status=placement.status, code=participant.code or "",
        replies=replies,
    )


def _duplicate(name: str, *, data: RegistrationData, conversation_id: str, actor: str) -> RegisterResult:
    value = mask_cpf(data.cpf) if name == "cpf" else mask_email(data.email)
    registration_event_record(
        kind=Kind.DUPLICATE_REFUSED,
        conversation_id=conversation_id,
        detail=f"{name} {value} already registered",
        actor=actor,
    )
    return RegisterResult(outcome="duplicate", field=name)


def participant_update(
    *,
    participant: Participant,
    changes: Mapping[str, Any],
    actor: str = PARTICIPANT_ACTOR,
    conversation_id: str = "",
) -> UpdateResult:
    """Change some fields of an active registration (values already validated).

    Returns ``updated``, ``unchanged``, ``duplicate`` (``field`` = ``cpf`` or
    ``email``: another registration holds it; nothing changed) or
    ``not_found`` (the registration is cancelled or gone).
    """
    unknown = set(changes) - UPDATABLE_FIELDS - {"profile_name"}
    if unknown:
        raise ValueError(f"participant_update cannot change {sorted(unknown)}")
    with transaction.atomic():
        row = Participant.objects.select_for_update().filter(pk=participant.pk).first()
        if row is None or not row.is_active:
            return UpdateResult(outcome="not_found")
        changed: list[str] = []
        for name, value in changes.items():
            if name == "profile_name":
                continue
            if name == "email":
                value = str(value).strip().lower()
            if name == "profile_id" and not Profile.objects.filter(pk=value, active=True).exists():
                raise ValueError(f"profile {value} is not an active profile")
            if getattr(row, name) != value:
                setattr(row, name, value)
                changed.append(name)
        if not changed:
            return UpdateResult(outcome="unchanged")
        try:
            with transaction.atomic():
                row.save(update_fields=[*changed, "updated_at"])
        except IntegrityError:
            name = "cpf" if "cpf" in changed else "email"
            registration_event_record(
                kind=Kind.DUPLICATE_REFUSED,
                participant=row,
                conversation_id=conversation_id,
                detail=f"{name} already registered (correction refused)",
                actor=actor,
            )
            return UpdateResult(outcome="duplicate", field=name)
        registration_event_record(
            kind=Kind.UPDATED,
            participant=row,
            conversation_id=conversation_id,
            # Field names only: never a value in the audit trail.
            detail=", ".join(sorted(changed)),
            actor=actor,
        )
    participant.refresh_from_db()
    return UpdateResult(outcome="updated")


def participant_cancel(
    *,
    participant: Participant,
    actor: str = PARTICIPANT_ACTOR,
    reason: str = "",
    conversation_id: str = "",
) -> bool:
    """Cancel an active registration (the row is kept; registering again re-activates it).

    Returns False when it was not active (nothing to do). Compare-and-swap, so
    two simultaneous cancels record one event.
    """
    now = timezone.now()
    with transaction.atomic():
        changed = Participant.objects.filter(pk=participant.pk, status__in=ACTIVE_STATUSES).update(
            status=Participant.Status.CANCELLED, offer_expires_at=None, payment_due_at=None, updated_at=now
        )
        if changed:
            registration_event_record(
                kind=Kind.CANCELLED,
                participant=participant.pk,
                conversation_id=conversation_id,
                detail=reason[:500],
                actor=actor,
            )
            from payments.services import charges_cancel_for

            # An open Pix charge is cancelled with it, and its seat goes to the waitlist.
            participant.refresh_from_db(fields=["profile"])
            charges_cancel_for(participant, reason=reason or "cancelada", now=now)
    participant.refresh_from_db(fields=["status", "updated_at"])
    return bool(changed)


def participant_resend_confirmation(*, participant: Participant, actor: str = PARTICIPANT_ACTOR, conversation_id: str = "") -> bool:
    """Send the confirmation e-mail again, on purpose (participant or admin).

    Resets the e-mail status to pending (releasing any claim) and enqueues the
    task on commit. Returns False for a cancelled registration.
    """
    with transaction.atomic():
        changed = Participant.objects.filter(pk=participant.pk, status=Participant.Status.CONFIRMED).update(
            confirmation_email_status=Participant.EmailStatus.PENDING,
            confirmation_email_sent_at=None,
        )
        if not changed:
            return False
        registration_event_record(
            kind=Kind.EMAIL_RESEND,
            participant=participant.pk,
            conversation_id=conversation_id,
            detail="confirmation e-mail resend requested",
            actor=actor,
        )
        _enqueue_confirmation(participant.pk)
    participant.refresh_from_db(fields=["confirmation_email_status", "confirmation_email_sent_at"])
    return True


# --------------------------------------------------------------------------
# Confirmation e-mail: at most once per registration (unless resent)
# --------------------------------------------------------------------------
#
# States of (confirmation_email_status, confirmation_email_sent_at):
#   pending, NULL   -> not sent, free to claim
#   pending, <time> -> claimed at <time> by a task that is sending now
#   sent,    <time> -> sent
#   failed,  NULL   -> given up after the retries (the admin can resend)
# The claim is a compare-and-swap UPDATE, so two tasks for one participant
# (a retried delivery, a sweep) never both send. A worker that dies between
# the claim and the SMTP reply leaves the claim in place: the e-mail is not
# sent twice (at most once), and the admin sees "pending" and can resend.


def confirmation_email_claim(*, participant_id: int) -> Any | None:
    """Claim the right to send; returns the claim timestamp, or None if not ours."""
    now = timezone.now()
    claimed = Participant.objects.filter(
        pk=participant_id,
        status=Participant.Status.CONFIRMED,
        confirmation_email_status=Participant.EmailStatus.PENDING,
        confirmation_email_sent_at__isnull=True,
    ).update(confirmation_email_sent_at=now)
    return now if claimed else None


def confirmation_email_release(*, participant_id: int, claimed_at: Any) -> None:
    """Give the claim back after a failed attempt, so a retry may claim again."""
    Participant.objects.filter(
        pk=participant_id,
        confirmation_email_status=Participant.EmailStatus.PENDING,
        confirmation_email_sent_at=claimed_at,
    ).update(confirmation_email_sent_at=None)


def confirmation_email_send(*, participant_id: int) -> bool:
    """Claim, build and send the confirmation e-mail; True if it was sent now.

    Raises ``registrations.emails.EmailError`` (after releasing the claim)
    when the mail server fails; the task decides whether to retry.
    """
    from registrations.emails import EmailError, confirmation_message, send_message

    claimed_at = confirmation_email_claim(participant_id=participant_id)
    if claimed_at is None:
        logger.info("Confirmation e-mail for participant %s already sent, claimed or not due", participant_id)
        return False
    participant = Participant.objects.select_related("profile__event", "ticket").get(pk=participant_id)
    try:
        send_message(confirmation_message(participant))
    except EmailError:
        confirmation_email_release(participant_id=participant_id, claimed_at=claimed_at)
        raise
    sent_at = timezone.now()
    with transaction.atomic():
        Participant.objects.filter(pk=participant_id, confirmation_email_sent_at=claimed_at).update(
            confirmation_email_status=Participant.EmailStatus.SENT, confirmation_email_sent_at=sent_at
        )
        registration_event_record(
            kind=Kind.EMAIL_SENT,
            participant=participant_id,
            detail=f"to {mask_email(participant.email)}",
            actor=SYSTEM_ACTOR,
        )
    return True


def confirmation_email_fail(*, participant_id: int, reason: str) -> None:
    """Give up on the confirmation e-mail: status failed, visible in the admin."""
    with transaction.atomic():
        changed = Participant.objects.filter(
            pk=participant_id, confirmation_email_status=Participant.EmailStatus.PENDING
        ).update(confirmation_email_status=Participant.EmailStatus.FAILED, confirmation_email_sent_at=None)
        if changed:
            registration_event_record(
                kind=Kind.EMAIL_FAILED, participant=participant_id, detail=reason[:500], actor=SYSTEM_ACTOR
            )


def confirmation_emails_due(*, older_than: timedelta = timedelta(minutes=10)) -> list[int]:
    """Active participants whose e-mail is pending and unclaimed for a while (lost enqueues)."""
    cutoff = timezone.now() - older_than
    return list(
        Participant.objects.filter(
            status=Participant.Status.CONFIRMED,
            confirmation_email_status=Participant.EmailStatus.PENDING,
            confirmation_email_sent_at__isnull=True,
            updated_at__lt=cutoff,
        ).values_list("pk", flat=True)[:500]
    )
