"""Small factories for the back-office tests: categories, registrations in any
status, charges and reviews as the services leave them, and logged-in members
of each admin role."""

from __future__ import annotations

import datetime as dt
import itertools
from decimal import Decimal

from django.contrib.auth.models import Group, Permission, User
from django.utils import timezone

from chatbot.models import Event, TicketCategory, TicketLot
from congress.roles import ORGANIZERS, STAFF
from congress.testing.factories import make_participant
from payments.models import Payment, Review
from registrations.codes import new_code
from registrations.models import Participant

Status = Participant.Status
_seq = itertools.count(1)

# A 1x1 PNG and a minimal PDF, as a phone would send them.
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
)
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def make_ticket(
    event: Event,
    *,
    name: str,
    price: str | Decimal = "480.00",
    capacity: int | None = None,
    lots: tuple[dict, ...] = (),
    profiles=(),
    **extra,
) -> TicketCategory:
    ticket = TicketCategory.objects.create(event=event, name=name, price=Decimal(price), capacity=capacity, **extra)
    for order, lot in enumerate(lots, start=1):
        TicketLot.objects.create(category=ticket, order=lot.pop("order", order), **lot)
    if profiles:
        ticket.profiles.set(profiles)
    return ticket


def registered(
    ticket: TicketCategory | None,
    *,
    status: str = Status.CONFIRMED,
    amount: str | Decimal | None = None,
    lot_name: str = "",
    **extra,
) -> Participant:
    """A registration as ``participant_place`` leaves it (code, category, lot, amount, dates)."""
    now = timezone.now()
    values = {
        "status": status,
        "code": new_code(),
        "ticket": ticket,
        "lot_name": lot_name,
        "amount": Decimal(amount) if amount is not None else (ticket.price if ticket is not None else Decimal(0)),
    }
    if ticket is not None:
        values["profile"] = ticket.event.profiles.order_by("order", "id").first()
    if status == Status.PENDING_PAYMENT:
        values["payment_due_at"] = now + dt.timedelta(hours=72)
    if status == Status.CONFIRMED and values["amount"]:
        values["paid_at"] = now
    if status == Status.WAITLISTED:
        values["waitlisted_at"] = now
        values["amount"] = Decimal(0)
    values.update(extra)
    return make_participant(**values)


def charge(
    participant: Participant,
    *,
    status: str = Payment.Status.PENDING,
    amount: str | Decimal | None = None,
    due_at: dt.datetime | None = None,
    mode: str = Payment.Mode.STATIC,
    **extra,
) -> Payment:
    now = timezone.now()
    return Payment.objects.create(
        participant=participant,
        txid=f"{(participant.code or 'X').replace('-', '')}T{next(_seq)}",
        mode=mode,
        amount=Decimal(amount) if amount is not None else participant.amount,
        status=status,
        due_at=due_at or now + dt.timedelta(hours=72),
        paid_at=now if status in (Payment.Status.PAID, Payment.Status.REFUNDED) else None,
        **extra,
    )


def review(
    participant: Participant,
    *,
    kind: str = Review.Kind.RECEIPT,
    content: bytes | None = PNG,
    mimetype: str = "image/png",
    filename: str = "comprovante.png",
    payment: Payment | None = None,
    status: str = Review.Status.PENDING,
) -> Review:
    return Review.objects.create(
        participant=participant,
        payment=payment,
        kind=kind,
        content=content,
        mimetype=mimetype,
        filename=filename,
        size=len(content or b""),
        status=status,
    )


def member(client, group_name: str, *, username: str | None = None):
    user = User.objects.create_user(
        username=username or f"m-{group_name.lower()}-{next(_seq)}", password="x-Very-long-pass-123", is_staff=True
    )
    user.groups.add(Group.objects.get(name=group_name))
    client.force_login(user)
    return client


def staff_with(client, *perms: str, username: str = "parcial"):
    """A staff user holding exactly ``perms`` ("app_label.codename")."""
    user = User.objects.create_user(username=username, password="x-Very-long-pass-123", is_staff=True)
    for perm in perms:
        app_label, codename = perm.split(".")
        user.user_permissions.add(Permission.objects.get(content_type__app_label=app_label, codename=codename))
    client.force_login(user)
    return client


ROLES = ("superuser", ORGANIZERS, STAFF)
