"""The chat side of payments: files sent in the chat (receipts, proofs). Placeholder, being built."""

from __future__ import annotations

from django.utils.translation import gettext as _


def attachment_turn(state, attachment, *, now, silent: bool = False) -> list[str]:
    """A photo or PDF the participant sent: into the review queue when one is awaited. Returns the replies."""
    return [] if silent else [_("Recebi seu arquivo, mas não há comprovante pendente na sua inscrição.")]
