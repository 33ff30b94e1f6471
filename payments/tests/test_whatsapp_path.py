"""The paid registration over WhatsApp's queued path (/whatsapp -> pipeline -> the fake gateway's /send-text).

The Pix "copia e cola" arrives as a message of its own (a long press copies
a whole WhatsApp message); the receipt is a photo sent through the gateway.
"""

from __future__ import annotations

import base64

import pytest
from rest_framework.test import APIClient

from payments import brcode, services
from payments.models import Review
from payments.tests.helpers import PNG, make_cpf
from registrations.models import Participant
from whatsapp.services import chat_drain
from whatsapp.tests.conftest import queued_body

pytestmark = pytest.mark.django_db(transaction=True)

NUMBER = "5543999871234"


def send(text: str = "", **media) -> None:
    body = queued_body(number=NUMBER, jid=f"{NUMBER}@s.whatsapp.net", text=text, **media)
    if not text:
        body.pop("text")
    response = APIClient().post("/whatsapp", body, format="json")
    assert response.status_code == 202, response.content
    chat_drain(chat_id=NUMBER, deliver=True)


def test_static_pix_over_whatsapp_code_alone_then_receipt_photo(
    tickets, static_pix, fake_gateway, fake_smtp, celery_eager, fast_retries
):
    for text in ("quero me inscrever", "sim", "Ana Lima", "ana.wpp@example.com", make_cpf(900), "esse mesmo",
                 "Londrina/PR", "produtor rural", "1", "sim"):
        send(text)
    sent = [request.text for request in fake_gateway.delivered()]
    instructions, code = sent[-2], sent[-1]
    assert "falta o pagamento de *R$ 320,00*" in instructions and "copia e cola" in instructions
    assert brcode.is_valid(code) and "\n" not in code  # alone, nothing else to copy by mistake
    assert code not in instructions

    send(media_base64=base64.b64encode(PNG).decode(), mimetype="image/png", filename="comprovante.png")
    assert "Recebi seu comprovante" in fake_gateway.delivered()[-1].text
    review = Review.objects.get()
    assert bytes(review.content) == PNG

    services.review_approve(review, actor="ana")
    assert fake_gateway.wait_for(len(sent) + 2)
    assert "Pagamento confirmado" in fake_gateway.delivered()[-1].text
    participant = Participant.objects.get()
    assert participant.status == Participant.Status.CONFIRMED
    assert len(fake_smtp.messages_to("ana.wpp@example.com")) == 1
