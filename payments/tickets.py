"""Ticket categories at registration: which fit a profile, the current lot and its price, the seats.

Seats are decided under row locks: every allocation locks the event's row
first (``SELECT ... FOR UPDATE``), then counts who holds a seat, so two
conversations confirming at the same instant are serialized and the count
each sees includes the other's seat. A pre-check never decides.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Count, Q

from chatbot.models import Event, TicketCategory, TicketLot
from registrations.models import SEAT_STATUSES, Participant


@dataclass(frozen=True)
class Price:
    """What a category costs now: the amount and the lot it comes from ("" = the category's own price)."""

    amount: Decimal
    lot_name: str = ""
    lot_ends_at: datetime.datetime | None = None

    @property
    def free(self) -> bool:
        return self.amount <= 0


def seat_holders_q(now: datetime.datetime) -> Q:
    """Registrations that hold a seat: awaiting payment, confirmed, or offered a freed seat right now."""
    return Q(status__in=SEAT_STATUSES) | Q(status=Participant.Status.WAITLISTED, offer_expires_at__gt=now)


def eligible_tickets(event: Event | None, profile_id: int | None) -> list[TicketCategory]:
    """The active categories a profile may choose (a category with no profiles listed fits everyone)."""
    if event is None:
        return []
    categories = list(
        TicketCategory.objects.filter(event=event, active=True).prefetch_related("profiles").order_by("order", "id")
    )
    return [
        category
        for category in categories
        if not category.profiles.all() or any(profile.pk == profile_id for profile in category.profiles.all())
    ]


def _lot_counts(category: TicketCategory, now: datetime.datetime) -> dict[str, int]:
    rows = (
        Participant.objects.filter(seat_holders_q(now), ticket=category)
        .values("lot_name")
        .annotate(n=Count("id"))
        .values_list("lot_name", "n")
    )
    return dict(rows)


def current_price(
    category: TicketCategory,
    *,
    now: datetime.datetime,
    lots: Iterable[TicketLot] | None = None,
    sold: dict[str, int] | None = None,
) -> Price:
    """The first lot (by order) whose dates include ``now`` and whose quantity is not sold; else the category price."""
    lots = list(category.lots.all()) if lots is None else list(lots)
    if sold is None:
        sold = _lot_counts(category, now) if any(lot.quantity is not None for lot in lots) else {}
    for lot in sorted(lots, key=lambda lot: (lot.order, lot.pk or 0)):
        if lot.starts_at is not None and now < lot.starts_at:
            continue
        if lot.ends_at is not None and now >= lot.ends_at:
            continue
        if lot.quantity is not None and sold.get(lot.name, 0) >= lot.quantity:
            continue
        return Price(amount=lot.price, lot_name=lot.name, lot_ends_at=lot.ends_at)
    return Price(amount=category.price)


@dataclass(frozen=True)
class Seats:
    """Why a registration can or cannot hold a seat now."""

    available: bool
    category_full: bool = False
    event_full: bool = False


def seats_for(category: TicketCategory | None, *, event: Event | None, now: datetime.datetime, exclude_pk: int | None = None) -> Seats:
    """Whether one more seat fits in ``category`` and in the event. Call with the event row locked."""
    holders = Participant.objects.filter(seat_holders_q(now))
    if exclude_pk is not None:
        holders = holders.exclude(pk=exclude_pk)
    category_full = bool(
        category is not None and category.capacity is not None and holders.filter(ticket=category).count() >= category.capacity
    )
    event_full = bool(
        event is not None
        and event.capacity is not None
        and holders.filter(profile__event=event).count() >= event.capacity
    )
    return Seats(available=not (category_full or event_full), category_full=category_full, event_full=event_full)


def lock_event(event_id: int) -> Event | None:
    """Lock the event's row for this transaction: every seat decision goes through it, one at a time."""
    return Event.objects.select_for_update().filter(pk=event_id).first()




def format_brl(amount: Decimal) -> str:
    """``Decimal("1480.5")`` -> ``"R$ 1.480,50"`` (pt-BR; zero reads "R$ 0,00", unlike chatbot's format_price)."""
    quantized = Decimal(amount).quantize(Decimal("0.01"))
    whole, cents = f"{quantized:,.2f}".split(".")
    return f"R$ {whole.replace(',', '.')},{cents}"


def ticket_options(event: Event | None, *, now: datetime.datetime):
    """The event's active categories as the registration flow offers them (price now, sold out or not).

    Three queries (categories, their profiles, their lots) plus one count of
    the seats held per category when any capacity is set.
    """
    from chatbot.knowledge import format_price
    from registrations.flow import TicketOption

    if event is None:
        return ()
    categories = list(
        TicketCategory.objects.filter(event=event, active=True).prefetch_related("profiles", "lots").order_by("order", "id")
    )
    if not categories:
        return ()
    held: dict[int | None, int] = {}
    if event.capacity is not None or any(category.capacity is not None for category in categories):
        held = dict(
            Participant.objects.filter(seat_holders_q(now), profile__event=event)
            .values("ticket_id")
            .annotate(n=Count("id"))
            .values_list("ticket_id", "n")
        )
    event_full = event.capacity is not None and sum(held.values()) >= event.capacity
    options = []
    for category in categories:
        price = current_price(category, now=now)
        price_text = format_price(price.amount) + (f" ({price.lot_name})" if price.lot_name else "")
        full = event_full or (category.capacity is not None and held.get(category.pk, 0) >= category.capacity)
        options.append(
            TicketOption(
                id=category.pk,
                name=category.name,
                price_text=price_text,
                profile_ids=tuple(profile.pk for profile in category.profiles.all()),
                full=full,
            )
        )
    return tuple(options)
