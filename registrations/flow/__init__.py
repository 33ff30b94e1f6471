"""The registration conversation as data plus one pure function.

``advance(state, text, ctx=...)`` reads one participant message and returns
the next :class:`FlowState`, the pt-BR replies and a list of effects. It does
no I/O: everything it needs from the world (the event, its profiles, the
privacy notice, the clock, whether a CPF or e-mail already belongs to a
registration, the conversation's own registration, and what the message *is*
according to the engine's router) arrives in :class:`FlowContext`, and
everything it wants done to the world leaves as an effect
(:class:`RegisterParticipant`, :class:`UpdateParticipant`, ...) that the
engine's registration adapter (``chatbot.registration``) executes through the
services. Effects whose outcome changes the conversation (a registration
refused as a duplicate) are resolved by the pure follow-ups
:func:`after_register` and :func:`after_update`.

Steps (CONTRACT §4, defined in ``registrations.steps``): consent -> name ->
e-mail -> CPF -> phone -> city -> UF (only when the city does not settle it)
-> profile -> confirming -> completed.

How a message is read, at any step:
- the router (``ctx.understood``) has already said whether it is a question,
  a command ("voltar", "cancelar", a correction naming a field, another
  person's registration) or plain text;
- every value is read with confidence by ``registrations.reading`` and
  ``registrations.places``; a value the reader is unsure of (a repaired
  e-mail, a name guessed out of a sentence, a CPF missing its leading zero,
  an old 8-digit mobile, a city found through a typo) is asked back
  ("Seu e-mail é *…*?") before it is stored;
- an e-mail, CPF or phone typed at another step is kept and echoed; a city
  or profile found in the rest of a name message is kept too;
- every value kept is echoed, so a misreading can be spotted at once, and
  the summary at the end lets any field be corrected.

Text sent before consent is held (``FlowState.held``) for this conversation
only: read after "sim", discarded on "não".

The prompts stay plain text; :func:`offered_choices` says which options the
turn's last prompt offers (buttons or a list on channels that show them),
each answering exactly what typing it would.
"""


from __future__ import annotations

from registrations.flow.choices import offered_choices
from registrations.flow.machine import advance, after_register, after_update
from registrations.flow.parsers import match_profile, why_we_ask
from registrations.flow.reading import is_no, is_yes, lookup_keys, wants_turn
from registrations.flow.texts import field_label, pending_question
from registrations.flow.types import (
    ABANDONED,
    CONSENT_GIVEN,
    CONSENT_REFUSED,
    DUPLICATE_REFUSED,
    FLOW_DATA_KEYS,
    MODE_AMEND,
    MODE_CHOOSE_FIELD,
    MODE_CONFIRM_CANCEL,
    MODE_LOOKUP,
    MODE_OFFER_RESEND,
    MODE_REFUSED,
    AskQuestion,
    CancelParticipant,
    Choice,
    Choices,
    Effect,
    FlowContext,
    FlowState,
    OtherRegistration,
    OwnRegistration,
    ProfileOption,
    RecordOutcome,
    RegisterParticipant,
    RegisterResult,
    RegistrationData,
    ResendEmail,
    TicketOption,
    Understood,
    UpdateParticipant,
    UpdateResult,
)
from registrations.steps import FIELDS, IN_FLOW_STEPS

__all__ = [
    "ABANDONED",
    "CONSENT_GIVEN",
    "CONSENT_REFUSED",
    "DUPLICATE_REFUSED",
    "FIELDS",
    "FLOW_DATA_KEYS",
    "IN_FLOW_STEPS",
    "MODE_AMEND",
    "MODE_CHOOSE_FIELD",
    "MODE_CONFIRM_CANCEL",
    "MODE_LOOKUP",
    "MODE_OFFER_RESEND",
    "MODE_REFUSED",
    "AskQuestion",
    "CancelParticipant",
    "Choice",
    "Choices",
    "Effect",
    "FlowContext",
    "FlowState",
    "OtherRegistration",
    "OwnRegistration",
    "ProfileOption",
    "RecordOutcome",
    "RegisterParticipant",
    "RegisterResult",
    "RegistrationData",
    "ResendEmail",
    "TicketOption",
    "Understood",
    "UpdateParticipant",
    "UpdateResult",
    "advance",
    "after_register",
    "after_update",
    "field_label",
    "is_no",
    "is_yes",
    "lookup_keys",
    "match_profile",
    "offered_choices",
    "pending_question",
    "wants_turn",
    "why_we_ask",
]
