"""API mode: a PSP's Pix API (the local fake speaks the Central Bank's standard) confirms payments.

The charge is created with ``PUT /v2/cob/{txid}`` after the registration
commits; the webhook is never trusted alone: ``GET /v2/cob/{txid}`` must say
CONCLUIDA with the amount due. Idempotent on endToEndId and txid.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.test import Client

from payments import brcode
from payments.models import Payment
from payments.tests.helpers import make_cpf, new_number, participant_of, register, say
from registrations.models import Participant, RegistrationEvent

pytestmark = pytest.mark.django_db(transaction=True)

SECRET = "whk-3f9a1c0e5b7d4e2a"


@pytest.fixture
def api_mode(fake_psp, settings, celery_eager):
    settings.PIX_WEBHOOK_SECRET = SECRET
    settings.PUBLIC_BASE_URL = "https://congresso.example"
    return fake_psp


def _post(body: dict, secret: str = SECRET, suffix: str = ""):
    return Client().post(f"/payments/pix/webhook/{secret}{suffix}", body, content_type="application/json")


def _registered(api_mode, seed: int) -> tuple[str, Payment]:
    chat_id = new_number()
    reply = register(chat_id, cpf=make_cpf(seed), email=f"p{seed}@example.com", profile="produtor rural", ticket="1")
    assert "Estou gerando seu Pix" in reply or "copia e cola" in reply
    payment = Payment.objects.get(participant=participant_of(chat_id))
    return chat_id, payment


def test_the_charge_is_created_at_the_psp_and_its_code_sent(tickets, api_mode, fake_gateway, fast_retries):
    chat_id, payment = _registered(api_mode, 101)
    puts = api_mode.cob_requests("PUT")
    assert len(puts) == 1 and puts[0].path == f"/v2/cob/{payment.txid}"
    body = puts[0].json
    assert body["valor"]["original"] == "320.00"
    assert body["chave"] == "pix@congresso.example"
    assert "devedor" not in body  # never the participant's CPF or name
    assert 26 <= len(payment.txid) <= 35 and payment.txid.isalnum()
    payment.refresh_from_db()
    assert payment.mode == Payment.Mode.API and brcode.is_valid(payment.brcode)
    assert fake_gateway.wait_for(1)
    assert any(payment.brcode == r.text for r in fake_gateway.delivered())  # the "copia e cola" alone, easy to copy
    assert payment.brcode in say(chat_id, "manda o pix de novo")


def test_paid_once_even_when_the_webhook_arrives_three_times(tickets, api_mode, fake_gateway, fast_retries, fake_smtp):
    chat_id, payment = _registered(api_mode, 102)
    item = api_mode.pay(payment.txid)
    for _ in range(3):
        response = _post({"pix": [item]})
        assert response.status_code == 200
    # The PSP appends /pix to the registered URL: that path works too.
    assert _post({"pix": [item]}, suffix="/pix").status_code == 200
    payment.refresh_from_db()
    participant = participant_of(chat_id)
    assert payment.status == Payment.Status.PAID and payment.end_to_end_id == item["endToEndId"]
    assert participant.status == Participant.Status.CONFIRMED and participant.paid_at is not None
    assert RegistrationEvent.objects.filter(participant=participant, kind=RegistrationEvent.Kind.PAID).count() == 1
    assert len(fake_smtp.messages_to("p102@example.com")) == 1
    assert "Inscrição confirmada" in say(chat_id, "minha inscrição")


@pytest.mark.parametrize("case", ["amount_mismatch", "still_active"])
def test_not_paid_when_the_psp_does_not_confirm_the_amount_due(tickets, api_mode, case):
    chat_id, payment = _registered(api_mode, 103 if case == "amount_mismatch" else 104)
    if case == "amount_mismatch":
        item = api_mode.pay(payment.txid, amount="1.00")
    else:
        # A forged notification: the body claims a payment the PSP never saw (the cob is ATIVA).
        item = {"endToEndId": "E99999004202612011200abcdef12345", "txid": payment.txid, "valor": "320.00",
                "horario": "2026-12-01T12:00:00Z"}
    assert _post({"pix": [item]}).status_code == 200
    payment.refresh_from_db()
    assert payment.status == Payment.Status.PENDING and payment.end_to_end_id is None
    assert participant_of(chat_id).status == Participant.Status.PENDING_PAYMENT
    assert api_mode.cob_requests("GET"), "the PSP was asked"


def test_a_wrong_secret_or_an_unknown_txid_changes_nothing(tickets, api_mode, settings):
    _chat_id, payment = _registered(api_mode, 105)
    item = api_mode.pay(payment.txid)
    gets_before = len(api_mode.cob_requests("GET"))
    for secret in ("wrong", SECRET[:-1], SECRET + "x"):
        response = _post({"pix": [item]}, secret=secret)
        assert response.status_code in (401, 403, 404)
    assert _post({"pix": [{**item, "txid": "Z" * 30}]}).status_code == 200
    settings.PIX_WEBHOOK_SECRET = ""  # unset: the endpoint does not exist for anyone
    assert _post({"pix": [item]}, secret="").status_code == 404
    assert len(api_mode.cob_requests("GET")) == gets_before
    payment.refresh_from_db()
    assert payment.status == Payment.Status.PENDING


@pytest.mark.parametrize("body", [b"", b"not json", b"[]", b'{"pix": "x"}', b'{"pix": [1, "a", null]}', b"[" * 5000])
def test_malformed_webhook_bodies_are_4xx_or_ignored_never_500(tickets, api_mode, body):
    response = Client().post(f"/payments/pix/webhook/{SECRET}", body, content_type="application/json")
    assert response.status_code in (200, 400)
    assert not Payment.objects.exists()


def test_ja_paguei_asks_the_psp_and_confirms_a_paid_charge_whose_webhook_never_came(tickets, api_mode):
    chat_id, payment = _registered(api_mode, 106)
    assert "Ainda não recebi a confirmação" in say(chat_id, "já paguei")
    api_mode.pay(payment.txid)
    reply = say(chat_id, "ja fiz o pix")
    assert "Inscrição confirmada" in reply
    payment.refresh_from_db()
    assert payment.status == Payment.Status.PAID
    assert participant_of(chat_id).amount == Decimal("320.00")


def test_a_psp_outage_at_registration_is_retried_and_never_blocks_the_reply(tickets, api_mode, settings):
    api_mode.fail_next(503, n=2)
    chat_id, payment = _registered(api_mode, 107)
    payment.refresh_from_db()
    assert participant_of(chat_id).status == Participant.Status.PENDING_PAYMENT
    # Eager retries ran inline: the third PUT created the charge.
    assert len(api_mode.cob_requests("PUT")) == 3
    assert brcode.is_valid(payment.brcode)
