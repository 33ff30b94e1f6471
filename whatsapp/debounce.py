"""Bursts (``WA_DEBOUNCE_MS``): which of a chat's pending messages are
answered together, and when. Pure functions: no database, no clock.

People split one thought into several quick messages ("oi" / "quero me
inscrever" / "meu nome é João"). The drain (``services.chat_drain``) answers
such a burst as ONE engine turn, the messages' texts joined by newlines in
order, with ONE reply; this module only decides the burst's extent:

* A burst starts at the chat's oldest pending message and takes each next
  pending message that arrived (``created_at``, when we stored it) within
  the window of the one before it.
* It ends at a message that completes something on its own (``completes``):
  that burst is answered at once, without waiting for the window.
* A file (a photo or PDF: a Pix receipt, a proof) is never merged: it is a
  burst of its own, answered at once, and it ends the burst before it.
* It ends at ``MAX_MESSAGES`` messages, or when the next text would make the
  joined text longer than ``MAX_MESSAGE_CHARS`` (the engine reads no more).
* Otherwise, while its last message is the chat's newest and younger than the
  window, the burst waits for the rest of the window since that message (a
  new message restarts it), but never longer than ``MAX_WAIT_WINDOWS``
  windows since the burst's first message: someone typing non-stop is still
  answered.

The one reply is attached to the burst's LAST message (the one it follows in
the chat; the Cloud API's read receipt and typing indicator name it); every
earlier message is marked done with ``answered_with`` pointing to it, in the
same transaction as the turn, the reply and the state.

Nothing waits by sleeping: the accept schedules the chat's drain for the end
of the window (a countdown), or at once when the message ``may_complete`` a
step; a drain that finds the burst still open gives its worker back and
comes back when the window ends, unless a drain is already due by then.
With ``WA_DEBOUNCE_MS=0`` none of this runs.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from registrations.steps import RegistrationStep as Step

MAX_MESSAGES = 10
MAX_WAIT_WINDOWS = 4
# A drain that runs a few milliseconds before its window ends (timer
# resolution, clocks of two hosts) answers instead of waiting again.
EARLY_S = 0.02


@dataclass(frozen=True)
class Pending:
    """What the plan needs of one pending message."""

    id: int
    created_at: dt.datetime
    text: str  # its content as known now ("" for a voice note not transcribed yet)
    attachment: bool = False  # a photo or PDF: answered in a turn of its own


@dataclass(frozen=True)
class Plan:
    size: int  # how many of the oldest pending messages form the burst (0: none pending)
    wait: float  # seconds to wait before answering it; 0 = answer now
    # Why it ends there: "complete" (a message completed the step), "file"
    # (a photo or PDF, alone; or the burst before one), "question"
    # (a question follows: it gets a turn of its own), "gap" (the
    # next message came more than a window later), "full" (size or length),
    # "quiet" (a window passed since its last message), "waited" (the longest
    # wait), "open" (still waiting), "none" (nothing pending).
    reason: str


def plan_burst(
    pending: Sequence[Pending],
    *,
    now: dt.datetime,
    window: float,
    max_chars: int,
    completes: Callable[[str], bool],
) -> Plan:
    """The next burst among ``pending`` (the chat's pending messages, oldest
    first) and how long it must still wait. ``completes`` tells whether a
    message's text alone completes what the chat's pending step needs."""
    if not pending:
        return Plan(0, 0.0, "none")
    size, chars = 0, 0
    for message in pending:
        if message.attachment:
            # A file is never joined to text: the engine reads it as a file.
            # The messages before it are answered now, then the file alone.
            return Plan(size or 1, 0.0, "file")
        if size:
            previous = pending[size - 1]
            if (message.created_at - previous.created_at).total_seconds() > window:
                return Plan(size, 0.0, "gap")  # the burst went quiet for a window: it is over
            if size >= MAX_MESSAGES or chars + 1 + len(message.text) > max_chars:
                return Plan(size, 0.0, "full")
            if _QUESTION_END.search(message.text) and not all(_small_talk(m.text) for m in pending[:size]):
                # A question after other messages gets its own turn: joined,
                # "Pedro" + "quanto custa?" would read as a name (or the
                # question would swallow a city). Answer what came before now.
                # Greetings stay with it: "oi" + "quanto custa?" is one thought.
                return Plan(size, 0.0, "question")
        size += 1
        chars += len(message.text) + (1 if size > 1 else 0)
        if completes(message.text):
            return Plan(size, 0.0, "complete")
    quiet_in = window - (now - pending[size - 1].created_at).total_seconds()
    cap_in = window * MAX_WAIT_WINDOWS - (now - pending[0].created_at).total_seconds()
    if quiet_in <= EARLY_S:
        return Plan(size, 0.0, "quiet")
    if cap_in <= EARLY_S:
        return Plan(size, 0.0, "waited")
    # Never more than one window: a message stamped by a clock ahead of ours
    # must not stretch the wait.
    return Plan(size, min(quiet_in, cap_in, window), "open")


def _small_talk(text: str) -> bool:
    """A greeting, thanks or the like ("oi", "bom dia", "obrigado"), as the router reads it."""
    from chatbot.router import route

    return route(text).small_talk is not None


# --- "this message alone completes the pending step" ---------------------------------------

_QUESTION_END = re.compile(r"\?\W*$")
_UF_RE = re.compile(r"^\s*([A-Za-z]{2})\.?\s*$")
# The steps whose question is a yes or a no.
_YES_NO_STEPS = frozenset({Step.ASKING_CONSENT, Step.CONFIRMING})


def completes(text: str, *, step: str, data: Mapping[str, Any] | None) -> bool:
    """Whether ``text`` alone completes what the conversation waits for, so
    its burst is answered at once. Cheap and pure; the rule is deliberately
    small (when in doubt, the window decides):

    * it ends with a question mark: a question is a whole thought;
    * the last reply asked a yes/no question (consent, the summary, "Seu
      e-mail é *…*?", or any pending suggestion) and it is a plain yes or no;
    * the conversation is at a field's step and it is a valid value for it,
      read by the registration's own readers: a full name the reader is sure
      of (one word is not: "João" is often followed by "Silva"), an e-mail, a
      CPF, a phone with DDD, a UF, the number of a profile;
    * outside the registration, a lone number (an option of the menu).

    The city step is not read here (the place reader is the costliest and a
    city is often followed by its UF): it waits for the window.
    """
    from registrations.flow.reading import read_cpf, read_email, read_name, read_phone, read_yes_no
    from registrations.reading.numbers import read_choice
    from registrations.validators import UF_NAMES

    text = (text or "").strip()
    if not text:
        return False
    if _QUESTION_END.search(text):
        return True
    data = data if isinstance(data, Mapping) else {}
    awaiting_answer = isinstance(data.get("pending"), Mapping) and bool(data["pending"].get("kind"))
    if (step in _YES_NO_STEPS or awaiting_answer) and read_yes_no(text) is not None:
        return True
    if step == Step.ASKING_NAME:
        reading = read_name(text)
        return reading.value is not None and not reading.unsure and len(reading.value.split()) >= 2
    if step == Step.ASKING_EMAIL:
        return read_email(text).value is not None
    if step == Step.ASKING_CPF:
        return read_cpf(text).value is not None
    if step == Step.ASKING_PHONE:
        return read_phone(text).value is not None
    if step == Step.ASKING_STATE:
        match = _UF_RE.match(text)
        return match is not None and match.group(1).upper() in UF_NAMES
    if step == Step.ASKING_PROFILE:
        return read_choice(text, 20) is not None
    if step in (Step.IDLE, Step.COMPLETED, ""):
        return read_choice(text, 9) is not None
    return False


# Every step ``completes`` reads, with a suggestion pending: what the
# conversation might be waiting for, whatever it is.
_ANY_STEP = (Step.IDLE, Step.ASKING_NAME, Step.ASKING_EMAIL, Step.ASKING_CPF, Step.ASKING_PHONE, Step.ASKING_STATE,
             Step.ASKING_PROFILE)
_AWAITING = {"pending": {"kind": "any"}}


def may_complete(text: str) -> bool:
    """Whether ``text`` could complete the pending step of SOME conversation
    (``completes`` for any step). The accept's hint, read without the
    conversation: a message that cannot complete anything waits for the
    window whatever the conversation's step, so its drain is scheduled for
    the end of the window (one task); one that might is drained at once,
    and the drain decides with the conversation's step."""
    return any(completes(text, step=step, data=_AWAITING) for step in _ANY_STEP)
