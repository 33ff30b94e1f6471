"""The registration conversation as data plus one pure function.

``advance(state, text, ctx=...)`` reads one participant message and returns
the next :class:`FlowState`, the pt-BR replies and a list of effects. It does
no I/O: everything it needs from the world (the event, its profiles, the
privacy notice, the clock, whether a CPF or e-mail already belongs to a
registration, the conversation's own registration) arrives in
:class:`FlowContext`, and everything it wants done to the world leaves as an
effect (:class:`RegisterParticipant`, :class:`UpdateParticipant`, ...) that
``registrations.conversation`` executes through the services. Effects whose
outcome changes the conversation (a registration refused as a duplicate) are
resolved by the pure follow-ups :func:`after_register` and
:func:`after_update`.

Steps (CONTRACT §4): consent -> name -> e-mail -> CPF -> phone -> city ->
UF (only when the city does not settle it) -> profile -> confirming ->
completed. A value for a later step typed early (an e-mail, CPF or phone
anywhere in a message) is kept, and only what is missing is asked.

State kept between turns (``ConversationState.data``, see
:meth:`FlowState.to_data`): the collected fields, a pending yes/no question
(an e-mail or city suggestion, the candidate cities of an ambiguous name), the
field being corrected, and the self-service mode after completion. Personal
data leaves ``data`` as soon as the registration is stored or abandoned.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from django.utils.translation import gettext as _
from rapidfuzz import fuzz

from chatbot.models import RegistrationStep as Step
from congress.errors import InvalidValue
from registrations import validators as v

__all__ = [
    "FIELDS",
    "IN_FLOW_STEPS",
    "AskQuestion",
    "CancelParticipant",
    "Effect",
    "FlowContext",
    "FlowState",
    "OwnRegistration",
    "ProfileOption",
    "RecordOutcome",
    "RegisterParticipant",
    "RegisterResult",
    "RegistrationData",
    "ResendEmail",
    "UpdateParticipant",
    "UpdateResult",
    "advance",
    "after_register",
    "after_update",
    "detect_intent",
    "lookup_keys",
    "wants_turn",
]

# The six things a participant gives us, in the order they are asked and
# numbered in the summary. "city" stands for city + UF + IBGE code, "profile"
# for profile id + name.
FIELDS: tuple[str, ...] = ("full_name", "email", "cpf", "phone", "city", "profile")
FIELD_STEP: dict[str, str] = {
    "full_name": Step.ASKING_NAME,
    "email": Step.ASKING_EMAIL,
    "cpf": Step.ASKING_CPF,
    "phone": Step.ASKING_PHONE,
    "city": Step.ASKING_CITY,
    "profile": Step.ASKING_PROFILE,
}
STEP_FIELD: dict[str, str] = {step: name for name, step in FIELD_STEP.items()} | {Step.ASKING_STATE: "city"}
IN_FLOW_STEPS: frozenset[str] = frozenset({Step.ASKING_CONSENT, *STEP_FIELD, Step.CONFIRMING})
# Values typed at another step that are captured when still missing.
OUT_OF_TURN_FIELDS: tuple[str, ...] = ("email", "cpf", "phone")

MODE_AMEND = "amend"  # correcting one field of the stored registration
MODE_CHOOSE_FIELD = "choose_field"  # after completion: which field to correct?
MODE_CONFIRM_CANCEL = "confirm_cancel"  # after completion: really cancel?

# Outcome kinds the flow asks conversation.py to record (RegistrationEvent.Kind values).
CONSENT_GIVEN = "consent_given"
CONSENT_REFUSED = "consent_refused"
ABANDONED = "abandoned"
DUPLICATE_REFUSED = "duplicate_refused"


# --------------------------------------------------------------------------
# Inputs
# --------------------------------------------------------------------------


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


@dataclass(frozen=True)
class FlowContext:
    """Everything the flow needs from the world, as plain data.

    ``owners`` maps ``"cpf:<11 digits>"`` / ``"email:<address>"`` to ``"own"``
    (the active registration of this conversation) or ``"other"`` (an active
    registration of someone else); values not in it are free. Build the keys
    with :func:`lookup_keys`. ``turn`` is the conversation's turn counter: a
    self-service question (which field? really cancel?) is only answered on
    the very next turn, so a "1" typed later for the engine's menu is not
    mistaken for a field number.
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


@dataclass(frozen=True)
class FlowState:
    """Where one conversation stands. Immutable: ``advance`` returns a new one."""

    step: str = Step.IDLE
    fields: Mapping[str, Any] = field(default_factory=dict)
    editing: str | None = None  # field being corrected (at the summary or, with mode amend, after completion)
    pending: Mapping[str, Any] | None = None  # a suggestion or candidate list awaiting an answer
    mode: str | None = None
    mode_turn: int | None = None
    participant_id: int | None = None

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
        }
        return {key: value for key, value in raw.items() if value not in (None, {})}

    @property
    def missing(self) -> tuple[str, ...]:
        return tuple(name for name in FIELDS if not self.fields.get(name))


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


def _words(text: str) -> str:
    """Folded text with punctuation and emoji turned into spaces."""
    return " ".join(re.sub(r"[^\w@]+", " ", v.fold(text)).split())


_YES = frozenset(
    {
        "sim", "s", "ss", "si", "yes", "y", "ok", "okay", "oks", "certo", "correto", "isso", "isso mesmo",
        "exato", "exatamente", "confirmo", "confirmar", "confirma", "confirmado", "concordo", "aceito", "pode",
        "pode ser", "pode confirmar", "claro", "beleza", "blz", "tudo certo", "ta certo", "esta certo",
        "positivo", "com certeza", "perfeito", "quero", "bora", "vamos", "esta correto", "ta correto",
        "tudo ok", "estou de acordo", "de acordo", "eu concordo", "eu aceito",
    }
)  # fmt: skip
_NO = frozenset(
    {
        "nao", "n", "no", "nops", "negativo", "nao concordo", "nao aceito", "recuso", "errado", "esta errado",
        "ta errado", "nao quero", "nao esta certo", "nao ta certo", "incorreto", "nao obrigado", "nao obrigada",
    }
)  # fmt: skip
_THUMBS_UP = ("\U0001f44d", "\u2705", "\U0001f44c")


def is_yes(text: str) -> bool:
    words = _words(text)
    if words in _YES or words.split(" ", 1)[0] == "sim":
        return True
    return not words and text.strip().startswith(_THUMBS_UP)


def is_no(text: str) -> bool:
    words = _words(text)
    return words in _NO or words.split(" ", 1)[0] == "nao"


_CANCEL_RE = re.compile(
    r"^(quero |pode |vou )?(cancelar|cancela|cancele|sair|parar|pare|desistir|desisto|encerrar)"
    r"( (a |essa |esta )?(inscricao|cadastro|tudo))?( por favor)?$"
)


def is_cancel(text: str) -> bool:
    """``cancelar`` / ``sair`` / ``parar`` (and close variants) as the whole message."""
    words = _words(text)
    return bool(_CANCEL_RE.match(words)) or words in {"nao quero mais", "deixa pra la", "esquece"}


_QUESTION_START_RE = re.compile(
    r"^(qual|quais|quando|onde|como|quanto|quantos|quantas|quem|que horas|o que|por que|porque|pq|tem|tera|"
    r"vai ter|havera|posso|podem|preciso|precisa|existe|existem|sera|aceita|aceitam|da pra|e possivel|"
    r"voces|vcs|a programacao|o evento|sobre o|gostaria de saber|queria saber|me fala|me diga|me diz)\b"
)


def looks_like_question(text: str) -> bool:
    return "?" in text or bool(_QUESTION_START_RE.match(_words(text)))


_FIELD_WORDS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("email", re.compile(r"\be ?mail\b|\bemail\b|\bmail\b")),
    ("full_name", re.compile(r"\bnome\b")),
    ("cpf", re.compile(r"\bcpf\b")),
    ("phone", re.compile(r"\b(telefone|celular|fone|whatsapp|whats|zap|tel)\b")),
    ("city", re.compile(r"\b(cidade|municipio|estado|uf)\b")),
    ("profile", re.compile(r"\b(perfil|categoria|profissao|ocupacao)\b")),
)


def field_in(text: str) -> str | None:
    """The field a message refers to: its summary number (1-6) or its name."""
    words = _words(text)
    number = re.fullmatch(r"(?:o |opcao |item |campo |numero |n )?(\d{1,2})", words)
    if number:
        index = int(number.group(1))
        return FIELDS[index - 1] if 1 <= index <= len(FIELDS) else None
    found = [name for name, pattern in _FIELD_WORDS if pattern.search(words)]
    return found[0] if len(found) == 1 else None


_NOT_A_SIGNUP_RE = re.compile(r"\b(quando|prazo|ate|quanto|valor|valores|preco|precos|custa|gratis|gratuit\w*|pag\w*|lote)\b")
_CORRECT_RE = re.compile(r"\b(corrigir|corrige|corrijam?|correcao|alterar|altera|alteracao|mudar|muda|trocar|troca|atualizar|atualiza|editar|edita)\b")
_RESEND_RE = re.compile(r"\b(reenvi\w*|envi\w* de novo|mand\w* de novo|envi\w* novamente|mand\w* novamente|nao recebi|nao chegou)\b")
_CANCEL_REGISTRATION_RE = re.compile(
    r"\b(cancel\w*|desistir|desisto)\b.*\b(inscricao|cadastro|registro|participacao)\b"
)
_MY_REGISTRATION_RE = re.compile(
    r"\b(minha inscricao|meu cadastro|meus dados|meu registro|ver (a |minha )?inscricao|consultar (a |minha )?inscricao|"
    r"status da inscricao|situacao da inscricao|dados da inscricao|estou inscrit[oa]|ja (me )?inscrevi|sou inscrit[oa]|"
    r"ja fiz (a |minha )?inscricao)\b"
)
_REGISTER_RE = re.compile(
    r"\b(inscrev\w*|inscreve\w*|increv\w*|cadastr\w*|quero participar|fazer (a |uma |minha )?inscricao|"
    r"faco (a |uma |minha )?inscricao|realizar (a |minha )?inscricao)\b"
)
_REGISTER_ALONE = frozenset({"inscricao", "inscricoes", "cadastro", "registro", "quero inscricao", "quero participar"})


def detect_intent(text: str) -> str | None:
    """The registration intent in free text, or ``None``.

    One of ``register``, ``my_registration``, ``cancel_registration``,
    ``resend`` and ``correct``. Questions about prices and deadlines ("até
    quando posso me inscrever?") are left to the Q&A.
    """
    words = _words(text)
    if not words:
        return None
    if _CANCEL_REGISTRATION_RE.search(words):
        return "cancel_registration"
    mentions_email = bool(re.search(r"\be ?mail\b|\bemail\b|\bconfirmacao\b", words))
    if _RESEND_RE.search(words) and (mentions_email or words.startswith("reenvi")):
        return "resend"
    question = looks_like_question(text)
    # "posso mudar de categoria?" is a question for the Q&A; "pode corrigir meu e-mail?" is a request.
    if (
        _CORRECT_RE.search(words)
        and (field_in(text) or re.search(r"\b(dados|dado|inscricao|cadastro)\b", words) or len(words.split()) == 1)
        and (not question or re.search(r"\b(meu|minha|meus|minhas)\b", words))
    ):
        return "correct"
    if _REGISTER_RE.search(words) and re.search(r"\b(fazer|faco|realizar)\b", words):
        return None if question and _NOT_A_SIGNUP_RE.search(words) else "register"
    if _MY_REGISTRATION_RE.search(words):
        return "my_registration"
    if words in _REGISTER_ALONE:
        return "register"
    if _REGISTER_RE.search(words):
        return None if question and _NOT_A_SIGNUP_RE.search(words) else "register"
    return None


def wants_turn(state: FlowState, text: str, *, intent: str | None, turn: int) -> bool:
    """Whether this message belongs to the registration (else the engine does Q&A)."""
    if state.step in IN_FLOW_STEPS:
        return True
    if state.mode is not None and state.mode_turn == turn - 1:
        return True
    return intent in ("register", "my_registration") or detect_intent(text) is not None


# Pieces of text that hold personal data, removed before reading a name, a
# city or a profile from the rest of the message.
_EMAIL_LIKE_RE = re.compile(r"\S+@\S+")
_DIGIT_RUN_RE = re.compile(r"[+(]?\d[\d\s().+/\-]*\d\)?")


def _without_data(text: str) -> str:
    text = _EMAIL_LIKE_RE.sub(" ", text)
    text = _DIGIT_RUN_RE.sub(lambda m: " " if sum(ch.isdigit() for ch in m.group(0)) >= 8 else m.group(0), text)
    text = re.sub(r"(?i)\b(e-?mail|cpf|telefone|celular|fone|whats(app)?)\b\s*:?", " ", text)
    return " ".join(text.replace(",", " ").replace(";", " ").split()).strip(" .,;:-")


def _longest_digit_run(text: str) -> str:
    runs = [m.group(0) for m in _DIGIT_RUN_RE.finditer(text)]
    return max(runs, key=lambda run: sum(ch.isdigit() for ch in run)) if runs else text


_NAME_LEAD_RE = re.compile(r"(?i)^\s*(o |a )?(meu nome( completo)? (é|e)|me chamo|eu me chamo|nome( completo)?\s*:|eu sou (o |a )?|sou (o |a ))\s*")
_CITY_LEAD_RE = re.compile(r"(?i)^\s*(eu )?(moro (em|no|na)|sou (de|do|da)|cidade\s*:?|a cidade (é|e)|minha cidade (é|e)|em|de)\s+")


def lookup_keys(state: FlowState, text: str) -> set[str]:
    """Every ``owners`` key ``advance`` may consult for this message.

    conversation.py looks these up in the database before calling ``advance``.
    """
    emails: set[str] = set()
    cpfs: set[str] = set()
    found_email = v.find_email(text)
    if found_email:
        emails.add(found_email)
        suggested = v.suggest_email(found_email)
        if suggested:
            emails.add(suggested)
    try:
        emails.add(v.normalize_email(text))
    except InvalidValue as error:
        if error.suggestion:
            emails.add(error.suggestion)
    found_cpf = v.find_cpf(text)
    if found_cpf:
        cpfs.add(found_cpf)
    pending = state.pending or {}
    if pending.get("kind") == "email_suggestion":
        emails.update(value for value in (pending.get("value"), pending.get("original")) if value)
    if state.fields.get("email"):
        emails.add(state.fields["email"])
    if state.fields.get("cpf"):
        cpfs.add(state.fields["cpf"])
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


def _contact_line(ctx: FlowContext) -> str:
    if ctx.contact:
        return _("Para falar com a organização: %(contact)s.") % {"contact": ctx.contact}
    return _("Para falar com a organização, diga *falar com a organização*.")


def _consent_prompt(ctx: FlowContext) -> str:
    event = ctx.event_name or _("evento")
    notice = ctx.privacy_notice.strip() or _(
        "Para fazer sua inscrição no *%(event)s* vou pedir seu nome, e-mail, CPF, telefone, cidade e perfil. "
        "Esses dados são usados só para organizar o evento (credenciamento, certificado e avisos sobre o "
        "evento), guardados com segurança e não são compartilhados para outros fins. Você pode ver, "
        "corrigir ou cancelar sua inscrição a qualquer momento por aqui."
    ) % {"event": event}
    parts = [f"🔒 {notice}"]
    if ctx.privacy_notice_url:
        parts.append(_("Aviso de privacidade completo: %(url)s") % {"url": ctx.privacy_notice_url})
    parts.append(_("Você concorda com o uso dos seus dados para a inscrição? Responda *sim* ou *não*."))
    return "\n\n".join(parts)


def _profiles_menu(ctx: FlowContext) -> str:
    return "\n".join(f"{index}. {profile.name}" for index, profile in enumerate(ctx.profiles, start=1))


def _candidates_menu(cities: list[list[Any]]) -> str:
    return "\n".join(f"{index}. {name}/{uf}" for index, (_code, name, uf) in enumerate(cities, start=1))


def _prompt(state: FlowState, ctx: FlowContext) -> str:
    """The question pending at ``state`` (repeated after an answer or an error)."""
    step = state.step
    amending = state.mode == MODE_AMEND
    current = _current_value(state, ctx) if (state.editing or amending) else ""
    if step == Step.ASKING_CONSENT:
        return _consent_prompt(ctx)
    if step == Step.ASKING_NAME:
        text = _("Qual é o seu *nome completo*? (do jeito que deve sair no crachá e no certificado)")
    elif step == Step.ASKING_EMAIL:
        text = _("Qual é o seu *e-mail*? A confirmação da inscrição vai para ele.")
    elif step == Step.ASKING_CPF:
        text = _("Qual é o seu *CPF*? Pode enviar só os números, por exemplo: 123.456.789-09.")
    elif step == Step.ASKING_PHONE:
        text = _("Qual é o seu *telefone com DDD*? Por exemplo: (61) 99999-0000.")
    elif step == Step.ASKING_CITY:
        text = _("Em qual *cidade* você mora? Por exemplo: Londrina, ou Santa Maria/RS.")
    elif step == Step.ASKING_STATE:
        cities = list((state.pending or {}).get("cities") or [])
        name = cities[0][1] if cities else ""
        return _(
            "Encontrei *%(city)s* em mais de um estado. Qual é o seu? Responda com o número ou a sigla do estado (UF):\n%(options)s"
        ) % {"city": name, "options": _candidates_menu(cities)}
    elif step == Step.ASKING_PROFILE:
        text = _("Qual é o seu *perfil*? Responda com o número ou o nome:\n%(options)s") % {
            "options": _profiles_menu(ctx)
        }
    elif step == Step.CONFIRMING:
        return _summary(state.fields)
    else:
        return ""
    if current and amending:
        text = _("%(question)s\n(Hoje está: %(current)s. Para não mudar nada, diga *cancelar*.)") % {
            "question": text,
            "current": current,
        }
    elif current:
        text = _("%(question)s\n(Hoje está: %(current)s.)") % {"question": text, "current": current}
    return text


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
        return f"{value}/{fields.get('uf', '')}"
    if name == "profile":
        return str(fields.get("profile_name") or value)
    return str(value)


def _summary(fields: Mapping[str, Any]) -> str:
    lines = [
        f"{index}. {field_label(name)}: {_display(fields, name)}" for index, name in enumerate(FIELDS, start=1)
    ]
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
        "Para receber a confirmação de novo, *reenviar e-mail*. Para cancelar, *cancelar minha inscrição*."
    ) % {"lines": "\n".join(lines), "email_status": email_status}


def _duplicate_message(name: str, ctx: FlowContext) -> str:
    # Never a word about the other registration: not its name, e-mail or phone.
    if name == "cpf":
        text = _("Este CPF já tem uma inscrição confirmada, então não posso usá-lo de novo.")
    else:
        text = _("Este e-mail já está sendo usado em outra inscrição, então não posso usá-lo de novo.")
    return _(
        "%(text)s Se a inscrição é sua ou se acha que há um engano, a organização pode ajudar. %(contact)s"
    ) % {"text": text, "contact": _contact_line(ctx)}


def _own_found_message() -> str:
    return _(
        "Esse dado já está na inscrição feita por esta conversa. Diga *minha inscrição* para ver ou corrigir "
        "seus dados."
    )


def _already_confirmed() -> list[str]:
    return [_("Sua inscrição já está confirmada ✅ Diga *minha inscrição* para ver ou corrigir seus dados.")]


def _back_to(prompt: str) -> str:
    return _("↩️ Voltando à sua inscrição:\n%(prompt)s") % {"prompt": prompt}


def _closed_message(ctx: FlowContext) -> str:
    return _("As inscrições estão encerradas no momento. 🙏 %(contact)s") % {"contact": _contact_line(ctx)}


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


def _parse_name(state: FlowState, text: str, ctx: FlowContext) -> _Parsed:
    if looks_like_question(text):
        return _Parsed(question=True)
    rest = _NAME_LEAD_RE.sub("", _without_data(text))
    if not rest and text.strip():
        return _Parsed(error="")  # only data for other steps: just ask the name again
    try:
        return _Parsed(values={"full_name": v.normalize_name(rest)})
    except InvalidValue as error:
        return _Parsed(error=error.message)


def _parse_email(state: FlowState, text: str, ctx: FlowContext) -> _Parsed:
    pending = state.pending or {}
    if pending.get("kind") == "email_suggestion":
        if is_yes(text):
            return _Parsed(values={"email": pending["value"]})
        if is_no(text) and pending.get("original"):
            return _Parsed(values={"email": pending["original"]})
        if is_no(text):
            return _Parsed(error=_("Tudo bem. Envie seu e-mail completo, por exemplo: maria.souza@gmail.com."))
    found = v.find_email(text)
    if found is None:
        if looks_like_question(text):
            return _Parsed(question=True)
        try:
            found = v.normalize_email(text)
        except InvalidValue as error:
            if error.suggestion:
                return _Parsed(
                    pending={"kind": "email_suggestion", "value": error.suggestion, "original": None},
                    prompt=_("Esse e-mail parece incompleto. Você quis dizer *%(suggestion)s*? Responda *sim* ou envie o e-mail certo.")
                    % {"suggestion": error.suggestion},
                )
            return _Parsed(error=error.message)
    suggestion = v.suggest_email(found)
    if suggestion:
        return _Parsed(
            pending={"kind": "email_suggestion", "value": suggestion, "original": found},
            prompt=_(
                "Você quis dizer *%(suggestion)s*? Responda *sim* para usar esse, *não* para manter "
                "%(original)s, ou envie o e-mail certo."
            )
            % {"suggestion": suggestion, "original": found},
        )
    return _Parsed(values={"email": found})


def _parse_cpf(state: FlowState, text: str, ctx: FlowContext) -> _Parsed:
    found = v.find_cpf(text)
    if found is not None:
        return _Parsed(values={"cpf": found})
    if looks_like_question(text) and not any(ch.isdigit() for ch in text):
        return _Parsed(question=True)
    try:
        return _Parsed(values={"cpf": v.normalize_cpf(_longest_digit_run(text))})
    except InvalidValue as error:
        return _Parsed(error=error.message)


def _parse_phone(state: FlowState, text: str, ctx: FlowContext) -> _Parsed:
    found = v.find_phone(text)
    if found is not None:
        return _Parsed(values={"phone": found})
    if looks_like_question(text) and not any(ch.isdigit() for ch in text):
        return _Parsed(question=True)
    try:
        return _Parsed(values={"phone": v.normalize_phone(_longest_digit_run(text))})
    except InvalidValue as error:
        return _Parsed(error=error.message)


def _city_values(city: v.City) -> dict[str, Any]:
    return {"city": city.name, "uf": city.uf, "city_ibge_code": city.ibge_code}


def _read_city(text: str) -> _Parsed:
    rest = _CITY_LEAD_RE.sub("", _without_data(text))
    if not rest:
        return _Parsed(error=_("Envie o nome da sua cidade, por exemplo: Londrina, ou Santa Maria/RS."))
    try:
        found = v.match_city(rest)
    except InvalidValue as error:
        return _Parsed(error=error.message)
    if found.city is not None and not found.fuzzy:
        return _Parsed(values=_city_values(found.city))
    if found.city is not None:  # settled through a typo: confirm before storing
        found = v.CityMatch(suggestion=found.city)
    if found.candidates:
        cities = [[city.ibge_code, city.name, city.uf] for city in found.candidates]
        return _Parsed(step=Step.ASKING_STATE, pending={"kind": "city_candidates", "cities": cities})
    if found.suggestion is not None:
        city = found.suggestion
        return _Parsed(
            pending={"kind": "city_suggestion", "city": [city.ibge_code, city.name, city.uf]},
            prompt=_(
                "Não encontrei a cidade “%(text)s”. Você quis dizer *%(city)s/%(uf)s*? Responda *sim* ou envie "
                "o nome da cidade de novo."
            )
            % {"text": rest, "city": city.name, "uf": city.uf},
        )
    return _Parsed(
        error=_(
            "Não encontrei a cidade “%(text)s” na lista de municípios do IBGE. Confira a grafia e envie de novo, "
            "de preferência com o estado, por exemplo: Londrina/PR."
        )
        % {"text": rest}
    )


def _parse_city(state: FlowState, text: str, ctx: FlowContext) -> _Parsed:
    pending = state.pending or {}
    if pending.get("kind") == "city_suggestion":
        if is_yes(text):
            code, name, uf = pending["city"]
            return _Parsed(values={"city": name, "uf": uf, "city_ibge_code": code})
        if is_no(text):
            return _Parsed(error=_("Tudo bem. Envie o nome da sua cidade de novo, de preferência com o estado, por exemplo: Londrina/PR."))
    if looks_like_question(text):
        return _Parsed(question=True)
    return _read_city(text)


def _parse_state(state: FlowState, text: str, ctx: FlowContext) -> _Parsed:
    cities = list((state.pending or {}).get("cities") or [])
    if not cities:  # nothing to choose from: ask the city again
        return _Parsed(step=Step.ASKING_CITY, error="")
    words = _words(text)
    number = re.fullmatch(r"(?:opcao |numero |n )?(\d{1,2})", words)
    if number and 1 <= int(number.group(1)) <= len(cities):
        code, name, uf = cities[int(number.group(1)) - 1]
        return _Parsed(values={"city": name, "uf": uf, "city_ibge_code": code})
    try:
        uf = v.normalize_uf(text)
    except InvalidValue:
        uf = None
    if uf is not None:
        for code, name, city_uf in cities:
            if city_uf == uf:
                return _Parsed(values={"city": name, "uf": uf, "city_ibge_code": code})
        return _Parsed(
            error=_("Não há %(city)s em %(uf)s na lista do IBGE. Responda uma destas opções:\n%(options)s")
            % {"city": cities[0][1], "uf": uf, "options": _candidates_menu(cities)},
            pending=state.pending,
        )
    if looks_like_question(text):
        return _Parsed(question=True)
    # Maybe another city altogether ("Santa Maria do Pará", "Londrina").
    again = _read_city(text)
    if again.values or again.step or again.pending:
        return again
    return _Parsed(
        error=_("Não entendi o estado. Responda com o número ou a sigla (UF), por exemplo: RS."),
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


def match_profile(text: str, profiles: tuple[ProfileOption, ...]) -> ProfileOption | None:
    """A profile chosen by its number or named in free text ("sou produtor rural")."""
    words = _words(text)
    number = re.fullmatch(r"(?:opcao |numero |n |perfil )?(\d{1,2})", words)
    if number:
        index = int(number.group(1))
        return profiles[index - 1] if 1 <= index <= len(profiles) else None
    exact: dict[int, int] = {}
    for profile in profiles:
        for term in _profile_terms(profile):
            if re.search(rf"\b{re.escape(term)}\b", words):
                exact[profile.id] = max(exact.get(profile.id, 0), len(term))
    if len(exact) == 1:
        return next(p for p in profiles if p.id in exact)
    if exact:
        return None  # two profiles named: ask which one
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
    chosen = match_profile(_without_data(text) or text, ctx.profiles)
    if chosen is not None:
        return _Parsed(values={"profile": chosen.id, "profile_name": chosen.name})
    if looks_like_question(text):
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


def _start(state: FlowState, ctx: FlowContext) -> Turn:
    resting = _resting(state, ctx)
    if ctx.own is not None and ctx.own.active:
        return (
            replace(resting, step=Step.COMPLETED),
            [
                _("Você já está inscrito(a) no *%(event)s* ✅ Diga *minha inscrição* para ver ou corrigir seus dados.")
                % {"event": ctx.event_name or _("evento")}
            ],
            [],
        )
    if not ctx.registration_open or not ctx.profiles:
        return resting, [_closed_message(ctx)], []
    started = FlowState(step=Step.ASKING_CONSENT, participant_id=resting.participant_id)
    greeting = _("Que bom que você quer participar! 🎉 São só algumas perguntas rápidas.")
    return started, [greeting, _consent_prompt(ctx)], []


def _resting(state: FlowState, ctx: FlowContext) -> FlowState:
    """Idle or completed with no personal data kept, pointing at the own registration if any."""
    # Only a registration that exists now (ctx.own); a stale id is dropped.
    participant_id = ctx.own.id if ctx.own is not None else None
    step = Step.COMPLETED if participant_id is not None and state.step == Step.COMPLETED else state.step
    if step not in (Step.IDLE, Step.COMPLETED):
        step = Step.COMPLETED if participant_id is not None else Step.IDLE
    return FlowState(step=step, participant_id=participant_id)


def _abandon(state: FlowState, ctx: FlowContext) -> Turn:
    resting = _resting(replace(state, step=Step.IDLE), ctx)
    if resting.participant_id is not None:
        resting = replace(resting, step=Step.COMPLETED)
    return (
        resting,
        [
            _(
                "Tudo bem, cancelei a inscrição em andamento e não guardei nenhum dado. Quando quiser, é só dizer "
                "*quero me inscrever*. Posso ajudar com alguma informação sobre o evento?"
            )
        ],
        [RecordOutcome(ABANDONED, detail=str(state.step))],
    )


def _flow_turn(state: FlowState, text: str, ctx: FlowContext) -> Turn:
    if is_cancel(text):
        return _abandon(state, ctx)
    if state.step == Step.ASKING_CONSENT:
        return _consent_turn(state, text, ctx)
    if state.step == Step.CONFIRMING:
        return _confirm_turn(state, text, ctx)
    return _data_turn(state, text, ctx)


def _consent_turn(state: FlowState, text: str, ctx: FlowContext) -> Turn:
    if is_yes(text):
        fields = {"consent_at": ctx.now.isoformat(), "consent_version": ctx.privacy_notice_version}
        nxt = replace(state, step=Step.ASKING_NAME, fields=fields)
        return (
            nxt,
            [_("Obrigado! 👍\n\n%(prompt)s") % {"prompt": _prompt(nxt, ctx)}],
            [RecordOutcome(CONSENT_GIVEN, detail=ctx.privacy_notice_version)],
        )
    if is_no(text):
        resting = _resting(replace(state, step=Step.IDLE), ctx)
        return (
            resting,
            [
                _(
                    "Tudo bem! Sem o seu consentimento não posso fazer a inscrição, e nenhum dado seu foi guardado. "
                    "Se mudar de ideia, é só dizer *quero me inscrever*. Posso ajudar com alguma informação sobre o evento?"
                )
            ],
            [RecordOutcome(CONSENT_REFUSED, detail=ctx.privacy_notice_version)],
        )
    if looks_like_question(text):
        return state, [_back_to(_prompt(state, ctx))], [AskQuestion(text)]
    return state, [_("Para continuar, preciso que você responda *sim* ou *não*.\n\n%(prompt)s") % {"prompt": _prompt(state, ctx)}], []


def _owner(ctx: FlowContext, name: str, value: str) -> str | None:
    return ctx.owners.get(f"{name}:{value}")


def _capture(state: FlowState, text: str, ctx: FlowContext) -> tuple[dict[str, Any], list[str], list[Effect]]:
    """E-mail, CPF and phone typed at another step: keep the missing ones."""
    if state.editing or state.mode:
        return {}, [], []
    current = STEP_FIELD.get(state.step)
    finders = {"email": v.find_email, "cpf": v.find_cpf, "phone": v.find_phone}
    captured: dict[str, Any] = {}
    notes: list[str] = []
    effects: list[Effect] = []
    for name in OUT_OF_TURN_FIELDS:
        if name == current or state.fields.get(name):
            continue
        value = finders[name](text)
        if value is None or (name == "email" and v.suggest_email(value)):
            continue  # a possible typo is confirmed at its own step
        owner = _owner(ctx, name, value) if name in ("cpf", "email") else None
        if owner == "other":
            notes.append(_duplicate_message(name, ctx))
            effects.append(RecordOutcome(DUPLICATE_REFUSED, detail=f"{name} at {state.step}"))
            continue
        captured[name] = value
    return captured, notes, effects


def _data_turn(state: FlowState, text: str, ctx: FlowContext) -> Turn:
    captured, notes, effects = _capture(state, text, ctx)
    parsed = _PARSERS[state.step](state, text, ctx)
    state = replace(state, fields={**state.fields, **captured})
    ack = ""
    if captured:
        ack = _("Anotei: %(fields)s. ✍️") % {"fields": ", ".join(_field_label_lower(name) for name in captured)}
    if parsed.question:
        # Answered by the Q&A (placed before these replies); data typed along is kept.
        message = "\n\n".join(part for part in (ack, _back_to(_prompt(state, ctx))) if part)
        return state, [*notes, message], [*effects, AskQuestion(text)]

    if parsed.values is None:
        nxt = replace(state, step=parsed.step or state.step, pending=parsed.pending)
        only_data = parsed.error == "" or state.step in (Step.ASKING_EMAIL, Step.ASKING_CPF, Step.ASKING_PHONE)
        if captured and only_data and not parsed.pending and state.step != Step.ASKING_STATE:
            # The message held only data for other steps: keep it and ask what is still missing.
            return _next(nxt, ctx, prefix=ack, notes=notes, effects=effects)
        body = parsed.prompt or _prompt(nxt, ctx)
        if parsed.error:
            body = f"{parsed.error}\n\n{body}" if parsed.step and parsed.step != state.step else parsed.error
        message = "\n\n".join(part for part in (ack, body) if part)
        return nxt, [*notes, message], effects

    values = dict(parsed.values)
    refusal = _refuse_taken(state, values, ctx)
    if refusal is not None:
        nxt, reply, extra = refusal
        return nxt, [*notes, *reply], [*effects, *extra]
    nxt = replace(state, fields={**state.fields, **values}, pending=None)
    return _next(nxt, ctx, prefix=ack, notes=notes, effects=effects, accepted=values)


def _refuse_taken(state: FlowState, values: Mapping[str, Any], ctx: FlowContext) -> Turn | None:
    for name in ("cpf", "email"):
        if name not in values:
            continue
        owner = _owner(ctx, name, values[name])
        if owner == "other":
            nxt = replace(state, pending=None)
            return (
                nxt,
                [_duplicate_message(name, ctx) + "\n\n" + _("Se digitou errado, envie o %(field)s certo, ou diga *cancelar*.")
                 % {"field": _field_label_lower(name)}],
                [RecordOutcome(DUPLICATE_REFUSED, detail=f"{name} at {state.step}")],
            )
        if owner == "own":
            resting = _resting(replace(state, step=Step.COMPLETED), ctx)
            return resting, [_own_found_message()], []
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
    if state.editing is not None and not state.missing:
        nxt = replace(state, step=Step.CONFIRMING, editing=None, pending=None)
    elif state.missing:
        nxt = replace(state, step=FIELD_STEP[state.missing[0]], editing=None, pending=None)
    else:
        nxt = replace(state, step=Step.CONFIRMING, editing=None, pending=None)
    if accepted and "full_name" in accepted and nxt.step != Step.CONFIRMING:
        first = str(accepted["full_name"]).split(" ", 1)[0]
        prefix = "\n".join(part for part in (_("Prazer, %(name)s! 😊") % {"name": first}, prefix) if part)
    elif accepted and "city" in accepted and nxt.step != Step.CONFIRMING:
        prefix = "\n".join(
            part for part in (_("Anotei: %(city)s/%(uf)s. 📍") % {"city": accepted["city"], "uf": accepted["uf"]}, prefix) if part
        )
    message = "\n\n".join(part for part in (prefix, _prompt(nxt, ctx)) if part)
    return nxt, [*notes, message], effects


def _confirm_turn(state: FlowState, text: str, ctx: FlowContext) -> Turn:
    if state.missing:  # never confirm with a missing field (defensive: data edited by hand)
        return _next(state, ctx)
    chosen = field_in(text)
    if chosen is not None and not is_yes(text):
        return _edit_at_summary(state, chosen, text, ctx)
    if is_yes(text):
        if not ctx.registration_open:
            resting = _resting(replace(state, step=Step.IDLE), ctx)
            return resting, [_closed_message(ctx)], [RecordOutcome(ABANDONED, detail="registration closed")]
        owners = {_owner(ctx, "cpf", state.fields["cpf"]), _owner(ctx, "email", state.fields["email"])}
        if "own" in owners and "other" not in owners and ctx.own is not None:
            # A confirmation delivered twice: the first one already stored it.
            done = FlowState(step=Step.COMPLETED, participant_id=ctx.own.id)
            return done, _already_confirmed(), []
        refusal = _refuse_taken(state, state.fields, ctx)
        if refusal is not None:
            nxt, reply, extra = refusal
            if nxt.step == Step.CONFIRMING:
                taken = "cpf" if _owner(ctx, "cpf", state.fields["cpf"]) == "other" else "email"
                nxt = _reask(nxt, taken)
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
        )
        return state, [], [RegisterParticipant(data)]
    if is_no(text) or _CORRECT_RE.search(_words(text)):
        return state, [_("Qual dado você quer corrigir? Responda com o número (1 a %(n)d).") % {"n": len(FIELDS)}], []
    # A new e-mail, CPF or phone typed at the summary replaces the old one.
    for name, finder in (("email", v.find_email), ("cpf", v.find_cpf), ("phone", v.find_phone)):
        value = finder(text)
        if value is not None and value != state.fields.get(name):
            return _edit_at_summary(state, name, text, ctx)
    if looks_like_question(text):
        return state, [_back_to(_("Está tudo certo com seus dados? Responda *sim* para confirmar ou o número do dado que quer corrigir."))], [AskQuestion(text)]
    return state, [_("Não entendi. Responda *sim* para confirmar a inscrição, ou o número do dado que quer corrigir (1 a %(n)d).") % {"n": len(FIELDS)}], []


def _reask(state: FlowState, name: str) -> FlowState:
    """Forget ``name`` and ask it again, returning to the summary afterwards."""
    fields = {key: value for key, value in state.fields.items() if key != name}
    return replace(state, step=FIELD_STEP[name], fields=fields, editing=name, pending=None)


def _edit_at_summary(state: FlowState, name: str, text: str, ctx: FlowContext) -> Turn:
    editing = replace(state, step=FIELD_STEP[name], editing=name, pending=None)
    inline = _inline_value(name, text)
    if inline is not None:
        refusal = _refuse_taken(editing, inline, ctx)
        if refusal is not None:
            return refusal
        nxt = replace(editing, fields={**state.fields, **inline})
        return _next(nxt, ctx, prefix=_("Corrigido! ✏️"))
    return editing, [_prompt(editing, ctx)], []


def _inline_value(name: str, text: str) -> dict[str, Any] | None:
    """A new value typed together with the request to correct ("corrigir e-mail para x@y.com")."""
    if name == "email":
        value = v.find_email(text)
        return {"email": value} if value and not v.suggest_email(value) else None
    if name == "cpf":
        value = v.find_cpf(text)
        return {"cpf": value} if value else None
    if name == "phone":
        value = v.find_phone(text)
        return {"phone": value} if value else None
    return None


# --------------------------------------------------------------------------
# After completion: self-service
# --------------------------------------------------------------------------


def _rest_turn(state: FlowState, text: str, ctx: FlowContext) -> Turn:
    mode = state.mode if state.mode is not None and state.mode_turn == ctx.turn - 1 else None
    base = replace(state, mode=None, mode_turn=None)
    own = ctx.own
    if mode == MODE_CONFIRM_CANCEL and own is not None and own.active:
        if is_yes(text) or (is_cancel(text) and not is_no(text)):
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
        if is_no(text):
            return base, [_("Certo, sua inscrição continua confirmada. ✅")], []
    if mode == MODE_CHOOSE_FIELD and own is not None and own.active:
        chosen = field_in(text)
        if chosen is not None:
            return _amend_start(base, chosen, text, ctx)

    intent = detect_intent(text) or ctx.intent
    if intent == "register":
        return _start(base, ctx)
    if intent is None:
        return base, [], []
    if own is None:
        if intent == "correct":
            return base, [], []
        return (
            base,
            [
                _(
                    "Não encontrei uma inscrição feita por esta conversa. Para se inscrever, diga *quero me inscrever*. "
                    "Se você se inscreveu por outro número, a organização pode ajudar. %(contact)s"
                )
                % {"contact": _contact_line(ctx)}
            ],
            [],
        )
    base = replace(_resting(base, ctx), step=Step.COMPLETED)
    if intent == "my_registration" or not own.active:
        return base, [_own_summary(own)], []
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
    chosen = field_in(text)
    if chosen is not None:
        return _amend_start(base, chosen, text, ctx)
    lines = "\n".join(f"{index}. {field_label(name)}" for index, name in enumerate(FIELDS, start=1))
    return (
        replace(base, mode=MODE_CHOOSE_FIELD, mode_turn=ctx.turn),
        [_("Qual dado você quer corrigir? Responda com o número:\n%(lines)s") % {"lines": lines}],
        [],
    )


def _amend_start(state: FlowState, name: str, text: str, ctx: FlowContext) -> Turn:
    amending = replace(state, step=FIELD_STEP[name], mode=MODE_AMEND, mode_turn=None, editing=name, pending=None)
    inline = _inline_value(name, text)
    if inline is not None:
        return _amend_apply(amending, name, inline, ctx)
    return amending, [_prompt(amending, ctx)], []


def _amend_turn(state: FlowState, text: str, ctx: FlowContext) -> Turn:
    own = ctx.own
    done = replace(_resting(replace(state, step=Step.COMPLETED), ctx), step=Step.COMPLETED)
    if own is None or not own.active:
        return done, [_("Não encontrei sua inscrição ativa. Diga *minha inscrição* para ver a situação.")], []
    if is_cancel(text):
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
    changes = dict(values)
    if "profile" in changes:
        changes = {"profile_id": changes["profile"], "profile_name": changes["profile_name"]}
    return state, [], [UpdateParticipant(own.id, name, changes)]


def after_register(state: FlowState, result: RegisterResult, ctx: FlowContext) -> tuple[FlowState, list[str]]:
    """The conversation once ``participant_register`` has answered. Pure."""
    email = state.fields.get("email", "")
    if result.outcome in ("created", "reactivated"):
        done = FlowState(step=Step.COMPLETED, participant_id=result.participant_id)
        return done, [
            _(
                "✅ *Inscrição confirmada!* Bem-vindo(a) ao *%(event)s*.\n\nEnviamos a confirmação para *%(email)s* "
                "(confira também a caixa de spam).\n\nPara ver, corrigir ou cancelar sua inscrição depois, é só dizer "
                "*minha inscrição*. Se tiver dúvidas sobre o evento, pode perguntar por aqui!"
            )
            % {"event": ctx.event_name or _("evento"), "email": email}
        ]
    if result.outcome == "already_registered":
        done = FlowState(step=Step.COMPLETED, participant_id=result.participant_id)
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
            _("Pronto! Atualizei seu %(field)s. ✅ Diga *minha inscrição* para ver todos os seus dados.")
            % {"field": _field_label_lower(name)}
        ]
    if result.outcome == "unchanged":
        return done, [_("Esse já é o seu %(field)s; não mudei nada. ✅") % {"field": _field_label_lower(name)}]
    if result.outcome == "duplicate":
        key = result.field or name
        return replace(state, pending=None), [
            _duplicate_message(key, ctx)
            + "\n\n"
            + _("Envie outro %(field)s, ou diga *cancelar* para não mudar nada.") % {"field": _field_label_lower(key)}
        ]
    return done, [_("Não encontrei sua inscrição ativa. Diga *minha inscrição* para ver a situação.")]
