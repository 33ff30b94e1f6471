"""The machine: ``advance`` and its turns (consent, data, corrections, summary), the
self-service after completion, and the pure follow-ups of the effects."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime
from typing import Any

from django.utils.translation import gettext as _

from registrations import validators as v
from registrations.flow.parsers import _place_values, _read_city, match_profile, parse_step
from registrations.flow.reading import (
    _CITY_CUE,
    _CPF_CUE_RE,
    _PHONE_CUE_RE,
    _join_spaced_digits,
    _looks_like_phone,
    _refusal_fresh,
    _without_data,
    _words,
    read_cpf,
    read_email,
    read_name,
    read_phone,
    read_place,
    read_yes_no,
)
from registrations.flow.texts import (
    _already_confirmed,
    _back_to,
    _closed_message,
    _consent_prompt,
    _consent_short,
    _display,
    _duplicate_message,
    _echo,
    _echoes,
    _field_label_lower,
    _field_with_article,
    _fields_menu,
    _own_fields,
    _own_found_message,
    _own_summary,
    _prompt,
    _relatives_line,
    _suggestion_prompt,
    _which_field,
    tickets_for,
)
from registrations.flow.types import (
    ABANDONED,
    CONSENT_GIVEN,
    CONSENT_REFUSED,
    DUPLICATE_REFUSED,
    MODE_AMEND,
    MODE_CHOOSE_FIELD,
    MODE_CONFIRM_CANCEL,
    MODE_LOOKUP,
    MODE_REFUSED,
    AskQuestion,
    CancelParticipant,
    Effect,
    FlowContext,
    FlowState,
    RecordOutcome,
    RegisterParticipant,
    RegisterResult,
    RegistrationData,
    ResendEmail,
    Turn,
    Understood,
    UpdateParticipant,
    UpdateResult,
)
from registrations.reading.answers import split_yes_prefix, yes_with_reservation
from registrations.reading.numbers import read_choice
from registrations.steps import FIELD_STEP, FIELDS, IN_FLOW_STEPS, STEP_FIELD
from registrations.steps import RegistrationStep as Step

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
    if not other and re.search(r"\b(minha|meu) (esposa|marido|mulher|filh[oa]s?|funcionari\w*|colega)\b", _words(text)):
        greeting += " " + _("Primeiro fazemos a sua; depois é só dizer *inscrever outra pessoa*.")
    # "quero me inscrever, quanto custa?": the question is answered too.
    asks_more = re.search(r"\b(quanto|valor|preco|custa|quando|onde|desconto|tem)\b", _words(text))
    question = _SIGNUP_LEAD_RE.sub("", text, count=1).strip(" ,.;") or text
    effects: list[Effect] = [AskQuestion(question)] if ctx.understood.question and text and asks_more else []
    return started, [greeting, _consent_prompt(ctx)], effects


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
    small_talk = ctx.understood.small_talk
    if small_talk in ("greeting", "how_are_you", "thanks", "laugh") and state.step not in (Step.ASKING_NAME, Step.ASKING_STATE):
        # "oi", "bom dia", "obrigado" in the middle: greeted back, and the pending question again.
        hello = _("De nada! 😊") if small_talk == "thanks" else _("Olá! 😊") if small_talk != "laugh" else "😄"
        return state, [hello + "\n\n" + (_confirm_again() if state.step == Step.CONFIRMING else _prompt(state, ctx))], []
    if intent == "register_other" and state.step != Step.ASKING_NAME:
        return state, [
            _(
                "Claro! Uma inscrição de cada vez: vamos terminar esta e, depois de confirmada, diga *inscrever outra "
                "pessoa*."
            )
            + "\n\n"
            + _prompt(state, ctx)
        ], []
    if state.step == Step.CONFIRMING and not ctx.understood.question:
        again = _ticket_again(state, text, ctx)
        if again is not None:
            return again
    if intent == "correct" and ctx.understood.field and not ctx.understood.question:
        corrected = _correct(state, ctx.understood.field, text, ctx)
        if corrected is not None:
            return corrected
    if state.step == Step.CONFIRMING:
        return _confirm_turn(state, text, ctx)
    if state.step == Step.ASKING_TICKET:
        return _ticket_turn(state, text, ctx)
    keeps = not re.search(r"[@\d]", text) and (
        _keeps_value(text) or read_yes_no(text) == "yes" or bool(_CONFIRM_RE.search(_words(text)))
    )
    # "sim" to "quer trocar o e-mail por …?" answers that question, not "keep the field being corrected".
    asked = (state.pending or {}).get("kind") in (*_SUGGESTIONS, "replace")
    if state.editing and state.fields.get(state.editing) and keeps and not asked:
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
            nxt = _ticket_settle(replace(nxt, step=Step.CONFIRMING, fields=previous), ctx)
            if _ticket_missing(nxt, ctx):
                # Paid categories: the ticket is chosen again (prices and seats may have changed).
                nxt = replace(nxt, step=Step.ASKING_TICKET)
            return nxt, [_("Obrigado! 👍 Usei os dados da sua inscrição anterior; confira e corrija o que mudou.") + "\n\n" + _prompt(nxt, ctx)], effects
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
    if current != "cpf" and cpf and (current != "phone" or _CPF_CUE_RE.search(words) or v.find_phone(text) != v.find_phone(cpf)):
        found["cpf"] = cpf
    if current != "phone":
        phone = v.find_phone(text)
        if phone and re.search(r"\+\s*(?!55)\d{1,3}[\s.-]*\(?\d", text):
            phone = None  # "+1 415 555 0100": a foreign number, never read as a Brazilian landline
        # At the CPF step digits are a CPF attempt: a phone only with a word that says so.
        if current == "cpf" and not phone and (_PHONE_CUE_RE.search(words) or _looks_like_phone(text)):
            phone = read_phone(text).value  # its digits pass the CPF check, so the finder skipped it
        if phone and (
            current != "cpf" or _PHONE_CUE_RE.search(words) or _looks_like_phone(text) or (cpf and phone != v.find_phone(cpf))
        ):
            found["phone"] = phone
    return found


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
    if current != "profile" and re.search(r"\bsou\b", words):
        profile = match_profile(text, ctx.profiles, numbers=False)
        if profile is not None:
            found.update({"profile": profile.id, "profile_name": profile.name})
    return found



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


_SUGGESTIONS = frozenset({"email_suggestion", "cpf_suggestion", "phone_suggestion", "city_suggestion", "name_confirm"})


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
    parsed = parse_step(state, text, ctx)
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
        if (
            captured
            and held_kind in _SUGGESTIONS
            and parsed.pending is None
            and read_yes_no(text) is None
            and not (state.pending or {}).get("reminded")
        ):
            # "Seu e-mail é …?" answered with the CPF: the CPF is kept and the question still stands (once).
            reminded = replace(state, pending={**(state.pending or {}), "reminded": True})
            return reminded, ["\n\n".join(part for part in (ack, *notes, _suggestion_prompt(state.pending)) if part)], effects
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
    state = _ticket_settle(state, ctx)
    if state.missing:
        nxt = replace(state, step=FIELD_STEP[state.missing[0]], editing=None, pending=pending)
    elif _ticket_missing(state, ctx):
        nxt = replace(state, step=Step.ASKING_TICKET, editing=None, pending=None)
    else:
        nxt = replace(state, step=Step.CONFIRMING, editing=None, pending=None)
    prompt = _prompt(nxt, ctx)
    hint = nxt.fields.get("email_hint")
    if hint and (nxt.step != Step.ASKING_EMAIL or nxt.fields.get("email")):
        hint = None
    if hint and pending is None:
        fields = {key: value for key, value in nxt.fields.items() if key != "email_hint"}
        nxt = replace(nxt, fields=fields, pending={"kind": "email_suggestion", "value": hint, "original": hint})
        prompt = _suggestion_prompt(nxt.pending)
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


def _ticket_fields(option: Any) -> dict[str, Any]:
    return {"ticket": option.id, "ticket_name": option.name, "ticket_price": "" if option.full else option.price_text}


def _ticket_settle(state: FlowState, ctx: FlowContext) -> FlowState:
    """Keep the ticket consistent with the profile: dropped when it no longer fits, chosen when only one does."""
    if not state.fields.get("profile") or not ctx.tickets:
        return state
    options = tickets_for(ctx, state.fields.get("profile"))
    fields = dict(state.fields)
    if fields.get("ticket") and all(str(option.id) != str(fields["ticket"]) for option in options):
        for key in ("ticket", "ticket_name", "ticket_price"):
            fields.pop(key, None)
    if not fields.get("ticket") and len(options) == 1:
        fields.update(_ticket_fields(options[0]))
    return replace(state, fields=fields) if fields != dict(state.fields) else state


def _price_of(option: Any) -> float | None:
    found = re.search(r"(\d[\d.]*),(\d{2})", option.price_text or "")
    if found is None:
        return 0.0 if option.price_text else None
    return float(found.group(1).replace(".", "") + "." + found.group(2))


def _ticket_by_price(text: str, options: list[Any]) -> Any | None:
    """"o mais barato", "a de 320", "R$ 220": a category by its price."""
    words = _words(text)
    priced = [(price, option) for option in options if (price := _price_of(option)) is not None and not option.full]
    if not priced:
        return None
    if re.search(r"\b(mais\s+barat[oa]|menor\s+(preco|valor)|mais\s+em\s+conta|economic[oa])\b", words):
        return min(priced, key=lambda pair: pair[0])[1]
    if re.search(r"\b(mais\s+car[oa]|maior\s+(preco|valor)|complet[oa])\b", words):
        return max(priced, key=lambda pair: pair[0])[1]
    amounts = {float(m.replace(".", "").replace(",", ".")) for m in re.findall(r"\b\d{2,5}(?:[.,]\d{2})?\b", text)}
    hits = [option for price, option in priced if price in amounts]
    return hits[0] if len(hits) == 1 else None


def _ticket_missing(state: FlowState, ctx: FlowContext) -> bool:
    return not state.fields.get("ticket") and len(tickets_for(ctx, state.fields.get("profile"))) > 1


def _ticket_turn(state: FlowState, text: str, ctx: FlowContext) -> Turn:
    """The `asking_ticket` step: a category by its number or its name."""
    options = tickets_for(ctx, state.fields.get("profile"))
    if not options:
        return _next(state, ctx)
    chosen = match_profile(text, tuple(options)) or _ticket_by_price(text, options)
    if chosen is not None:
        nxt = replace(state, fields={**state.fields, **_ticket_fields(chosen)}, editing=None)
        return _next(nxt, ctx, prefix=_("Anotado: categoria *%(ticket)s*. 🎟️") % {"ticket": chosen.name})
    if ctx.understood.question:
        return state, [_back_to(_prompt(state, ctx))], [AskQuestion(text)]
    return state, [_("Não entendi qual categoria. 🤔") + "\n\n" + _prompt(state, ctx)], []


def _ticket_again(state: FlowState, text: str, ctx: FlowContext) -> Turn | None:
    """"quero trocar a categoria" at the summary: choose again (at once when the message names one)."""
    options = tickets_for(ctx, state.fields.get("profile"))
    if len(options) < 2:
        return None
    named = match_profile(text, tuple(options), numbers=False)
    # "na verdade quero a profissional": another category named (and not a profile: that is a profile correction).
    other = named is not None and str(named.id) != str(state.fields.get("ticket")) and (
        match_profile(text, ctx.profiles, numbers=False) is None
    )
    if not (other or _TICKET_WORDS_RE.search(_words(text))):
        return None
    fields = {key: value for key, value in state.fields.items() if key not in ("ticket", "ticket_name", "ticket_price")}
    nxt = replace(state, step=Step.ASKING_TICKET, fields=fields, pending=None)
    if named is not None:
        return _ticket_turn(nxt, text, ctx)
    return nxt, [_prompt(nxt, ctx)], []


def _go_back(state: FlowState, ctx: FlowContext) -> Turn:
    """"voltar": the previous question, showing what it holds now."""
    if state.step == Step.ASKING_STATE:
        nxt = replace(state, step=Step.ASKING_CITY, editing="city" if state.fields.get("city") else None, pending=None)
        return nxt, [_("↩️ Voltando uma pergunta.") + "\n\n" + _prompt(nxt, ctx)], []
    if state.step == Step.CONFIRMING and state.fields.get("ticket") and len(tickets_for(ctx, state.fields.get("profile"))) > 1:
        fields = {key: value for key, value in state.fields.items() if key not in ("ticket", "ticket_name", "ticket_price")}
        nxt = replace(state, step=Step.ASKING_TICKET, fields=fields, pending=None)
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
    if (
        answer is None
        and not re.search(r"[@\d]", text)
        and _CONFIRM_RE.search(_words(text))
        and not re.search(r"\bnao\b", _words(text).split(" nada ")[-1])
    ):
        answer = "yes"  # "Confirmar inscrição", "comfirma", "ta certinho, pode confirmar", "nada, ta certo"
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
            ticket_id=int(fields["ticket"]) if fields.get("ticket") else None,
        )
        return state, [], [RegisterParticipant(data)]
    chosen = read_choice(text, len(FIELDS))
    if chosen is not None:
        return _edit_at_summary(state, FIELDS[chosen - 1], text, ctx)
    profile = match_profile(text, ctx.profiles, numbers=False)
    if (
        profile is not None
        and str(profile.id) != str(state.fields.get("profile"))
        and re.search(r"\b(sou|perfil|coloca|coloque|muda|mude|mudar|trocar|troca|verdade|dizer|bem|categoria)\b", _words(text))
    ):
        # "na verdade sou professor", "muda o perfil para empresa": the profile, corrected in place.
        fixed = replace(state, fields={**state.fields, "profile": profile.id, "profile_name": profile.name}, pending=None)
        return _next(fixed, ctx, prefix=_("Corrigido! ✏️"))
    if named and (
        ctx.understood.intent == "correct" or len(_words(text).split()) <= 4 or _inline_value(named, text, ctx)
    ):
        return _edit_at_summary(state, named, text, ctx)
    if answer == "no":
        return replace(state, pending={"kind": "which_field"}), [_which_field()], []
    # A new e-mail, CPF or phone typed at the summary replaces the old one.
    for name, value in _found_values(state, text, ctx).items():
        if value != state.fields.get(name):
            return _edit_at_summary(state, name, text, ctx)
    if ctx.understood.question:
        return replace(state, pending={"kind": "after_question"}), [_back_to(_confirm_again())], [AskQuestion(text)]
    return state, [_("Não entendi. Responda *sim* para confirmar a inscrição, ou o número do dado que quer corrigir (1 a %(n)d).") % {"n": len(FIELDS)}], []


_TICKET_WORDS_RE = re.compile(r"\b(categoria|ingresso|lote|meia|inteira)\b")
_CONFIRM_RE = re.compile(
    r"^(nada\s+)?(ta\s+|esta\s+)?(tudo\s+)?(certinho|certo|correto)\b|\b(confirm\w*|comfirm\w*|conffirm\w*|"
    r"pode finalizar|finaliza\w*|pode seguir|pode prosseguir)\b"
)
_LOOSE_YES = frozenset(
    {"ok", "okay", "oks", "okk", "beleza", "blz", "certo", "certinho", "entendi", "ta", "ta bom", "show", "tranquilo", "joia"}
)


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
    if _refusal_fresh(state, ctx.turn):
        mode = MODE_REFUSED  # a question in between does not end the chance to change one's mind
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
    if intent in ("correct", "cancel_registration", "resend", "cancel") and _about_someone_else(text, ctx):
        # "cancelar a inscrição do Diego", "corrigir o e-mail do meu filho": never the owner's record.
        return base, [
            _(
                "Inscrições de outras pessoas só a organização altera ou cancela: %(contact)s. Para a sua própria "
                "inscrição, diga *minha inscrição*."
            )
            % {"contact": ctx.contact or _("diga *falar com a organização*")}
        ], []
    if intent == "register_other":
        return _start(base, ctx, text=text, other=True)
    if intent == "register":
        return _start(base, ctx, text=text)
    if intent == "cancel" and own is not None and own.active:
        intent = "cancel_registration"
    if intent not in ("my_registration", "cancel_registration", "resend", "correct"):
        if mode == MODE_REFUSED:
            return replace(base, mode=MODE_REFUSED, mode_turn=state.mode_turn), [], []
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
    if intent == "resend" and read_email(text).value and read_email(text).value != own.email:
        # "reenviar para outro@…": the address changes first (and the confirmation goes there).
        return _amend_start(base, "email", text, ctx)
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
    return (
        replace(base, mode=MODE_CHOOSE_FIELD, mode_turn=ctx.turn),
        [_("Qual dado você quer corrigir? Responda com o número:\n%(lines)s") % {"lines": _fields_menu()}],
        [],
    )


_RELATION_RE = re.compile(
    r"\b(do|da|de|dos|das|pro|pra|para o|para a)\s+(meu|minha|nosso|nossa|seu|sua)?\s*(filho|filha|esposa|marido|mulher|"
    r"funcionari\w*|colaborador\w*|colega|pai|mae|irmao|irma|socio|socia|empregad\w*|sobrinh\w*|net[oa]|genro|nora)\b"
)
_NAMED_RE = re.compile(r"\b(?:do|da|de)\s+([A-ZÁÉÍÓÚÂÊÔÃÕÇ][\wÀ-ÿ]+)")
_NOT_PEOPLE = frozenset({"congresso", "evento", "cbas", "inscricao", "organizacao", "feira", "goiania", "brasil"})


def _about_someone_else(text: str, ctx: FlowContext) -> bool:
    """Whether a self-service request names another person (a relative registered from here, or anyone)."""
    words = _words(text)
    if _RELATION_RE.search(words):
        return True
    if any(re.search(rf"\b{re.escape(v.fold(name).split(' ')[0])}\b", words) for name, _active in ctx.relatives):
        return True
    own_first = v.fold(ctx.own.full_name).split(" ")[0] if ctx.own is not None else ""
    for found in _NAMED_RE.finditer(text):
        name = v.fold(found.group(1))
        if name != own_first and name not in _NOT_PEOPLE:
            return True
    return False


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
    parsed = parse_step(state, text, ctx)
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
        if result.replies:
            return done, [
                _("📝 Inscrição de *%(name)s* registrada.") % {"name": state.fields.get("full_name", "")}
                + "\n\n" + result.replies[0],
                *result.replies[1:],
            ]
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
        if result.replies:
            # Payment due, waitlist: what payments says, then how to follow up.
            return done, [
                *result.replies,
                _("Para ver a situação da sua inscrição a qualquer momento, diga *minha inscrição*."),
            ]
        code = ("\n\n" + _("Seu nº de inscrição: *%(code)s*") % {"code": result.code}) if result.code else ""
        return done, [
            _(
                "✅ *Inscrição confirmada!* Te esperamos no *%(event)s*.\n\nEnviamos a confirmação para *%(email)s* "
                "(confira também a caixa de spam).\n\nPara ver, corrigir ou cancelar sua inscrição depois, é só dizer "
                "*minha inscrição*. Se tiver dúvidas sobre o evento, pode perguntar por aqui!"
            )
            % {"event": ctx.event_name or _("evento"), "email": email}
            + code
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
