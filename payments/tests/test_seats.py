"""Seats, lots and the waitlist: decided by the database (the event's row lock), never by a pre-check."""

from __future__ import annotations

import datetime as dt
import threading
from decimal import Decimal

import pytest
from django.db import close_old_connections, connection, transaction
from django.utils import timezone

from chatbot.models import Profile, TicketLot
from payments import services
from payments.models import Payment
from payments.tests.helpers import make_cpf, new_number, participant_of, register, say
from payments.tickets import current_price
from registrations.flow import RegistrationData
from registrations.models import Participant, RegistrationEvent
from registrations.services import participant_register

pytestmark = pytest.mark.django_db(transaction=True)

Status = Participant.Status


def _data(seed: int, profile: Profile, ticket_id: int) -> RegistrationData:
    return RegistrationData(
        full_name=f"Pessoa {seed}", email=f"pessoa{seed}@example.com", cpf=make_cpf(seed), phone="+5543988887777",
        city="Londrina", city_ibge_code=4113700, uf="PR", profile_id=profile.pk, consent_at=timezone.now(),
        consent_version="2026-11", ticket_id=ticket_id,
    )


def test_eight_participants_racing_for_the_last_two_seats_end_with_exactly_two(tickets, static_pix):
    if connection.vendor != "postgresql":
        pytest.skip("row locks need PostgreSQL")
    category = tickets["rural"]
    profile = category.profiles.get()
    category.capacity = 5
    category.save()
    for seed in range(3):  # three seats already held
        with transaction.atomic():
            participant_register(data=_data(200 + seed, profile, category.pk))
    barrier = threading.Barrier(8)
    outcomes: list[str] = []
    errors: list[BaseException] = []

    def race(seed: int) -> None:
        try:
            close_old_connections()
            barrier.wait(timeout=10)
            with transaction.atomic():
                result = participant_register(data=_data(300 + seed, profile, category.pk))
            outcomes.append(result.status)
        except BaseException as error:
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=race, args=(seed,)) for seed in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors
    assert sorted(outcomes) == sorted([Status.PENDING_PAYMENT] * 2 + [Status.WAITLISTED] * 6)
    holders = Participant.objects.filter(ticket=category, status__in=(Status.PENDING_PAYMENT, Status.CONFIRMED))
    assert holders.count() == 5
    assert Payment.objects.filter(participant__ticket=category, status=Payment.Status.PENDING).count() == 5


def test_the_event_capacity_counts_every_category(tickets, static_pix):
    event = tickets["rural"].event
    event.capacity = 1
    event.save()
    first = _data(400, tickets["rural"].profiles.get(), tickets["rural"].pk)
    second = _data(401, tickets["pro"].profiles.first(), tickets["pro"].pk)
    assert participant_register(data=first).status == Status.PENDING_PAYMENT
    assert participant_register(data=second).status == Status.WAITLISTED


def test_expiry_releases_the_seat_and_the_waitlist_claim_window_passes_to_the_next(
    tickets, static_pix, settings, fake_gateway, celery_eager, fast_retries
):
    category = tickets["rural"]
    category.capacity = 1
    category.save()
    first, second, third = new_number(), new_number(), new_number()
    register(first, cpf=make_cpf(501), email="a501@example.com", profile="produtor rural", ticket="1")
    reply = register(second, cpf=make_cpf(502), email="a502@example.com", profile="produtor rural", ticket="1")
    assert "lista de espera" in reply and "posição 1" in reply
    reply = register(third, cpf=make_cpf(503), email="a503@example.com", profile="produtor rural", ticket="1")
    assert "posição 2" in reply
    assert participant_of(second).status == participant_of(third).status == Status.WAITLISTED

    start = timezone.now()
    # 24 h before the deadline: one reminder, never two.
    assert services.payments_sweep(now=start + dt.timedelta(hours=49))["reminded"] == 1
    assert services.payments_sweep(now=start + dt.timedelta(hours=50))["reminded"] == 0
    # The deadline passes: the seat is released and offered to the first in line.
    counts = services.payments_sweep(now=start + dt.timedelta(hours=74))
    assert (counts["expired"], counts["offered"]) == (1, 1)
    assert participant_of(first).status == Status.EXPIRED
    assert Payment.objects.get(participant=participant_of(first)).status == Payment.Status.EXPIRED
    offered = participant_of(second)
    assert offered.offer_expires_at is not None and participant_of(third).offer_expires_at is None
    # The offer holds the seat: a newcomer waits.
    late = new_number()
    assert "lista de espera" in register(late, cpf=make_cpf(504), email="a504@example.com", profile="produtor rural", ticket="1")
    # Nobody answers within WAITLIST_CLAIM_HOURS: the offer passes to the next.
    counts = services.payments_sweep(now=offered.offer_expires_at + dt.timedelta(minutes=1))
    assert (counts["offers_lapsed"], counts["offered"]) == (1, 1)
    assert participant_of(second).status == Status.EXPIRED
    assert participant_of(third).offer_expires_at is not None
    # The third says "sim" (the offer is still open in real time): a seat, a charge.
    Participant.objects.filter(pk=participant_of(third).pk).update(offer_expires_at=timezone.now() + dt.timedelta(hours=1))
    reply = say(third, "sim")
    assert "falta o pagamento" in reply
    claimed = participant_of(third)
    assert claimed.status == Status.PENDING_PAYMENT and claimed.offer_expires_at is None
    assert Payment.objects.get(participant=claimed, status=Payment.Status.PENDING).amount == Decimal("320.00")
    kinds = set(RegistrationEvent.objects.filter(participant=claimed).values_list("kind", flat=True))
    assert {"waitlisted", "seat_offered", "seat_claimed", "payment_created"} <= kinds
    # Everyone was told on WhatsApp.
    texts = [r.text for r in fake_gateway.delivered()]
    assert any("Lembrete" in t for t in texts)
    assert any("prazo de pagamento" in t for t in texts)
    assert sum("Abriu uma vaga" in t for t in texts) == 2
    # The one whose charge expired can register again.
    assert "Inscrição expirada" in say(first, "minha inscrição")
    assert participant_of(first).is_active is False


def test_a_cancellation_offers_the_seat_and_no_declines_it(tickets, static_pix, celery_eager):
    category = tickets["rural"]
    category.capacity = 1
    category.save()
    first, second = new_number(), new_number()
    register(first, cpf=make_cpf(601), email="a601@example.com", profile="produtor rural", ticket="1")
    register(second, cpf=make_cpf(602), email="a602@example.com", profile="produtor rural", ticket="1")
    say(first, "cancelar minha inscrição")
    say(first, "sim")
    assert participant_of(first).status == Status.CANCELLED
    assert Payment.objects.get(participant=participant_of(first)).status == Payment.Status.CANCELLED
    assert participant_of(second).offer_expires_at is not None
    # A bare "não" may answer something else: the seat stays held and the way to give it up is said.
    assert "não quero a vaga" in say(second, "não")
    assert participant_of(second).status == Status.WAITLISTED and participant_of(second).offer_expires_at
    assert "liberei a vaga" in say(second, "não quero a vaga")
    assert participant_of(second).status == Status.CANCELLED


def test_the_current_lot_follows_dates_and_quantities(tickets):
    category = tickets["pro"]
    category.lots.all().delete()
    now = timezone.now()
    TicketLot.objects.create(category=category, name="1º lote", price=Decimal("400.00"), order=1, quantity=1)
    TicketLot.objects.create(category=category, name="2º lote", price=Decimal("480.00"), order=2, ends_at=now + dt.timedelta(days=1))
    assert current_price(category, now=now).lot_name == "1º lote"
    Participant.objects.create(
        full_name="X", email="x@example.com", cpf=make_cpf(700), phone="+5543988887777", city="Londrina", uf="PR",
        profile=category.profiles.first(), consent_at=now, consent_version="v", ticket=category, lot_name="1º lote",
        status=Status.PENDING_PAYMENT,
    )
    price = current_price(category, now=now)
    assert (price.lot_name, price.amount) == ("2º lote", Decimal("480.00"))
    price = current_price(category, now=now + dt.timedelta(days=2))
    assert (price.lot_name, price.amount) == ("", Decimal("580.00"))
