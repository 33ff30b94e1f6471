"""Celery tasks of payments: the PSP charge (API mode) and the sweep (beat)."""

from __future__ import annotations

import logging

from celery import shared_task
from celery.utils.time import get_exponential_backoff_interval

logger = logging.getLogger(__name__)

CHARGE_MAX_RETRIES = 8


@shared_task(name="payments.tasks.sweep", ignore_result=True)
def sweep() -> dict[str, int]:
    from payments.services import payments_sweep

    return payments_sweep()


@shared_task(bind=True, max_retries=CHARGE_MAX_RETRIES, acks_late=True, ignore_result=True)
def create_charge(self, payment_id: int) -> None:
    """Create the PSP charge (``PUT /v2/cob/{txid}``) of a pending payment and send its code to the participant.

    Outside the registration's transaction, so a slow PSP never holds the
    seat lock. A PUT with the same txid is idempotent at the PSP: a retry
    after a lost answer creates nothing twice. Transient failures retry with
    backoff; a permanent one is logged at ERROR and left visible in the admin
    (the payment has no code yet).
    """
    from payments.psp import PixApiError
    from payments.services import charge_register

    try:
        charge_register(payment_id=payment_id)
    except PixApiError as error:
        if error.transient and self.request.retries < self.max_retries:
            countdown = get_exponential_backoff_interval(
                factor=5, retries=self.request.retries, maximum=600, full_jitter=True
            )
            raise self.retry(exc=error, countdown=countdown) from error
        logger.error("Pix charge for payment %s could not be created: %s", payment_id, error)
    except ValueError as error:  # a txid, amount or expiry the API would refuse: a bug, never retried
        logger.error("Pix charge for payment %s refused before the call: %s", payment_id, error)


@shared_task(bind=True, max_retries=CHARGE_MAX_RETRIES, acks_late=True, ignore_result=True)
def verify_pix(self, txid: str, end_to_end_id: str = "") -> str:
    """A webhook said ``txid`` was paid: ask the PSP (never the webhook body) and mark it paid if so."""
    from payments.models import Payment
    from payments.services import payment_check

    payment = Payment.objects.filter(txid=txid).first()
    if payment is None:
        logger.warning("Pix webhook for an unknown txid (ignored)")
        return "unknown"
    if payment.status == Payment.Status.PAID or (
        end_to_end_id and Payment.objects.filter(end_to_end_id=end_to_end_id).exists()
    ):
        return "duplicate"
    outcome = payment_check(payment, actor="PSP")
    if outcome == "error" and self.request.retries < self.max_retries:
        countdown = get_exponential_backoff_interval(factor=5, retries=self.request.retries, maximum=600, full_jitter=True)
        raise self.retry(countdown=countdown)
    return outcome
