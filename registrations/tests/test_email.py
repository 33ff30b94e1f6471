"""The confirmation e-mail: content, exactly once, retries against a real SMTP client."""

from __future__ import annotations

import pytest
from django.core import mail
from django.utils import timezone

from chatbot.models import ConversationState
from registrations.emails import confirmation_message
from registrations.flow import RegistrationData
from registrations.models import Participant, RegistrationEvent
from registrations.services import participant_register, participant_resend_confirmation
from registrations.tasks import (
    EMAIL_MAX_RETRIES,
    send_confirmation_email,
    sweep_confirmation_emails,
)
from registrations.tests.conftest import register

Kind = RegistrationEvent.Kind


@pytest.fixture
def locmem(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"


@pytest.fixture(autouse=True)
def _eager(celery_eager):
    """Every task here runs inline, retries included."""


@pytest.fixture
def participant(event) -> Participant:
    conversation = ConversationState.objects.create(conversation_id="5561999990000")
    result = participant_register(
        data=RegistrationData(
            full_name="Maria das Dores Souza",
            email="maria.souza@gmail.com",
            cpf="12345678909",
            phone="+5561999990000",
            city="Londrina",
            city_ibge_code=4113700,
            uf="PR",
            profile_id=event.profiles.get(name="Produtor rural").pk,
            consent_at=timezone.now(),
            consent_version="2026-11",
        ),
        conversation=conversation,
    )
    return Participant.objects.get(pk=result.participant_id)


def run_task(participant_id: int) -> None:
    send_confirmation_email.apply(args=[participant_id])


# --- content --------------------------------------------------------------------------------


def test_message_carries_event_and_participant_data_in_text_and_html(participant):
    message = confirmation_message(participant)
    html = message.alternatives[0][0]
    assert message.to == ["maria.souza@gmail.com"]
    assert message.subject == "Inscrição confirmada: Congresso Brasileiro do Agronegócio 2026"
    assert message.reply_to == ["contato@congresso.example"]
    for body in (message.body, html):
        for piece in ("Maria", "Congresso Brasileiro do Agronegócio 2026", "08/12/2026", "10/12/2026",
                      "Centro de Convenções", "Londrina/PR", "***.456.789-**", "(61) 99999-0000", "Produtor rural"):  # fmt: skip
            assert piece in body, piece
        assert "123.456.789-09" not in body and "12345678909" not in body


def test_html_escapes_what_participants_typed(participant):
    participant.full_name = "Ana <b>Lima</b>"
    html = confirmation_message(participant).alternatives[0][0]
    assert "<b>Lima</b>" not in html and "&lt;b&gt;" in html


# --- exactly once ------------------------------------------------------------------------------


def test_email_is_sent_once_even_when_the_task_runs_twice(participant, locmem):
    run_task(participant.pk)
    run_task(participant.pk)
    assert len(mail.outbox) == 1
    participant.refresh_from_db()
    assert participant.confirmation_email_status == Participant.EmailStatus.SENT
    assert participant.confirmation_email_sent_at is not None
    assert RegistrationEvent.objects.filter(kind=Kind.EMAIL_SENT).count() == 1


def test_resend_on_purpose_sends_it_again(participant, locmem):
    run_task(participant.pk)
    participant_resend_confirmation(participant=participant, actor="admin")
    run_task(participant.pk)
    assert len(mail.outbox) == 2


def test_cancelled_registration_gets_no_email(participant, locmem):
    Participant.objects.filter(pk=participant.pk).update(status=Participant.Status.CANCELLED)
    run_task(participant.pk)
    assert mail.outbox == []


def test_unknown_participant_is_a_no_op(db, locmem):
    run_task(999_999)
    assert mail.outbox == []


def test_conversation_confirming_sends_one_email_after_commit_and_a_retried_yes_none(
    chat, locmem, django_capture_on_commit_callbacks
):
    c = register(chat(), confirm=False)
    snapshot = (c.state.registration_step, dict(c.state.data))
    with django_capture_on_commit_callbacks(execute=True):
        c.say("sim")
    ConversationState.objects.filter(conversation_id=c.conversation_id).update(
        registration_step=snapshot[0], data=snapshot[1]
    )
    with django_capture_on_commit_callbacks(execute=True):
        c.say("sim")
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["maria.souza@gmail.com"]


def test_sweep_enqueues_only_pending_unclaimed_emails(participant, locmem):
    Participant.objects.filter(pk=participant.pk).update(updated_at=timezone.now() - timezone.timedelta(hours=1))
    assert sweep_confirmation_emails.apply().get() == 1
    assert len(mail.outbox) == 1
    assert sweep_confirmation_emails.apply().get() == 0


# --- failures at the SMTP edge -----------------------------------------------------------------


def test_email_is_retried_after_the_smtp_server_drops_the_connection(participant, fake_smtp):
    fake_smtp.drop_first = 1
    run_task(participant.pk)
    assert fake_smtp.connections == 2
    assert len(fake_smtp.messages) == 1
    participant.refresh_from_db()
    assert participant.confirmation_email_status == Participant.EmailStatus.SENT


def test_email_gives_up_after_the_retries_and_is_marked_failed(participant, fake_smtp):
    fake_smtp.drop_first = 100
    run_task(participant.pk)
    assert fake_smtp.connections == EMAIL_MAX_RETRIES + 1
    participant.refresh_from_db()
    assert participant.confirmation_email_status == Participant.EmailStatus.FAILED
    failed = RegistrationEvent.objects.get(kind=Kind.EMAIL_FAILED)
    assert "SMTPServerDisconnected" in failed.detail


def test_refused_recipient_fails_at_once_without_retrying(participant, fake_smtp):
    fake_smtp.refuse_recipients = True
    run_task(participant.pk)
    assert fake_smtp.connections == 1
    participant.refresh_from_db()
    assert participant.confirmation_email_status == Participant.EmailStatus.FAILED


def test_failed_email_can_be_resent_and_then_succeeds(participant, fake_smtp):
    fake_smtp.refuse_recipients = True
    run_task(participant.pk)
    fake_smtp.refuse_recipients = False
    participant_resend_confirmation(participant=participant, actor="admin")
    run_task(participant.pk)
    participant.refresh_from_db()
    assert participant.confirmation_email_status == Participant.EmailStatus.SENT
    assert len(fake_smtp.messages) == 1
