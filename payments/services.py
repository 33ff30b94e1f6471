"""Payments, seats and the review queue: every state change, race-safe.

BEING BUILT — signatures are final, bodies land shortly.
"""

from __future__ import annotations

from payments.models import Payment, Review


def payment_mark_paid(payment: Payment, *, actor: str, reason: str = "", end_to_end_id: str | None = None) -> bool:
    """Mark a pending (or expired) charge paid; the registration becomes confirmed; participant told, e-mail sent.

    Returns False when it was already paid (nothing changes)."""
    raise NotImplementedError


def payment_refund(payment: Payment, *, actor: str, reason: str) -> bool:
    """A paid charge refunded (outside the system, at the PSP/bank): payment refunded, registration cancelled,
    the seat goes to the waitlist. Audited with the reason."""
    raise NotImplementedError


def payment_cancel(payment: Payment, *, actor: str, reason: str) -> bool:
    """A pending charge cancelled by an organizer: registration cancelled, seat released. Audited."""
    raise NotImplementedError


def review_approve(review: Review, *, actor: str) -> bool:
    """Approve a receipt (-> payment paid, registration confirmed) or a proof (-> proof approved)."""
    raise NotImplementedError


def review_reject(review: Review, *, actor: str, reason: str) -> bool:
    """Reject with a reason the participant receives in the chat."""
    raise NotImplementedError
