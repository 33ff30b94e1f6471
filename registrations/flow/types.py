"""The flow's data: what it reads (:class:`FlowContext`, :class:`FlowState`, :class:`Understood`), the
effects it asks for and their results, and the modes and outcome kinds it records."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from registrations.steps import FIELDS
from registrations.steps import RegistrationStep as Step

MODE_AMEND = "amend"  # correcting one field of the stored registration
MODE_CHOOSE_FIELD = "choose_field"  # after completion: which field to correct?
MODE_CONFIRM_CANCEL = "confirm_cancel"  # after completion: really cancel?
MODE_LOOKUP = "lookup"  # no registration from this number: which CPF? (a changed phone)
MODE_REFUSED = "consent_refused"  # consent was just refused: a "sim" now is a change of mind
MODE_OFFER_RESEND = "offer_resend"  # a CPF on file elsewhere: resend its confirmation to the e-mail on file?

# Outcome kinds the flow asks the adapter to record (RegistrationEvent.Kind values).
CONSENT_GIVEN = "consent_given"
CONSENT_REFUSED = "consent_refused"
ABANDONED = "abandoned"
DUPLICATE_REFUSED = "duplicate_refused"


# --------------------------------------------------------------------------
# Inputs
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class Understood:
    """What the engine's router decided this message is (``chatbot.router``).

    ``intent``: ``None`` (plain text), or one of ``register``,
    ``register_other``, ``my_registration``, ``cancel_registration``,
    ``resend``, ``correct``, ``back``, ``cancel`` (and engine commands the
    flow ignores). ``field``: the registration field the message names.
    """

    intent: str | None = None
    question: bool = False
    field: str | None = None
    small_talk: str | None = None  # "greeting", "how_are_you", "thanks", "bye", "laugh"


@dataclass(frozen=True)
class ProfileOption:
    id: int
    name: str
    keywords: tuple[str, ...] = ()


@dataclass(frozen=True)
class TicketOption:
    """A ticket category the participant may choose (matched like a profile: by number or name)."""

    id: int
    name: str
    price_text: str = ""  # "R$ 480,00 (1º lote)", "gratuita"
    profile_ids: tuple[int, ...] = ()  # empty: any profile
    full: bool = False  # every seat held: choosing it joins the waitlist
    keywords: tuple[str, ...] = ()


@dataclass(frozen=True)
class OwnRegistration:
    """The conversation's own Participant, for self-service (shown only to its owner)."""

    id: int
    full_name: str
    email: str
    cpf: str
    phone: str
    city: str
    uf: str
    profile_name: str
    active: bool
    email_status: str = "pending"
    profile_id: int | None = None
    city_ibge_code: int | None = None
    district: str = ""
    # Where the registration stands, in words (status, amount due, code), from payments.
    status_line: str = ""
    code: str = ""


@dataclass(frozen=True)
class OtherRegistration:
    """A registration of another conversation holding a CPF or e-mail typed here.

    Only what may be said to whoever typed it: its id (to resend its own
    confirmation to its own address) and its e-mail masked.
    """

    id: int
    masked_email: str
    active: bool


@dataclass(frozen=True)
class FlowContext:
    """Everything the flow needs from the world, as plain data.

    ``owners`` maps ``"cpf:<11 digits>"`` / ``"email:<address>"`` to ``"own"``
    (the active registration of this conversation) or ``"other"`` (an active
    registration of someone else); values not in it are free. ``others``
    holds, for the same keys, the other registration (see
    :class:`OtherRegistration`). Build the keys with :func:`lookup_keys`.
    ``turn`` is the conversation's turn counter: a self-service question
    (which field? really cancel?) is only answered on the very next turn.
    ``whatsapp_phone`` is the E.164 number this conversation writes from, when
    it is a Brazilian number (offered at the phone step). ``region`` is the
    event's UF and its neighbours (city suggestions are ranked toward it).
    """

    now: datetime
    event_name: str = ""
    registration_open: bool = True
    profiles: tuple[ProfileOption, ...] = ()
    privacy_notice: str = ""
    privacy_notice_url: str = ""
    privacy_notice_version: str = ""
    contact: str = ""
    intent: str | None = None
    turn: int = 0
    own: OwnRegistration | None = None
    owners: Mapping[str, str] = field(default_factory=dict)
    others: Mapping[str, OtherRegistration] = field(default_factory=dict)
    understood: Understood = field(default_factory=Understood)
    whatsapp_phone: str = ""
    region: tuple[str, ...] = ()
    relatives: tuple[tuple[str, bool], ...] = ()  # (name, active) of the registrations in ``FlowState.others``
    tickets: tuple[TicketOption, ...] = ()  # the event's active ticket categories (none: a free event)


@dataclass(frozen=True)
class FlowState:
    """Where one conversation stands. Immutable: ``advance`` returns a new one."""

    step: str = Step.IDLE
    fields: Mapping[str, Any] = field(default_factory=dict)
    editing: str | None = None  # field being corrected (at the summary, by "voltar"/"errei", or with mode amend)
    pending: Mapping[str, Any] | None = None  # a suggestion or candidate list awaiting an answer
    mode: str | None = None
    mode_turn: int | None = None
    participant_id: int | None = None
    held: str | None = None  # text sent before consent, read after "sim"
    other: bool = False  # this registration is for another person than the conversation's owner
    others: tuple[int, ...] = ()  # registrations made from this conversation for other people (spouse, child...)

    @classmethod
    def from_data(cls, step: str, data: Mapping[str, Any] | None) -> FlowState:
        data = data or {}
        known = {str(s) for s in Step}
        return cls(
            step=step if step in known else Step.IDLE,
            fields=dict(data.get("fields") or {}),
            editing=data.get("editing"),
            pending=data.get("pending"),
            mode=data.get("mode"),
            mode_turn=data.get("mode_turn"),
            participant_id=data.get("participant_id"),
            held=data.get("held"),
            other=bool(data.get("other")),
            others=tuple(int(pk) for pk in data.get("others") or () if str(pk).isdigit()),
        )

    def to_data(self) -> dict[str, Any]:
        """JSON for ``ConversationState.data`` (only keys with a value)."""
        raw = {
            "fields": dict(self.fields),
            "editing": self.editing,
            "pending": dict(self.pending) if self.pending is not None else None,
            "mode": self.mode,
            "mode_turn": self.mode_turn,
            "participant_id": self.participant_id,
            "held": self.held,
            "other": self.other or None,
            "others": list(self.others) or None,
        }
        return {key: value for key, value in raw.items() if value not in (None, {}, "")}

    @property
    def missing(self) -> tuple[str, ...]:
        return tuple(name for name in FIELDS if not self.fields.get(name))


FLOW_DATA_KEYS = frozenset(
    {"fields", "editing", "pending", "mode", "mode_turn", "participant_id", "held", "other", "others"}
)


# --------------------------------------------------------------------------
# Effects and their results
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class RegistrationData:
    full_name: str
    email: str
    cpf: str
    phone: str
    city: str
    city_ibge_code: int | None
    uf: str
    profile_id: int
    consent_at: datetime
    consent_version: str
    district: str = ""
    for_other: bool = False  # registered by someone else from this conversation (spouse, child...)
    ticket_id: int | None = None


@dataclass(frozen=True)
class RegisterParticipant:
    data: RegistrationData


@dataclass(frozen=True)
class UpdateParticipant:
    participant_id: int
    field: str
    changes: Mapping[str, Any]


@dataclass(frozen=True)
class CancelParticipant:
    participant_id: int


@dataclass(frozen=True)
class ResendEmail:
    participant_id: int


@dataclass(frozen=True)
class AskQuestion:
    """Answer ``text`` (event Q&A); the answer goes before the flow's replies."""

    text: str


@dataclass(frozen=True)
class RecordOutcome:
    kind: str
    detail: str = ""


Effect = RegisterParticipant | UpdateParticipant | CancelParticipant | ResendEmail | AskQuestion | RecordOutcome


@dataclass(frozen=True)
class RegisterResult:
    """What ``participant_register`` did: created, reactivated, already_registered or duplicate."""

    outcome: str
    participant_id: int | None = None
    field: str | None = None  # "cpf" or "email" for a duplicate
    status: str = "confirmed"  # the registration's status once placed (payments)
    code: str = ""  # the registration code
    replies: tuple[str, ...] = ()  # what payments says about it (amount due, Pix, waitlist), when not plainly confirmed


@dataclass(frozen=True)
class UpdateResult:
    """What ``participant_update`` did: updated, unchanged, duplicate or not_found."""

    outcome: str
    field: str | None = None


Turn = tuple[FlowState, list[str], list[Effect]]


# --------------------------------------------------------------------------
# Choices a prompt offers (rendered as buttons or a list where the channel can)
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class Choice:
    """One option of a prompt: ``answer`` is the exact text the participant
    could type for it, so a tap reads as that typed answer."""

    answer: str
    title: str
    description: str = ""


@dataclass(frozen=True)
class Choices:
    """The options the last prompt of a turn offers. ``kind`` is ``"buttons"``
    (at most 3) or ``"list"`` (at most 10 rows behind ``button``). The reply's
    text stays the whole message (numbered options included): a channel
    without interactive messages simply sends the text."""

    kind: str
    options: tuple[Choice, ...]
    button: str = ""

    def to_data(self) -> dict[str, Any]:
        """JSON for ``OutboundMessage.interactive`` (``id`` = the answer a tap gives)."""
        data: dict[str, Any] = {
            "kind": self.kind,
            "options": [
                {"id": option.answer, "title": option.title, "description": option.description}
                for option in self.options
            ],
        }
        if self.button:
            data["button"] = self.button
        return data


