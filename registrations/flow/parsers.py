"""One step's answer read into values, a suggestion to confirm, an error, or a question for the Q&A."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from django.utils.translation import gettext as _
from rapidfuzz import fuzz

from registrations import places
from registrations import validators as v
from registrations.flow.reading import (
    _CITY_CUE,
    _CPF_CUE_RE,
    _PHONE_CUE_RE,
    _looks_like_phone,
    _without_data,
    _words,
    is_yes,
    read_cpf,
    read_email,
    read_name,
    read_phone,
    read_place,
    read_yes_no,
)
from registrations.flow.texts import (
    _candidates_menu,
    _contact_line,
    _phone_display,
    _place_label,
    _profiles_menu,
    _suggestion_prompt,
)
from registrations.flow.types import FlowContext, FlowState, ProfileOption
from registrations.reading.numbers import means_same_number, read_choice
from registrations.steps import STEP_FIELD
from registrations.steps import RegistrationStep as Step

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
    return _("É necessário para a inscrição. %(reason)s Seus dados são usados só para organizar o evento e não são compartilhados.") % {
        "reason": reasons[name]
    }


def why_we_ask(name: str) -> str:
    """Why the registration asks ``name`` (public: the engine answers "pq precisa do cpf?" outside the flow too)."""
    return _why_message(name)


_REQUIRED_RE = re.compile(
    r"\b(obrigatori\w*|pular|deixar em branco|nao informar|e necessario|e preciso|precisa mesmo|preciso mesmo|tem que)\b"
)


def _is_why_question(text: str, ctx: FlowContext) -> bool:
    words = _words(text)
    if ctx.understood.question and _REQUIRED_RE.search(words):
        return True  # "é obrigatório?", "posso pular?": the same answer, the reason it is asked
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
    if not any(ch.isalpha() or ch.isdigit() for ch in text):
        # ".", "?", "..." or an emoji: nothing to read; just ask again.
        return _Parsed(error=_("Qual é o seu *nome completo*? (do jeito que deve sair no crachá e no certificado)"))
    # A voice transcript says the hyphen: "fernanda lima traço souza" is Fernanda Lima-Souza.
    text = re.sub(r"(?i)\s+(traço|traco|tracinho|hífen|hifen)\s+", "-", text)
    # "José Aparecido da Silva, mas pode me chamar de Zé": the full name is the one for the badge.
    nickname = re.search(r"(?i)[,;.]?\s*(mas\s+)?(pode\s+|podem\s+|só\s+)?(me\s+)?cham(a|e|ar|am)\w*\s+de\s+\S+.*$", text)
    if nickname and len(text[: nickname.start()].split()) >= 2:
        text = text[: nickname.start()]
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
            prompt=_suggestion_prompt(pending),
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
        confirm = {"kind": "name_confirm", "value": reading.value, "extra": extra or None}
        return _Parsed(pending=confirm, prompt=_suggestion_prompt(confirm), other=other)
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
        suggestion = {"kind": "email_suggestion", "value": reading.suggestion, "original": _compact(text)[:254]}
        return _Parsed(pending=suggestion, prompt=_suggestion_prompt(suggestion))
    if ctx.understood.question and not re.search(r"\b(nao tenho|nao uso|sem)\b", _words(text)):
        return _Parsed(question=True)
    if re.search(r"\b(nao tenho|nao uso|nao possuo|sem)\b.*\b(e ?mail|email)\b|\b(e ?mail|email)\b.*\bnao tenho\b", _words(text)):
        return _Parsed(
            error=_(
                "Sem problema! Você pode usar o e-mail de alguém de confiança (a confirmação vai para ele), ou a "
                "organização faz sua inscrição: %(contact)s"
            )
            % {"contact": ctx.contact or _("diga *falar com a organização*")}
        )
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
    pending = state.pending or {}
    spoken = re.sub(r"(?i)\bmsm\b", "mesmo", re.sub(r"(?i)\bq\b", "que", text))
    if means_same_number(spoken):
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
        suggestion = {"kind": "phone_suggestion", "value": reading.suggestion}
        return _Parsed(pending=suggestion, prompt=_suggestion_prompt(suggestion))
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
        suggestion = {"kind": "city_suggestion", "value": _place_option(place)}
        return _Parsed(pending=suggestion, prompt=_suggestion_prompt(suggestion))
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
    if not cities or ctx.understood.intent == "correct" or ctx.understood.field == "city":
        # Nothing to choose from, or "corrigir"/"a cidade é outra": ask the city again.
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


_SELF_CORRECTION_RE = re.compile(r"\b(quer dizer|ou melhor|na verdade|digo|alias|corrigindo|pensando bem|ops)\b")


def match_profile(text: str, profiles: tuple[ProfileOption, ...], *, numbers: bool = True) -> ProfileOption | None:
    """A profile chosen by its number (digits, words, ordinals, keycaps) or named in free text."""
    if numbers:
        chosen = read_choice(text, len(profiles))
        if chosen is not None:
            return profiles[chosen - 1]
    words = _words(text)
    exact: dict[int, int] = {}
    last: dict[int, int] = {}  # where each profile is last named
    for profile in profiles:
        for term in _profile_terms(profile):
            for found in re.finditer(rf"\b{re.escape(term)}\b", words):
                exact[profile.id] = max(exact.get(profile.id, 0), len(term))
                last[profile.id] = max(last.get(profile.id, -1), found.start())
    if len(exact) == 1:
        return next(p for p in profiles if p.id in exact)
    if exact and _SELF_CORRECTION_RE.search(words):
        # "sou estudante, quer dizer, professora" / "estudante não, consultor": the last one named.
        chosen = max(last, key=last.get)
        negated = re.search(r"\bnao\b", words[last[chosen]:])
        if not negated:
            return next(p for p in profiles if p.id == chosen)
    if exact and re.search(r"\bnao\b", words):
        # "sou estudante, não pesquisador": the one not negated.
        kept = [pid for pid in exact if not re.search(r"\bnao\s+(sou\s+)?\w*\s?$", words[: last[pid]])]
        if len(kept) == 1:
            return next(p for p in profiles if p.id == kept[0])
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
    chosen = match_profile(_without_data(text) or text, ctx.profiles)
    if chosen is not None:
        return _Parsed(values={"profile": chosen.id, "profile_name": chosen.name})
    if ctx.understood.question:
        return _Parsed(question=True)
    return _Parsed(
        error=_("Não identifiquei o perfil. Responda com o *número* de uma das opções:\n%(options)s")
        % {"options": _profiles_menu(ctx)}
    )


def parse_step(state: FlowState, text: str, ctx: FlowContext) -> _Parsed:
    """The pending step's answer. "pra que precisa do CPF?", "é obrigatório?" get the step's
    reason, whatever the step; everything else goes to the step's own parser."""
    if state.step != Step.ASKING_STATE and _is_why_question(text, ctx):
        return _Parsed(error=_why_message(STEP_FIELD[state.step]))
    return _PARSERS[state.step](state, text, ctx)


_PARSERS = {
    Step.ASKING_NAME: _parse_name,
    Step.ASKING_EMAIL: _parse_email,
    Step.ASKING_CPF: _parse_cpf,
    Step.ASKING_PHONE: _parse_phone,
    Step.ASKING_CITY: _parse_city,
    Step.ASKING_STATE: _parse_state,
    Step.ASKING_PROFILE: _parse_profile,
}


