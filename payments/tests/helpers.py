"""Driving whole conversations through the real engine (``conversation_turn``)."""

from __future__ import annotations

import itertools

from chatbot.engine import Attachment, conversation_turn
from registrations.models import Participant

_numbers = itertools.count(1)

# A tiny valid PNG (1x1), as a phone would send a photo of a receipt.
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
)


def new_number() -> str:
    return f"55439988{next(_numbers):05d}"


def say(chat_id: str, text: str = "", *, attachment: Attachment | None = None) -> str:
    return conversation_turn(conversation_id=chat_id, text=text, attachment=attachment).reply


def register(chat_id: str, *, cpf: str, email: str, profile: str, ticket: str | None = None, name: str = "Ana Lima") -> str:
    """From "quero me inscrever" to the confirmation; returns the last reply."""
    for text in ("quero me inscrever", "sim", name, email, cpf, "(43) 98888-7777", "Londrina/PR", profile):
        reply = say(chat_id, text)
    if ticket is not None:
        reply = say(chat_id, ticket)
    assert "Confira" in reply, reply
    return say(chat_id, "sim")


def participant_of(chat_id: str) -> Participant:
    return Participant.objects.select_related("ticket").get(conversation__conversation_id=chat_id)


def make_cpf(seed: int) -> str:
    """A valid CPF (check digits computed), different for each seed, never all digits equal."""
    base = [int(d) for d in f"{(seed * 7919 + 12345678) % 10**9:09d}"]
    if len(set(base)) == 1:
        base[0] = (base[0] + 1) % 10
    for length in (9, 10):
        total = sum(d * w for d, w in zip(base, range(length + 1, 1, -1), strict=False))
        base.append((total * 10 % 11) % 10)
    return "".join(map(str, base))
