"""Every participant-facing word of the registration (pt-BR through gettext): prompts, summaries, echoes."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.utils.translation import gettext as _

from registrations import validators as v
from registrations.flow.types import (
    MODE_AMEND,
    FlowContext,
    FlowState,
    OtherRegistration,
    OwnRegistration,
    TicketOption,
)
from registrations.steps import FIELDS
from registrations.steps import RegistrationStep as Step

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
    parts.append(_consent_question())
    return "\n\n".join(parts)


def _consent_question() -> str:
    """The last line of the consent prompt: the question a "sim"/"não" answers."""
    return _("Você concorda com o uso dos seus dados para a inscrição? Responda *sim* ou *não*.")


def _consent_short(ctx: FlowContext) -> str:
    """The consent question again, without the whole notice (already shown)."""
    return _("Você concorda com o uso dos seus dados para a inscrição, como expliquei acima? Responda *sim* ou *não*.")


def _profiles_menu(ctx: FlowContext) -> str:
    return "\n".join(f"{index}. {profile.name}" for index, profile in enumerate(ctx.profiles, start=1))


def _fields_menu() -> str:
    """The numbered fields ("1. Nome" ... "6. Perfil"), as the summary numbers them."""
    return "\n".join(f"{index}. {field_label(name)}" for index, name in enumerate(FIELDS, start=1))


def _which_field() -> str:
    """The question after a "não" at the summary: which field to correct, by its number."""
    return _("Qual dado você quer corrigir? Responda com o número (1 a %(n)d).") % {"n": len(FIELDS)}


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
    elif step == Step.ASKING_TICKET:
        return _tickets_prompt(state, ctx)
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


def pending_question(state: FlowState, ctx: FlowContext) -> str:
    """The question ``state`` waits for, asked again (after a person held the conversation)."""
    return _prompt(state, ctx)


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


def tickets_for(ctx: FlowContext, profile_id: Any) -> list[TicketOption]:
    """The ticket categories the chosen profile may pick (a category with no profiles fits all)."""
    try:
        pid = int(profile_id)
    except (TypeError, ValueError):
        return []
    return [option for option in ctx.tickets if not option.profile_ids or pid in option.profile_ids]


def _ticket_line(option: TicketOption) -> str:
    extra = _("esgotada — lista de espera") if option.full else option.price_text
    return f"{option.name} — {extra}" if extra else option.name


def _tickets_prompt(state: FlowState, ctx: FlowContext) -> str:
    options = tickets_for(ctx, state.fields.get("profile"))
    menu = "\n".join(f"{index}. {_ticket_line(option)}" for index, option in enumerate(options, start=1))
    return _("Qual *categoria de inscrição*? Responda com o número ou o nome:\n%(options)s") % {"options": menu}


def _summary(fields: Mapping[str, Any], *, person: str = "") -> str:
    lines = [
        f"{index}. {field_label(name)}: {_display(fields, name)}" for index, name in enumerate(FIELDS, start=1)
    ]
    if fields.get("ticket_name"):
        # Not numbered: "categoria" (or "trocar categoria") at the summary chooses again.
        ticket = str(fields["ticket_name"])
        if fields.get("ticket_price"):
            ticket = f"{ticket} — {fields['ticket_price']}"
        lines.append(_("🎟️ Categoria: %(ticket)s") % {"ticket": ticket})
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
    if own.status_line:
        # Paid registration: where it stands (amount due, waitlist, code) first, in words.
        hints = (
            _("Para corrigir um dado, diga *corrigir*. Para cancelar, *cancelar minha inscrição*.")
            if own.active
            else _("Para se inscrever de novo, diga *quero me inscrever*.")
        )
        return _("📋 *Sua inscrição*\n%(status)s\n\n%(lines)s\n\n%(hints)s") % {
            "status": own.status_line, "lines": "\n".join(lines), "hints": hints,
        }
    if not own.active:
        return _(
            "📋 *Sua inscrição está cancelada.*\n%(lines)s\n\nPara se inscrever de novo, diga *quero me inscrever*."
        ) % {"lines": "\n".join(lines)}
    email_status = {
        "sent": _("enviado ✅"),
        "failed": _("não foi possível enviar (diga *reenviar e-mail*)"),
    }.get(own.email_status, _("a caminho"))
    if own.code:
        lines.append(_("Nº de inscrição: *%(code)s*") % {"code": own.code})
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


def _suggestion_prompt(pending: Mapping[str, Any]) -> str:
    """The question that confirms a value read with doubt ("Seu e-mail é …?"), from its pending record."""
    kind, value = pending.get("kind"), pending.get("value")
    if kind == "email_suggestion":
        return _("Seu e-mail é *%(value)s*? Responda *sim* ou envie o e-mail certo.") % {"value": value}
    if kind == "cpf_suggestion":
        return _("Seu CPF é *%(value)s*? Responda *sim* ou envie o CPF certo.") % {"value": v.format_cpf(str(value))}
    if kind == "phone_suggestion":
        return _("Faltou o 9 da frente? *%(value)s* — responda *sim* ou envie o número certo.") % {
            "value": _phone_display(str(value))
        }
    if kind == "city_suggestion":
        return _("Você quis dizer *%(value)s*? Responda *sim* ou envie o nome da cidade de novo.") % {
            "value": _place_label(value)
        }
    return _("Seu nome é *%(value)s*? Responda *sim* ou envie o nome completo.") % {"value": value}
