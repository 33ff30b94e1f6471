"""The choices a registration prompt offers, for channels that show them as
reply buttons or a list (the WhatsApp Cloud API). Pure, like the machine.

The flow's replies stay plain text (numbered options included), so a channel
without interactive messages sends exactly what it sent before. After a turn,
:func:`offered_choices` reads where the conversation stands (step, pending
suggestion, self-service mode) and the turn's LAST reply: choices are offered
only when that reply ends with the question they answer (a question answered
by the Q&A, an echo or an error after it means no choices).

Every option's ``answer`` is the exact text the participant could type for
it ("sim", "não", "2", "GO"): a tap comes back as that text and takes the
same path through the router and the flow as typing it.

WhatsApp's limits (Cloud API): at most 3 reply buttons of at most 20
characters; a list of at most 10 rows, row titles of at most 24 characters,
descriptions of at most 72, a button label of at most 20. A title that does
not fit is shortened (the full text goes to the row's description); more
options than a list holds: no choices (the numbered text alone).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any

from django.utils.translation import gettext as _

from registrations import validators as v
from registrations.flow.texts import (
    _candidates_menu,
    _consent_question,
    _consent_short,
    _display,
    _fields_menu,
    _place_label,
    _profiles_menu,
    _tickets_prompt,
    _which_field,
    field_label,
    tickets_for,
)
from registrations.flow.types import MODE_CHOOSE_FIELD, MODE_CONFIRM_CANCEL, Choice, Choices, FlowContext, FlowState
from registrations.steps import FIELDS, IN_FLOW_STEPS
from registrations.steps import RegistrationStep as Step

MAX_BUTTONS = 3
BUTTON_TITLE_MAX = 20
MAX_ROWS = 10
ROW_TITLE_MAX = 24
ROW_DESCRIPTION_MAX = 72
LIST_BUTTON_MAX = 20

YES = "sim"
NO = "não"

_GENDER_MARK_RE = re.compile(r"\((?:a|as|s|es)\)", re.IGNORECASE)

# Pending records whose question is answered by "sim" (keep the value) or "não" (type it again).
_YES_NO_PENDING = frozenset(
    {"email_suggestion", "cpf_suggestion", "phone_suggestion", "city_suggestion", "name_confirm", "replace"}
)


# --------------------------------------------------------------------------
# Building choices within WhatsApp's limits
# --------------------------------------------------------------------------


def shorten(text: str, limit: int) -> str:
    """``text`` in at most ``limit`` characters: whole when it fits, else
    without gender marks ("(a)"), else cut (at a space or slash when that
    loses little) with "…"."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    plain = _GENDER_MARK_RE.sub("", text)  # "Pesquisador(a)/Professor(a)" -> "Pesquisador/Professor"
    if len(plain) <= limit:
        return plain
    head = text[: limit - 1]
    cut = max(head.rfind(" "), head.rfind("/"))
    if cut >= len(head) - 4:
        head = head[:cut]
    return head.rstrip(" /,.;:-(") + "…"


def buttons(options: Sequence[tuple[str, str]]) -> Choices | None:
    """Reply buttons from ``(answer, title)`` pairs; None when they do not fit."""
    choices = tuple(Choice(answer=answer, title=shorten(title, BUTTON_TITLE_MAX)) for answer, title in options)
    if not choices or len(choices) > MAX_BUTTONS or len({choice.title for choice in choices}) != len(choices):
        return None
    return Choices(kind="buttons", options=choices)


def choice_list(options: Sequence[tuple[str, str, str]], *, button: str) -> Choices | None:
    """A list from ``(answer, title, description)`` rows; None when more rows
    than a list holds (the numbered text is the only way then). A shortened
    title keeps its full text in the description."""
    if not options or len(options) > MAX_ROWS:
        return None
    rows = []
    for answer, title, description in options:
        short = shorten(title, ROW_TITLE_MAX)
        if short != " ".join(title.split()):
            description = f"{title} · {description}" if description else title
        rows.append(Choice(answer=answer, title=short, description=shorten(description, ROW_DESCRIPTION_MAX)))
    if len({row.answer for row in rows}) != len(rows):
        return None  # a tap must name one option
    return Choices(kind="list", options=tuple(rows), button=shorten(button, LIST_BUTTON_MAX))


# --------------------------------------------------------------------------
# What the last prompt of a turn offers
# --------------------------------------------------------------------------


def offered_choices(state: FlowState, ctx: FlowContext, reply: str) -> Choices | None:
    """The choices ``reply`` (the turn's last reply) offers at ``state``, or None."""
    reply = (reply or "").rstrip()
    if not reply:
        return None
    last = reply.rsplit("\n\n", 1)[-1]
    pending: dict[str, Any] = dict(state.pending or {})
    step = state.step
    if step not in IN_FLOW_STEPS:
        if state.mode == MODE_CHOOSE_FIELD and reply.endswith(_fields_menu()):
            return _field_choices()
        if state.mode == MODE_CONFIRM_CANCEL and _asks_yes(last):
            return buttons([(YES, _("Sim, cancelar")), (NO, _("Não, manter"))])
        return None
    if step == Step.ASKING_CONSENT:
        if reply.endswith((_consent_question(), _consent_short(ctx))):
            return buttons([(YES, _("Sim, concordo")), (NO, _("Não concordo"))])
        return None
    if step == Step.CONFIRMING:
        if pending.get("kind") == "which_field":
            return _field_choices(state.fields) if reply.endswith(_which_field()) else None
        if _asks_yes(last):
            return buttons([(YES, _("Confirmar")), (NO, _("Corrigir um dado"))])
        return None
    if pending.get("kind") in _YES_NO_PENDING and _asks_yes(last):
        if pending["kind"] == "replace":
            return buttons([(YES, _("Sim, trocar")), (NO, _("Não, manter"))])
        return buttons([(YES, _("Sim, está certo")), (NO, _("Não"))])
    if step == Step.ASKING_STATE and pending.get("kind") == "city_candidates":
        cities = list(pending.get("cities") or [])
        if cities and _candidates_menu(cities) in reply:
            return _place_choices(cities)
        return None
    if step == Step.ASKING_TICKET and ctx.tickets and reply.endswith(_tickets_prompt(state, ctx)):
        options = tickets_for(ctx, state.fields.get("profile"))
        rows = [
            (str(index), option.name, _("esgotada — lista de espera") if option.full else option.price_text)
            for index, option in enumerate(options, start=1)
        ]
        return choice_list(rows, button=_("Ver categorias"))
    if step == Step.ASKING_PROFILE and ctx.profiles and _profiles_menu(ctx) in last:
        rows = [(str(index), profile.name, "") for index, profile in enumerate(ctx.profiles, start=1)]
        return choice_list(rows, button=_("Ver perfis"))
    return None


def _asks_yes(paragraph: str) -> bool:
    """Whether the closing paragraph asks for a "sim" (every yes/no question of the flow says *sim*)."""
    return "*sim*" in paragraph.lower()


def _field_choices(fields: dict[str, Any] | None = None) -> Choices | None:
    """Which field to correct, by its number in the summary; with the value
    held now as the description (the CPF masked) when there is one."""
    rows = []
    for index, name in enumerate(FIELDS, start=1):
        shown = _display(fields, name, mask=True) if fields and fields.get(name) else ""
        rows.append((str(index), field_label(name), shown))
    return choice_list(rows, button=_("Escolher o dado"))


def _place_choices(cities: Iterable[list[Any]]) -> Choices | None:
    """The places of an ambiguous city: a tap answers the UF when it names one
    place only, else the option's number (both read as typed)."""
    cities = list(cities)
    ufs = [str(option[2]) for option in cities]
    rows = []
    for index, option in enumerate(cities, start=1):
        uf = str(option[2])
        answer = uf if ufs.count(uf) == 1 else str(index)
        label, state_name = _place_label(option), v.UF_NAMES.get(uf, "")
        title = _place_title(option)
        description = state_name if title == label else f"{label} · {state_name}" if state_name else label
        rows.append((answer, title, description))
    return choice_list(rows, button=_("Ver opções"))


def _place_title(option: list[Any]) -> str:
    """"Goiânia/GO"; a long name shortened before its UF, which tells the places apart."""
    label = _place_label(option)
    if len(label) <= ROW_TITLE_MAX:
        return label
    _code, name, uf, *rest = option
    district = rest[0] if rest else ""
    if district:
        return f"{shorten(district, ROW_TITLE_MAX - len(uf) - 3)} ({uf})"
    return f"{shorten(name, ROW_TITLE_MAX - len(uf) - 1)}/{uf}"
