"""What the back-office shows about tickets, seats and money: read-only figures.

A fixed number of aggregate queries whatever the number of categories,
lots, participants and payments (the dashboard and the ticket list call
these once per page). The rules themselves (the current lot, who holds a
seat) are ``payments.tickets``'; this module only counts.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Count, DecimalField, Q, QuerySet, Sum, Value
from django.db.models.functions import Coalesce

from chatbot.models import Event, TicketCategory
from payments.models import Payment, Review
from payments.tickets import Price, current_price, format_brl, seat_holders_q
from registrations.models import Participant

__all__ = [
    "EventSeats",
    "TicketFigures",
    "event_seats",
    "format_brl",
    "overdue_payments",
    "pending_reviews",
    "ticket_figures",
]

ZERO = Decimal("0.00")
WAITLISTED = Participant.Status.WAITLISTED


@dataclass(frozen=True)
class TicketFigures:
    """One category now: its price, its seats and its money."""

    category: TicketCategory
    price: Price
    # Seat holders: awaiting payment + confirmed + waitlisted with a seat offered right now.
    held: int = 0
    confirmed: int = 0
    awaiting_payment: int = 0
    # Everyone on the waitlist, and those of them offered a freed seat right
    # now (they hold it until they answer or the offer ends).
    waitlist: int = 0
    offered: int = 0
    received: Decimal = ZERO  # paid charges
    outstanding: Decimal = ZERO  # pending charges

    @property
    def capacity(self) -> int | None:
        return self.category.capacity

    @property
    def free_seats(self) -> int | None:
        return None if self.capacity is None else max(self.capacity - self.held, 0)

    @property
    def full(self) -> bool:
        return self.capacity is not None and self.held >= self.capacity


@dataclass(frozen=True)
class EventSeats:
    event: Event
    capacity: int | None
    held: int
    waitlist: int

    @property
    def free_seats(self) -> int | None:
        return None if self.capacity is None else max(self.capacity - self.held, 0)


_COUNTED = ("held", "confirmed", "awaiting_payment", "offered", "waitlist")


def _status_counts(now: dt.datetime) -> dict[str, Count]:
    offered = Q(status=WAITLISTED, offer_expires_at__gt=now)
    return {
        "held": Count("pk", filter=seat_holders_q(now)),
        "confirmed": Count("pk", filter=Q(status=Participant.Status.CONFIRMED)),
        "awaiting_payment": Count("pk", filter=Q(status=Participant.Status.PENDING_PAYMENT)),
        "offered": Count("pk", filter=offered),
        "waitlist": Count("pk", filter=Q(status=WAITLISTED)),
    }


def ticket_figures(categories: Iterable[TicketCategory], *, now: dt.datetime) -> dict[int, TicketFigures]:
    """``{category id: TicketFigures}``: three queries for any number of categories.

    Pass categories with their lots prefetched (``prefetch_related("lots")``)
    or each one costs a query more.
    """
    categories = list(categories)
    if not categories:
        return {}
    ids = [category.pk for category in categories]
    rows = (
        Participant.objects.filter(ticket_id__in=ids)
        .values("ticket_id", "lot_name")
        .annotate(**_status_counts(now))
        .order_by()
    )
    counts: dict[int, dict[str, int]] = defaultdict(lambda: dict.fromkeys(_COUNTED, 0))
    sold: dict[int, dict[str, int]] = defaultdict(dict)
    for row in rows:
        totals = counts[row["ticket_id"]]
        for key in totals:
            totals[key] += row[key]
        # A lot's quantity counts the seat holders registered in it (payments.tickets' rule).
        sold[row["ticket_id"]][row["lot_name"]] = row["held"]
    money_field = DecimalField(max_digits=12, decimal_places=2)
    money = {
        row["participant__ticket_id"]: row
        for row in Payment.objects.filter(participant__ticket_id__in=ids)
        .values("participant__ticket_id")
        .annotate(
            received=Coalesce(
                Sum("amount", filter=Q(status=Payment.Status.PAID)), Value(ZERO), output_field=money_field
            ),
            outstanding=Coalesce(
                Sum("amount", filter=Q(status=Payment.Status.PENDING)), Value(ZERO), output_field=money_field
            ),
        )
        .order_by()
    }
    figures = {}
    for category in categories:
        paid = money.get(category.pk, {})
        figures[category.pk] = TicketFigures(
            category=category,
            price=current_price(category, now=now, lots=category.lots.all(), sold=sold[category.pk]),
            received=paid.get("received", ZERO),
            outstanding=paid.get("outstanding", ZERO),
            **counts[category.pk],
        )
    return figures


def event_seats(event: Event, *, now: dt.datetime) -> EventSeats:
    """The whole event's seats (every category, and registrations without one): one query."""
    counts = Participant.objects.filter(profile__event=event).aggregate(
        held=Count("pk", filter=seat_holders_q(now)), waitlist=Count("pk", filter=Q(status=WAITLISTED))
    )
    return EventSeats(event=event, capacity=event.capacity, held=counts["held"], waitlist=counts["waitlist"])


def overdue_payments(now: dt.datetime) -> QuerySet[Payment]:
    """Charges still open after their due time (the sweep expires them; any left here need a look)."""
    return Payment.objects.filter(status=Payment.Status.PENDING, due_at__lt=now)


def pending_reviews() -> QuerySet[Review]:
    return Review.objects.filter(status=Review.Status.PENDING)
