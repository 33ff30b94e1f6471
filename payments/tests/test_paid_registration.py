"""A paid registration by chat, from "quero me inscrever" to "paid and confirmed", through the real engine.

Static Pix: the BR Code in the chat, the receipt photo in the chat, the
organizers' review, the confirmation pushed to WhatsApp (the fake gateway)
and e-mailed (the fake SMTP server). Also: the ticket step only when more
than one category fits, a free category one step shorter, proofs.
"""

from __future__ import annotations

import email
import email.policy
import re
from decimal import Decimal

import pytest

from chatbot.engine import Attachment
from chatbot.models import ConversationState
from payments import brcode, services
from payments.models import Payment, Review
from payments.tests.helpers import PNG, make_cpf, new_number, participant_of, register, say
from registrations.codes import qr_png, signed_code, verify_signed
from registrations.models import Participant, RegistrationEvent

pytestmark = pytest.mark.django_db(transaction=True)

BR_CODE_RE = re.compile(r"^000201.*6304[0-9A-F]{4}$", re.M)


def _brcode_in(reply: str) -> str:
    match = BR_CODE_RE.search(reply)
    assert match, reply
    return match.group(0)


def test_static_pix_from_oi_to_paid_and_confirmed(
    tickets, static_pix, fake_gateway, fake_smtp, celery_eager, fast_retries
):
    chat_id = new_number()
    say(chat_id, "oi")
    reply = register(chat_id, cpf=make_cpf(1), email="ana.lima@example.com", profile="produtor rural", ticket="1")

    participant = participant_of(chat_id)
    assert participant.status == Participant.Status.PENDING_PAYMENT
    assert participant.amount == Decimal("320.00")
    assert re.fullmatch(r"CBAS-[2-9A-Z]{5}", participant.code)
    # The reply says it plainly: what is due, until when, the code, and a valid Pix "copia e cola".
    assert "falta o pagamento de *R$ 320,00* até" in reply
    assert participant.code in reply
    code = _brcode_in(reply)
    assert brcode.is_valid(code)
    fields = brcode.parse(code)
    assert fields["54"] == "320.00"
    assert fields["62"]["05"] == participant.code.replace("-", "")
    assert fields["26"]["01"] == "pix@congresso.example"
    assert Payment.objects.get(participant=participant).brcode == code
    assert fake_smtp.messages == []  # no confirmation e-mail before the money

    assert "comprovante" in say(chat_id, "já paguei")
    reply = say(chat_id, "", attachment=Attachment(content=PNG, mimetype="image/png", filename="pix.png"))
    assert "Recebi seu comprovante" in reply
    review = Review.objects.get(participant=participant)
    assert (review.kind, review.status, bytes(review.content)) == (Review.Kind.RECEIPT, Review.Status.PENDING, PNG)
    assert "já está com a organização" in say(chat_id, "ja paguei")

    assert services.review_approve(review, actor="ana") is True
    assert services.review_approve(review, actor="bia") is False  # a second click changes nothing

    participant.refresh_from_db()
    payment = Payment.objects.get(participant=participant)
    assert (participant.status, payment.status, payment.confirmed_by) == (Participant.Status.CONFIRMED, Payment.Status.PAID, "ana")
    assert participant.paid_at is not None
    # Told on WhatsApp, once ...
    assert fake_gateway.wait_for(1)
    confirmations = [r.text for r in fake_gateway.delivered() if "Pagamento confirmado" in r.text]
    assert len(confirmations) == 1 and participant.code in confirmations[0]
    # ... and by e-mail, with the code and the check-in QR inline.
    assert len(fake_smtp.messages_to("ana.lima@example.com")) == 1
    mail = email.message_from_bytes(fake_smtp.messages_to("ana.lima@example.com")[0].data, policy=email.policy.default)
    parts = {part.get_content_type(): part for part in mail.walk()}
    assert participant.code in parts["text/plain"].get_content()
    assert "R$ 320,00" in parts["text/plain"].get_content()
    assert 'src="cid:checkin-qr"' in parts["text/html"].get_content()
    assert parts["image/png"]["Content-ID"] == "<checkin-qr>"
    # The QR holds the signed code, which only this server can make.
    assert parts["image/png"].get_content() == qr_png(participant.code)
    assert verify_signed(signed_code(participant.code)) == participant.code
    assert verify_signed(participant.code + ":forged") is None
    assert RegistrationEvent.objects.filter(participant=participant, kind=RegistrationEvent.Kind.PAID).count() == 1

    status = say(chat_id, "minha inscrição")
    assert "Inscrição confirmada" in status and "R$ 320,00" in status and participant.code in status


def test_a_rejected_receipt_tells_the_reason_and_accepts_another(tickets, static_pix, fake_gateway, celery_eager, fast_retries):
    chat_id = new_number()
    register(chat_id, cpf=make_cpf(2), email="bia@example.com", profile="produtor rural", ticket="passe de um dia")
    say(chat_id, "", attachment=Attachment(content=PNG, mimetype="image/jpeg"))
    review = Review.objects.get()
    with pytest.raises(ValueError):
        services.review_reject(review, actor="ana", reason="  ")
    assert services.review_reject(review, actor="ana", reason="valor diferente do devido") is True
    assert fake_gateway.wait_for(1)
    assert any("valor diferente do devido" in r.text for r in fake_gateway.delivered())
    assert participant_of(chat_id).status == Participant.Status.PENDING_PAYMENT
    say(chat_id, "", attachment=Attachment(content=PNG + b"2", mimetype="application/pdf", filename="recibo.pdf"))
    assert Review.objects.filter(status=Review.Status.PENDING).count() == 1


@pytest.mark.parametrize(
    ("mimetype", "content", "expected"),
    [
        ("video/mp4", b"x" * 10, "foto"),
        ("image/png", b"", "foto"),
        ("image/png", b"x" * (5 * 1024 * 1024 + 1), "grande demais"),
    ],
)
def test_files_that_cannot_be_a_receipt_are_refused_clearly(tickets, static_pix, mimetype, content, expected):
    chat_id = new_number()
    register(chat_id, cpf=make_cpf(3), email="caio@example.com", profile="produtor rural", ticket="1")
    reply = say(chat_id, "", attachment=Attachment(content=content, mimetype=mimetype))
    assert expected in reply
    assert not Review.objects.exists()


def test_a_file_with_nothing_pending_is_not_queued(tickets, static_pix):
    chat_id = new_number()
    register(chat_id, cpf=make_cpf(4), email="duda@example.com", profile="empresa")  # free: confirmed at once
    reply = say(chat_id, "", attachment=Attachment(content=PNG, mimetype="image/png"))
    assert "não há pagamento nem comprovante pendente" in reply
    assert not Review.objects.exists()


def test_the_ticket_is_asked_only_when_more_than_one_fits_and_a_free_one_is_a_step_shorter(tickets, static_pix):
    paid, free = new_number(), new_number()
    steps_paid, steps_free = [], []
    for chat_id, profile, steps in ((paid, "produtor rural", steps_paid), (free, "empresa", steps_free)):
        for text in ("quero me inscrever", "sim", "Ana Lima", f"{chat_id}@example.com", make_cpf(int(chat_id[-5:]) + 10),
                     "(43) 98888-7777", "Londrina/PR", profile):
            say(chat_id, text)
            steps.append(ConversationState.objects.get(conversation_id=chat_id).registration_step)
    assert steps_paid[-1] == "asking_ticket"
    assert steps_free[-1] == "confirming"
    assert "Qual *categoria de inscrição*" in say(paid, "hmm")  # not understood: asked again
    assert "Produtor rural — R$ 320,00" in say(paid, "produtor rural")
    assert "Qual *categoria de inscrição*" in say(paid, "voltar")  # back from the summary: the category again
    assert "🎟️ Categoria: Passe de um dia — R$ 220,00" in say(paid, "2")
    assert "Qual *categoria de inscrição*" in say(paid, "quero trocar a categoria")
    assert "🎟️ Categoria: Produtor rural" in say(paid, "1")

    reply = say(free, "sim")
    participant = participant_of(free)
    assert participant.status == Participant.Status.CONFIRMED
    assert participant.ticket.name == "Visitante da feira" and participant.amount == 0
    assert "Inscrição confirmada" in reply and participant.code in reply
    assert not Payment.objects.filter(participant=participant).exists()


def test_a_summary_shows_the_category_and_changing_the_profile_drops_one_that_no_longer_fits(tickets, static_pix):
    chat_id = new_number()
    for text in ("quero me inscrever", "sim", "Ana Lima", "ana2@example.com", make_cpf(30), "(43) 98888-7777",
                 "Londrina/PR", "produtor rural"):
        say(chat_id, text)
    summary = say(chat_id, "1")
    assert "🎟️ Categoria: Produtor rural — R$ 320,00" in summary
    reply = say(chat_id, "na verdade sou professor")
    # Only "Profissional" fits a professor: chosen without asking, at the current lot's price.
    assert "Profissional — R$ 480,00 (1º lote)" in reply
    say(chat_id, "sim")
    participant = participant_of(chat_id)
    assert (participant.ticket.name, participant.lot_name, participant.amount) == ("Profissional", "1º lote", Decimal("480.00"))


def test_a_category_proof_is_reviewed_and_a_refused_one_lets_the_participant_choose_another(
    tickets, static_pix, fake_gateway, celery_eager, fast_retries
):
    from chatbot.models import TicketCategory

    other = TicketCategory.objects.create(event=tickets["student"].event, name="Inteira", price=Decimal("480.00"), order=9)
    other.profiles.set(tickets["student"].profiles.all())
    chat_id = new_number()
    for text in ("quero me inscrever", "sim", "Caio Souza", "caio.souza@example.com", make_cpf(40), "(43) 98888-7777",
                 "Londrina/PR", "estudante", "1"):
        say(chat_id, text)
    reply = say(chat_id, "sim")
    participant = participant_of(chat_id)
    assert participant.proof_status == Participant.Proof.MISSING
    assert "comprovante da categoria" in reply
    reply = say(chat_id, "", attachment=Attachment(content=PNG, mimetype="image/jpeg"))
    assert "comprovante de estudante" in reply.lower()
    proof = Review.objects.get(kind=Review.Kind.PROOF)
    participant.refresh_from_db()
    assert participant.proof_status == Participant.Proof.PENDING

    services.review_reject(proof, actor="ana", reason="carteirinha vencida")
    participant.refresh_from_db()
    assert participant.proof_status == Participant.Proof.REJECTED
    assert not Payment.objects.filter(participant=participant, status=Payment.Status.PENDING).exists()
    assert fake_gateway.wait_for(1)
    told = [r.text for r in fake_gateway.delivered() if "carteirinha vencida" in r.text]
    assert told and "1. Inteira" in told[0]

    reply = say(chat_id, "1")
    participant.refresh_from_db()
    assert (participant.ticket_id, participant.amount, participant.proof_status) == (other.pk, Decimal("480.00"), "")
    assert participant.status == Participant.Status.PENDING_PAYMENT
    assert Payment.objects.get(participant=participant, status=Payment.Status.PENDING).amount == Decimal("480.00")
    assert "R$ 480,00" in reply


def test_no_pix_configured_still_records_what_is_due(tickets, settings):
    settings.PIX_KEY = ""
    settings.PIX_API_URL = ""
    chat_id = new_number()
    reply = register(chat_id, cpf=make_cpf(50), email="eva@example.com", profile="produtor rural", ticket="1")
    participant = participant_of(chat_id)
    assert participant.status == Participant.Status.PENDING_PAYMENT
    assert "A organização vai te enviar como pagar" in reply
    assert not Payment.objects.exists()


def test_the_ticket_step_offers_a_list_on_channels_that_render_one(tickets, static_pix):
    from chatbot.engine import conversation_turn

    chat_id = new_number()
    for text in ("quero me inscrever", "sim", "Ana Lima", "ana.list@example.com", make_cpf(60), "(43) 98888-7777",
                 "Londrina/PR"):
        say(chat_id, text)
    result = conversation_turn(conversation_id=chat_id, text="produtor rural")
    assert result.step == "asking_ticket"
    assert result.choices is not None and result.choices.kind == "list"
    assert [(o.answer, o.title, o.description) for o in result.choices.options] == [
        ("1", "Produtor rural", "R$ 320,00"), ("2", "Passe de um dia", "R$ 220,00"),
    ]
    # A tap answers with the option's id, read like the typed number.
    assert "Passe de um dia" in say(chat_id, result.choices.options[1].answer)


def test_naming_another_category_at_the_summary_changes_it(tickets, static_pix):
    chat_id = new_number()
    for text in ("quero me inscrever", "sim", "Ana Lima", "mind@example.com", make_cpf(61), "(43) 98888-7777",
                 "Londrina/PR", "produtor rural"):
        say(chat_id, text)
    assert "🎟️ Categoria: Produtor rural" in say(chat_id, "1")
    reply = say(chat_id, "pensando bem, quero o passe de um dia")
    assert "🎟️ Categoria: Passe de um dia" in reply
