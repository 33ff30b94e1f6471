"""What the bot knows about tickets: today's price and lot, the next lot, who may buy, proof, seats."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

import chatbot.knowledge as knowledge
from chatbot.knowledge import get_knowledge_index, knowledge_documents, ticket_documents
from chatbot.models import Event, Profile, TicketCategory, TicketLot
from congress.testing.factories import make_event, make_participant
from registrations.models import Participant

pytestmark = pytest.mark.django_db

# The 1st lot is sold until 31/03 (it ends on 01/04 at 0h local time); the 2nd from then on.
SWITCH = timezone.make_aware(dt.datetime(2027, 4, 1))
BEFORE = SWITCH - dt.timedelta(days=10)
AFTER = SWITCH + dt.timedelta(days=1)


@pytest.fixture
def event() -> Event:
    return make_event(starts_on=dt.date(2027, 5, 11), ends_on=dt.date(2027, 5, 13))


@pytest.fixture
def profiles(event) -> dict[str, Profile]:
    return {
        name: Profile.objects.create(event=event, name=name, keywords=name.lower(), order=order)
        for order, name in enumerate(["Pesquisador(a)", "Estudante", "Outro"])
    }


@pytest.fixture
def professional(event, profiles) -> TicketCategory:
    category = TicketCategory.objects.create(
        event=event, name="Profissional", price=Decimal("1580.00"), description="acesso aos três dias", order=0
    )
    category.profiles.add(profiles["Pesquisador(a)"], profiles["Outro"])
    TicketLot.objects.create(category=category, name="1º lote", price=Decimal("1480.00"), ends_at=SWITCH, order=0)
    TicketLot.objects.create(category=category, name="2º lote", price=Decimal("1580.00"), starts_at=SWITCH, order=1)
    return category


@pytest.fixture
def student(event, profiles) -> TicketCategory:
    category = TicketCategory.objects.create(
        event=event, name="Estudante", price=Decimal("240.00"), proof=TicketCategory.Proof.STUDENT, capacity=2, order=1
    )
    category.profiles.add(profiles["Estudante"])
    return category


@pytest.fixture
def fair(event) -> TicketCategory:
    return TicketCategory.objects.create(event=event, name="Visitante da feira", price=Decimal("0"), order=2)


def docs_at(event: Event, now: dt.datetime) -> dict[str, str]:
    return {doc.id: doc.text for doc in ticket_documents(event, now=now).docs}


def hold_seat(category: TicketCategory, profile: Profile, *, lot_name: str = "", status=Participant.Status.CONFIRMED):
    return make_participant(profile=profile, ticket=category, lot_name=lot_name, status=status)


# --- prices and lots ---------------------------------------------------------------


def test_the_summary_and_the_category_state_the_current_lot_until_when_and_the_next(event, professional):
    docs = docs_at(event, BEFORE)
    assert (
        "• Profissional: R$ 1.480,00 (1º lote, inscrições até 31/03/2027); a partir de 01/04/2027, R$ 1.580,00 (2º lote)"
        in docs["event:tickets"]
    )
    own = docs[f"ticket:{professional.pk}"]
    assert own.startswith("🎟️ *Profissional*: R$ 1.480,00 (1º lote, inscrições até 31/03/2027)")
    assert "A partir de 01/04/2027, R$ 1.580,00 (2º lote)." in own


def test_the_price_changes_when_the_date_passes_the_lots_end(event, professional):
    before, after = docs_at(event, BEFORE), docs_at(event, AFTER)
    assert "R$ 1.480,00" in before["event:tickets"]
    assert "• Profissional: R$ 1.580,00 (2º lote) — acesso aos três dias." in after["event:tickets"]
    assert "1º lote" not in after["event:tickets"] and "R$ 1.480,00" not in after[f"ticket:{professional.pk}"]


def test_the_first_lot_ends_exactly_at_its_end_time(event, professional):
    assert "R$ 1.480,00" in docs_at(event, SWITCH - dt.timedelta(seconds=1))["event:tickets"]
    assert "R$ 1.480,00" not in docs_at(event, SWITCH)["event:tickets"]


def test_a_lot_sold_out_by_quantity_gives_way_to_the_next_one(event, professional, profiles):
    first = professional.lots.get(name="1º lote")
    first.quantity = 2
    first.save()
    hold_seat(professional, profiles["Outro"], lot_name="1º lote")
    assert (
        "R$ 1.480,00 (1º lote, inscrições até 31/03/2027 ou enquanto durar)" in docs_at(event, BEFORE)["event:tickets"]
    )
    hold_seat(professional, profiles["Outro"], lot_name="1º lote", status=Participant.Status.PENDING_PAYMENT)
    # Awaiting payment holds the seat too: the 1st lot is gone before its date.
    assert "• Profissional: R$ 1.580,00" in docs_at(event, BEFORE)["event:tickets"]


def test_expired_and_cancelled_registrations_do_not_use_up_a_lot(event, professional, profiles):
    first = professional.lots.get(name="1º lote")
    first.quantity = 1
    first.save()
    hold_seat(professional, profiles["Outro"], lot_name="1º lote", status=Participant.Status.EXPIRED)
    hold_seat(professional, profiles["Outro"], lot_name="1º lote", status=Participant.Status.CANCELLED)
    assert "R$ 1.480,00 (1º lote" in docs_at(event, BEFORE)["event:tickets"]


def test_after_the_last_lot_the_category_price_applies(event, profiles):
    category = TicketCategory.objects.create(event=event, name="Sócio", price=Decimal("500.00"))
    TicketLot.objects.create(category=category, name="Pré-venda", price=Decimal("400.00"), ends_at=SWITCH)
    before, after = docs_at(event, BEFORE), docs_at(event, AFTER)
    assert "• Sócio: R$ 400,00 (Pré-venda, inscrições até 31/03/2027); depois, R$ 500,00." in before["event:tickets"]
    assert "• Sócio: R$ 500,00." in after["event:tickets"]


def test_a_lot_ending_during_the_day_says_the_time(event, profiles):
    category = TicketCategory.objects.create(event=event, name="Sócio", price=Decimal("500.00"))
    ends = timezone.make_aware(dt.datetime(2027, 3, 15, 18, 0))
    TicketLot.objects.create(category=category, name="Pré-venda", price=Decimal("400.00"), ends_at=ends)
    assert (
        "(Pré-venda, inscrições até 15/03/2027 às 18h)"
        in docs_at(event, BEFORE - dt.timedelta(days=30))["event:tickets"]
    )


# --- who may buy, proof, free ------------------------------------------------------


def test_the_category_says_which_profiles_may_choose_it(event, professional, profiles):
    text = docs_at(event, BEFORE)[f"ticket:{professional.pk}"]
    assert "Quem pode escolher: Pesquisador(a), Outro." in text
    profiles["Outro"].active = False
    profiles["Outro"].save()
    assert "Quem pode escolher: Pesquisador(a)." in docs_at(event, BEFORE)[f"ticket:{professional.pk}"]


def test_a_category_without_profiles_is_open_to_any(event, fair):
    assert "Qualquer perfil pode escolher." in docs_at(event, BEFORE)[f"ticket:{fair.pk}"]


def test_a_category_that_requires_proof_says_so_and_how_it_is_sent(event, student):
    docs = docs_at(event, BEFORE)
    assert "Exige comprovante de estudante." in docs["event:tickets"]
    assert "envie aqui no chat a foto ou o PDF do comprovante" in docs[f"ticket:{student.pk}"]


def test_a_free_category_reads_gratuita_and_confirms_at_once(event, fair, professional):
    docs = docs_at(event, BEFORE)
    assert docs[f"ticket:{fair.pk}"].startswith("🎟️ *Visitante da feira*: gratuita — a inscrição é confirmada na hora.")
    assert "• Visitante da feira: gratuito" in docs["event:tickets"]
    assert "gratuit" not in docs[f"ticket:{professional.pk}"]


def test_inactive_categories_are_not_knowledge(event, professional, student):
    student.active = False
    student.save()
    docs = docs_at(event, BEFORE)
    assert f"ticket:{student.pk}" not in docs
    assert "Estudante" not in docs["event:tickets"]
    assert f"ticket:{professional.pk}" in docs


def test_an_event_without_active_categories_has_no_ticket_documents(event, student):
    TicketCategory.objects.update(active=False)
    ids = {doc.id for doc in knowledge_documents(event, now=BEFORE)}
    assert not {i for i in ids if i.startswith(("ticket:", "event:tickets"))}


# --- seats -------------------------------------------------------------------------------


def test_a_category_whose_seats_are_held_reads_sold_out_with_a_waitlist(event, student, professional, profiles):
    hold_seat(student, profiles["Estudante"])
    assert "Esgotada" not in docs_at(event, BEFORE)[f"ticket:{student.pk}"]
    hold_seat(student, profiles["Estudante"], status=Participant.Status.PENDING_PAYMENT)
    docs = docs_at(event, BEFORE)
    assert "⚠️ *Esgotada — lista de espera*" in docs[f"ticket:{student.pk}"]
    assert (
        "• Estudante: R$ 240,00. Exige comprovante de estudante. *Esgotada — lista de espera.*" in docs["event:tickets"]
    )
    assert "Esgotada" not in docs[f"ticket:{professional.pk}"]


def test_a_cancellation_frees_the_seat(event, student, profiles):
    holders = [hold_seat(student, profiles["Estudante"]) for _ in range(2)]
    assert "Esgotada" in docs_at(event, BEFORE)[f"ticket:{student.pk}"]
    Participant.objects.filter(pk=holders[0].pk).update(status=Participant.Status.CANCELLED)
    assert "Esgotada" not in docs_at(event, BEFORE)[f"ticket:{student.pk}"]


def test_a_seat_offered_to_the_waitlist_is_held_until_the_offer_lapses(event, student, profiles):
    hold_seat(student, profiles["Estudante"])
    make_participant(
        profile=profiles["Estudante"],
        ticket=student,
        status=Participant.Status.WAITLISTED,
        waitlisted_at=BEFORE,
        offer_expires_at=BEFORE + dt.timedelta(hours=24),
    )
    assert "Esgotada" in docs_at(event, BEFORE)[f"ticket:{student.pk}"]
    assert "Esgotada" not in docs_at(event, BEFORE + dt.timedelta(hours=25))[f"ticket:{student.pk}"]


def test_a_full_event_puts_every_category_on_the_waitlist(event, professional, fair, profiles):
    Event.objects.filter(pk=event.pk).update(capacity=1)
    event.refresh_from_db()
    hold_seat(fair, profiles["Outro"])
    docs = docs_at(event, BEFORE)
    assert "As vagas do evento esgotaram" in docs["event:tickets"]
    assert "Esgotada" in docs[f"ticket:{professional.pk}"] and "Esgotada" in docs[f"ticket:{fair.pk}"]


# --- cheap to build ---------------------------------------------------------------------


def _queries(event: Event) -> int:
    with CaptureQueriesContext(connection) as ctx:
        ticket_documents(event, now=BEFORE)
    return len(ctx.captured_queries)


def test_the_ticket_documents_cost_the_same_few_queries_whatever_the_number_of_categories(
    event, profiles, professional, student
):
    few = _queries(event)
    for n in range(5):
        category = TicketCategory.objects.create(event=event, name=f"Extra {n}", price=Decimal("100"), capacity=50)
        category.profiles.add(*profiles.values())
        TicketLot.objects.create(category=category, name="1º lote", price=Decimal("90"), ends_at=SWITCH, quantity=10)
    assert _queries(event) == few == 4  # categories, lots, profiles, seats held


def test_without_seat_limits_the_seats_are_not_counted(event, professional, fair):
    assert _queries(event) == 3


# --- the cached index: edits, lots and seats -------------------------------------------


@pytest.fixture
def clock(monkeypatch):
    """The knowledge index's clock, moved by the test."""
    now = {"value": BEFORE}
    monkeypatch.setattr(knowledge, "_now", lambda: now["value"])
    return now


def ticket_text(category: TicketCategory) -> str:
    return get_knowledge_index().doc(f"ticket:{category.pk}").text


def test_editing_a_lot_rebuilds_the_knowledge(event, professional, clock):
    before = get_knowledge_index()
    lot = professional.lots.get(name="1º lote")
    lot.price = Decimal("1380.00")
    lot.save()
    after = get_knowledge_index()
    assert after is not before and after.version != before.version
    assert "R$ 1.380,00" in ticket_text(professional)


def test_deleting_a_lot_rebuilds_the_knowledge(event, professional, clock):
    assert "1º lote" in ticket_text(professional)
    professional.lots.get(name="1º lote").delete()
    assert "1º lote" not in ticket_text(professional)


def test_changing_who_may_buy_rebuilds_the_knowledge(event, professional, profiles, clock):
    assert "Estudante" not in ticket_text(professional)
    professional.profiles.add(profiles["Estudante"])
    assert "Estudante" in ticket_text(professional)
    professional.profiles.remove(profiles["Estudante"])
    assert "Estudante" not in ticket_text(professional)


def test_the_cached_index_moves_to_the_next_lot_when_the_first_ends(event, professional, clock):
    before = get_knowledge_index()
    assert "R$ 1.480,00" in ticket_text(professional)
    clock["value"] = SWITCH - dt.timedelta(seconds=1)
    assert get_knowledge_index() is before
    clock["value"] = SWITCH
    after = get_knowledge_index()
    assert "R$ 1.580,00 (2º lote)" in ticket_text(professional) and "R$ 1.480,00" not in ticket_text(professional)
    # A new version: a cached answer quoting the old price is not served.
    assert after.version != before.version


def test_a_seat_taken_without_a_signal_shows_within_the_recheck_interval(event, student, profiles, clock):
    before = get_knowledge_index()
    holders = [hold_seat(student, profiles["Estudante"]) for _ in range(2)]
    Participant.objects.filter(pk__in=[p.pk for p in holders]).update(status=Participant.Status.CONFIRMED)
    assert "Esgotada" not in ticket_text(student)  # cached
    clock["value"] = BEFORE + dt.timedelta(seconds=knowledge._SEATS_RECHECK_S)
    assert "Esgotada" in ticket_text(student)
    assert get_knowledge_index().version != before.version


def test_a_recheck_that_finds_nothing_new_keeps_the_index_and_its_version(event, student, clock):
    before = get_knowledge_index()
    clock["value"] = BEFORE + dt.timedelta(seconds=knowledge._SEATS_RECHECK_S)
    with CaptureQueriesContext(connection) as ctx:
        again = get_knowledge_index()
    assert again is before and again.version == before.version
    assert len(ctx.captured_queries) <= 4
    # And the next recheck is due one interval later.
    assert again.tickets_expire_at == clock["value"] + dt.timedelta(seconds=knowledge._SEATS_RECHECK_S)


def test_without_lots_or_seat_limits_the_index_never_expires_by_time(event, fair, clock):
    assert get_knowledge_index().tickets_expire_at is None
