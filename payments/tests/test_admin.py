"""The organizers' back-office for paid registration: charges, the review
queue and its files, ticket categories and the participant page, per role."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.messages import get_messages
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from chatbot.models import Event, Profile, TicketCategory, TicketLot
from congress.roles import ORGANIZERS, STAFF
from payments.models import Payment, Review
from payments.tests.admin_factories import PDF, PNG, ROLES, charge, make_ticket, member, registered, review, staff_with
from registrations.models import Participant, RegistrationEvent

pytestmark = pytest.mark.django_db

Status = Participant.Status
PAYMENTS = "/admin/payments/payment/"
REVIEWS = "/admin/payments/review/"
PARTICIPANTS = "/admin/registrations/participant/"
TICKETS = "/admin/chatbot/ticketcategory/"


@pytest.fixture
def pro(event) -> TicketCategory:
    return make_ticket(event, name="Profissional", price="580.00", capacity=3)


@pytest.fixture
def pending(pro) -> tuple[Participant, Payment]:
    participant = registered(
        pro, status=Status.PENDING_PAYMENT, amount="480.00", lot_name="1º lote", full_name="Ana Pendente"
    )
    return participant, charge(participant)


@pytest.fixture
def paid(pro) -> tuple[Participant, Payment]:
    participant = registered(pro, status=Status.CONFIRMED, amount="480.00", lot_name="1º lote", full_name="Bruno Pago")
    return participant, charge(participant, status=Payment.Status.PAID)


@pytest.fixture(params=ROLES)
def role_client(request, client, admin_user):
    if request.param == "superuser":
        client.force_login(admin_user)
        logged = client
    else:
        logged = member(client, request.param)
    logged.role = request.param
    return logged


@pytest.fixture
def organizer(client):
    return member(client, ORGANIZERS, username="organizadora")


@pytest.fixture
def staff(client):
    return member(client, STAFF, username="equipe")


def messages_of(response) -> list[tuple[str, str]]:
    return [(m.level_tag, str(m)) for m in get_messages(response.wsgi_request)]


def action_choices(response) -> set[str]:
    form = response.context.get("action_form")
    return {name for name, _label in form.fields["action"].choices} if form else set()


# --------------------------------------------------------------------------
# Every page opens for every role
# --------------------------------------------------------------------------


def test_every_back_office_page_of_paid_registration_opens_for_every_role(role_client, event, pending):
    participant, payment = pending
    receipt = review(participant, payment=payment)
    urls = [
        PAYMENTS,
        reverse("admin:payments_payment_change", args=[payment.pk]),
        REVIEWS,
        reverse("admin:payments_review_change", args=[receipt.pk]),
        TICKETS,
        reverse("admin:chatbot_ticketcategory_change", args=[participant.ticket_id]),
        reverse("admin:chatbot_event_change", args=[event.pk]),
        PARTICIPANTS,
        reverse("admin:registrations_participant_change", args=[participant.pk]),
        "/admin/dashboard/",
        "/admin/",
    ]
    documents = {REVIEWS, reverse("admin:payments_review_change", args=[receipt.pk])}
    for url in urls:
        # The Equipe (CPFs masked) never opens receipts and documents, which show full CPFs.
        expected = 403 if url in documents and role_client.role == STAFF else 200
        assert role_client.get(url).status_code == expected, url


def test_nobody_adds_or_deletes_charges_or_reviews_in_the_admin(admin_client, pending):
    participant, payment = pending
    receipt = review(participant, payment=payment)
    assert admin_client.get(reverse("admin:payments_payment_add")).status_code == 403
    assert admin_client.get(reverse("admin:payments_review_add")).status_code == 403
    assert (
        admin_client.post(reverse("admin:payments_payment_delete", args=[payment.pk]), {"post": "yes"}).status_code
        == 403
    )
    assert (
        admin_client.post(reverse("admin:payments_review_delete", args=[receipt.pk]), {"post": "yes"}).status_code
        == 403
    )
    assert "delete_selected" not in action_choices(admin_client.get(PAYMENTS))
    assert Payment.objects.filter(pk=payment.pk).exists() and Review.objects.filter(pk=receipt.pk).exists()


# --------------------------------------------------------------------------
# Charges: the list
# --------------------------------------------------------------------------


def test_the_charge_list_shows_who_owes_what_in_reais(admin_client, pending):
    participant, payment = pending
    Payment.objects.filter(pk=payment.pk).update(amount=Decimal("1480.00"))
    html = admin_client.get(PAYMENTS).content.decode()
    assert "Ana Pendente" in html and participant.code in html
    assert "R$ 1.480,00" in html
    assert 'class="p-badge p-wait">Pendente<' in html
    assert "Chave Pix (comprovante revisado)" in html
    assert timezone.localtime(payment.due_at).strftime("%d/%m/%Y %H:%M") in html


@pytest.mark.parametrize("how", ["code", "txid", "name"], ids=["by-code", "by-txid", "by-name-without-accents"])
def test_charges_are_found_by_code_txid_or_name(admin_client, pending, paid, how):
    participant, payment = pending
    Participant.objects.filter(pk=participant.pk).update(full_name="Ana Conceição")
    participant.refresh_from_db()
    participant.save()  # search_text follows the name
    term = {"code": participant.code.lower(), "txid": payment.txid, "name": "conceicao"}[how]
    response = admin_client.get(PAYMENTS, {"q": term})
    assert list(response.context["cl"].result_list) == [payment]


def test_the_overdue_filter_lists_open_charges_past_their_due_time(admin_client, pending, paid, pro):
    _participant, payment = pending
    Payment.objects.filter(pk=payment.pk).update(due_at=timezone.now() - dt.timedelta(hours=1))
    # Paid after the due time is not overdue; expired is no longer open.
    Payment.objects.filter(pk=paid[1].pk).update(due_at=timezone.now() - dt.timedelta(hours=1))
    late = registered(pro, status=Status.EXPIRED)
    charge(late, status=Payment.Status.EXPIRED, due_at=timezone.now() - dt.timedelta(hours=2))
    response = admin_client.get(PAYMENTS, {"overdue": "1"})
    assert list(response.context["cl"].result_list) == [payment]


@pytest.mark.parametrize("status", ["pending", "paid"])
def test_charges_filter_by_status(admin_client, pending, paid, status):
    response = admin_client.get(PAYMENTS, {"status__exact": status})
    expected = pending[1] if status == "pending" else paid[1]
    assert list(response.context["cl"].result_list) == [expected]


def test_a_charge_page_is_read_only(admin_client, pending):
    _participant, payment = pending
    page = admin_client.get(reverse("admin:payments_payment_change", args=[payment.pk]))
    assert page.status_code == 200
    assert page.context["adminform"].form.fields == {}
    assert (
        admin_client.post(reverse("admin:payments_payment_change", args=[payment.pk]), {"amount": "1"}).status_code
        == 403
    )
    payment.refresh_from_db()
    assert payment.amount == Decimal("480.00")


# --------------------------------------------------------------------------
# Charges: actions ask for a reason first, then call the services
# --------------------------------------------------------------------------


def act(client, action: str, *payments: Payment, reason: str | None = None, confirm: bool = True):
    data = {"action": action, "_selected_action": [p.pk for p in payments]}
    if confirm:
        data["confirm"] = "yes"
    if reason is not None:
        data["reason"] = reason
    return client.post(PAYMENTS, data)


@pytest.mark.parametrize("action", ["mark_paid", "refund", "cancel_charge"])
def test_an_action_first_asks_for_a_reason_and_changes_nothing(organizer, pending, paid, action):
    target = paid[1] if action == "refund" else pending[1]
    page = act(organizer, action, target, confirm=False)
    assert page.status_code == 200
    html = page.content.decode()
    assert 'name="reason"' in html and 'name="confirm" value="yes"' in html and "csrfmiddlewaretoken" in html
    assert f'name="_selected_action" value="{target.pk}"' in html
    assert target.participant.full_name in html and "R$ 480,00" in html
    target.refresh_from_db()
    assert target.status == (Payment.Status.PAID if action == "refund" else Payment.Status.PENDING)
    assert not LogEntry.objects.exists()


def test_confirming_without_a_reason_asks_again(organizer, pending):
    _participant, payment = pending
    page = act(organizer, "mark_paid", payment, reason="   ")
    assert page.status_code == 200
    assert "Escreva o motivo" in page.content.decode()
    payment.refresh_from_db()
    assert payment.status == Payment.Status.PENDING


def test_marking_paid_confirms_the_registration_and_is_audited(organizer, pending):
    participant, payment = pending
    response = act(organizer, "mark_paid", payment, reason="Pix conferido no extrato")
    assert response.status_code == 302
    assert messages_of(response) == [("success", "1 cobrança marcada como paga.")]
    payment.refresh_from_db()
    participant.refresh_from_db()
    assert payment.status == Payment.Status.PAID and payment.confirmed_by == "organizadora"
    assert participant.status == Status.CONFIRMED and participant.paid_at is not None
    event = RegistrationEvent.objects.get(participant=participant, kind=RegistrationEvent.Kind.PAID)
    assert event.actor == "organizadora"
    log = LogEntry.objects.get(object_id=str(payment.pk))
    assert log.user.username == "organizadora" and "Pix conferido no extrato" in log.get_change_message()


def test_refunding_cancels_the_registration_and_is_audited(organizer, paid):
    participant, payment = paid
    response = act(organizer, "refund", payment, reason="Desistência pedida por e-mail")
    assert messages_of(response) == [("success", "1 pagamento estornado.")]
    payment.refresh_from_db()
    participant.refresh_from_db()
    assert payment.status == Payment.Status.REFUNDED and payment.reason == "Desistência pedida por e-mail"
    assert participant.status == Status.CANCELLED
    assert (
        RegistrationEvent.objects.get(participant=participant, kind=RegistrationEvent.Kind.REFUNDED).actor
        == "organizadora"
    )
    assert "Desistência" in LogEntry.objects.get(object_id=str(payment.pk)).get_change_message()


def test_cancelling_a_charge_cancels_the_registration_and_is_audited(organizer, pending):
    participant, payment = pending
    response = act(organizer, "cancel_charge", payment, reason="Inscrição duplicada")
    assert messages_of(response) == [("success", "1 cobrança cancelada.")]
    payment.refresh_from_db()
    participant.refresh_from_db()
    assert payment.status == Payment.Status.CANCELLED and participant.status == Status.CANCELLED
    assert RegistrationEvent.objects.filter(
        participant=participant, kind=RegistrationEvent.Kind.CANCELLED, actor="organizadora"
    ).exists()
    assert LogEntry.objects.filter(object_id=str(payment.pk)).count() == 1


def test_an_action_says_how_many_changed_and_how_many_were_skipped(organizer, pending, paid):
    response = act(organizer, "mark_paid", pending[1], paid[1], reason="Pagou na secretaria")
    assert messages_of(response) == [
        ("success", "1 cobrança marcada como paga."),
        ("warning", "1 cobrança ignorada: a situação dela não permite esta ação (ou já tinha mudado)."),
    ]
    assert LogEntry.objects.count() == 1


def test_an_action_on_charges_it_does_not_apply_to_changes_nothing(organizer, pending):
    response = act(organizer, "refund", pending[1], reason="x")
    [(level, text)] = messages_of(response)
    assert level == "warning" and text.startswith("Nada mudou")
    pending[1].refresh_from_db()
    assert pending[1].status == Payment.Status.PENDING


def test_the_confirmation_lists_what_will_be_skipped(organizer, pending, paid):
    html = act(organizer, "mark_paid", pending[1], paid[1], confirm=False).content.decode()
    eligible = html[html.index('class="payment-eligible"') : html.index('class="payment-skipped"')]
    assert "Ana Pendente" in eligible and "Bruno Pago" not in eligible
    assert "Bruno Pago" in html[html.index('class="payment-skipped"') :]


def test_the_equipe_sees_no_charge_action_and_cannot_run_one(staff, pending):
    _participant, payment = pending
    assert not {"mark_paid", "refund", "cancel_charge"} & action_choices(staff.get(PAYMENTS))
    act(staff, "mark_paid", payment, reason="tentativa")
    payment.refresh_from_db()
    assert payment.status == Payment.Status.PENDING
    assert not LogEntry.objects.exists()


def test_without_manage_payment_a_viewer_cannot_run_the_actions(client, pending):
    c = staff_with(client, "payments.view_payment", "payments.change_payment")
    assert not {"mark_paid", "refund", "cancel_charge"} & action_choices(c.get(PAYMENTS))
    act(c, "cancel_charge", pending[1], reason="x")
    pending[1].refresh_from_db()
    assert pending[1].status == Payment.Status.PENDING


def test_the_confirmation_form_needs_the_csrf_token(admin_user, pending):
    csrf_client = Client(enforce_csrf_checks=True)
    csrf_client.force_login(admin_user)
    response = act(csrf_client, "mark_paid", pending[1], reason="sem token")
    assert response.status_code == 403
    pending[1].refresh_from_db()
    assert pending[1].status == Payment.Status.PENDING


# --------------------------------------------------------------------------
# The review queue
# --------------------------------------------------------------------------


def test_the_queue_opens_on_what_awaits_review(admin_client, pending, paid):
    waiting = review(pending[0], payment=pending[1])
    review(paid[0], payment=paid[1], status=Review.Status.APPROVED)
    response = admin_client.get(REVIEWS)
    assert list(response.context["cl"].result_list) == [waiting]
    everything = admin_client.get(REVIEWS, {"status": "all"})
    assert everything.context["cl"].result_count == 2


def test_each_row_shows_kind_participant_code_amount_and_the_image_inline(admin_client, pending):
    participant, payment = pending
    receipt = review(participant, payment=payment)
    html = admin_client.get(REVIEWS).content.decode()
    file_url = reverse("admin:payments_review_file", args=[receipt.pk])
    assert f'<img src="{file_url}"' in html
    assert "Comprovante de pagamento" in html and "Ana Pendente" in html and participant.code in html
    assert "R$ 480,00" in html


def test_a_pdf_is_linked_and_an_erased_file_says_so(admin_client, pending, paid):
    pdf = review(pending[0], payment=pending[1], content=PDF, mimetype="application/pdf", filename="pix.pdf")
    review(paid[0], kind=Review.Kind.PROOF, content=None, mimetype="image/jpeg")
    html = admin_client.get(REVIEWS).content.decode()
    assert f'href="{reverse("admin:payments_review_file", args=[pdf.pk])}"' in html and "Abrir o PDF" in html
    assert "arquivo apagado (LGPD)" in html
    assert '<img src="/admin/payments/review/' not in html


def file_of(client, receipt: Review):
    return client.get(reverse("admin:payments_review_file", args=[receipt.pk]))


@pytest.mark.parametrize(
    ("mimetype", "served", "disposition"),
    [
        ("image/png", "image/png", "inline"),
        ("IMAGE/JPEG", "image/jpeg", "inline"),
        ("image/webp", "image/webp", "inline"),
        ("application/pdf", "application/pdf", "inline"),
        ("text/html", "application/octet-stream", "attachment"),
        ("image/svg+xml", "application/octet-stream", "attachment"),
    ],
    ids=["png", "jpeg-upper-case", "webp", "pdf", "html", "svg"],
)
def test_the_file_is_served_with_its_bytes_and_safe_headers(role_client, pending, mimetype, served, disposition):
    content = b"<script>alert(1)</script>" if "html" in mimetype or "svg" in mimetype else PNG
    receipt = review(pending[0], payment=pending[1], content=content, mimetype=mimetype, filename="recibo.png")
    response = file_of(role_client, receipt)
    if role_client.role == STAFF:
        assert response.status_code == 403  # documents show full CPFs
        return
    assert response.status_code == 200
    assert response.content == content
    assert response["Content-Type"] == served
    assert response["Content-Disposition"].startswith(disposition)
    assert 'filename="recibo.png"' in response["Content-Disposition"]
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Security-Policy"] == "sandbox"
    assert response["Cache-Control"] == "private, no-store"


def test_the_file_is_refused_without_the_review_permission(client, pending):
    receipt = review(pending[0], payment=pending[1])
    assert file_of(client, receipt).status_code == 302  # not logged in: the admin login
    c = staff_with(client, "payments.view_payment", "registrations.view_participant")
    response = file_of(c, receipt)
    assert response.status_code == 403
    assert PNG not in response.content


def test_an_erased_file_is_not_served(admin_client, pending):
    receipt = review(pending[0], payment=pending[1], content=None)
    assert file_of(admin_client, receipt).status_code == 404


def decide(client, receipt: Review, decision: str, **data):
    return client.post(reverse(f"admin:payments_review_{decision}", args=[receipt.pk]), data)


def test_approving_a_receipt_confirms_the_registration_and_is_audited(organizer, pending):
    participant, payment = pending
    receipt = review(participant, payment=payment)
    page = organizer.get(reverse("admin:payments_review_change", args=[receipt.pk]))
    html = page.content.decode()
    assert reverse("admin:payments_review_approve", args=[receipt.pk]) in html
    assert reverse("admin:payments_review_reject", args=[receipt.pk]) in html
    response = decide(organizer, receipt, "approve")
    assert response.status_code == 302 and response["Location"] == REVIEWS
    [(level, text)] = messages_of(response)
    assert level == "success" and participant.code in text
    receipt.refresh_from_db()
    payment.refresh_from_db()
    participant.refresh_from_db()
    assert (receipt.status, receipt.reviewed_by) == (Review.Status.APPROVED, "organizadora")
    assert payment.status == Payment.Status.PAID and participant.status == Status.CONFIRMED
    assert RegistrationEvent.objects.filter(
        participant=participant, kind=RegistrationEvent.Kind.REVIEW_APPROVED
    ).exists()
    assert LogEntry.objects.filter(object_id=str(receipt.pk), user__username="organizadora").exists()


def test_rejecting_needs_a_reason_the_participant_receives(organizer, pending):
    participant, payment = pending
    receipt = review(participant, payment=payment)
    response = decide(organizer, receipt, "reject", reason="  ")
    assert response["Location"] == reverse("admin:payments_review_change", args=[receipt.pk])
    receipt.refresh_from_db()
    assert receipt.status == Review.Status.PENDING
    decide(organizer, receipt, "reject", reason="O valor não confere")
    receipt.refresh_from_db()
    payment.refresh_from_db()
    assert (receipt.status, receipt.reason) == (Review.Status.REJECTED, "O valor não confere")
    assert payment.status == Payment.Status.PENDING  # the charge stays open for another receipt
    assert RegistrationEvent.objects.filter(
        participant=participant, kind=RegistrationEvent.Kind.REVIEW_REJECTED
    ).exists()
    assert "O valor não confere" in LogEntry.objects.get(object_id=str(receipt.pk)).get_change_message()


def test_a_reviewed_file_is_not_decided_twice(organizer, pending):
    receipt = review(pending[0], payment=pending[1], status=Review.Status.REJECTED)
    page = organizer.get(reverse("admin:payments_review_change", args=[receipt.pk]))
    assert page.context["can_decide"] is False
    response = decide(organizer, receipt, "approve")
    assert messages_of(response)[0][0] == "warning"
    receipt.refresh_from_db()
    assert receipt.status == Review.Status.REJECTED


def test_the_equipe_sees_neither_the_queue_nor_the_files_and_cannot_decide(staff, pending):
    # Receipts and ID documents show full CPFs: the Equipe (CPFs masked) does not open them.
    receipt = review(pending[0], payment=pending[1])
    assert staff.get(reverse("admin:payments_review_change", args=[receipt.pk])).status_code in (302, 403)
    assert staff.get(reverse("admin:payments_review_file", args=[receipt.pk])).status_code == 403
    assert decide(staff, receipt, "approve").status_code == 403
    assert decide(staff, receipt, "reject", reason="não").status_code == 403
    receipt.refresh_from_db()
    assert receipt.status == Review.Status.PENDING


def test_a_decision_is_a_post(organizer, pending):
    receipt = review(pending[0], payment=pending[1])
    assert organizer.get(reverse("admin:payments_review_approve", args=[receipt.pk])).status_code == 405


# --------------------------------------------------------------------------
# Ticket categories
# --------------------------------------------------------------------------


def ticket_row(html: str, name: str) -> str:
    start = html.index(f">{name}<")
    return html[start : html.index("</tr>", start)]


def test_the_category_list_shows_the_current_lot_seats_and_waitlist(admin_client, event):
    now = timezone.now()
    ticket = make_ticket(
        event,
        name="Profissional",
        price="580.00",
        capacity=4,
        lots=(
            {"name": "Lote promocional", "price": Decimal("380.00"), "ends_at": now - dt.timedelta(days=1)},
            {"name": "1º lote", "price": Decimal("480.00"), "quantity": 2},
            {"name": "2º lote", "price": Decimal("530.00")},
        ),
    )
    registered(ticket, status=Status.CONFIRMED, amount="480.00", lot_name="1º lote")
    registered(ticket, status=Status.PENDING_PAYMENT, amount="480.00", lot_name="1º lote")
    registered(ticket, status=Status.WAITLISTED)
    registered(ticket, status=Status.CANCELLED, amount="480.00", lot_name="1º lote")
    free = make_ticket(event, name="Visitante", price="0")
    html = admin_client.get(TICKETS).content.decode()
    row = ticket_row(html, "Profissional")
    assert "R$ 530,00 (2º lote)" in row  # the first lot is past, the second sold out
    assert "2 de 4" in row
    assert '<td class="field-waitlist">1</td>' in row
    assert "Gratuita" in ticket_row(html, free.name)


def test_the_category_list_costs_the_same_whatever_the_number_of_categories(admin_client, event):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    make_ticket(event, name="A", lots=({"name": "1º lote", "price": Decimal("1"), "quantity": 1},))
    admin_client.get(TICKETS)
    with CaptureQueriesContext(connection) as one:
        admin_client.get(TICKETS)
    for n in range(5):
        ticket = make_ticket(event, name=f"B{n}", lots=({"name": "1º lote", "price": Decimal("1"), "quantity": 1},))
        registered(ticket, status=Status.CONFIRMED, lot_name="1º lote")
    with CaptureQueriesContext(connection) as six:
        admin_client.get(TICKETS)
    assert len(six) == len(one)


def test_the_eligible_profiles_are_the_events_own(admin_client, event, pro):
    other = Event.objects.create(
        name="Outro",
        starts_on=dt.date(2027, 1, 1),
        ends_on=dt.date(2027, 1, 2),
        venue="x",
        address="x",
        city="x",
        uf="SP",
        is_active=False,
    )
    stranger = Profile.objects.create(event=other, name="Perfil de outro evento")
    page = admin_client.get(reverse("admin:chatbot_ticketcategory_change", args=[pro.pk]))
    offered = set(page.context["adminform"].form.fields["profiles"].queryset)
    assert offered == set(event.profiles.all()) and stranger not in offered
    assert 'type="checkbox" name="profiles"' in page.content.decode()


def test_an_organizer_creates_a_category_with_its_profiles_and_lots(client, event):
    c = member(client, ORGANIZERS)
    student = event.profiles.get(name="Estudante")
    response = c.post(
        reverse("admin:chatbot_ticketcategory_add"),
        {
            "event": event.pk,
            "name": "Estudante (meia)",
            "description": "",
            "price": "240.00",
            "profiles": [student.pk],
            "capacity": "50",
            "proof": "student",
            "active": "on",
            "order": "4",
            "lots-TOTAL_FORMS": "1",
            "lots-INITIAL_FORMS": "0",
            "lots-0-order": "1",
            "lots-0-name": "1º lote",
            "lots-0-price": "200.00",
            "lots-0-starts_at_0": "",
            "lots-0-starts_at_1": "",
            "lots-0-ends_at_0": "",
            "lots-0-ends_at_1": "",
            "lots-0-quantity": "20",
        },
    )
    assert response.status_code == 302, response.context["adminform"].form.errors if response.context else ""
    ticket = TicketCategory.objects.get(name="Estudante (meia)")
    assert list(ticket.profiles.all()) == [student]
    assert (ticket.capacity, ticket.proof) == (50, "student")
    assert TicketLot.objects.get(category=ticket).quantity == 20


def test_the_event_page_keeps_a_short_category_inline_with_links_and_shows_its_capacity(admin_client, event, pro):
    page = admin_client.get(reverse("admin:chatbot_event_change", args=[event.pk]))
    html = page.content.decode()
    assert 'name="capacity"' in html
    assert 'name="tickets-0-capacity"' in html
    assert reverse("admin:chatbot_ticketcategory_change", args=[pro.pk]) in html


# --------------------------------------------------------------------------
# The participant page and list
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "css"),
    [
        (Status.CONFIRMED, 'class="p-badge p-ok">Confirmada<'),
        (Status.PENDING_PAYMENT, 'class="p-badge p-wait">Aguardando pagamento<'),
        (Status.WAITLISTED, 'style="background:#dbe9fb;color:#1d4f91">Lista de espera<'),
        (Status.EXPIRED, 'class="p-badge p-bad">Expirada<'),
        (Status.CANCELLED, 'class="p-badge p-off">Cancelada<'),
    ],
    ids=lambda value: str(value).split(">")[-2].rstrip("<") if ">" in str(value) else str(value),
)
def test_the_participant_list_shows_each_status_in_its_colour_with_code_ticket_and_amount(
    admin_client, pro, status, css
):
    participant = registered(pro, status=status, amount="480.00", lot_name="1º lote")
    html = admin_client.get(PARTICIPANTS).content.decode()
    assert css in html
    assert participant.code in html and "Profissional · 1º lote" in html
    if status != Status.WAITLISTED:
        assert "R$ 480,00" in html


@pytest.mark.parametrize("status", [s.value for s in Status])
def test_the_participant_list_filters_by_each_status(admin_client, pro, status):
    everyone = {s.value: registered(pro, status=s) for s in Status}
    response = admin_client.get(PARTICIPANTS, {"status__exact": status})
    assert list(response.context["cl"].result_list) == [everyone[status]]


def test_the_participant_list_filters_by_ticket(admin_client, event, pro):
    mine = registered(pro)
    registered(make_ticket(event, name="Outra"))
    response = admin_client.get(PARTICIPANTS, {"ticket__id__exact": pro.pk})
    assert list(response.context["cl"].result_list) == [mine]


@pytest.mark.parametrize("typed", ["full", "lower-case-with-space", "suffix"])
def test_a_participant_is_found_by_registration_code(admin_client, pro, typed):
    target = registered(pro)
    registered(pro)
    prefix, suffix = target.code.split("-")
    term = {"full": target.code, "lower-case-with-space": f"{prefix.lower()} {suffix.lower()}", "suffix": suffix}[typed]
    response = admin_client.get(PARTICIPANTS, {"q": term})
    assert list(response.context["cl"].result_list) == [target]


def test_the_participant_page_shows_the_code_read_only_and_the_charges_and_files(admin_client, pending):
    participant, payment = pending
    review(participant, payment=payment)
    page = admin_client.get(reverse("admin:registrations_participant_change", args=[participant.pk]))
    html = page.content.decode()
    form = page.context["adminform"].form
    for name in ("code", "ticket", "lot_name", "amount", "payment_due_at", "paid_at", "proof_status"):
        assert name not in form.fields
    # A paid registration's status moves with its money, not by hand.
    assert "status" not in form.fields
    assert participant.code in html and payment.txid in html
    assert reverse("admin:payments_review_file", args=[participant.reviews.get().pk]) in html
    assert "Pagamentos (somente leitura)" in html and "Comprovantes enviados (somente leitura)" in html


def test_a_free_registrations_status_stays_editable(admin_client, event):
    participant = registered(make_ticket(event, name="Visitante", price="0"))
    form = (
        admin_client.get(reverse("admin:registrations_participant_change", args=[participant.pk]))
        .context["adminform"]
        .form
    )
    assert "status" in form.fields


def test_a_participant_added_in_the_admin_gets_a_registration_code(admin_client, event):
    from registrations.codes import find_code

    profile = event.profiles.first()
    response = admin_client.post(
        reverse("admin:registrations_participant_add"),
        {
            "full_name": "Cadastro Manual",
            "email": "manual@example.com",
            "cpf": "52998224725",
            "phone": "+5543988887777",
            "city": "Londrina",
            "district": "",
            "city_ibge_code": "",
            "uf": "PR",
            "profile": profile.pk,
            "status": "confirmed",
            "consent_at_0": "01/12/2026",
            "consent_at_1": "10:00",
            "consent_version": "2026-11",
            **{f"{p}-{n}": "0" for p in ("payments", "reviews", "events") for n in ("TOTAL_FORMS", "INITIAL_FORMS")},
        },
    )
    assert response.status_code == 302, response.context["adminform"].form.errors if response.context else ""
    code = Participant.objects.get(full_name="Cadastro Manual").code
    assert code and find_code(code) == code


@pytest.mark.parametrize("status", [Status.PENDING_PAYMENT, Status.WAITLISTED, Status.CONFIRMED])
def test_the_cancel_action_cancels_every_active_registration(admin_client, pro, status):
    participant = registered(pro, status=status)
    open_charge = charge(participant) if status == Status.PENDING_PAYMENT else None
    response = admin_client.post(PARTICIPANTS, {"action": "cancel_selected", "_selected_action": [participant.pk]})
    assert messages_of(response) == [("success", "1 inscrição cancelada.")]
    participant.refresh_from_db()
    assert participant.status == Status.CANCELLED
    if open_charge is not None:
        open_charge.refresh_from_db()
        assert open_charge.status == Payment.Status.CANCELLED


def test_the_cancel_action_leaves_expired_and_cancelled_registrations_alone(admin_client, pro):
    expired = registered(pro, status=Status.EXPIRED)
    response = admin_client.post(PARTICIPANTS, {"action": "cancel_selected", "_selected_action": [expired.pk]})
    assert messages_of(response)[0][0] == "warning"
    expired.refresh_from_db()
    assert expired.status == Status.EXPIRED


def test_money_is_never_shown_with_a_dot_for_decimals(admin_client, pending):
    html = admin_client.get(PAYMENTS).content.decode()
    assert not re.search(r"R\$ \d+\.\d{2}\b", html)


def test_control_characters_in_a_reason_are_dropped_not_a_500(organizer, pending):
    receipt = review(pending[0], payment=pending[1])
    response = decide(organizer, receipt, "reject", reason="foto \x00 ruim 😀")
    assert response.status_code in (200, 302)
    receipt.refresh_from_db()
    assert receipt.status == Review.Status.REJECTED and receipt.reason == "foto ruim 😀"
