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
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from django.utils.translation import gettext as _
from rapidfuzz import fuzz

from registrations import places
from registrations import validators as v
from registrations.reading import answers, emails, names, numbers
from registrations.reading.answers import split_yes_prefix, yes_with_reservation
from registrations.reading.emails import find_email_span
from registrations.reading.numbers import means_same_number, read_choice
from registrations.steps import FIELD_STEP, FIELDS, IN_FLOW_STEPS, STEP_FIELD
from registrations.steps import RegistrationStep as Step

__all__ = [
    "FIELDS",
    "IN_FLOW_STEPS",
    "AskQuestion",
    "CancelParticipant",
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
    "Understood",
    "UpdateParticipant",
    "UpdateResult",
    "advance",
    "after_register",
    "after_update",
    "lookup_keys",
    "wants_turn",
]

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


@dataclass(frozen=True)
class ProfileOption:
    id: int
    name: str
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


@dataclass(frozen=True)
class UpdateResult:
    """What ``participant_update`` did: updated, unchanged, duplicate or not_found."""

    outcome: str
    field: str | None = None


Turn = tuple[FlowState, list[str], list[Effect]]


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


def wants_turn(state: FlowState, understood: Understood, *, turn: int) -> bool:
    """Whether this message belongs to the registration (else the engine answers it)."""
    if state.step in IN_FLOW_STEPS:
        return True
    if state.mode is not None and state.mode_turn == turn - 1:
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


# --------------------------------------------------------------------------
# Texts (every participant-facing word goes through gettext)
# --------------------------------------------------------------------------


def field_label(name: str) -> str:
    return {
        "full_name": _("Nome"),
        "email": _("E-mail"),
        "cpf": _("CPF"),
        "phone": _("Telefone"),
        "city": _("Cidade"),
        "profile": _("Perfil"),
    }[name]


def _field_label_lower(name: str) -> str:
    return {
        "full_name": _("nome"),
        "email": _("e-mail"),
        "cpf": _("CPF"),
        "phone": _("telefone"),
        "city": _("cidade"),
        "profile": _("perfil"),
    }[name]


def _field_with_article(name: str) -> str:
    """"o nome", "a cidade": Portuguese needs the article's gender."""
    return {
        "full_name": _("o nome"),
        "email": _("o e-mail"),
        "cpf": _("o CPF"),
        "phone": _("o telefone"),
        "city": _("a cidade"),
        "profile": _("o perfil"),
    }[name]


def _contact_line(ctx: FlowContext) -> str:
    if ctx.contact:
        return _("Para falar com a organização: %(contact)s.") % {"contact": ctx.contact}
    return _("Para falar com a organização, diga *falar com a organização*.")


def _consent_prompt(ctx: FlowContext) -> str:
    event = ctx.event_name or _("evento")
    notice = ctx.privacy_notice.strip() or _(
        "Para fazer sua inscrição no *%(event)s* vou pedir nome, e-mail, CPF, telefone, cidade e perfil. "
        "Esses dados são usados só para organizar o evento (credenciamento, certificado e avisos sobre o "
        "evento), guardados com segurança e não são compartilhados para outros fins. Você pode ver, "
        "corrigir ou cancelar sua inscrição a qualquer momento por aqui."
    ) % {"event": event}
    parts = [f"🔒 {notice}"]
    if ctx.privacy_notice_url:
        parts.append(_("Aviso de privacidade completo: %(url)s") % {"url": ctx.privacy_notice_url})
    parts.append(_("Você concorda com o uso dos seus dados para a inscrição? Responda *sim* ou *não*."))
    return "\n\n".join(parts)


def _consent_short(ctx: FlowContext) -> str:
    """The consent question again, without the whole notice (already shown)."""
    return _("Você concorda com o uso dos seus dados para a inscrição, como expliquei acima? Responda *sim* ou *não*.")


def _profiles_menu(ctx: FlowContext) -> str:
    return "\n".join(f"{index}. {profile.name}" for index, profile in enumerate(ctx.profiles, start=1))


def _place_label(option: list[Any] | tuple[Any, ...]) -> str:
    _code, name, uf, *rest = option
    district = rest[0] if rest else ""
    return f"{district} ({name}/{uf})" if district else f"{name}/{uf}"


def _candidates_menu(cities: list[list[Any]]) -> str:
    return "\n".join(f"{index}. {_place_label(option)}" for index, option in enumerate(cities, start=1))


def _prompt(state: FlowState, ctx: FlowContext) -> str:
    """The question pending at ``state`` (repeated after an answer or an error)."""
    step = state.step
    amending = state.mode == MODE_AMEND
    current = _current_value(state, ctx) if (state.editing or amending) else ""
    if step == Step.ASKING_CONSENT:
        return _consent_prompt(ctx)
    if step == Step.ASKING_NAME:
        text = _("Qual é o seu *nome completo*? (do jeito que deve sair no crachá e no certificado)")
        if state.other:
            text = _("Qual é o *nome completo* da pessoa que você quer inscrever? (como deve sair no crachá)")
    elif step == Step.ASKING_EMAIL and state.other:
        text = _("Qual é o *e-mail* de %(person)s? A confirmação da inscrição vai para ele.") % {"person": _person(state)}
    elif step == Step.ASKING_EMAIL:
        text = _("Qual é o seu *e-mail*? A confirmação da inscrição vai para ele.")
    elif step == Step.ASKING_CPF and state.other:
        text = _("Qual é o *CPF* de %(person)s? Pode enviar só os números.") % {"person": _person(state)}
    elif step == Step.ASKING_CPF:
        text = _("Qual é o seu *CPF*? Pode enviar só os números, por exemplo: 123.456.789-09.")
    elif step == Step.ASKING_PHONE and state.other:
        text = _("Qual é o *telefone com DDD* de %(person)s? Se for este WhatsApp, responda *esse mesmo*.") % {
            "person": _person(state)
        }
    elif step == Step.ASKING_PHONE:
        text = _("Qual é o seu *telefone com DDD*? Por exemplo: (61) 99999-0000.")
        if ctx.whatsapp_phone and not current and not state.other:
            text = _(
                "Qual é o seu *telefone com DDD*? Se for este WhatsApp, *%(phone)s*, responda *esse mesmo*."
            ) % {"phone": _phone_display(ctx.whatsapp_phone)}
    elif step == Step.ASKING_CITY and state.other:
        text = _("Em qual *cidade* %(person)s mora? Por exemplo: Goiânia, ou Santa Maria/RS.") % {"person": _person(state)}
    elif step == Step.ASKING_CITY:
        text = _("Em qual *cidade* você mora? Por exemplo: Goiânia, ou Santa Maria/RS.")
    elif step == Step.ASKING_STATE:
        cities = list((state.pending or {}).get("cities") or [])
        return _("Encontrei mais de um lugar com esse nome. Qual é o seu? Responda com o número ou a sigla do estado (UF):\n%(options)s") % {
            "options": _candidates_menu(cities)
        }
    elif step == Step.ASKING_PROFILE and state.other:
        text = _("Qual é o *perfil* de %(person)s? Responda com o número ou o nome:\n%(options)s") % {
            "person": _person(state),
            "options": _profiles_menu(ctx),
        }
    elif step == Step.ASKING_PROFILE:
        text = _("Qual é o seu *perfil*? Responda com o número ou o nome:\n%(options)s") % {
            "options": _profiles_menu(ctx)
        }
    elif step == Step.CONFIRMING:
        return _summary(state.fields, person=_person(state) if state.other else "")
    else:
        return ""
    if current and amending:
        text = _("%(question)s\n(Hoje está: %(current)s. Para não mudar nada, diga *cancelar*.)") % {
            "question": text,
            "current": current,
        }
    elif current:
        text = _("%(question)s\n(Hoje está: %(current)s. Se estiver certo, responda *está certo*.)") % {
            "question": text,
            "current": current,
        }
    return text


def _person(state: FlowState) -> str:
    """How to name the person being registered by someone else: the first name once known."""
    name = str(state.fields.get("full_name") or "")
    return name.split(" ", 1)[0] if name else _("essa pessoa")


def _current_value(state: FlowState, ctx: FlowContext) -> str:
    name = state.editing
    if not name:
        return ""
    if state.mode == MODE_AMEND and ctx.own is not None:
        own = ctx.own
        return {
            "full_name": own.full_name,
            "email": own.email,
            "cpf": v.mask_cpf(own.cpf),
            "phone": _phone_display(own.phone),
            "city": f"{own.city}/{own.uf}",
            "profile": own.profile_name,
        }[name]
    return _display(state.fields, name) if state.fields.get(name) else ""


def _phone_display(e164: str) -> str:
    try:
        return v.format_phone(e164)
    except ValueError:
        return e164


def _display(fields: Mapping[str, Any], name: str, *, mask: bool = False) -> str:
    value = fields.get(name)
    if not value:
        return "—"
    if name == "cpf":
        return v.mask_cpf(value) if mask else v.format_cpf(value)
    if name == "phone":
        return _phone_display(value)
    if name == "city":
        district = fields.get("district")
        place = f"{value}/{fields.get('uf', '')}"
        return f"{district} ({place})" if district else place
    if name == "profile":
        return str(fields.get("profile_name") or value)
    return str(value)


def _summary(fields: Mapping[str, Any], *, person: str = "") -> str:
    lines = [
        f"{index}. {field_label(name)}: {_display(fields, name)}" for index, name in enumerate(FIELDS, start=1)
    ]
    if person:
        return _(
            "📋 *Confira os dados de %(person)s:*\n%(lines)s\n\nEstá tudo certo? Responda *sim* para confirmar a "
            "inscrição, ou o *número* do dado que quer corrigir."
        ) % {"person": person, "lines": "\n".join(lines)}
    return _(
        "📋 *Confira seus dados:*\n%(lines)s\n\nEstá tudo certo? Responda *sim* para confirmar a inscrição, "
        "ou o *número* do dado que quer corrigir."
    ) % {"lines": "\n".join(lines)}


def _own_fields(own: OwnRegistration) -> dict[str, Any]:
    return {
        "full_name": own.full_name,
        "email": own.email,
        "cpf": own.cpf,
        "phone": own.phone,
        "city": own.city,
        "uf": own.uf,
        "profile": own.profile_name,
        "profile_name": own.profile_name,
    }


def _relatives_line(ctx: FlowContext) -> str:
    if not ctx.relatives:
        return ""
    names = ", ".join(
        f"{name} ({_('confirmada') if active else _('cancelada')})" for name, active in ctx.relatives
    )
    return _("Inscrições de outras pessoas feitas por aqui: %(names)s.") % {"names": names}


def _own_summary(own: OwnRegistration) -> str:
    fields = _own_fields(own)
    lines = [
        f"{index}. {field_label(name)}: {_display(fields, name, mask=True)}"
        for index, name in enumerate(FIELDS, start=1)
    ]
    if not own.active:
        return _(
            "📋 *Sua inscrição está cancelada.*\n%(lines)s\n\nPara se inscrever de novo, diga *quero me inscrever*."
        ) % {"lines": "\n".join(lines)}
    email_status = {
        "sent": _("enviado ✅"),
        "failed": _("não foi possível enviar (diga *reenviar e-mail*)"),
    }.get(own.email_status, _("a caminho"))
    return _(
        "📋 *Sua inscrição está confirmada* ✅\n%(lines)s\nE-mail de confirmação: %(email_status)s\n\n"
        "Para corrigir um dado, diga *corrigir* (ou, por exemplo, *corrigir e-mail*). "
        "Para receber a confirmação de novo, *reenviar e-mail*. Para cancelar, *cancelar minha inscrição*. "
        "Para inscrever outra pessoa, *inscrever outra pessoa*."
    ) % {"lines": "\n".join(lines), "email_status": email_status}


def _duplicate_message(name: str, ctx: FlowContext, other: OtherRegistration | None = None) -> str:
    # Never a word about the other registration but its e-mail masked, and
    # only to offer sending its own confirmation to its own address.
    if name == "cpf":
        text = _("Este CPF já está em outra inscrição, então não posso usá-lo de novo.")
    else:
        text = _("Este e-mail já está sendo usado em outra inscrição, então não posso usá-lo de novo.")
    if other is not None and other.active and name == "email":
        # They typed the address: offering to write to it reveals nothing.
        return _(
            "%(text)s Se a inscrição é sua (por exemplo, feita por outro número), posso reenviar a confirmação "
            "para esse e-mail: responda *reenviar*. Se digitou errado, envie o e-mail certo."
        ) % {"text": text}
    if other is not None and other.active:
        # CONTRACT §4: nothing about the other registration is shown, not even
        # its e-mail masked; the confirmation goes to its own address.
        return _(
            "%(text)s Se a inscrição é sua (feita por outro número, por exemplo), posso reenviar a confirmação "
            "para o e-mail cadastrado nela: responda *reenviar*. Se digitou errado, envie o CPF certo. %(contact)s"
        ) % {"text": text, "contact": _contact_line(ctx)}
    return _("%(text)s Se a inscrição é sua ou se acha que há um engano, a organização pode ajudar. %(contact)s") % {
        "text": text,
        "contact": _contact_line(ctx),
    }


def _own_found_message() -> str:
    return _(
        "Esse dado já está na inscrição feita por esta conversa. Diga *minha inscrição* para ver ou corrigir "
        "seus dados, ou *inscrever outra pessoa*."
    )


def _already_confirmed() -> list[str]:
    return [_("Sua inscrição já está confirmada ✅ Diga *minha inscrição* para ver ou corrigir seus dados.")]


def _back_to(prompt: str) -> str:
    return _("↩️ Voltando à sua inscrição:\n%(prompt)s") % {"prompt": prompt}


def _closed_message(ctx: FlowContext) -> str:
    return _("As inscrições estão encerradas no momento. 🙏 %(contact)s") % {"contact": _contact_line(ctx)}


def _echo(name: str, values: Mapping[str, Any]) -> str:
    """One short line that shows the participant what was understood."""
    if name == "full_name":
        return _("Nome: *%(value)s* ✍️") % {"value": values["full_name"]}
    if name == "email":
        return _("E-mail: *%(value)s* ✍️") % {"value": values["email"]}
    if name == "cpf":
        return _("CPF: *%(value)s* ✍️") % {"value": v.format_cpf(values["cpf"])}
    if name == "phone":
        return _("Telefone: *%(value)s* ✍️") % {"value": _phone_display(values["phone"])}
    if name == "city":
        return _("Cidade: *%(value)s* 📍") % {"value": _display(values, "city")}
    return _("Perfil: *%(value)s* ✍️") % {"value": values.get("profile_name") or values.get("profile")}


def _echoes(values: Mapping[str, Any]) -> str:
    return _("Anotei:\n%(lines)s") % {"lines": "\n".join(_echo(name, values) for name in FIELDS if values.get(name))}


# --------------------------------------------------------------------------
# Parsing one step's answer
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class _Parsed:
    values: Mapping[str, Any] | None = None  # accepted
    error: str | None = None  # stay and say this
    pending: Mapping[str, Any] | None = None  # a suggestion / candidates awaiting an answer
    step: str | None = None  # move to this step (city -> state)
    prompt: str | None = None  # say this instead of the step's prompt (with pending)
    question: bool = False  # not an answer: a question for the Q&A
    extra: Mapping[str, Any] | None = None  # values for later fields found in the same message
    other: bool | None = None  # the registration turned out to be for another person


_WHY_RE = re.compile(r"\b(pra que|para que|por que|porque|pq|pra q|por q)\b")


def _why_message(name: str) -> str:
    """Why we ask ``name``: the answer to "pra que vc precisa do meu nome?"."""
    reasons = {
        "full_name": _("Seu nome vai no crachá e no certificado."),
        "email": _("A confirmação da inscrição e os avisos do evento vão para o seu e-mail."),
        "cpf": _("O CPF identifica sua inscrição no credenciamento e no certificado, e evita inscrições repetidas."),
        "phone": _("O telefone é para a organização avisar você sobre o evento, se precisar."),
        "city": _("A cidade ajuda a organização a conhecer o público do evento."),
        "profile": _("O perfil ajuda a organização a preparar o evento para cada público."),
    }
    return _("%(reason)s Seus dados são usados só para organizar o evento e não são compartilhados.") % {
        "reason": reasons[name]
    }


def _is_why_question(text: str, ctx: FlowContext) -> bool:
    words = _words(text)
    return ctx.understood.question and bool(_WHY_RE.search(words)) and bool(
        re.search(r"\b(nome|e ?mail|email|cpf|telefone|celular|cidade|perfil|dados|isso|informacao|precisa|precisam)\b", words)
    )


_THANKS_RE = re.compile(r"^(muito )?(obrigad|obg|brigad|valeu|vlw|grat)")

_NAME_ERRORS = {
    "thanks": lambda: _("De nada! 😊 Para seguir com a inscrição, me diga seu *nome completo*."),
    "greeting": lambda: _("Olá! 😊 Para seguir com a inscrição, me diga seu *nome completo*."),
    "negation": lambda: _(
        "Sem o nome não consigo fazer a inscrição: ele vai no crachá e no certificado. Se preferir parar, diga *cancelar*."
    ),
    "sentence": lambda: _("Sem pressa! Quando puder, me envie seu *nome completo*. Para parar, diga *cancelar*."),
    "profanity": lambda: _("Vamos manter a conversa respeitosa, por favor 🙏 Qual é o seu *nome completo*?"),
    "single_word": lambda: _("Preciso do nome completo, com nome e sobrenome. Por exemplo: Maria da Silva."),
    "digits": lambda: _("O nome não pode ter números. Envie só o nome completo, por exemplo: Maria da Silva."),
}


def _name_fragments(ctx: FlowContext) -> tuple[str, ...]:
    return tuple(profile.name for profile in ctx.profiles) + tuple(k for p in ctx.profiles for k in p.keywords)


def _extras_from(rest: str, ctx: FlowContext) -> dict[str, Any]:
    """A city and a profile in what a name message held besides the name (kept only when certain)."""
    found: dict[str, Any] = {}
    if not rest.strip():
        return found
    reading = read_place(rest, region=ctx.region)
    if reading.place is not None and not reading.unsure:
        found.update(_place_values(reading.place))
    profile = match_profile(rest, ctx.profiles, numbers=False)
    if profile is not None:
        found.update({"profile": profile.id, "profile_name": profile.name})
    return found


def _parse_name(state: FlowState, text: str, ctx: FlowContext) -> _Parsed:
    pending = state.pending or {}
    confirming_name = pending.get("kind") == "name_confirm"
    if confirming_name:
        answer = read_yes_no(text)
        if answer == "yes":
            return _Parsed(values={"full_name": pending["value"]}, extra=pending.get("extra"))
        if answer == "no":
            return _Parsed(error=_("Tudo bem. Como devo escrever seu *nome completo*?"))
    if _is_why_question(text, ctx):
        return _Parsed(error=_why_message("full_name"))
    if not any(ch.isalpha() or ch.isdigit() for ch in text):
        # ".", "?", "..." or an emoji: nothing to read; just ask again.
        return _Parsed(error=_("Qual é o seu *nome completo*? (do jeito que deve sair no crachá e no certificado)"))
    reading = read_name(_without_data(text), extra_fragments=_name_fragments(ctx))
    if reading.value is None and ctx.understood.question:
        return _Parsed(question=True)
    other = True if reading.other_person else None
    if reading.value is None and reading.problem == "single_word" and reading.rest:
        # "me chamo José, José Carlos da Silva": the full name came after the short one.
        again = read_name(reading.rest, extra_fragments=_name_fragments(ctx))
        if again.value is not None:
            reading = again
    if reading.value is None and confirming_name:
        # Not a name and not an answer (an e-mail, a CPF...): the name question still stands.
        return _Parsed(
            pending=pending,
            prompt=_("Seu nome é *%(name)s*? Responda *sim* ou envie o nome completo.") % {"name": pending["value"]},
        )
    if reading.value is None and not reading.other_person:
        extra = _extras_from(text, ctx) if re.search(rf"\b({_CITY_CUE}|sou)\b", _words(text)) else {}
        if extra:
            # "sou estudante" at the name step: kept; the name is still asked.
            return _Parsed(error="", extra=extra)
    if reading.value is None:
        if reading.other_person:
            return _Parsed(
                error=_("Certo, vamos fazer a inscrição dessa pessoa. Qual é o *nome completo* dela?"), other=True
            )
        if reading.problem == "empty" and _without_data(text) != text.strip():
            return _Parsed(error="")  # only data for other steps: ask the name again
        problem = "thanks" if reading.problem == "greeting" and _THANKS_RE.match(_words(text)) else reading.problem
        message = _NAME_ERRORS.get(problem)
        if message is not None:
            return _Parsed(error=message())
        try:
            v.normalize_name(_without_data(text))
        except v.InvalidValue as error:
            return _Parsed(error=error.message)
        return _Parsed(error=_NAME_ERRORS["sentence"]())
    extra = _extras_from(reading.rest, ctx)
    # A name followed by a city or a profile ("Maria Souza moro em Uberlândia MG sou produtora") is
    # explained by what follows it: echoed, not asked back.
    if reading.unsure and not (extra and 2 <= len(reading.value.split()) <= 5):
        return _Parsed(
            pending={"kind": "name_confirm", "value": reading.value, "extra": extra or None},
            prompt=_("Seu nome é *%(name)s*? Responda *sim* ou envie o nome completo.") % {"name": reading.value},
            other=other,
        )
    return _Parsed(values={"full_name": reading.value}, extra=extra or None, other=other)


def _suggestion_answer(state: FlowState, text: str, kind: str, name: str) -> _Parsed | None:
    """The answer to "Você quis dizer …?" for ``kind``: yes keeps the suggestion, no asks again."""
    pending = state.pending or {}
    if pending.get("kind") != kind:
        return None
    answer = read_yes_no(text)
    if answer == "yes":
        return _Parsed(values={name: pending["value"]})
    if answer == "no":
        declined = {"kind": f"{name}_declined", "value": pending.get("value"), "original": pending.get("original")}
        again = {
            "email": _("Tudo bem. Envie seu e-mail completo de novo, com atenção ao que vem depois do @ (ex.: maria.souza@gmail.com)."),
            "cpf": _("Tudo bem. Envie os 11 números do seu CPF de novo, conferindo no documento."),
            "phone": _("Tudo bem. Envie seu telefone com DDD de novo, por exemplo: (61) 99999-0000."),
        }[name]
        return _Parsed(error=again, pending=declined)
    return None


def _parse_email(state: FlowState, text: str, ctx: FlowContext) -> _Parsed:
    answered = _suggestion_answer(state, text, "email_suggestion", "email")
    if answered is not None:
        return answered
    if _is_why_question(text, ctx):
        return _Parsed(error=_why_message("email"))
    reading = read_email(text)
    pending = state.pending or {}
    if (
        reading.suggestion
        and pending.get("kind") == "email_declined"
        and reading.suggestion == pending.get("value")
        and _compact(text) == pending.get("original")
    ):
        # Typed again exactly as before after a "não": the participant knows their address.
        return _Parsed(values={"email": pending["original"]})
    if reading.value:
        return _Parsed(values={"email": reading.value})
    if reading.suggestion:
        return _Parsed(
            pending={"kind": "email_suggestion", "value": reading.suggestion, "original": _compact(text)[:254]},
            prompt=_("Seu e-mail é *%(suggestion)s*? Responda *sim* ou envie o e-mail certo.") % {"suggestion": reading.suggestion},
        )
    if ctx.understood.question:
        return _Parsed(question=True)
    if reading.problem == "several":
        return _Parsed(error=_("Recebi mais de um e-mail. Envie só o seu, por exemplo: maria.souza@gmail.com."))
    if "@" not in text and not re.search(r"\barroba\b", _words(text)):
        return _Parsed(error=_("Não encontrei um e-mail na mensagem. Envie no formato maria.souza@gmail.com."))
    try:
        v.normalize_email(text)
    except v.InvalidValue as error:
        return _Parsed(error=error.message)
    return _Parsed(error=_("Esse e-mail não parece válido. Envie no formato maria.souza@gmail.com."))


def _compact(text: str) -> str:
    return "".join(text.split()).lower()


_NO_CPF_RE = re.compile(r"\b(nao tenho cpf|sem cpf|estrangeir\w*|passaporte|passport|foreign\w*|extranjer\w*|sou de fora)\b")


def _parse_cpf(state: FlowState, text: str, ctx: FlowContext) -> _Parsed:
    answered = _suggestion_answer(state, text, "cpf_suggestion", "cpf")
    if answered is not None:
        return answered
    if _is_why_question(text, ctx):
        return _Parsed(error=_why_message("cpf"))
    words = _words(text)
    phone_cue = _PHONE_CUE_RE.search(words) and not _CPF_CUE_RE.search(words)
    if _looks_like_phone(text) or (phone_cue and read_phone(text).value):
        # "(62) 99123-4512", "meu celular é …": a phone (kept by the capture), even when its
        # 11 digits pass the CPF check.
        return _Parsed(error="" if state.fields.get("phone") is None else _(
            "Isso parece um telefone. Agora preciso do seu *CPF* (11 dígitos), por exemplo: 123.456.789-09."
        ))
    if _NO_CPF_RE.search(_words(text)):
        return _Parsed(
            error=_(
                "Sem CPF (participantes estrangeiros, por exemplo), a inscrição é feita pela organização, com o "
                "passaporte. %(contact)s Para parar aqui, diga *cancelar*."
            )
            % {"contact": _contact_line(ctx)}
        )
    reading = read_cpf(text)
    if reading.value:
        return _Parsed(values={"cpf": reading.value})
    if reading.suggestion:
        return _Parsed(
            pending={"kind": "cpf_suggestion", "value": reading.suggestion},
            prompt=_("Seu CPF é *%(cpf)s*? (Completei o 0 do começo.) Responda *sim* ou envie o CPF certo.")
            % {"cpf": v.format_cpf(reading.suggestion)},
        )
    if ctx.understood.question and not reading.digits:
        return _Parsed(question=True)
    example = "123.456.789-09"
    messages = {
        "missing_digits": _("O CPF tem 11 dígitos e chegaram %(count)d. Confira no documento e envie de novo, por exemplo: %(example)s."),
        "extra_digits": _("O CPF tem 11 dígitos e chegaram %(count)d. Envie só o CPF, por exemplo: %(example)s."),
        "check_digits": _(
            "Esse CPF não é válido: os dois últimos dígitos não conferem. Confira no documento e envie de novo, por exemplo: %(example)s."
        ),
        "repeated": _("CPF com todos os dígitos iguais não é válido. Envie o número do seu documento, por exemplo: %(example)s."),
    }
    message = messages.get(reading.problem)
    if message is None:
        if reading.digits == 0 and v.find_email(text) is None and not re.search(r"\d", text):
            return _Parsed(error=_("Envie os 11 números do seu CPF, por exemplo: %(example)s.") % {"example": example})
        message = _("O CPF tem só números. Envie os 11 números, por exemplo: %(example)s.")
    return _Parsed(error=message % {"count": reading.digits, "example": example})


def _parse_phone(state: FlowState, text: str, ctx: FlowContext) -> _Parsed:
    answered = _suggestion_answer(state, text, "phone_suggestion", "phone")
    if answered is not None:
        return answered
    if _is_why_question(text, ctx):
        return _Parsed(error=_why_message("phone"))
    pending = state.pending or {}
    if means_same_number(text):
        if ctx.whatsapp_phone:
            return _Parsed(values={"phone": ctx.whatsapp_phone})
        return _Parsed(error=_("Não consigo ver o número desta conversa por aqui. Envie o telefone com DDD, por exemplo: (61) 99999-0000."))
    if is_yes(text) and ctx.whatsapp_phone:
        # "sim" is not a number: offer this WhatsApp's explicitly rather than guess.
        return _Parsed(
            error=_("Para usar este WhatsApp, *%(phone)s*, responda *esse mesmo*; ou envie outro número com DDD.")
            % {"phone": _phone_display(ctx.whatsapp_phone)}
        )
    digits = re.sub(r"\D", "", text)
    if pending.get("kind") == "phone_no_ddd" and len(digits) == 2 and digits in v.VALID_DDDS:
        # "98111-2233" then "62": the DDD of the number already typed.
        combined = read_phone(digits + str(pending.get("number", "")))
        if combined.value:
            return _Parsed(values={"phone": combined.value})
    reading = read_phone(text)
    if reading.value:
        return _Parsed(values={"phone": reading.value})
    if reading.suggestion:
        return _Parsed(
            pending={"kind": "phone_suggestion", "value": reading.suggestion},
            prompt=_("Faltou o 9 da frente? *%(phone)s* — responda *sim* ou envie o número certo.")
            % {"phone": _phone_display(reading.suggestion)},
        )
    if reading.problem == "foreign":
        return _Parsed(
            error=_(
                "Esse número é de fora do Brasil (%(number)s). Para a inscrição preciso de um telefone brasileiro com "
                "DDD. Se você não tem um, a organização faz sua inscrição: %(contact)s"
            )
            % {"number": reading.foreign or text.strip()[:20], "contact": ctx.contact or _("diga *falar com a organização*")}
        )
    if ctx.understood.question and not any(ch.isdigit() for ch in text):
        return _Parsed(question=True)
    if reading.problem == "no_ddd" and len(digits) in (8, 9):
        return _Parsed(
            pending={"kind": "phone_no_ddd", "number": digits},
            prompt=_("Faltou o DDD. Qual é o DDD desse número (por exemplo, 62)? Ou envie o número completo."),
        )
    if len(digits) < 8:
        return _Parsed(error=_("Envie seu telefone com DDD, por exemplo: (61) 99999-0000."))
    try:
        v.normalize_phone(text)
    except v.InvalidValue as error:
        return _Parsed(error=error.message)
    return _Parsed(error=_("Envie seu telefone com DDD, por exemplo: (61) 99999-0000."))


def _place_values(place: places.Place) -> dict[str, Any]:
    values: dict[str, Any] = {"city": place.city.name, "uf": place.city.uf, "city_ibge_code": place.city.ibge_code}
    values["district"] = place.district or ""
    return values


def _place_option(place: places.Place) -> list[Any]:
    return [place.city.ibge_code, place.city.name, place.city.uf, place.district or ""]


def _option_values(option: list[Any]) -> dict[str, Any]:
    code, name, uf, *rest = option
    return {"city": name, "uf": uf, "city_ibge_code": code, "district": rest[0] if rest else ""}


def _read_city(text: str, ctx: FlowContext) -> _Parsed:
    reading = read_place(_without_data(text) or text, region=ctx.region)
    query = reading.query or _without_data(text) or text.strip()
    if reading.place is not None and not reading.unsure:
        return _Parsed(values=_place_values(reading.place))
    if reading.place is not None or reading.suggestion is not None:
        place = reading.place or reading.suggestion
        assert place is not None
        return _Parsed(
            pending={"kind": "city_suggestion", "value": _place_option(place)},
            prompt=_("Você quis dizer *%(city)s*? Responda *sim* ou envie o nome da cidade de novo.")
            % {"city": _place_label(_place_option(place))},
        )
    if reading.options:
        cities = [_place_option(place) for place in reading.options[:9]]
        return _Parsed(step=Step.ASKING_STATE, pending={"kind": "city_candidates", "cities": cities})
    if not query:
        return _Parsed(error=_("Envie o nome da sua cidade, por exemplo: Goiânia, ou Santa Maria/RS."))
    elsewhere = _in_another_uf(_without_data(text) or text, ctx)
    if elsewhere is not None:
        return elsewhere
    return _Parsed(
        error=_(
            "Não encontrei a cidade “%(text)s” na lista de municípios do IBGE. Confira a grafia e envie de novo, "
            "de preferência com o estado, por exemplo: Rio Verde/GO."
        )
        % {"text": query[:60]}
    )


_TRAILING_UF_RE = re.compile(r"^(?P<name>.+?)[\s/,(-]+(?P<uf>[A-Za-z]{2})\)?\s*$")


def _in_another_uf(text: str, ctx: FlowContext) -> _Parsed | None:
    """"Rio Verde MT": no such town in MT, but there is one elsewhere — offer it instead of "não encontrei"."""
    found = _TRAILING_UF_RE.match(text.strip())
    if found is None:
        return None
    try:
        typed_uf = v.normalize_uf(found["uf"])
    except v.InvalidValue:
        return None
    reading = read_place(found["name"], region=ctx.region)
    places_found = [reading.place] if reading.place is not None else list(reading.options)
    places_found = [place for place in places_found if place.city.uf != typed_uf]
    if not places_found:
        return None
    if len(places_found) == 1:
        place = places_found[0]
        return _Parsed(
            pending={"kind": "city_suggestion", "value": _place_option(place)},
            prompt=_("Não encontrei *%(name)s* em %(uf)s. Você quis dizer *%(city)s*? Responda *sim* ou envie a cidade de novo.")
            % {"name": found["name"].strip(), "uf": typed_uf, "city": _place_label(_place_option(place))},
        )
    cities = [_place_option(place) for place in places_found[:9]]
    return _Parsed(step=Step.ASKING_STATE, pending={"kind": "city_candidates", "cities": cities})


def _parse_city(state: FlowState, text: str, ctx: FlowContext) -> _Parsed:
    pending = state.pending or {}
    if pending.get("kind") == "city_suggestion":
        answer = read_yes_no(text)
        if answer == "yes":
            return _Parsed(values=_option_values(pending["value"]))
        if answer == "no":
            return _Parsed(error=_("Tudo bem. Envie o nome da sua cidade de novo, de preferência com o estado, por exemplo: Rio Verde/GO."))
    if _is_why_question(text, ctx):
        return _Parsed(error=_why_message("city"))
    profile = match_profile(text, ctx.profiles, numbers=False)
    if profile is not None:
        # "Goiânia estudante", "moro em Goiânia e sou estudante": the profile is kept, the rest is the city.
        rest = _without_profile(text, profile)
        parsed = _read_city(rest, ctx) if rest else _Parsed(error="")
        extra = {"profile": profile.id, "profile_name": profile.name}
        return replace(parsed, extra={**(parsed.extra or {}), **extra})
    parsed = _read_city(text, ctx)
    if parsed.values is None and parsed.pending is None and ctx.understood.question:
        return _Parsed(question=True)
    return parsed


def _without_profile(text: str, profile: ProfileOption) -> str:
    """``text`` (folded) without the words that named ``profile`` and the "sou"/"e" around them."""
    words = _words(text)
    for term in sorted(_profile_terms(profile), key=len, reverse=True):
        words = re.sub(rf"\b(e\s+)?(eu\s+)?(sou\s+)?{re.escape(term)}\b", " ", words)
    return " ".join(words.split()).strip()


def _parse_state(state: FlowState, text: str, ctx: FlowContext) -> _Parsed:
    cities = list((state.pending or {}).get("cities") or [])
    if not cities:  # nothing to choose from: ask the city again
        return _Parsed(step=Step.ASKING_CITY, error="")
    chosen = read_choice(text, len(cities))
    if chosen is not None:
        return _Parsed(values=_option_values(cities[chosen - 1]))
    try:
        uf = v.normalize_uf(text)
    except v.InvalidValue:
        uf = None
    if uf is not None:
        for option in cities:
            if option[2] == uf:
                return _Parsed(values=_option_values(option))
        return _Parsed(
            error=_("Não encontrei essa opção em %(uf)s. Responda uma destas opções:\n%(options)s")
            % {"uf": uf, "options": _candidates_menu(cities)},
            pending=state.pending,
        )
    if ctx.understood.question:
        return _Parsed(question=True)
    # Maybe another city altogether ("Santa Maria do Pará", "Londrina").
    again = _read_city(text, ctx)
    if again.values or again.step or again.pending:
        return again
    return _Parsed(
        error=_("Não entendi. Responda com o número da opção ou a sigla do estado (UF), por exemplo: GO."),
        pending=state.pending,
    )


def _profile_terms(profile: ProfileOption) -> set[str]:
    terms: set[str] = set()
    for part in [*v.fold(profile.name).split("/"), *(v.fold(k) for k in profile.keywords)]:
        part = part.strip()
        if not part:
            continue
        if part.endswith("(a)"):
            stem = part[:-3].strip()
            terms.update({stem, stem[:-1] + "a" if stem.endswith("o") else stem + "a"})
            continue
        part = _words(part)
        terms.add(part)
        if part.endswith("o") and " " not in part:
            terms.add(part[:-1] + "a")
    return {term for term in terms if term}


def match_profile(text: str, profiles: tuple[ProfileOption, ...], *, numbers: bool = True) -> ProfileOption | None:
    """A profile chosen by its number (digits, words, ordinals, keycaps) or named in free text."""
    if numbers:
        chosen = read_choice(text, len(profiles))
        if chosen is not None:
            return profiles[chosen - 1]
    words = _words(text)
    exact: dict[int, int] = {}
    for profile in profiles:
        for term in _profile_terms(profile):
            if re.search(rf"\b{re.escape(term)}\b", words):
                exact[profile.id] = max(exact.get(profile.id, 0), len(term))
    if len(exact) == 1:
        return next(p for p in profiles if p.id in exact)
    if exact:
        return None  # two profiles named: ask which one
    if not numbers:
        return None  # guessing from a long message is for the profile step only
    scores: dict[int, float] = {}
    for profile in profiles:
        for term in _profile_terms(profile):
            if len(term) >= 5:
                scores[profile.id] = max(scores.get(profile.id, 0.0), fuzz.partial_ratio(term, words))
    good = [pid for pid, score in scores.items() if score >= 88]
    if len(good) == 1:
        return next(p for p in profiles if p.id == good[0])
    return None


def _parse_profile(state: FlowState, text: str, ctx: FlowContext) -> _Parsed:
    if _is_why_question(text, ctx):
        return _Parsed(error=_why_message("profile"))
    chosen = match_profile(_without_data(text) or text, ctx.profiles)
    if chosen is not None:
        return _Parsed(values={"profile": chosen.id, "profile_name": chosen.name})
    if ctx.understood.question:
        return _Parsed(question=True)
    return _Parsed(
        error=_("Não identifiquei o perfil. Responda com o *número* de uma das opções:\n%(options)s")
        % {"options": _profiles_menu(ctx)}
    )


_PARSERS = {
    Step.ASKING_NAME: _parse_name,
    Step.ASKING_EMAIL: _parse_email,
    Step.ASKING_CPF: _parse_cpf,
    Step.ASKING_PHONE: _parse_phone,
    Step.ASKING_CITY: _parse_city,
    Step.ASKING_STATE: _parse_state,
    Step.ASKING_PROFILE: _parse_profile,
}


# --------------------------------------------------------------------------
# The machine
# --------------------------------------------------------------------------


def advance(state: FlowState, text: str, *, ctx: FlowContext) -> Turn:
    """One participant message -> (next state, pt-BR replies, effects). Pure.

    An empty reply list means "not for the registration" (the engine answers).
    """
    text = (text or "").strip()
    if state.step in IN_FLOW_STEPS:
        if state.mode == MODE_AMEND:
            return _amend_turn(state, text, ctx)
        return _flow_turn(state, text, ctx)
    return _rest_turn(state, text, ctx)


_SIGNUP_LEAD_RE = re.compile(
    r"(?i)^\W*((oi+|ol[aá]|bom dia|boa tarde|boa noite|opa)\W+)*(eu\s+)?(quero|queria|gostaria\s+de|vim|vou|preciso)?\s*"
    r"(me\s+)?(inscrever|increver|cadastrar|fazer\s+(a\s+|minha\s+|uma\s+)?inscri[cç][aã]o|participar|registrar)"
    r"(\s+(de|da|do|no|na)\s+\w+)?(\s+(no|na)\s+(evento|congresso))?(\s+(para|pra)\s+mim)?\W*"
)


def _has_data(text: str) -> bool:
    """Whether ``text`` carries registration data worth holding until consent."""
    if not text.strip():
        return False
    email = read_email(text)
    if email.value or email.suggestion or v.find_cpf(text) or v.find_phone(text):
        return True
    name = read_name(_without_data(text))
    return name.value is not None and not name.unsure


def _start(state: FlowState, ctx: FlowContext, *, text: str = "", other: bool = False) -> Turn:
    resting = _resting(state, ctx)
    if ctx.own is not None and ctx.own.active and not other:
        return (
            replace(resting, step=Step.COMPLETED),
            [
                _(
                    "Você já tem inscrição confirmada no *%(event)s* ✅ Diga *minha inscrição* para ver ou corrigir seus "
                    "dados. Para inscrever outra pessoa (família, equipe), diga *inscrever outra pessoa*."
                )
                % {"event": ctx.event_name or _("evento")}
            ],
            [],
        )
    if not ctx.registration_open or not ctx.profiles:
        return resting, [_closed_message(ctx)], []
    held_text = _SIGNUP_LEAD_RE.sub("", text, count=1).strip() if text else ""
    held = held_text[:2000] if _has_data(held_text) else None
    started = FlowState(
        step=Step.ASKING_CONSENT, participant_id=resting.participant_id, held=held, other=other, others=resting.others
    )
    if other:
        greeting = _(
            "Vamos inscrever outra pessoa! 🎉 Cada inscrição é de uma pessoa, com nome, e-mail e CPF dela, e a "
            "confirmação vai para o e-mail dela. A pessoa precisa estar de acordo com o uso dos dados."
        )
    else:
        greeting = _("Que bom que você quer participar! 🎉 São só algumas perguntas rápidas.")
    if held:
        greeting += " " + _("Já recebi alguns dados seus; anoto assim que você concordar.")
    return started, [greeting, _consent_prompt(ctx)], []


def _resting(state: FlowState, ctx: FlowContext) -> FlowState:
    """Idle or completed with no personal data kept, pointing at the own registration if any."""
    # Only a registration that exists now (ctx.own); a stale id is dropped.
    participant_id = ctx.own.id if ctx.own is not None else None
    registered = participant_id is not None or bool(state.others)
    step = Step.COMPLETED if registered and state.step == Step.COMPLETED else state.step
    if step not in (Step.IDLE, Step.COMPLETED):
        step = Step.COMPLETED if registered else Step.IDLE
    return FlowState(step=step, participant_id=participant_id, others=state.others)


def _abandon(state: FlowState, ctx: FlowContext) -> Turn:
    resting = _resting(replace(state, step=Step.IDLE), ctx)
    if resting.participant_id is not None:
        resting = replace(resting, step=Step.COMPLETED)
    return (
        resting,
        [
            _(
                "Tudo bem, cancelei a inscrição em andamento e descartei os dados que você tinha enviado. Quando "
                "quiser, é só dizer *quero me inscrever*. Posso ajudar com alguma informação sobre o evento?"
            )
        ],
        [RecordOutcome(ABANDONED, detail=str(state.step))],
    )


def _flow_turn(state: FlowState, text: str, ctx: FlowContext) -> Turn:
    intent = ctx.understood.intent
    if intent in ("cancel", "cancel_registration"):
        return _abandon(state, ctx)
    if intent == "my_registration" and state.step != Step.ASKING_CONSENT and not ctx.understood.question:
        missing = ", ".join(_field_label_lower(name) for name in state.missing) or _("nada: só confirmar o resumo")
        return state, [
            _("Sua inscrição ainda está em andamento 📝 Falta: %(missing)s.") % {"missing": missing}
            + "\n\n" + _prompt(state, ctx)
        ], []
    if state.step == Step.ASKING_CONSENT:
        return _consent_turn(state, text, ctx)
    offer = _offer_resend_turn(state, text, ctx)
    if offer is not None:
        return offer
    if intent == "back":
        return _go_back(state, ctx)
    if intent == "register_other" and state.step != Step.ASKING_NAME:
        return state, [
            _(
                "Claro! Uma inscrição de cada vez: vamos terminar esta e, depois de confirmada, diga *inscrever outra "
                "pessoa*."
            )
            + "\n\n"
            + _prompt(state, ctx)
        ], []
    if intent == "correct" and ctx.understood.field and not ctx.understood.question:
        corrected = _correct(state, ctx.understood.field, text, ctx)
        if corrected is not None:
            return corrected
    if state.step == Step.CONFIRMING:
        return _confirm_turn(state, text, ctx)
    if state.editing and state.fields.get(state.editing) and _keeps_value(text) and not state.pending:
        return _next(state, ctx, prefix=_("Certo, mantive %(field)s. 👍") % {"field": _field_with_article(state.editing)})
    return _data_turn(state, text, ctx)


_KEEP_RE = re.compile(r"^(esta certo|ta certo|esta correto|ta correto|pode manter|manter|mantem|mantenha|deixa assim|deixa|"
                      r"e esse mesmo|e este mesmo|esse mesmo|e isso|certo|correto|sim|ok|isso)( mesmo)?( obrigad[oa])?$")


def _keeps_value(text: str) -> bool:
    return bool(_KEEP_RE.match(_words(text)))


def _consent_turn(state: FlowState, text: str, ctx: FlowContext) -> Turn:
    answer, rest = split_yes_prefix(text)
    if answer == "yes" and not yes_with_reservation(text):
        fields: dict[str, Any] = {"consent_at": ctx.now.isoformat(), "consent_version": ctx.privacy_notice_version}
        nxt = replace(state, step=Step.ASKING_NAME, fields=fields, held=None)
        effects: list[Effect] = [RecordOutcome(CONSENT_GIVEN, detail=ctx.privacy_notice_version)]
        intro = _(
            "Obrigado! 👍 São 6 perguntas rápidas; no final mostro um resumo para você conferir e corrigir o que precisar."
        )
        own = ctx.own
        if own is not None and not own.active and not state.other and own.profile_id:
            # Coming back after cancelling: start from the data on file, shown for review.
            previous = {
                **fields, **_own_fields(own), "profile": own.profile_id, "city_ibge_code": own.city_ibge_code,
                "district": own.district,
            }  # fmt: skip
            nxt = replace(nxt, step=Step.CONFIRMING, fields=previous)
            return nxt, [_("Obrigado! 👍 Usei os dados da sua inscrição anterior; confira e corrija o que mudou.") + "\n\n" + _summary(previous)], effects
        material = " ".join(part for part in (state.held, rest.strip()) if part)
        if material and _has_data(material):
            plain = replace(ctx, understood=Understood())
            after, replies, more = _data_turn(nxt, material, plain)
            return after, [intro, *replies], [*effects, *more]
        return nxt, [intro + "\n\n" + _prompt(nxt, ctx)], effects
    if answer == "no" and not rest.strip():
        resting = replace(_resting(replace(state, step=Step.IDLE), ctx), mode=MODE_REFUSED, mode_turn=ctx.turn)
        return (
            resting,
            [
                _(
                    "Tudo bem! Sem o seu consentimento não posso fazer a inscrição, e não guardei nenhum dado da "
                    "inscrição. Se mudar de ideia, é só dizer *quero me inscrever*. Posso ajudar com alguma "
                    "informação sobre o evento?"
                )
            ],
            [RecordOutcome(CONSENT_REFUSED, detail=ctx.privacy_notice_version)],
        )
    if ctx.understood.question:
        return state, [_back_to(_consent_short(ctx))], [AskQuestion(text)]
    if _has_data(text):
        held = " ".join(part for part in (state.held, text) if part)[:2000]
        return (
            replace(state, held=held),
            [_("Recebi seus dados 👍 Antes de anotá-los, preciso do seu ok.") + "\n\n" + _consent_short(ctx)],
            [],
        )
    return state, [_("Para continuar, preciso que você responda *sim* ou *não*.") + "\n\n" + _consent_short(ctx)], []


def _owner(ctx: FlowContext, name: str, value: str) -> str | None:
    return ctx.owners.get(f"{name}:{value}")


_PHONE_CUE_RE = re.compile(r"\b(telefone|celular|fone|whats|whatsapp|zap|contato|numero)\b")
_CPF_CUE_RE = re.compile(r"\bcpf\b")


def _found_values(state: FlowState, text: str, ctx: FlowContext) -> dict[str, Any]:
    """Certain e-mail, CPF and phone values in ``text`` for fields other than the current step's."""
    current = STEP_FIELD.get(state.step)
    words = _words(text)
    found: dict[str, Any] = {}
    if current != "email":
        email = read_email(text)
        if email.value:
            found["email"] = email.value
    cpf = v.find_cpf(text)
    if current == "cpf" and cpf and _looks_like_phone(text):
        cpf = None  # a phone whose digits happen to pass the CPF check
    if current != "cpf" and cpf and (current != "phone" or _CPF_CUE_RE.search(words) or v.find_phone(text) != _as_phone(cpf)):
        found["cpf"] = cpf
    if current != "phone":
        phone = v.find_phone(text)
        # At the CPF step digits are a CPF attempt: a phone only with a word that says so.
        if current == "cpf" and not phone and (_PHONE_CUE_RE.search(words) or _looks_like_phone(text)):
            phone = read_phone(text).value  # its digits pass the CPF check, so the finder skipped it
        if phone and (
            current != "cpf" or _PHONE_CUE_RE.search(words) or _looks_like_phone(text) or (cpf and phone != _as_phone(cpf))
        ):
            found["phone"] = phone
    return found


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


def _found_extras(state: FlowState, text: str, ctx: FlowContext) -> dict[str, Any]:
    """A city or a profile typed at another step, read only when the message says so
    ("moro em Trindade", "sou estudante") or when it is what is left beside an e-mail,
    CPF or phone; kept only when certain. The name step reads its own leftovers."""
    current = STEP_FIELD.get(state.step)
    if current in ("full_name", "city", None):
        return {}
    found: dict[str, Any] = {}
    words = _words(text)
    value = _value_after(text, _CITY_CUE) if re.search(rf"\b({_CITY_CUE})\b", words) else ""
    if not value and current in ("email", "cpf", "phone"):
        rest = _without_data(text)
        value = rest if rest and rest != text.strip() else ""
    if value and current != "city":
        reading = read_place(value, region=ctx.region)
        if reading.place is not None and not reading.unsure:
            found.update(_place_values(reading.place))
            found["city_extra"] = True
    if current != "profile" and re.search(r"\bsou\b", words):
        profile = match_profile(text, ctx.profiles, numbers=False)
        if profile is not None:
            found.update({"profile": profile.id, "profile_name": profile.name})
    found.pop("city_extra", None)
    return found


def _as_phone(digits: str) -> str | None:
    return v.find_phone(digits)


def _capture(state: FlowState, text: str, ctx: FlowContext) -> tuple[dict[str, Any], list[str], list[Effect], FlowState]:
    """E-mail, CPF and phone typed at another step: keep them (a correction replaces)."""
    if state.mode:
        return {}, [], [], state
    captured: dict[str, Any] = {}
    notes: list[str] = []
    effects: list[Effect] = []
    if STEP_FIELD.get(state.step) != "email" and not state.fields.get("email"):
        # An e-mail that needs repair, typed early: asked back when its turn comes.
        hint = read_email(text).suggestion
        if hint and _owner(ctx, "email", hint) is None:
            state = replace(state, fields={**state.fields, "email_hint": hint})
    correcting = ctx.understood.intent == "correct"
    found = _found_values(state, text, ctx)
    for name, value in _found_extras(state, text, ctx).items():
        if not state.fields.get(name) and name not in found:
            captured[name] = value
    for name, value in found.items():
        if state.fields.get(name) == value:
            continue
        if state.fields.get(name) and not correcting:
            # A different e-mail/CPF/phone typed at another step: ask before replacing (a
            # double-sent or misplaced message must not silently change where the confirmation goes).
            if state.pending is None:
                state = replace(state, pending={"kind": "replace", "field": name, "value": value})
                notes.append(
                    _("Você já tinha me passado %(field)s *%(old)s*. Quer trocar por *%(new)s*? Responda *sim* para trocar.")
                    % {"field": _field_with_article(name), "old": _display(state.fields, name),
                       "new": _display({**state.fields, name: value}, name)}
                )
            continue
        owner = _owner(ctx, name, value) if name in ("cpf", "email") else None
        if owner in ("own", "own_cancelled") and state.other:
            notes.append(
                _("Esse %(field)s é da sua própria inscrição; para a outra pessoa, preciso do %(field)s dela.")
                % {"field": _field_label_lower(name)}
            )
            continue
        if owner == "other":
            other = ctx.others.get(f"{name}:{value}")
            notes.append(_duplicate_message(name, ctx, other))
            effects.append(RecordOutcome(DUPLICATE_REFUSED, detail=f"{name} at {state.step}"))
            if other is not None and other.active:
                state = replace(state, pending={"kind": "offer_resend", "participant_id": other.id, "email": other.masked_email})
            continue
        captured[name] = value
    return captured, notes, effects, state


_SPACED_DIGITS_RE = re.compile(r"(?<![\d.,/-])\d(?:[ ]\d){7,13}(?![\d.,/-])")


def _join_spaced_digits(text: str) -> str:
    """Voice transcripts write numbers digit by digit ("1 2 3 4 5 6 7 8 9 0 9"): join the run."""
    return _SPACED_DIGITS_RE.sub(lambda m: m.group(0).replace(" ", ""), text)


def _data_turn(state: FlowState, text: str, ctx: FlowContext) -> Turn:
    text = _join_spaced_digits(text)
    pending = state.pending or {}
    if pending.get("kind") == "replace":
        answer = read_yes_no(text)
        state = replace(state, pending=None)
        if answer in ("yes", "no"):
            name = str(pending["field"])
            if answer == "yes" and _owner(ctx, name, pending["value"]) != "other":
                fixed = replace(state, fields={**state.fields, name: pending["value"]})
                return fixed, [_("Corrigido! ✏️ %(echo)s") % {"echo": _echo(name, fixed.fields)} + "\n\n" + _prompt(fixed, ctx)], []
            return state, [_("Certo, mantive %(field)s. 👍") % {"field": _field_with_article(name)} + "\n\n" + _prompt(state, ctx)], []
    before = state
    captured, notes, effects, state = _capture(state, text, ctx)
    parsed = _PARSERS[state.step](state, text, ctx)
    state = replace(state, fields={**state.fields, **captured})
    if parsed.other is not None:
        state = replace(state, other=parsed.other)
    ack = _echoes(captured) if captured else ""
    if any(name in before.fields for name in captured):
        # A new e-mail, CPF or phone typed at another step replaces the old one, said out loud.
        ack = _("Corrigido! ✏️") + "\n" + "\n".join(_echo(name, captured) for name in FIELDS if name in captured)
    if parsed.question:
        # Answered by the Q&A (placed before these replies); data typed along is kept.
        message = "\n\n".join(part for part in (ack, _back_to(_prompt(state, ctx))) if part)
        return state, [*notes, message], [*effects, AskQuestion(text)]

    if parsed.values is None:
        held_kind = (state.pending or {}).get("kind")
        keep_pending = held_kind in ("offer_resend", "replace") and parsed.pending is None
        nxt = replace(state, step=parsed.step or state.step, pending=state.pending if keep_pending else parsed.pending)
        if held_kind == "replace" and notes:
            # The question about replacing is the whole answer; the step's own error would be noise.
            return nxt, ["\n\n".join(part for part in (ack, *notes) if part)], effects
        if parsed.extra:
            extra = {k: val for k, val in parsed.extra.items() if not nxt.fields.get(k)}
            nxt = replace(nxt, fields={**nxt.fields, **extra})
            if any(name in extra for name in FIELDS):
                captured = {**captured, **extra}
                ack = _echoes(captured)
        only_data = parsed.error == "" or (captured and parsed.error is not None and state.step in (Step.ASKING_EMAIL, Step.ASKING_CPF, Step.ASKING_PHONE))
        if captured and only_data and not parsed.pending and state.step != Step.ASKING_STATE:
            # The message held only data for other steps: keep it and ask what is still missing.
            return _next(nxt, ctx, prefix=ack, notes=notes, effects=effects)
        body = parsed.prompt or _prompt(nxt, ctx)
        if parsed.error:
            body = f"{parsed.error}\n\n{body}" if parsed.step and parsed.step != state.step else parsed.error
        message = "\n\n".join(part for part in (ack, body) if part)
        return nxt, [*notes, message], effects

    values = dict(parsed.values)
    for key, value in (parsed.extra or {}).items():
        if not state.fields.get(key) and key not in values:
            values[key] = value
    refusal = _refuse_taken(state, values, ctx)
    if refusal is not None:
        nxt, reply, extra = refusal
        return nxt, [*notes, *reply], [*effects, *extra]
    pending = state.pending if (state.pending or {}).get("kind") == "offer_resend" else None
    nxt = replace(state, fields={**state.fields, **values}, pending=pending)
    return _next(nxt, ctx, notes=notes, effects=effects, accepted={**captured, **values})


def _offer_resend_turn(state: FlowState, text: str, ctx: FlowContext) -> Turn | None:
    """After "este CPF já está em outra inscrição … responda *reenviar*"."""
    pending = state.pending or {}
    if pending.get("kind") != "offer_resend":
        return None
    if ctx.understood.intent == "resend" or _words(text) in ("reenviar", "reenvia", "pode reenviar", "sim reenviar"):
        resting = _resting(replace(state, step=Step.IDLE), ctx)
        return (
            resting,
            [
                _(
                    "Pronto! Pedi o reenvio da confirmação para o e-mail cadastrado na inscrição. 📧 Confira também o "
                    "spam. Se não tiver mais acesso a esse e-mail, a organização ajuda: %(contact)s"
                )
                % {"contact": ctx.contact or _("diga *falar com a organização*")}
            ],
            [ResendEmail(int(pending["participant_id"])), RecordOutcome(ABANDONED, detail="registered elsewhere: resend")],
        )
    return None


def _refuse_taken(state: FlowState, values: Mapping[str, Any], ctx: FlowContext) -> Turn | None:
    for name in ("cpf", "email"):
        if name not in values:
            continue
        owner = _owner(ctx, name, values[name])
        if owner == "other":
            other = ctx.others.get(f"{name}:{values[name]}")
            pending = None
            if other is not None and other.active:
                pending = {"kind": "offer_resend", "participant_id": other.id, "email": other.masked_email}
            nxt = replace(state, pending=pending)
            message = _duplicate_message(name, ctx, other)
            if pending is None:
                message += "\n\n" + _("Se digitou errado, envie o %(field)s certo, ou diga *cancelar*.") % {
                    "field": _field_label_lower(name)
                }
            return nxt, [message], [RecordOutcome(DUPLICATE_REFUSED, detail=f"{name} at {state.step}")]
        if owner == "own" and not state.other:
            resting = _resting(replace(state, step=Step.COMPLETED), ctx)
            return resting, [_own_found_message()], []
        if owner in ("own", "own_cancelled") and state.other:
            nxt = replace(state, pending=None)
            return nxt, [_("Esse %(field)s já está na sua própria inscrição. Envie o %(field)s da pessoa que você está inscrevendo.") % {"field": _field_label_lower(name)}], []
    return None


def _next(
    state: FlowState,
    ctx: FlowContext,
    *,
    prefix: str = "",
    notes: list[str] | None = None,
    effects: list[Effect] | None = None,
    accepted: Mapping[str, Any] | None = None,
) -> Turn:
    """After a value was kept: the next missing field, or the summary."""
    notes = list(notes or [])
    effects = list(effects or [])
    pending = state.pending if (state.pending or {}).get("kind") == "offer_resend" else None
    if state.missing:
        nxt = replace(state, step=FIELD_STEP[state.missing[0]], editing=None, pending=pending)
    else:
        nxt = replace(state, step=Step.CONFIRMING, editing=None, pending=None)
    prompt = _prompt(nxt, ctx)
    hint = nxt.fields.get("email_hint")
    if hint and (nxt.step != Step.ASKING_EMAIL or nxt.fields.get("email")):
        hint = None
    if hint and pending is None:
        fields = {key: value for key, value in nxt.fields.items() if key != "email_hint"}
        nxt = replace(nxt, fields=fields, pending={"kind": "email_suggestion", "value": hint, "original": hint})
        prompt = _("Seu e-mail é *%(suggestion)s*? Responda *sim* ou envie o e-mail certo.") % {"suggestion": hint}
    parts = [prefix] if prefix else []
    if accepted:
        if "full_name" in accepted and nxt.step != Step.CONFIRMING and not state.other and len(accepted) == 1:
            full = str(accepted["full_name"])
            parts.append(_("Prazer, %(name)s! 😊 Anotei seu nome como *%(full)s*.") % {"name": full.split(" ", 1)[0], "full": full})
        elif nxt.step != Step.CONFIRMING:
            shown = {**state.fields, **accepted}
            parts.append(_echoes({key: shown[key] for key in FIELDS if key in accepted} | {
                key: shown.get(key) for key in ("uf", "district", "profile_name") if key in shown}))
    # What was understood first, then any warning about it, then the next question.
    message = "\n\n".join(part for part in ("\n".join(parts), *notes, prompt) if part)
    return nxt, [message], effects


def _go_back(state: FlowState, ctx: FlowContext) -> Turn:
    """"voltar": the previous question, showing what it holds now."""
    if state.step == Step.ASKING_STATE:
        nxt = replace(state, step=Step.ASKING_CITY, editing="city" if state.fields.get("city") else None, pending=None)
        return nxt, [_("↩️ Voltando uma pergunta.") + "\n\n" + _prompt(nxt, ctx)], []
    walking_back = (state.pending or {}).get("kind") == "walking_back"
    if state.editing and not walking_back and not [name for name in state.missing if name != state.editing]:
        # A correction started at the summary: "voltar" returns to the summary, unchanged.
        nxt = replace(state, step=Step.CONFIRMING, editing=None, pending=None)
        return nxt, [_("↩️ Voltando ao resumo.") + "\n\n" + _prompt(nxt, ctx)], []
    if state.step == Step.CONFIRMING:
        target = FIELDS[-1]
    else:
        current = STEP_FIELD.get(state.step, FIELDS[0])
        index = FIELDS.index(current)
        if index == 0:
            return replace(state, pending=None), [_("Essa é a primeira pergunta. 🙂") + "\n\n" + _prompt(state, ctx)], []
        target = FIELDS[index - 1]
    nxt = replace(state, step=FIELD_STEP[target], editing=target, pending={"kind": "walking_back"})
    return nxt, [_("↩️ Voltando uma pergunta.") + "\n\n" + _prompt(nxt, ctx)], []


def _inline_value(name: str, text: str, ctx: FlowContext) -> dict[str, Any] | None:
    """A new value typed together with the request to correct ("na verdade meu e-mail é x@y.com")."""
    if name == "email":
        reading = read_email(text)
        return {"email": reading.value} if reading.value else None
    if name == "cpf":
        reading_cpf = read_cpf(text)
        return {"cpf": reading_cpf.value} if reading_cpf.value else None
    if name == "phone":
        reading_phone = read_phone(text)
        return {"phone": reading_phone.value} if reading_phone.value else None
    if name == "full_name":
        value = _value_after(text, r"nome(?:\s+completo)?|sobrenome")
        if value:
            reading_name = read_name(value)
            if reading_name.value and not reading_name.unsure:
                return {"full_name": reading_name.value}
        return None
    if name == "city":
        value = _value_after(text, r"cidade|moro em|moro no|moro na|mudei para|mudei pra|munic[ií]pio")
        if value:
            reading_place = read_place(value, region=ctx.region)
            if reading_place.place is not None and not reading_place.unsure:
                return _place_values(reading_place.place)
        return None
    if name == "profile":
        profile = match_profile(text, ctx.profiles, numbers=False)
        return {"profile": profile.id, "profile_name": profile.name} if profile else None
    return None


_VALUE_LEAD_RE = re.compile(
    r"(?i)^[\s,:;.-]*((est[aá]|t[aá]|ficou|saiu|veio)\s+(errad[oa]|incorret[oa]|trocad[oa])[\s,.;:-]*)?"
    r"((o\s+)?(certo|correto)\s+)?(é|e|eh|são|:|para|pra|por|agora\s+é|na\s+verdade\s+é)?\s*"
)


def _value_after(text: str, field_words: str) -> str:
    """The new value in "o nome está errado, é Aline Barros" / "muda a cidade pra Anápolis" ("" if none)."""
    parts = re.split(rf"(?i)\b(?:{field_words})\b", text, maxsplit=1)
    if len(parts) != 2:
        return ""
    value = _VALUE_LEAD_RE.sub("", parts[1], count=1).strip(" .,;:!")
    return value if len(value) >= 2 else ""


def _correct(state: FlowState, name: str, text: str, ctx: FlowContext) -> Turn | None:
    """"errei o e-mail", "na verdade meu CPF é …", "corrigir cidade": at any step."""
    current = STEP_FIELD.get(state.step)
    if state.step != Step.CONFIRMING and not state.fields.get(name) and name != current:
        return None  # not given yet: it is simply a value (read by the step or captured)
    inline = _inline_value(name, text, ctx)
    if inline is not None:
        refusal = _refuse_taken(state, inline, ctx)
        if refusal is not None:
            return refusal
        fixed = replace(state, fields={**state.fields, **inline}, pending=None)
        prefix = _("Corrigido! ✏️ %(echo)s") % {"echo": _echo(name, {**fixed.fields})}
        if state.step in (Step.CONFIRMING, FIELD_STEP[name]) or state.editing:
            return _next(replace(fixed, editing=None), ctx, prefix=prefix)
        return fixed, [prefix + "\n\n" + _prompt(fixed, ctx)], []
    editing = replace(state, step=FIELD_STEP[name], editing=name, pending=None)
    city = _city_correction(editing, name, text, ctx)
    if city is not None:
        return city
    return editing, [_prompt(editing, ctx)], []


def _confirm_turn(state: FlowState, text: str, ctx: FlowContext) -> Turn:
    if state.missing:  # never confirm with a missing field (defensive: data edited by hand)
        return _next(state, ctx)
    answer, rest = split_yes_prefix(text)
    named = ctx.understood.field
    reserved = yes_with_reservation(text) or (
        answer == "yes" and rest.strip() and (named or _words(rest) not in ("", "obrigado", "obrigada", "pode confirmar"))
    )
    if reserved and not named and "?" in text:
        # "sim, mas tem estacionamento?": the question first, then the confirmation again.
        question = re.split(r"(?i)\b(mas|porém|porem|só que|so que)\b", text, maxsplit=1)[-1].strip(" ,.")
        return replace(state, pending={"kind": "after_question"}), [_back_to(_confirm_again())], [AskQuestion(question or text)]
    if reserved:
        # "sim, mas o e-mail está errado" is not a confirmation.
        if named:
            return _edit_at_summary(state, named, text, ctx)
        return replace(state, pending={"kind": "which_field"}), [
            _("Claro! Qual dado você quer corrigir? Responda com o número (1 a %(n)d).") % {"n": len(FIELDS)}
        ], []
    waiting = (state.pending or {}).get("kind") in ("which_field", "after_question")
    if answer == "yes" and waiting and _words(text) in _LOOSE_YES:
        # "ok" after "qual dado?" or after an answered question means "understood", not "confirm".
        return replace(state, pending=None), [
            _("Então posso confirmar a inscrição com os dados acima? Responda *sim* para confirmar, ou o número do "
              "dado que quer corrigir.")
        ], []
    if answer == "yes":
        if not ctx.registration_open:
            resting = _resting(replace(state, step=Step.IDLE), ctx)
            return resting, [_closed_message(ctx)], [RecordOutcome(ABANDONED, detail="registration closed")]
        owners = {_owner(ctx, "cpf", state.fields["cpf"]), _owner(ctx, "email", state.fields["email"])}
        if "own" in owners and "other" not in owners and ctx.own is not None and not state.other:
            # A confirmation delivered twice: the first one already stored it.
            done = FlowState(step=Step.COMPLETED, participant_id=ctx.own.id, others=state.others)
            return done, _already_confirmed(), []
        refusal = _refuse_taken(state, state.fields, ctx)
        if refusal is not None:
            nxt, reply, extra = refusal
            if nxt.step == Step.CONFIRMING:
                taken = "cpf" if _owner(ctx, "cpf", state.fields["cpf"]) in ("other", "own") else "email"
                nxt = replace(_reask(nxt, taken), pending=nxt.pending)
            return nxt, reply, extra
        fields = state.fields
        data = RegistrationData(
            full_name=fields["full_name"],
            email=fields["email"],
            cpf=fields["cpf"],
            phone=fields["phone"],
            city=fields["city"],
            city_ibge_code=fields.get("city_ibge_code"),
            uf=fields["uf"],
            profile_id=int(fields["profile"]),
            consent_at=datetime.fromisoformat(fields["consent_at"]),
            consent_version=str(fields.get("consent_version") or ""),
            district=str(fields.get("district") or ""),
            for_other=state.other,
        )
        return state, [], [RegisterParticipant(data)]
    chosen = read_choice(text, len(FIELDS))
    if chosen is not None:
        return _edit_at_summary(state, FIELDS[chosen - 1], text, ctx)
    if named and (
        ctx.understood.intent == "correct" or len(_words(text).split()) <= 4 or _inline_value(named, text, ctx)
    ):
        return _edit_at_summary(state, named, text, ctx)
    if answer == "no":
        return replace(state, pending={"kind": "which_field"}), [
            _("Qual dado você quer corrigir? Responda com o número (1 a %(n)d).") % {"n": len(FIELDS)}
        ], []
    # A new e-mail, CPF or phone typed at the summary replaces the old one.
    for name, value in _found_values(state, text, ctx).items():
        if value != state.fields.get(name):
            return _edit_at_summary(state, name, text, ctx)
    if ctx.understood.question:
        return replace(state, pending={"kind": "after_question"}), [_back_to(_confirm_again())], [AskQuestion(text)]
    return state, [_("Não entendi. Responda *sim* para confirmar a inscrição, ou o número do dado que quer corrigir (1 a %(n)d).") % {"n": len(FIELDS)}], []


_LOOSE_YES = frozenset({"ok", "okay", "oks", "okk", "beleza", "blz", "certo", "entendi", "ta", "ta bom", "show", "tranquilo", "joia"})


def _confirm_again() -> str:
    return _("Está tudo certo com seus dados? Responda *sim* para confirmar ou o número do dado que quer corrigir.")


def _reask(state: FlowState, name: str) -> FlowState:
    """Forget ``name`` and ask it again, returning to the summary afterwards."""
    fields = {key: value for key, value in state.fields.items() if key != name}
    return replace(state, step=FIELD_STEP[name], fields=fields, editing=name, pending=None)


def _edit_at_summary(state: FlowState, name: str, text: str, ctx: FlowContext) -> Turn:
    editing = replace(state, step=FIELD_STEP[name], editing=name, pending=None)
    inline = _inline_value(name, text, ctx)
    if inline is not None:
        refusal = _refuse_taken(editing, inline, ctx)
        if refusal is not None:
            return refusal
        nxt = replace(editing, fields={**state.fields, **inline})
        return _next(nxt, ctx, prefix=_("Corrigido! ✏️"))
    city = _city_correction(editing, name, text, ctx)
    if city is not None:
        return city
    return editing, [_prompt(editing, ctx)], []


def _city_correction(editing: FlowState, name: str, text: str, ctx: FlowContext) -> Turn | None:
    """"a cidade está errada, é Santa Rita": an ambiguous or doubtful new city is asked, not dropped."""
    if name != "city":
        return None
    value = _value_after(text, r"cidade|moro em|moro no|moro na|mudei para|mudei pra|munic[ií]pio")
    if not value:
        return None
    parsed = _read_city(value, ctx)
    if parsed.pending is None:
        return None
    nxt = replace(editing, step=parsed.step or Step.ASKING_CITY, pending=parsed.pending)
    return nxt, [parsed.prompt or _prompt(nxt, ctx)], []


# --------------------------------------------------------------------------
# After completion: self-service
# --------------------------------------------------------------------------


def _rest_turn(state: FlowState, text: str, ctx: FlowContext) -> Turn:
    mode = state.mode if state.mode is not None and state.mode_turn == ctx.turn - 1 else None
    base = replace(state, mode=None, mode_turn=None, pending=None)
    own = ctx.own
    understood = ctx.understood
    if mode == MODE_CONFIRM_CANCEL and own is not None and own.active:
        answer = read_yes_no(text)
        if answer == "yes":
            return (
                replace(_resting(base, ctx), step=Step.COMPLETED),
                [
                    _(
                        "Sua inscrição foi cancelada. ❌ Se mudar de ideia, é só dizer *quero me inscrever* e ela "
                        "será reativada."
                    )
                ],
                [CancelParticipant(own.id)],
            )
        if answer == "no" or understood.intent == "register":
            return base, [_("Certo, sua inscrição continua confirmada. ✅")], []
        if understood.intent in ("cancel", "cancel_registration"):
            # The same request again (a double-sent message) is not the confirmation.
            return replace(base, mode=MODE_CONFIRM_CANCEL, mode_turn=ctx.turn), [
                _("Para cancelar sua inscrição, responda *sim*. Para manter, *não*.")
            ], []
    if mode == MODE_CHOOSE_FIELD and own is not None and own.active:
        if understood.intent in ("cancel", "back") or read_yes_no(text) == "no":
            return base, [_("Tudo bem, não alterei nada. ✅")], []
        chosen = read_choice(text, len(FIELDS))
        name = FIELDS[chosen - 1] if chosen is not None else understood.field
        if name is not None:
            return _amend_start(base, name, text, ctx)
    if mode == MODE_LOOKUP:
        looked = _lookup_turn(base, text, ctx)
        if looked is not None:
            return looked
    if mode == MODE_REFUSED and split_yes_prefix(text)[0] == "yes" and ctx.registration_open and ctx.profiles:
        # "não" then "ok pode ser, quero sim": a change of mind is the consent.
        again = FlowState(step=Step.ASKING_CONSENT, participant_id=base.participant_id, others=base.others)
        return _consent_turn(again, text, ctx)

    intent = understood.intent or ctx.intent
    if intent == "register_other":
        return _start(base, ctx, text=text, other=True)
    if intent == "register":
        return _start(base, ctx, text=text)
    if intent == "cancel" and own is not None and own.active:
        intent = "cancel_registration"
    if intent not in ("my_registration", "cancel_registration", "resend", "correct"):
        return base, [], []
    if own is None and ctx.relatives and intent in ("my_registration", "correct", "cancel_registration", "resend"):
        return base, [
            _relatives_line(ctx) + "\n\n" + _(
                "Você ainda não tem inscrição própria por aqui (diga *quero me inscrever* para fazer a sua). Para "
                "corrigir ou cancelar a inscrição de outra pessoa, fale com a organização: %(contact)s"
            ) % {"contact": ctx.contact or "—"}
        ], []
    if own is None:
        if intent == "correct":
            return base, [], []
        return (
            replace(base, mode=MODE_LOOKUP, mode_turn=ctx.turn),
            [
                _(
                    "Não encontrei uma inscrição feita por este número. Se você se inscreveu por outro número, envie "
                    "seu *CPF* e eu reenvio a confirmação para o e-mail cadastrado. Para se inscrever, diga *quero me "
                    "inscrever*."
                )
            ],
            [],
        )
    base = replace(_resting(base, ctx), step=Step.COMPLETED)
    if intent == "my_registration" or not own.active:
        relatives = _relatives_line(ctx)
        return base, [_own_summary(own) + (f"\n\n{relatives}" if relatives else "")], []
    if intent == "cancel_registration":
        return (
            replace(base, mode=MODE_CONFIRM_CANCEL, mode_turn=ctx.turn),
            [
                _(
                    "Tem certeza de que quer cancelar sua inscrição no *%(event)s*? Responda *sim* para cancelar ou "
                    "*não* para manter."
                )
                % {"event": ctx.event_name or _("evento")}
            ],
            [],
        )
    if intent == "resend":
        return (
            base,
            [
                _(
                    "Pronto! Pedi o reenvio do e-mail de confirmação para *%(email)s*. 📧 Ele chega em alguns minutos; "
                    "confira também a caixa de spam."
                )
                % {"email": own.email}
            ],
            [ResendEmail(own.id)],
        )
    # correct
    if understood.field is not None:
        return _amend_start(base, understood.field, text, ctx)
    lines = "\n".join(f"{index}. {field_label(name)}" for index, name in enumerate(FIELDS, start=1))
    return (
        replace(base, mode=MODE_CHOOSE_FIELD, mode_turn=ctx.turn),
        [_("Qual dado você quer corrigir? Responda com o número:\n%(lines)s") % {"lines": lines}],
        [],
    )


def _lookup_turn(state: FlowState, text: str, ctx: FlowContext) -> Turn | None:
    """A CPF sent after "não encontrei uma inscrição feita por este número"."""
    reading = read_cpf(text)
    if reading.value is None:
        return None
    other = ctx.others.get(f"cpf:{reading.value}")
    if other is not None and other.active:
        return (
            state,
            [
                _(
                    "Se esse CPF tem uma inscrição confirmada, a confirmação foi reenviada para o e-mail cadastrado "
                    "nela. 📧 Se não chegar ou se não tiver mais acesso a esse e-mail, a organização ajuda: %(contact)s"
                )
                % {"contact": ctx.contact or _("diga *falar com a organização*")}
            ],
            [ResendEmail(other.id)],
        )
    # The same words whether or not the CPF is registered: a CPF typed here
    # must not tell a stranger whether its owner is registered.
    return (
        state,
        [
            _(
                "Se esse CPF tem uma inscrição confirmada, a confirmação foi reenviada para o e-mail cadastrado "
                "nela. 📧 Se não chegar ou se não tiver mais acesso a esse e-mail, a organização ajuda: %(contact)s"
            )
            % {"contact": ctx.contact or _("diga *falar com a organização*")}
        ],
        [],
    )


def _amend_start(state: FlowState, name: str, text: str, ctx: FlowContext) -> Turn:
    amending = replace(state, step=FIELD_STEP[name], mode=MODE_AMEND, mode_turn=None, editing=name, pending=None)
    inline = _inline_value(name, text, ctx)
    if inline is not None:
        return _amend_apply(amending, name, inline, ctx)
    return amending, [_prompt(amending, ctx)], []


def _amend_turn(state: FlowState, text: str, ctx: FlowContext) -> Turn:
    own = ctx.own
    done = replace(_resting(replace(state, step=Step.COMPLETED), ctx), step=Step.COMPLETED)
    if own is None or not own.active:
        return done, [_("Não encontrei sua inscrição ativa. Diga *minha inscrição* para ver a situação.")], []
    if ctx.understood.intent in ("cancel", "back"):
        return done, [_("Tudo bem, não alterei nada. ✅")], []
    parsed = _PARSERS[state.step](state, text, ctx)
    if parsed.question:
        return state, [_back_to(_prompt(state, ctx))], [AskQuestion(text)]
    if parsed.values is None:
        nxt = replace(state, step=parsed.step or state.step, pending=parsed.pending)
        body = parsed.prompt or _prompt(nxt, ctx)
        if parsed.error:
            body = f"{parsed.error}\n\n{body}" if parsed.step and parsed.step != state.step else parsed.error
        return nxt, [body], []
    return _amend_apply(state, state.editing or STEP_FIELD[state.step], parsed.values, ctx)


def _amend_apply(state: FlowState, name: str, values: Mapping[str, Any], ctx: FlowContext) -> Turn:
    own = ctx.own
    assert own is not None
    for key in ("cpf", "email"):
        if key in values and _owner(ctx, key, values[key]) == "other":
            return (
                replace(state, pending=None),
                [_duplicate_message(key, ctx) + "\n\n" + _("Envie outro %(field)s, ou diga *cancelar* para não mudar nada.")
                 % {"field": _field_label_lower(key)}],
                [RecordOutcome(DUPLICATE_REFUSED, detail=f"{key} at amend")],
            )
    changes = {key: value for key, value in values.items() if key in (name, "uf", "city_ibge_code", "district", "profile_name")}
    if "profile" in changes:
        changes = {"profile_id": changes["profile"], "profile_name": changes["profile_name"]}
    shown = _display(values, name)
    return replace(state, pending={"kind": "amended", "display": shown}), [], [UpdateParticipant(own.id, name, changes)]


def after_register(state: FlowState, result: RegisterResult, ctx: FlowContext) -> tuple[FlowState, list[str]]:
    """The conversation once ``participant_register`` has answered. Pure."""
    email = state.fields.get("email", "")
    if result.outcome in ("created", "reactivated") and state.other and result.participant_id is not None:
        # Someone else's registration: the conversation's own one stays the owner's.
        done = FlowState(step=Step.COMPLETED, participant_id=state.participant_id,
                         others=(*state.others, result.participant_id))
        return done, [
            _(
                "✅ *Inscrição de %(name)s confirmada!* Enviamos a confirmação para *%(email)s*.\n\n"
                "Para inscrever mais alguém, diga *inscrever outra pessoa*. Para corrigir ou cancelar essa inscrição "
                "depois, fale com a organização: %(contact)s"
            )
            % {"name": state.fields.get("full_name", ""), "email": email, "contact": ctx.contact or "—"}
        ]
    if result.outcome in ("created", "reactivated"):
        done = FlowState(step=Step.COMPLETED, participant_id=result.participant_id, others=state.others)
        return done, [
            _(
                "✅ *Inscrição confirmada!* Te esperamos no *%(event)s*.\n\nEnviamos a confirmação para *%(email)s* "
                "(confira também a caixa de spam).\n\nPara ver, corrigir ou cancelar sua inscrição depois, é só dizer "
                "*minha inscrição*. Se tiver dúvidas sobre o evento, pode perguntar por aqui!"
            )
            % {"event": ctx.event_name or _("evento"), "email": email}
        ]
    if result.outcome == "already_registered":
        done = FlowState(step=Step.COMPLETED, participant_id=result.participant_id, others=state.others)
        return done, _already_confirmed()
    name = result.field if result.field in ("cpf", "email") else "cpf"
    nxt = _reask(state, name)
    return nxt, [
        _duplicate_message(name, ctx)
        + "\n\n"
        + _("Se digitou errado, envie o %(field)s certo, ou diga *cancelar*.") % {"field": _field_label_lower(name)}
    ]


def after_update(state: FlowState, result: UpdateResult, ctx: FlowContext) -> tuple[FlowState, list[str]]:
    """The conversation once ``participant_update`` has answered. Pure."""
    done = replace(_resting(replace(state, step=Step.COMPLETED), ctx), step=Step.COMPLETED)
    name = state.editing or STEP_FIELD.get(state.step, "email")
    if result.outcome == "updated":
        return done, [
            _("Pronto! Atualizei %(field)s: *%(value)s* ✅ Diga *minha inscrição* para ver todos os seus dados.")
            % {"field": _field_with_article(name), "value": (state.pending or {}).get("display", "")}
        ]
    if result.outcome == "unchanged":
        return done, [_("Esse valor já estava na inscrição; não mudei nada. ✅")]
    if result.outcome == "duplicate":
        key = result.field or name
        return replace(state, pending=None), [
            _duplicate_message(key, ctx)
            + "\n\n"
            + _("Envie outro %(field)s, ou diga *cancelar* para não mudar nada.") % {"field": _field_label_lower(key)}
        ]
    return done, [_("Não encontrei sua inscrição ativa. Diga *minha inscrição* para ver a situação.")]
