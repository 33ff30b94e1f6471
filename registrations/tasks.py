"""Celery tasks of the registrations app: thin adapters that own only the retry policy."""

from __future__ import annotations

import logging

from celery import shared_task
from celery.utils.time import get_exponential_backoff_interval

from registrations.emails import EmailError, EmailTransientError
from registrations.services import (
    confirmation_email_fail,
    confirmation_email_send,
    confirmation_emails_due,
)

logger = logging.getLogger(__name__)

EMAIL_MAX_RETRIES = 5
EMAIL_BACKOFF_FACTOR_S = 30
EMAIL_BACKOFF_MAX_S = 30 * 60


@shared_task(bind=True, max_retries=EMAIL_MAX_RETRIES, acks_late=True, ignore_result=True)
def send_confirmation_email(self, participant_id: int) -> None:
    """Send the confirmation e-mail of one participant, at most once.

    Transient mail-server failures (``EmailTransientError``: dropped
    connection, 4xx replies, ESP 5xx/429) are retried with exponential
    backoff and full jitter (30 s, 1 min, 2 min, ... capped at 30 min), up to
    ``EMAIL_MAX_RETRIES`` times; then, or at once for a permanent
    ``EmailError``, the participant's e-mail status becomes ``failed`` with an
    audit row, visible in the admin (which can resend).
    """
    try:
        confirmation_email_send(participant_id=participant_id)
    except EmailTransientError as error:
        if self.request.retries < self.max_retries:
            countdown = get_exponential_backoff_interval(
                factor=EMAIL_BACKOFF_FACTOR_S,
                retries=self.request.retries,
                maximum=EMAIL_BACKOFF_MAX_S,
                full_jitter=True,
            )
            logger.warning(
                "Confirmation e-mail for participant %s failed (%s); retry %d in %ss",
                participant_id,
                error,
                self.request.retries + 1,
                countdown,
            )
            raise self.retry(exc=error, countdown=countdown) from error
        logger.error("Confirmation e-mail for participant %s: giving up after %d retries", participant_id, self.request.retries)
        confirmation_email_fail(participant_id=participant_id, reason=f"gave up after {self.request.retries} retries: {error}")
    except EmailError as error:
        logger.error("Confirmation e-mail for participant %s refused: %s", participant_id, error)
        confirmation_email_fail(participant_id=participant_id, reason=str(error))


@shared_task(ignore_result=True)
def sweep_confirmation_emails() -> int:
    """Re-enqueue confirmation e-mails whose task was lost (e.g. the broker restarted).

    Safe to run any time: the send claims each participant with a
    compare-and-swap, so an e-mail already being sent is not sent again.
    """
    due = confirmation_emails_due()
    for participant_id in due:
        send_confirmation_email.delay(participant_id)
    return len(due)


@shared_task(name="registrations.tasks.purge_personal_data_task")
def purge_personal_data_task() -> dict[str, int]:
    """Daily retention run (Celery beat); same as ``manage.py purge_personal_data``."""
    from django.conf import settings

    from registrations.privacy import purge_personal_data

    return purge_personal_data(
        after_event_days=settings.RETENTION_AFTER_EVENT_DAYS,
        message_days=settings.MESSAGE_BODY_RETENTION_DAYS,
        dry_run=False,
        actor="retention-task",
    )
