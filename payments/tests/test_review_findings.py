"""Regressions found by an adversarial review: money and seats under the sequences people really produce."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from chatbot.engine import Attachment
from payments import services
from payments.models import Payment, Review
from payments.tests.helpers import PNG, make_cpf, new_number, participant_of, register, say
from registrations.models import Participant

pytestmark = pytest.mark.django_db(transaction=True)

Status = Participant.Status


def test_registering_again_after_an_expiry_chooses_a_paid_category_again(tickets, static_pix):
    chat_id = new_number()
    register(chat_id, cpf=make_cpf(1001), email="r1001@example.com", profile="produtor rural", ticket="1")
    services.payments_sweep(now=timezone.now() + dt.timedelta(hours=80))
    assert participant_of(chat_id).status == Status.EXPIRED
    say(chat_id, "quero me inscrever")
    reply = say(chat_id, "sim")
    assert "Qual *categoria de inscrição*" in reply  # never confirmed for free
    assert "Confira" in say(chat_id, "1")
    reply = say(chat_id, "sim")
    participant = participant_of(chat_id)
    assert participant.status == Status.PENDING_PAYMENT and participant.amount == Decimal("320.00")
    assert "falta o pagamento" in reply


def test_a_receipt_in_review_is_not_expired_under_the_organizers(tickets, static_pix):
    chat_id = new_number()
    register(chat_id, cpf=make_cpf(1002), email="r1002@example.com", profile="produtor rural", ticket="1")
    say(chat_id, "segue o comprovante", attachment=Attachment(content=PNG, mimetype="image/png"))
    counts = services.payments_sweep(now=timezone.now() + dt.timedelta(hours=80))
    assert counts["skipped_in_review"] == 1 and counts["expired"] == 0
    assert services.review_approve(Review.objects.get(), actor="ana")
    assert participant_of(chat_id).status == Status.CONFIRMED


def test_a_psp_outage_at_the_deadline_does_not_expire_a_paid_charge(tickets, fake_psp, celery_eager, settings):
    chat_id = new_number()
    register(chat_id, cpf=make_cpf(1003), email="r1003@example.com", profile="produtor rural", ticket="1")
    payment = Payment.objects.get()
    fake_psp.pay(payment.txid)
    fake_psp.fail_next(503, n=10)
    counts = services.payments_sweep(now=timezone.now() + dt.timedelta(hours=80))
    assert counts["lookup_failed"] == 1 and counts["expired"] == 0
    assert participant_of(chat_id).status == Status.PENDING_PAYMENT
    fake_psp.reset()  # the PSP is back (scripted failures cleared, charges kept)
    assert services.payments_sweep(now=timezone.now() + dt.timedelta(hours=80))["paid"] == 1
    assert participant_of(chat_id).status == Status.CONFIRMED


def test_money_for_a_lost_seat_is_recorded_for_a_refund_never_lost(tickets, fake_psp, celery_eager):
    category = tickets["rural"]
    category.capacity = 1
    category.save()
    first, second = new_number(), new_number()
    register(first, cpf=make_cpf(1004), email="r1004@example.com", profile="produtor rural", ticket="1")
    payment = Payment.objects.get()
    # The charge expired (the sweep could not reach the PSP for a last look).
    Payment.objects.filter(pk=payment.pk).update(status=Payment.Status.EXPIRED)
    Participant.objects.filter(pk=payment.participant_id).update(status=Status.EXPIRED)
    register(second, cpf=make_cpf(1005), email="r1005@example.com", profile="produtor rural", ticket="1")
    assert participant_of(second).status == Status.PENDING_PAYMENT  # the seat went on
    fake_psp.pay(payment.txid)
    assert services.payment_check(Payment.objects.get(pk=payment.pk)) == "late"
    payment.refresh_from_db()
    assert payment.status == Payment.Status.PAID and "estornar" in payment.reason
    assert participant_of(first).status == Status.EXPIRED  # no seat appears from nowhere


def test_a_refused_proof_expires_at_the_deadline_and_an_approved_new_one_gets_a_charge(tickets, static_pix, celery_eager):
    chat_id = new_number()
    for text in ("quero me inscrever", "sim", "Caio Souza", "r1006@example.com", make_cpf(1006), "(43) 98888-7777",
                 "Londrina/PR", "estudante"):
        say(chat_id, text)
    say(chat_id, "sim")
    say(chat_id, "", attachment=Attachment(content=PNG, mimetype="image/png", filename="carteirinha.png"))
    services.review_reject(Review.objects.get(), actor="ana", reason="ilegível")
    assert not Payment.objects.filter(status=Payment.Status.PENDING).exists()
    say(chat_id, "", attachment=Attachment(content=PNG + b"x", mimetype="image/png", filename="carteirinha2.png"))
    services.review_approve(Review.objects.get(status=Review.Status.PENDING), actor="ana")
    participant = participant_of(chat_id)
    assert participant.proof_status == Participant.Proof.APPROVED
    assert Payment.objects.get(participant=participant, status=Payment.Status.PENDING).amount == Decimal("240.00")

    other = new_number()
    for text in ("quero me inscrever", "sim", "Duda Lima", "r1007@example.com", make_cpf(1007), "(43) 98888-7777",
                 "Londrina/PR", "estudante"):
        say(other, text)
    say(other, "sim")
    say(other, "", attachment=Attachment(content=PNG, mimetype="image/png"))
    services.review_reject(Review.objects.get(participant=participant_of(other)), actor="ana", reason="vencida")
    counts = services.payments_sweep(now=timezone.now() + dt.timedelta(hours=80))
    assert participant_of(other).status == Status.EXPIRED and counts["expired"] >= 1


@pytest.mark.parametrize(
    "question",
    ["como funciona o credenciamento?", "tem qr code na entrada?", "o almoço ja esta pago?",
     "a palestra de abertura está confirmada?", "esqueci a chave do quarto", "aceita boleto?"],
)
def test_ordinary_questions_of_a_registered_participant_are_not_read_as_payment_messages(tickets, static_pix, question):
    chat_id = new_number()
    register(chat_id, cpf=make_cpf(1100 + len(question)), email=f"q{len(question)}@example.com", profile="produtor rural", ticket="1")
    reply = say(chat_id, question)
    assert "Pré-inscrição recebida" not in reply and "comprovante" not in reply.lower()


@pytest.mark.parametrize("text", ["cade meu pix", "nao recebi o codigo", "manda o pix de novo", "qual o codigo do pix?"])
def test_ways_of_asking_for_the_pix_again(tickets, static_pix, text):
    chat_id = new_number()
    register(chat_id, cpf=make_cpf(1200 + len(text)), email=f"x{len(text)}@example.com", profile="produtor rural", ticket="1")
    assert Payment.objects.get(participant=participant_of(chat_id)).brcode in say(chat_id, text)


def test_the_ticket_step_understands_prices(tickets, static_pix):
    chat_id = new_number()
    for text in ("quero me inscrever", "sim", "Ana Lima", "price@example.com", make_cpf(1300), "(43) 98888-7777",
                 "Londrina/PR", "produtor rural"):
        say(chat_id, text)
    assert "Passe de um dia" in say(chat_id, "o mais barato")


# --- second review: the admin and the money ------------------------------------------------------


def test_refunding_a_duplicate_payment_keeps_the_paid_registration(tickets, static_pix, celery_eager):
    chat_id = new_number()
    register(chat_id, cpf=make_cpf(1400), email="r1400@example.com", profile="produtor rural", ticket="1")
    first = Payment.objects.get()
    services.payments_sweep(now=timezone.now() + dt.timedelta(hours=80))
    say(chat_id, "quero me inscrever")
    say(chat_id, "sim")
    say(chat_id, "1")
    say(chat_id, "sim")
    second = Payment.objects.get(status=Payment.Status.PENDING)
    assert services.payment_mark_paid(second, actor="ana")
    assert participant_of(chat_id).status == Status.CONFIRMED
    # The first charge's money shows up on the statement too: recorded, to be refunded.
    assert services.payment_mark_paid(Payment.objects.get(pk=first.pk), actor="ana") is False
    first.refresh_from_db()
    assert first.status == Payment.Status.PAID and "estornar" in first.reason
    assert services.payment_refund(first, actor="ana", reason="duplicidade\x00")
    first.refresh_from_db()
    assert first.status == Payment.Status.REFUNDED and "\x00" not in first.reason
    assert participant_of(chat_id).status == Status.CONFIRMED  # the registration stays paid


def test_a_receipt_approved_after_its_charge_was_cancelled_is_recorded_for_the_organizers(tickets, static_pix):
    chat_id = new_number()
    for text in ("quero me inscrever", "sim", "Caio Souza", "r1401@example.com", make_cpf(1401), "(43) 98888-7777",
                 "Londrina/PR", "estudante", "sim"):
        say(chat_id, text)
    say(chat_id, "carteirinha", attachment=Attachment(content=PNG, mimetype="image/png", filename="carteirinha.png"))
    payment = Payment.objects.get()
    Payment.objects.filter(pk=payment.pk).update(status=Payment.Status.CANCELLED)
    say(chat_id, "comprovante do pix", attachment=Attachment(content=PNG + b"1", mimetype="image/png", filename="pix.png"))
    services.review_approve(Review.objects.get(kind=Review.Kind.RECEIPT), actor="ana")
    payment.refresh_from_db()
    assert payment.status == Payment.Status.PAID and "estornar" in payment.reason
    # A file waiting for review keeps the registration from expiring under the organizers.
    Participant.objects.filter(pk=participant_of(chat_id).pk).update(payment_due_at=timezone.now() - dt.timedelta(hours=1))
    services.payments_sweep()
    assert participant_of(chat_id).status == Status.PENDING_PAYMENT


def test_a_proof_refused_while_a_receipt_waits_keeps_the_charge(tickets, static_pix):
    chat_id = new_number()
    for text in ("quero me inscrever", "sim", "Duda Reis", "r1402@example.com", make_cpf(1402), "(43) 98888-7777",
                 "Londrina/PR", "estudante", "sim"):
        say(chat_id, text)
    say(chat_id, "carteirinha", attachment=Attachment(content=PNG, mimetype="image/png", filename="carteirinha.png"))
    say(chat_id, "comprovante do pix", attachment=Attachment(content=PNG + b"2", mimetype="image/png"))
    services.review_reject(Review.objects.get(kind=Review.Kind.PROOF), actor="ana", reason="ilegível")
    assert Payment.objects.get().status == Payment.Status.PENDING
    assert services.review_approve(Review.objects.get(kind=Review.Kind.RECEIPT), actor="ana")
    assert participant_of(chat_id).status == Status.CONFIRMED


def test_a_newcomer_does_not_take_an_event_seat_someone_waits_for_in_another_category(tickets, static_pix):
    from payments.tests.test_seats import _data
    from registrations.services import participant_register

    event = tickets["rural"].event
    event.capacity = 1
    event.save()
    rural, pro = tickets["rural"], tickets["pro"]
    assert participant_register(data=_data(1500, rural.profiles.get(), rural.pk)).status == Status.PENDING_PAYMENT
    assert participant_register(data=_data(1501, rural.profiles.get(), rural.pk)).status == Status.WAITLISTED
    event.capacity = 2  # raised in the admin: the seat belongs to the one waiting
    event.save()
    assert participant_register(data=_data(1502, pro.profiles.first(), pro.pk)).status == Status.WAITLISTED
