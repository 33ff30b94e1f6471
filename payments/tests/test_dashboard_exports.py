"""The dashboard's paid-registration figures (per category: seats, waitlist,
money; the event's seats; receipts to review; overdue charges) and the
exports' payment columns, after a known mix of registrations."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from decimal import Decimal
from html import unescape

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from congress.roles import STAFF
from payments.models import Payment, Review
from payments.tests.admin_factories import charge, make_ticket, member, registered, review, staff_with
from payments.tickets import format_brl
from registrations.export import HEADER
from registrations.models import Participant
from registrations.tests.test_dashboard import read, shown

pytestmark = pytest.mark.django_db

Status = Participant.Status
DASHBOARD = "/admin/dashboard/"
INDEX = "/admin/"


@pytest.fixture
def mix(event):
    """Two categories and a registration without one, in every status.

    Profissional (4 seats, 1º lote of 2 at R$ 480, then R$ 580): confirmed
    and paid; awaiting payment in the 1º lote (overdue) and at full price;
    two on the waitlist, one of them offered a seat; expired; refunded.
    Estudante (no limit, R$ 240): confirmed and paid; awaiting payment with
    a receipt to review. A free registration without a category. The event
    has 10 seats.
    """
    now = timezone.now()
    event.capacity = 10
    event.save(update_fields=["capacity"])
    pro = make_ticket(
        event,
        name="Profissional",
        price="580.00",
        capacity=4,
        order=1,
        lots=({"name": "1º lote", "price": Decimal("480.00"), "quantity": 2},),
    )
    student = make_ticket(event, name="Estudante", price="240.00", order=2)

    paid = registered(pro, status=Status.CONFIRMED, amount="480.00", lot_name="1º lote", full_name="Paga Profissional")
    charge(paid, status=Payment.Status.PAID)
    overdue = registered(pro, status=Status.PENDING_PAYMENT, amount="480.00", lot_name="1º lote")
    charge(overdue, due_at=now - dt.timedelta(hours=1))
    full_price = registered(pro, status=Status.PENDING_PAYMENT, amount="580.00")
    charge(full_price)
    registered(pro, status=Status.WAITLISTED)
    registered(pro, status=Status.WAITLISTED, offer_expires_at=now + dt.timedelta(hours=5))
    expired = registered(pro, status=Status.EXPIRED, amount="480.00", lot_name="1º lote")
    charge(expired, status=Payment.Status.EXPIRED, due_at=now - dt.timedelta(days=1))
    refunded = registered(pro, status=Status.CANCELLED, amount="480.00", lot_name="1º lote")
    charge(refunded, status=Payment.Status.REFUNDED)

    student_paid = registered(student, status=Status.CONFIRMED)
    charge(student_paid, status=Payment.Status.PAID)
    review(student_paid, kind=Review.Kind.PROOF, status=Review.Status.APPROVED)
    student_waiting = registered(student, status=Status.PENDING_PAYMENT)
    review(student_waiting, payment=charge(student_waiting))

    registered(None, status=Status.CONFIRMED, full_name="Sem Categoria")
    return {"pro": pro, "student": student, "paid": paid, "overdue": overdue}


def ticket_figures(response) -> dict[tuple[str, str], str]:
    """``{(category id, key): shown text}`` from the category cards."""
    html = response.content.decode()
    return {(pk, key): text.strip() for pk, key, text in re.findall(r'data-ticket-figure="(\d+):(\w+)">([^<]*)<', html)}


def ticket_links(response) -> dict[tuple[str, str], str]:
    html = response.content.decode()
    return {
        (pk, key): unescape(href)
        for href, pk, key in re.findall(r'<a href="([^"]+)" data-ticket-figure="(\d+):(\w+)"', html)
    }


# --------------------------------------------------------------------------
# Category cards
# --------------------------------------------------------------------------


def test_each_category_card_counts_seats_payments_and_the_waitlist(mix, admin_client):
    figures = ticket_figures(admin_client.get(DASHBOARD))
    pro, student = str(mix["pro"].pk), str(mix["student"].pk)
    assert figures[(pro, "held")] == "4 de 4 —"  # confirmed, 2 awaiting payment, 1 offered a seat
    assert (figures[(pro, "confirmed")], figures[(pro, "awaiting_payment")], figures[(pro, "waitlist")]) == (
        "1",
        "2",
        "2",
    )
    assert (figures[(pro, "received")], figures[(pro, "outstanding")]) == ("R$ 480,00", "R$ 1.060,00")
    assert figures[(student, "held")] == "2 (sem limite)"
    assert (
        figures[(student, "confirmed")],
        figures[(student, "awaiting_payment")],
        figures[(student, "waitlist")],
    ) == (
        "1",
        "1",
        "0",
    )
    assert (figures[(student, "received")], figures[(student, "outstanding")]) == ("R$ 240,00", "R$ 240,00")


def test_a_card_shows_the_price_now_and_says_when_the_category_is_full(mix, admin_client):
    html = admin_client.get(DASHBOARD).content.decode()
    card = html[html.index(f'data-ticket="{mix["pro"].pk}"') :]
    card = card[: card.index("</li>")]
    # The 1º lote's two seats are taken: the category's own price applies.
    assert "R$ 580,00" in card and "1º lote" not in card.split("</h3>")[1].split("<dl>")[0]
    assert "esgotada" in card and "1 com vaga oferecida" in card


def test_the_event_line_counts_every_seat_holder_of_the_event(mix, admin_client):
    html = admin_client.get(DASHBOARD).content.decode()
    line = re.search(r"<p class=\"dash-event-seats\" data-event-seats>(.*?)</p>", html, re.S).group(1)
    # 4 Profissional + 2 Estudante + 1 without a category; 2 waiting.
    assert re.sub(r"\s+", " ", re.sub("<[^>]+>", "", line)).strip() == (
        "Evento: 7 de 10 vagas ocupadas (3 livres); 2 na lista de espera."
    )


def test_without_an_event_capacity_there_is_no_event_line(mix, admin_client, event):
    event.capacity = None
    event.save(update_fields=["capacity"])
    assert b"data-event-seats" not in admin_client.get(DASHBOARD).content


def test_every_category_figure_links_to_a_list_of_that_many_rows(mix, admin_client):
    response = admin_client.get(DASHBOARD)
    figures, links = ticket_figures(response), ticket_links(response)
    assert len(links) == 10
    for key, href in links.items():
        listing = admin_client.get(href)
        assert listing.status_code == 200, (key, href)
        if key[1] in ("received", "outstanding"):
            total = sum((p.amount for p in listing.context["cl"].result_list), Decimal(0))
            assert format_brl(total) == figures[key], key
        else:
            assert listing.context["cl"].result_count == int(figures[key]), key


# --------------------------------------------------------------------------
# Status cards and what needs attention
# --------------------------------------------------------------------------


def test_the_status_cards_count_the_paid_registration_statuses(mix, admin_client):
    figures = shown(admin_client.get(DASHBOARD))
    assert {key: figures[key] for key in figures if key.endswith("_all")} == {
        "confirmed_all": 3,
        "pending_payment_all": 3,
        "waitlisted_all": 2,
        "cancelled_all": 1,
        "expired_all": 1,
        "total_all": 10,
    }
    assert figures["pending_reviews"] == 1 and figures["overdue_payments"] == 1


@pytest.mark.parametrize("page", [DASHBOARD, INDEX], ids=["dashboard", "index"])
def test_every_figure_links_to_a_list_of_that_many_rows(mix, admin_client, page):
    for key, (value, href) in read(admin_client.get(page)).figures.items():
        response = admin_client.get(href)
        assert response.status_code == 200, (key, href, response.get("Location"))
        if key == "open_handoffs":
            continue
        assert response.context["cl"].result_count == value, (key, href)


def test_a_paid_event_shows_its_payment_cards_even_at_zero(event, admin_client):
    make_ticket(event, name="Profissional", price="580.00", capacity=10)
    figures = shown(admin_client.get(DASHBOARD))
    assert figures["pending_payment_all"] == figures["waitlisted_all"] == figures["expired_all"] == 0


def test_a_free_event_without_limits_shows_no_payment_cards(event, admin_client):
    make_ticket(event, name="Visitante", price="0")
    registered(None)
    figures = shown(admin_client.get(DASHBOARD))
    assert not {"pending_payment_all", "waitlisted_all", "expired_all"} & set(figures)


def test_the_equipe_sees_the_money_but_not_the_review_queue(mix, client):
    page = member(client, STAFF).get(DASHBOARD)
    assert "pending_reviews" not in shown(page)  # receipts and documents show full CPFs
    assert (str(mix["pro"].pk), "received") in ticket_figures(page)


def test_without_the_payment_lists_no_money_and_no_queue_is_shown(mix, client):
    page = staff_with(client, "registrations.view_participant").get(DASHBOARD)
    figures = shown(page)
    assert "pending_reviews" not in figures and "overdue_payments" not in figures
    cards = ticket_figures(page)
    assert cards and not any(key in ("received", "outstanding") for _pk, key in cards)
    assert "Total recebido" not in page.content.decode()


def test_the_day_table_separates_those_still_waiting_from_the_cancelled(mix, admin_client):
    page = admin_client.get(DASHBOARD)
    today = next(day for day in page.context["days"] if day.day == timezone.localdate())
    assert (today.total, today.confirmed, today.waiting, today.cancelled) == (10, 3, 5, 2)
    assert "Canceladas ou expiradas" in page.content.decode()


def test_the_dashboard_costs_the_same_whatever_the_number_of_categories_and_registrations(mix, admin_client, event):
    with CaptureQueriesContext(connection) as before:
        admin_client.get(DASHBOARD)
    for n in range(4):
        ticket = make_ticket(
            event, name=f"Extra {n}", lots=({"name": "1º lote", "price": Decimal("10"), "quantity": 5},)
        )
        charge(registered(ticket, status=Status.PENDING_PAYMENT), due_at=timezone.now() - dt.timedelta(hours=1))
    with CaptureQueriesContext(connection) as after:
        admin_client.get(DASHBOARD)
    assert len(after) == len(before)


# --------------------------------------------------------------------------
# Exports carry code, category, lot, amount, paid at and due date
# --------------------------------------------------------------------------


def csv_rows(**options) -> list[dict[str, str]]:
    out = io.StringIO()
    call_command("export_participants", stdout=out, stderr=io.StringIO(), **options)
    rows = list(csv.reader(io.StringIO(out.getvalue()[1:]), delimiter=";"))
    assert rows[0] == HEADER
    return [dict(zip(HEADER, row, strict=True)) for row in rows[1:]]


def local(moment: dt.datetime) -> str:
    return timezone.localtime(moment).strftime("%d/%m/%Y %H:%M")


def test_the_csv_carries_the_payment_columns_in_pt_br(mix):
    rows = {row["Código de inscrição"]: row for row in csv_rows()}
    paid, overdue = mix["paid"], mix["overdue"]
    assert rows[paid.code]["Categoria"] == "Profissional" and rows[paid.code]["Lote"] == "1º lote"
    assert rows[paid.code]["Valor (R$)"] == "480,00"
    assert rows[paid.code]["Pago em"] == local(paid.paid_at) and rows[paid.code]["Vencimento"] == ""
    assert rows[overdue.code]["Situação"] == "Aguardando pagamento"
    assert rows[overdue.code]["Pago em"] == "" and rows[overdue.code]["Vencimento"] == local(overdue.payment_due_at)
    statuses = {row["Situação"] for row in rows.values()}
    assert statuses == {"Confirmada", "Aguardando pagamento", "Lista de espera", "Expirada", "Cancelada"}


def test_the_xlsx_types_the_payment_columns(mix, tmp_path):
    from openpyxl import load_workbook

    target = tmp_path / "inscritos.xlsx"
    call_command("export_participants", output=str(target), stderr=io.StringIO())
    sheet = load_workbook(target).active
    header = [cell.value for cell in sheet[1]]
    assert header == HEADER
    rows = {
        row[header.index("Código de inscrição")].value: dict(zip(header, row, strict=True))
        for row in sheet.iter_rows(min_row=2)
    }
    paid = rows[mix["paid"].code]
    assert paid["Código de inscrição"].data_type == "s"
    amount = paid["Valor (R$)"]
    assert amount.data_type == "n" and Decimal(str(amount.value)) == Decimal("480.00")
    assert amount.number_format == "#,##0.00"
    assert paid["Pago em"].is_date and paid["Pago em"].number_format == "dd/mm/yyyy hh:mm"
    assert paid["Vencimento"].value is None
    overdue = rows[mix["overdue"].code]
    assert overdue["Vencimento"].is_date
    local_due = timezone.localtime(mix["overdue"].payment_due_at).replace(tzinfo=None, second=0, microsecond=0)
    assert overdue["Vencimento"].value.replace(second=0, microsecond=0) == local_due


def test_the_admin_exports_carry_the_payment_columns_for_every_role(mix, client):
    c = member(client, STAFF)
    response = c.get(reverse("admin:registrations_participant_export"), {"ticket__id__exact": mix["pro"].pk})
    text = b"".join(response.streaming_content).decode("utf-8")
    rows = list(csv.reader(io.StringIO(text[1:]), delimiter=";"))
    assert rows[0][-6:] == ["Código de inscrição", "Categoria", "Lote", "Valor (R$)", "Pago em", "Vencimento"]
    assert {row[HEADER.index("Categoria")] for row in rows[1:]} == {"Profissional"}
    assert len(rows) - 1 == Participant.objects.filter(ticket=mix["pro"]).count()


def test_the_export_reads_the_categories_with_the_participants_not_row_by_row(mix):
    from registrations.export import iter_csv

    with CaptureQueriesContext(connection) as queries:
        lines = list(iter_csv(Participant.objects.all()))
    assert len(lines) == 1 + Participant.objects.count()
    assert len(queries) <= 2  # the rows (profile and category joined); nothing per row
