"""Reading free text for the flow: the readers' answers cached per message, the pieces of a message
that hold personal data, and the owners' keys the adapter looks up before a turn."""

from __future__ import annotations

import functools
import re

from registrations import places
from registrations import validators as v
from registrations.flow.types import MODE_REFUSED, FlowState, Understood
from registrations.reading import answers, emails, names, numbers
from registrations.reading.emails import find_email_span
from registrations.steps import IN_FLOW_STEPS

# --------------------------------------------------------------------------
# Reading free text
# --------------------------------------------------------------------------

# The readers are pure functions of the text; one turn reads the same message
# several times (the owners' keys, out-of-turn values, the step's parser), so
# their answers are kept for the last few hundred messages.
read_email = functools.lru_cache(maxsize=512)(emails.read_email)
read_cpf = functools.lru_cache(maxsize=512)(numbers.read_cpf)
read_phone = functools.lru_cache(maxsize=512)(numbers.read_phone)
read_yes_no = functools.lru_cache(maxsize=512)(answers.read_yes_no)


@functools.lru_cache(maxsize=512)
def _read_name(text: str, extra_fragments: tuple[str, ...] = ()) -> names.NameReading:
    return names.read_name(text, extra_fragments=extra_fragments)


def read_name(text: str, *, extra_fragments: tuple[str, ...] = ()) -> names.NameReading:
    return _read_name(text, tuple(extra_fragments))


@functools.lru_cache(maxsize=512)
def read_place(text: str, region: tuple[str, ...] = ()) -> places.PlaceReading:
    return places.read_place(text, region=region)


_words = v.fold_words


def is_yes(text: str) -> bool:
    return read_yes_no(text) == "yes"


def is_no(text: str) -> bool:
    return read_yes_no(text) == "no"


def _refusal_fresh(state: FlowState, turn: int) -> bool:
    """Consent was refused in the last few turns: a "sim, aceito" now is a change of mind."""
    return state.mode == MODE_REFUSED and state.mode_turn is not None and 0 < turn - state.mode_turn <= 3


def wants_turn(state: FlowState, understood: Understood, *, turn: int) -> bool:
    """Whether this message belongs to the registration (else the engine answers it)."""
    if state.step in IN_FLOW_STEPS:
        return True
    if state.mode is not None and state.mode_turn == turn - 1:
        return True
    if _refusal_fresh(state, turn):
        return True
    return understood.intent in (
        "register", "register_other", "my_registration", "cancel_registration", "resend", "correct",
    ) or (understood.intent == "cancel" and state.participant_id is not None)  # fmt: skip


# Pieces of text that hold personal data, removed before reading a name, a
# city or a profile from the rest of the message.
_DIGIT_RUN_RE = re.compile(r"[+(]?\d[\d\s().+/\-]*\d\)?")
_LABELS_RE = re.compile(r"(?i)\b(e-?mail|cpf|telefone|celular|fone|whats(app)?|zap)\b\s*(é|e|:)?")


def _without_data(text: str) -> str:
    span = find_email_span(text)
    while span is not None:
        text = text[: span[0]] + " " + text[span[1] :]
        span = find_email_span(text)
    text = _DIGIT_RUN_RE.sub(lambda m: " " if sum(ch.isdigit() for ch in m.group(0)) >= 8 else m.group(0), text)
    text = _LABELS_RE.sub(" ", text)
    # Commas stay: they separate a name from a city or a profile typed after it.
    return " ".join(text.split()).strip(" .,;:-")


def lookup_keys(state: FlowState, text: str) -> set[str]:
    """Every ``owners`` key ``advance`` may consult for this message.

    The adapter looks these up in the database before calling ``advance``.
    """
    emails: set[str] = set()
    cpfs: set[str] = set()
    text = _join_spaced_digits(text)
    reading = read_email(text)
    emails.update(value for value in (reading.value, reading.suggestion) if value)
    found_email = v.find_email(text)
    if found_email:
        emails.add(found_email)
    cpf = read_cpf(text)
    cpfs.update(value for value in (cpf.value, cpf.suggestion) if value)
    found_cpf = v.find_cpf(text)
    if found_cpf:
        cpfs.add(found_cpf)
    pending = state.pending or {}
    if pending.get("kind") == "email_suggestion" and pending.get("value"):
        emails.add(pending["value"])
    if pending.get("kind") == "cpf_suggestion" and pending.get("value"):
        cpfs.add(pending["value"])
    if state.fields.get("email"):
        emails.add(state.fields["email"])
    if state.fields.get("cpf"):
        cpfs.add(state.fields["cpf"])
    if state.held:
        held_email = read_email(state.held)
        emails.update(value for value in (held_email.value, held_email.suggestion) if value)
        held_cpf = read_cpf(state.held)
        cpfs.update(value for value in (held_cpf.value,) if value)
    return {f"email:{email}" for email in emails} | {f"cpf:{cpf}" for cpf in cpfs}


_PHONE_CUE_RE = re.compile(r"\b(telefone|celular|fone|whats|whatsapp|zap|contato|numero)\b")


_CPF_CUE_RE = re.compile(r"\bcpf\b")


_PHONE_SHAPE_RE = re.compile(r"^\D*(\+?55\s*)?\(?\s*\d{2}\s*\)?[\s.-]*9?\s?\d{4}[\s.-]\d{4}\D*$")


_CPF_FORMAT_RE = re.compile(r"\d{3}[.\s]\d{3}[.\s]\d{3}[-.\s/]\d{2}")


def _looks_like_phone(text: str) -> bool:
    """Written the way phones are written: "(62) 99123-4512", "62 99123-4512", "+55 62 9…"."""
    stripped = text.strip()
    if _CPF_FORMAT_RE.search(stripped):
        return False
    # read_phone, not find_phone: the finder skips digits that also pass the CPF check.
    return bool(_PHONE_SHAPE_RE.match(stripped)) and read_phone(stripped).value is not None


_CITY_CUE = r"moro em|moro no|moro na|moro|resido em|sou de|sou da|sou do|minha cidade e|cidade"


_SPACED_DIGITS_RE = re.compile(r"(?<![\d.,/-])\d(?:[ ]\d){7,13}(?![\d.,/-])")


def _join_spaced_digits(text: str) -> str:
    """Voice transcripts write numbers digit by digit ("1 2 3 4 5 6 7 8 9 0 9"): join the run."""
    return _SPACED_DIGITS_RE.sub(lambda m: m.group(0).replace(" ", ""), text)
