"""The audit trail in words.

Who exported or bulk-changed data in the admin (LGPD accountability), and the
sentences the admin shows for registration events and export records
("Confirmou a inscrição", "Exportou 3 participantes (filtros: UF=GO)"),
never ``confirming -> completed`` or a raw query string.

Events keep storing machine-readable details (field names, steps, masked
values): they are put into words when shown, so old rows read as well as
new ones. Export records store their filters in words since the ``format``
column exists; older rows hold raw query strings, translated when shown.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime, time
from urllib.parse import parse_qsl

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import FieldDoesNotExist
from django.http import HttpRequest
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from registrations.models import ExportRecord, Participant, RegistrationEvent
from registrations.steps import RegistrationStep
from registrations.validators import mask_pii

Kind = RegistrationEvent.Kind
EXPORT_ACTIONS = frozenset({"export_filtered", "export_selected", "export_command"})
SELECTION_SHOWN = 20

# Actors that are not a person in the admin.
_PARTICIPANT_ACTORS = frozenset({"participante", "participant"})
_SYSTEM_ACTORS = frozenset({"sistema", "system", "", "retention", "purge_personal_data", "export_participants"})


# --------------------------------------------------------------------------
# Writing export records
# --------------------------------------------------------------------------


def export_record_create(
    *,
    actor: str,
    action: str,
    row_count: int,
    filters: str = "",
    file_format: str = "",
    user: AbstractBaseUser | None = None,
) -> ExportRecord:
    """Append one accountability row; ``filters`` in words, never a CPF in clear."""
    return ExportRecord.objects.create(
        user=user,
        actor=actor[:150],
        action=action[:64],
        row_count=row_count,
        filters=filters[:1000],
        format=file_format[:8],
    )


def admin_action_record(
    *, request: HttpRequest, action: str, row_count: int, filters: str = "", file_format: str = ""
) -> ExportRecord:
    user = request.user if request.user.is_authenticated else None
    return export_record_create(
        user=user,
        actor=request.user.get_username() if user else "anonymous",
        action=action,
        row_count=row_count,
        filters=filters,
        file_format=file_format,
    )


def _join(parts: Sequence[str]) -> str:
    """ "a", "a e b", "a, b e c"."""
    parts = [str(p) for p in parts if p]
    if len(parts) <= 1:
        return "".join(parts)
    return _("%(first)s e %(last)s") % {"first": ", ".join(parts[:-1]), "last": parts[-1]}


def _search_words(term: str) -> str:
    # A CPF (or e-mail, or phone) typed in the search box stays masked in the record.
    return f'"{mask_pii(term.strip())}"'


def selection_text(ids: Iterable[int]) -> str:
    """``"nº 1, 2, 3"`` (the first 20 and an ellipsis) for an export of selected rows."""
    ordered = sorted(ids)
    shown = ", ".join(str(pk) for pk in ordered[:SELECTION_SHOWN])
    return _("nº %(ids)s") % {"ids": shown + ("…" if len(ordered) > SELECTION_SHOWN else "")}


def changelist_filters_text(changelist) -> str:
    """Every filter the admin changelist applied, and its search, in words:
    ``UF=GO, situação=Confirmada, inscritos a partir de 25/11/2026 e antes de 26/11/2026, busca="ana"``.

    Read from the query string itself, not from the sidebar: a date range
    that is no sidebar preset (the dashboard's per-day links), a value with
    no matching choice (``uf=ZZ``) or a date-hierarchy drill-down is recorded
    as applied.
    """
    pairs = [(key, value) for key, values in changelist.get_filters_params().items() for value in values]
    if changelist.query:
        pairs.append(("q", changelist.query))
    return params_text(pairs)


def command_filters_text(filters: Mapping[str, object]) -> str:
    """``export_participants``' options in words: ``situação=Confirmada, UF=SP, inscritos a partir de 01/03/2026``."""
    pairs = []
    for key, value in filters.items():
        if value in (None, ""):
            continue
        pairs.append((_COMMAND_KEYS.get(key, key), value.isoformat() if isinstance(value, date) else str(value)))
    return params_text(pairs)


def params_text(pairs: Iterable[tuple[str, str]]) -> str:
    """Filter parameters (``uf=GO``, ``created_at__gte=...``, ``q=...``) in words, in their order.

    The bounds on the registration date become one phrase ("inscritos a partir
    de 25/11/2026 e antes de 26/11/2026"); several values of one parameter
    are joined with "ou" (the admin matches any of them).
    """
    grouped: dict[str, list[tuple[str, str]]] = {}
    for key, value in pairs:
        if key in _IGNORED_PARAMS or value in (None, ""):
            continue
        field = key.partition("__")[0]
        group = "created_at" if field == "created_at" else key
        grouped.setdefault(group, []).append((key, str(value)))
    parts = []
    for group, items in grouped.items():
        if group == "created_at":
            parts.extend(_registration_dates_text(items))
        else:
            words = [_param_words(key, value) for key, value in items]
            parts.append(_or_values(words))
    return ", ".join(part for part in parts if part)


def _or_values(words: Sequence[str]) -> str:
    """``["UF=SP", "UF=GO"]`` -> ``"UF=SP ou GO"``."""
    words = [w for w in words if w]
    if len(words) <= 1:
        return "".join(words)
    head, sep, _value = words[0].partition("=")
    if sep and all(w.startswith(head + "=") for w in words):
        return head + "=" + _(" ou ").join(w.partition("=")[2] for w in words)
    return _(" ou ").join(words)


def _registration_dates_text(items: Sequence[tuple[str, str]]) -> list[str]:
    """The ``created_at`` parameters in words: one phrase for the bounds, one
    for a date-hierarchy drill-down (``inscritos em 11/2026``)."""
    bounds, drill, other = [], {}, []
    for key, value in items:
        lookup = key.partition("__")[2]
        if lookup in ("gte", "gt", "lt", "lte"):
            bounds.append(_bound_words(lookup, value))
        elif lookup in ("year", "month", "day"):
            drill[lookup] = value
        else:
            other.append(_param_words(key, value))
    parts = []
    if bounds:
        parts.append(_("inscritos %(bounds)s") % {"bounds": _join(bounds)})
    if drill:
        shown = "/".join(drill[part].zfill(2) for part in ("day", "month", "year") if part in drill)
        parts.append(_("inscritos em %(when)s") % {"when": shown})
    return parts + other


def _bound_words(lookup: str, value: str) -> str:
    words = {
        "gte": _("a partir de %(when)s"),
        "gt": _("depois de %(when)s"),
        "lt": _("antes de %(when)s"),
        "lte": _("até %(when)s"),
    }[lookup]
    return words % {"when": _moment(value)}


def _moment(value: str) -> str:
    """A date or date-time parameter as the organizers read it: ``25/11/2026``
    for a local midnight, ``25/11/2026 14:30`` otherwise (local time)."""
    try:
        moment = parse_datetime(value.strip())
    except ValueError:  # well formed but impossible ("2026-13-01 00:00")
        moment = None
    if moment is not None:
        if timezone.is_aware(moment):
            moment = timezone.localtime(moment)
        if moment.time() == time.min:
            return moment.strftime("%d/%m/%Y")
        return moment.strftime("%d/%m/%Y %H:%M")
    return _day(value)


# --------------------------------------------------------------------------
# Export records in words
# --------------------------------------------------------------------------


def _count_sentence(action: str, n: int) -> str:
    sentences = {
        "export_filtered": ngettext("Exportou %(n)d participante", "Exportou %(n)d participantes", n),
        "export_selected": ngettext(
            "Exportou %(n)d participante selecionado", "Exportou %(n)d participantes selecionados", n
        ),
        "export_command": ngettext(
            "Exportou %(n)d participante pela linha de comando", "Exportou %(n)d participantes pela linha de comando", n
        ),
        "cancel_selected": ngettext("Cancelou %(n)d inscrição", "Cancelou %(n)d inscrições", n),
        "resend_confirmation": ngettext(
            "Pediu o reenvio de %(n)d e-mail de confirmação", "Pediu o reenvio de %(n)d e-mails de confirmação", n
        ),
        "erase_personal_data": ngettext(
            "Apagou os dados pessoais (LGPD) de %(n)d participante",
            "Apagou os dados pessoais (LGPD) de %(n)d participantes",
            n,
        ),
        "inbound_reprocess": ngettext(
            "Devolveu %(n)d mensagem recebida à fila", "Devolveu %(n)d mensagens recebidas à fila", n
        ),
        "outbound_retry": ngettext("Mandou enviar de novo %(n)d resposta", "Mandou enviar de novo %(n)d respostas", n),
    }
    if action in sentences:
        return sentences[action] % {"n": n}
    return _("%(action)s (%(n)d linhas)") % {"action": action.replace("_", " ").capitalize(), "n": n}


def export_action_label(action: str) -> str:
    """A short label for the list filter ("Exportação (filtros da lista)")."""
    labels = {
        "export_filtered": _("Exportação (filtros da lista)"),
        "export_selected": _("Exportação (selecionados)"),
        "export_command": _("Exportação (linha de comando)"),
        "cancel_selected": _("Cancelamento em lote"),
        "resend_confirmation": _("Reenvio de confirmação"),
        "erase_personal_data": _("Apagamento de dados (LGPD)"),
        "inbound_reprocess": _("Mensagens reprocessadas"),
        "outbound_retry": _("Respostas reenviadas"),
    }
    return labels.get(action, action.replace("_", " ").capitalize())


def export_record_filters(record: ExportRecord) -> str:
    """The record's filters in words, for rows of any age."""
    if record.format or record.action not in EXPORT_ACTIONS:
        return record.filters
    return legacy_filters_text(record.action, record.filters)


def export_record_summary(record: ExportRecord) -> str:
    """``Exportou 3 participantes (filtros: UF=GO, situação=Confirmada)``."""
    sentence = _count_sentence(record.action, record.row_count)
    filters = export_record_filters(record)
    if record.action == "export_selected" and filters:
        return _("%(sentence)s (%(ids)s)") % {"sentence": sentence, "ids": filters}
    if record.action in EXPORT_ACTIONS:
        if filters:
            return _("%(sentence)s (filtros: %(filters)s)") % {"sentence": sentence, "filters": filters}
        return _("%(sentence)s (sem filtros)") % {"sentence": sentence}
    return sentence


# Old rows: export_filtered stored the changelist's raw query string,
# export_selected "ids=[3, 2, 1]", export_command "uf=SP status=confirmed".
_IGNORED_PARAMS = frozenset({"o", "p", "e", "all", "delimiter", "format", "_changelist_filters", "_to_field", "_popup"})
_COMMAND_KEYS = {"search": "q", "since": "created_at__gte", "until": "created_at__lte"}
_LEGACY_IDS = re.compile(r"^ids=\[([\d,\s]*)\](…?)$")
_COMMAND_PAIR = re.compile(r"(\w+)=(.*?)(?=\s\w+=|$)")


def legacy_filters_text(action: str, raw: str) -> str:
    """Filters stored before they were stored in words, put into words."""
    raw = raw.strip()
    if not raw:
        return ""
    ids = _LEGACY_IDS.match(raw)
    if ids:
        numbers = [int(n) for n in re.findall(r"\d+", ids.group(1))]
        shown = ", ".join(str(n) for n in sorted(numbers))
        return _("nº %(ids)s") % {"ids": shown + ids.group(2)}
    if action == "export_command" and "&" not in raw:
        pairs = [(_COMMAND_KEYS.get(k, k), v) for k, v in _COMMAND_PAIR.findall(raw)]
    else:
        pairs = parse_qsl(raw, keep_blank_values=False)
    return params_text(pairs)


def _label_of(choices: type, value: str) -> str:
    try:
        return str(choices(value).label)
    except ValueError:
        return value


def _day(value: str) -> str:
    try:
        return date.fromisoformat(value[:10]).strftime("%d/%m/%Y")
    except ValueError:
        return value


def _param_words(key: str, value: str) -> str:
    """One filter parameter in words: ``uf=go`` -> ``UF=GO``, ``status__exact=cancelled`` -> ``situação=Cancelada``.

    A value without a label (``status__exact=zzz``) is shown as given: the
    record says what was asked for, even when it matched nothing.
    """
    if key in _IGNORED_PARAMS:
        return ""
    field, _sep, lookup = key.partition("__")
    if field == "q":
        return _("busca=%(term)s") % {"term": _search_words(value)}
    label = "UF" if field == "uf" else _field_label(field)
    if lookup.endswith("isnull"):
        empty = value.strip().lower() in ("1", "true", "yes", "sim")
        return f"{label}=" + (_("(vazio)") if empty else _("(preenchido)"))
    if field == "status":
        return f"{label}={_label_of(Participant.Status, value)}"
    if field == "confirmation_email_status":
        return f"{label}={_label_of(Participant.EmailStatus, value)}"
    if field == "uf":
        return f"UF={value.upper()}"
    if field == "profile":
        from chatbot.models import Profile

        name = Profile.objects.filter(pk=value).values_list("name", flat=True).first() if value.isdigit() else value
        return f"{label}={name or value}"
    if field == "created_at" and lookup in ("gte", "gt", "lt", "lte", "year", "month", "day"):
        return _registration_dates_text([(key, value)])[0]
    return f"{label}={value}"


# --------------------------------------------------------------------------
# Registration events in words
# --------------------------------------------------------------------------

_FIELD_WITH_ARTICLE = {
    "full_name": "o nome",
    "email": "o e-mail",
    "cpf": "o CPF",
    "phone": "o telefone",
    "city": "a cidade",
    "uf": "a UF",
    "city_ibge_code": "o código IBGE da cidade",
    "district": "a região administrativa",
    "profile": "o perfil",
}
_EXTRA_LABELS = {"year": "ano", "month": "mês", "day": "dia"}


def _field_label(name: str) -> str:
    """A Participant field's verbose name ("email" -> "e-mail", "profile_id" -> "perfil")."""
    name = name.removesuffix("_id") if name.endswith("_id") and name != "id" else name
    try:
        return str(Participant._meta.get_field(name).verbose_name)
    except FieldDoesNotExist:
        return _EXTRA_LABELS.get(name, name.replace("_", " "))


def _fields(detail: str) -> list[str]:
    names = [name.strip().removesuffix("_id") for name in detail.split(",") if name.strip()]
    # A corrected city carries its IBGE code (and often the UF): the code says nothing more.
    if "city" in names and "city_ibge_code" in names:
        names.remove("city_ibge_code")
    return names


def _step_name(step: str) -> str:
    names = {
        RegistrationStep.ASKING_CONSENT: _("Consentimento (LGPD)"),
        RegistrationStep.ASKING_NAME: _("Nome"),
        RegistrationStep.ASKING_EMAIL: _("E-mail"),
        RegistrationStep.ASKING_CPF: _("CPF"),
        RegistrationStep.ASKING_PHONE: _("Telefone"),
        RegistrationStep.ASKING_CITY: _("Cidade"),
        RegistrationStep.ASKING_STATE: _("UF"),
        RegistrationStep.ASKING_PROFILE: _("Perfil"),
        RegistrationStep.CONFIRMING: _("Confirmação dos dados"),
        RegistrationStep.COMPLETED: _("Inscrição concluída"),
        RegistrationStep.IDLE: _("Sem inscrição em andamento"),
    }
    return str(names.get(step, step))


def _by(actor: str) -> str:
    """ " por maria" for a person in the admin; "" for the participant or the system."""
    if actor in _PARTICIPANT_ACTORS or actor in _SYSTEM_ACTORS:
        return ""
    return _(" por %(who)s") % {"who": actor}


def _duplicate_sentence(detail: str) -> str:
    words = detail.split()
    field = words[0] if words else ""
    what = _FIELD_WITH_ARTICLE.get(field, _("o dado"))
    masked = words[1] if len(words) > 1 and words[1] not in ("already", "at") else ""
    if "correction refused" in detail:
        return _("Correção recusada: %(what)s já pertence a outra inscrição") % {"what": what}
    where = re.search(r"\bat (\w+)$", detail)
    if where and where.group(1) == "amend":
        return _("Correção recusada: %(what)s já pertence a outra inscrição") % {"what": what}
    sentence = _("Recusado: %(what)s já pertence a outra inscrição") % {"what": what}
    if masked:
        sentence += f" ({masked})"
    if where:
        sentence += _(" (na etapa: %(step)s)") % {"step": _step_name(where.group(1))}
    return sentence


def _abandoned_sentence(event: RegistrationEvent) -> str:
    if event.detail == "registration closed":
        return _("Inscrição interrompida: as inscrições estão encerradas")
    if event.detail.startswith("registered elsewhere"):
        return _("Desistiu: já estava inscrito por outro número e pediu o reenvio da confirmação")
    step = event.step or event.detail
    if step:
        return _("Desistiu da inscrição na etapa: %(step)s") % {"step": _step_name(step)}
    return _("Desistiu da inscrição")


def registration_event_summary(event: RegistrationEvent) -> str:
    """One event as a pt-BR sentence: "Confirmou a inscrição", "Corrigiu o e-mail"..."""
    kind, detail, actor = event.kind, event.detail or "", event.actor or ""
    by = _by(actor)
    if kind == Kind.STEP:
        if event.step == RegistrationStep.COMPLETED:
            return _("Chegou ao fim da conversa de inscrição")
        if event.step == RegistrationStep.IDLE:
            return _("Saiu da inscrição em andamento")
        return _("Chegou à etapa: %(step)s") % {"step": _step_name(event.step)}
    if kind in (Kind.CONSENT_GIVEN, Kind.CONSENT_REFUSED):
        sentence = (
            _("Aceitou o aviso de privacidade") if kind == Kind.CONSENT_GIVEN else _("Recusou o aviso de privacidade")
        )
        return sentence + (_(" (versão %(v)s)") % {"v": detail} if detail else "")
    if kind == Kind.ABANDONED:
        return _abandoned_sentence(event)
    if kind in (Kind.CREATED, Kind.REACTIVATED):
        if by:
            sentence = _("Inscrição criada no admin%(by)s") % {"by": by}
        elif kind == Kind.CREATED:
            sentence = _("Confirmou a inscrição")
        else:
            sentence = _("Confirmou a inscrição de novo (estava cancelada)")
        masked = detail.replace("cpf ", "CPF ", 1)
        return f"{sentence} ({masked})" if masked else sentence
    if kind == Kind.UPDATED:
        names = _fields(detail)
        if by:
            return _("Dados corrigidos%(by)s: %(fields)s") % {
                "by": by,
                "fields": ", ".join(_field_label(n) for n in names),
            }
        if not names:
            return _("Corrigiu os dados")
        return _("Corrigiu %(fields)s") % {
            "fields": _join([_FIELD_WITH_ARTICLE.get(n, _field_label(n)) for n in names])
        }
    if kind == Kind.ADMIN_EDIT:
        fields = ", ".join(_field_label(n) for n in _fields(detail))
        return (
            _("Dados alterados no admin%(by)s: %(fields)s") % {"by": by, "fields": fields}
            if fields
            else _("Dados alterados no admin%(by)s") % {"by": by}
        )
    if kind == Kind.CANCELLED:
        if actor in _PARTICIPANT_ACTORS:
            return _("Cancelou a inscrição (pelo participante)")
        if by:
            return _("Inscrição cancelada no admin%(by)s") % {"by": by}
        return _("Inscrição cancelada") + (f" ({detail})" if detail else "")
    if kind == Kind.DUPLICATE_REFUSED:
        return _duplicate_sentence(detail)
    if kind == Kind.EMAIL_SENT:
        to = detail.removeprefix("to ").strip()
        return _("E-mail de confirmação enviado para %(to)s") % {"to": to} if to else _("E-mail de confirmação enviado")
    if kind == Kind.EMAIL_FAILED:
        retries = re.match(r"gave up after (\d+) retries", detail)
        if retries:
            return _("Falha ao enviar o e-mail de confirmação (desistimos depois de %(n)s tentativas)") % {
                "n": retries.group(1)
            }
        if "refused the address" in detail:
            return _("Falha ao enviar o e-mail de confirmação: o serviço de e-mail recusou o endereço")
        return _("Falha ao enviar o e-mail de confirmação")
    if kind == Kind.EMAIL_RESEND:
        if by:
            return _("Reenvio do e-mail de confirmação pedido no admin%(by)s") % {"by": by}
        return _("Pediu o reenvio do e-mail de confirmação")
    if kind == Kind.EXPORTED:
        return _("Incluída numa exportação") + by
    if kind == Kind.ANONYMIZED:
        if actor in _PARTICIPANT_ACTORS:
            return _("Dados pessoais apagados a pedido do participante (LGPD)")
        if actor in ("retention", "purge_personal_data"):
            return _("Dados pessoais apagados pelo prazo de retenção (LGPD)")
        return _("Dados pessoais apagados (LGPD)%(by)s") % {"by": by}
    return str(event.get_kind_display())


def local_time(moment: datetime | None) -> str:
    """``dd/mm/aaaa hh:mm`` in the configured time zone (the organizers' clock)."""
    return timezone.localtime(moment).strftime("%d/%m/%Y %H:%M") if moment else ""
