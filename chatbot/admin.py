"""Back-office for the event knowledge the bot uses, its unanswered questions
and the conversations (read-only). Labels come from the models' pt-BR verbose
names; every edit is visible to the bot at once (see chatbot.knowledge)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.contrib import admin, messages
from django.db import models
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from chatbot.knowledge import unanswered_question_answer
from chatbot.models import (
    ConversationState,
    Event,
    FAQEntry,
    Profile,
    ProgrammeSession,
    TicketCategory,
    UnansweredQuestion,
)
from registrations.validators import mask_cpf
from whatsapp.markup import mask_cpfs, whatsapp_html

# --------------------------------------------------------------------------
# Event and its knowledge
# --------------------------------------------------------------------------


class TicketCategoryInline(admin.TabularInline):
    model = TicketCategory
    extra = 0
    fields = ("order", "name", "price", "description")


class ProfileInline(admin.TabularInline):
    model = Profile
    extra = 0
    fields = ("order", "name", "keywords", "active")


@admin.register(Event)
class EventAdmin(admin.ModelAdmin):
    list_display = ("__str__", "starts_on", "ends_on", "city", "uf", "registration_open", "is_active")
    list_filter = ("is_active", "registration_open")
    search_fields = ("name", "edition", "city")
    readonly_fields = ("updated_at",)
    inlines = (TicketCategoryInline, ProfileInline)
    # Organizers type "cbas.com.br"; https is the scheme they mean.
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}
    fieldsets = (
        (None, {"fields": ("name", "edition", "theme", "description", "is_active", "registration_open")}),
        (_("Datas e local"), {"fields": ("starts_on", "ends_on", "hours", "venue", "address", "city", "uf")}),
        (_("Contatos"), {"fields": ("website", "contact_email", "contact_whatsapp", "assistant_whatsapp")}),
        (_("Privacidade (LGPD)"), {"fields": ("privacy_notice", "privacy_notice_url", "privacy_notice_version")}),
        (None, {"fields": ("updated_at",)}),
    )


@admin.register(FAQEntry)
class FAQEntryAdmin(admin.ModelAdmin):
    list_display = ("question", "active", "order", "updated_at")
    list_editable = ("active", "order")
    list_filter = ("active", "event")
    search_fields = ("question", "answer", "keywords")
    fields = ("event", "question", "answer", "keywords", "active", "order")


@admin.register(ProgrammeSession)
class ProgrammeSessionAdmin(admin.ModelAdmin):
    list_display = ("day", "start_time", "end_time", "room", "title", "speakers")
    list_display_links = ("title",)
    list_filter = ("day", "room", "event")
    search_fields = ("title", "speakers", "description")
    ordering = ("day", "start_time", "room")
    fields = ("event", "day", "start_time", "end_time", "room", "title", "speakers", "description")


# --------------------------------------------------------------------------
# Questions the bot could not answer
# --------------------------------------------------------------------------


@admin.register(UnansweredQuestion)
class UnansweredQuestionAdmin(admin.ModelAdmin):
    list_display = ("question_short", "reason", "status", "created_at", "faq")
    list_filter = ("status", "reason")
    search_fields = ("question", "answer")
    readonly_fields = ("question", "reason", "bot_reply", "conversation_id", "created_at", "faq")
    fields = ("question", "reason", "bot_reply", "conversation_id", "created_at", "answer", "status", "faq")
    actions = ("answer_and_create_faq", "dismiss")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.display(description=_("pergunta"), ordering="question")
    def question_short(self, obj: UnansweredQuestion) -> str:
        return obj.question if len(obj.question) <= 100 else obj.question[:99] + "…"

    def save_model(self, request: HttpRequest, obj: UnansweredQuestion, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        # Writing an answer in the form is how an organizer answers: it becomes
        # an FAQ entry the bot uses from the next question on.
        if obj.answer.strip() and obj.status != UnansweredQuestion.Status.DISMISSED and "answer" in form.changed_data:
            self._answer(request, obj)

    def _answer(self, request: HttpRequest, obj: UnansweredQuestion) -> bool:
        try:
            faq = unanswered_question_answer(question=obj, answer=obj.answer)
        except ValueError:
            self.message_user(
                request, _("Não há evento ativo: ative um evento antes de criar perguntas frequentes."), messages.ERROR
            )
            return False
        self.message_user(
            request, format_html(_("Pergunta frequente criada: “{}”. O bot já usa esta resposta."), faq.question)
        )
        return True

    @admin.action(description=_("Responder e criar FAQ"), permissions=["change"])
    def answer_and_create_faq(self, request: HttpRequest, queryset: QuerySet[UnansweredQuestion]) -> None:
        created = 0
        missing = 0
        for question in queryset:
            if not question.answer.strip():
                missing += 1
                continue
            try:
                unanswered_question_answer(question=question, answer=question.answer)
            except ValueError:
                self.message_user(request, _("Não há evento ativo: nada foi criado."), messages.ERROR)
                return
            created += 1
        if created:
            self.message_user(
                request,
                ngettext("%(count)d pergunta frequente criada.", "%(count)d perguntas frequentes criadas.", created)
                % {"count": created},
            )
        if missing:
            self.message_user(
                request,
                ngettext(
                    "%(count)d pergunta ainda sem resposta: abra-a, escreva a resposta e salve.",
                    "%(count)d perguntas ainda sem resposta: abra cada uma, escreva a resposta e salve.",
                    missing,
                )
                % {"count": missing},
                messages.WARNING,
            )

    @admin.action(description=_("Descartar perguntas selecionadas"), permissions=["change"])
    def dismiss(self, request: HttpRequest, queryset: QuerySet[UnansweredQuestion]) -> None:
        count = queryset.filter(status=UnansweredQuestion.Status.OPEN).update(status=UnansweredQuestion.Status.DISMISSED)
        self.message_user(
            request, ngettext("%(count)d pergunta descartada.", "%(count)d perguntas descartadas.", count) % {"count": count}
        )


# --------------------------------------------------------------------------
# Conversations (read-only)
# --------------------------------------------------------------------------

_DATA_LABELS = {
    "full_name": _("Nome"),
    "name": _("Nome"),
    "email": _("E-mail"),
    "cpf": _("CPF"),
    "phone": _("Telefone"),
    "city": _("Cidade"),
    "uf": _("UF"),
    "city_ibge_code": _("Código IBGE"),
    "profile": _("Perfil"),
    "profile_id": _("Perfil"),
    "consent_at": _("Consentimento em"),
    "consent_version": _("Versão do aviso"),
}


def _format_stamp(value: Any) -> str:
    if not value:
        return ""
    try:
        moment = dt.datetime.fromisoformat(str(value)) if not isinstance(value, (int, float)) else (
            dt.datetime.fromtimestamp(value, tz=dt.UTC)
        )
    except ValueError:
        return str(value)
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment, dt.UTC)
    return timezone.localtime(moment).strftime("%d/%m/%Y %H:%M")


def _plain(value: Any) -> str:
    """A stored value as readable text (never a JSON literal)."""
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return str(_("sim") if value else _("não"))
    if isinstance(value, dict):
        return "; ".join(f"{key}: {_plain(item)}" for key, item in value.items())
    if isinstance(value, (list, tuple)):
        return ", ".join(_plain(item) for item in value)
    return str(value)


class StuckFilter(admin.SimpleListFilter):
    """Conversations that stopped mid-registration more than 24 h ago (the dashboard links here)."""

    title = _("inscrição parada")
    parameter_name = "stuck"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("1", _("parada há mais de 24 h"))]

    def queryset(self, request: HttpRequest, queryset: QuerySet[ConversationState]) -> QuerySet[ConversationState]:
        if self.value() != "1":
            return queryset
        from registrations.dashboard import stuck_conversations

        return queryset.filter(pk__in=stuck_conversations().values("pk"))


@admin.register(ConversationState)
class ConversationStateAdmin(admin.ModelAdmin):
    list_display = ("conversation_id", "push_name", "registration_step", "participants_links", "last_activity_at")
    list_filter = (StuckFilter, "registration_step")
    search_fields = ("conversation_id", "push_name")
    date_hierarchy = "last_activity_at"
    fields = (
        "conversation_id",
        "push_name",
        "registration_step",
        "participants_links",
        "whatsapp_link",
        "turns",
        "last_activity_at",
        "created_at",
        "data_display",
        "history_display",
    )
    readonly_fields = fields

    def get_queryset(self, request: HttpRequest) -> QuerySet[ConversationState]:
        return super().get_queryset(request).prefetch_related("participants")

    @admin.display(description=_("inscrições"))
    def participants_links(self, obj: ConversationState) -> SafeString | str:
        rows = [
            (reverse("admin:registrations_participant_change", args=[p.pk]), p.full_name or f"#{p.pk}", p.get_status_display())
            for p in obj.participants.all()
        ]
        if not rows:
            return "—"
        return format_html_join(", ", '<a href="{}">{}</a> ({})', rows)

    @admin.display(description=_("mensagens no WhatsApp"))
    def whatsapp_link(self, obj: ConversationState) -> SafeString | str:
        from whatsapp.models import InboundMessage

        if not InboundMessage.objects.filter(chat_id=obj.conversation_id).exists():
            return _("Conversa fora do WhatsApp (site ou teste).")
        url = reverse("admin:whatsapp_chat_transcript", args=[obj.conversation_id])
        return format_html('<a href="{}">{}</a>', url, _("Ver as mensagens em ordem, com a situação de cada envio"))

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: ConversationState | None = None) -> bool:
        return False

    @admin.display(description=_("dados coletados"))
    def data_display(self, obj: ConversationState) -> SafeString | str:
        data = obj.data if isinstance(obj.data, dict) else {}
        if not data:
            return "—"
        rows = []
        for key, value in data.items():
            text = mask_cpf(str(value)) if "cpf" in key.lower() and value else mask_cpfs(_plain(value))
            rows.append((_DATA_LABELS.get(key, key), text))
        return format_html(
            '<table style="border:none"><tbody>{}</tbody></table>',
            format_html_join(
                "", '<tr><th style="padding:2px 12px 2px 0;text-align:left">{}</th><td>{}</td></tr>', rows
            ),
        )

    @admin.display(description=_("histórico"))
    def history_display(self, obj: ConversationState) -> SafeString | str:
        turns = obj.history if isinstance(obj.history, list) else []
        if not turns:
            return _("Nenhuma mensagem guardada.")
        lines = []
        for turn in turns:
            if not isinstance(turn, dict):
                continue
            is_user = turn.get("role") == "user"
            who = _("Participante") if is_user else _("Bot")
            # Explicit text colour: the admin's dark theme would otherwise put
            # light text on these light bubbles.
            style = (
                "background:#e7f6e7;color:#1a1a1a;margin:4px 30% 4px 0;"
                if is_user
                else "background:#f1f1f1;color:#1a1a1a;margin:4px 0 4px 30%;"
            )
            lines.append(
                format_html(
                    '<div style="{}padding:6px 10px;border-radius:8px">'
                    '<strong>{}:</strong> <small style="color:#666">{}</small><div>{}</div></div>',
                    style,
                    who,
                    _format_stamp(turn.get("at") or turn.get("timestamp")),
                    whatsapp_html(str(turn.get("text", ""))),
                )
            )
        return format_html('<div style="max-width:720px">{}</div>', SafeString("".join(lines)))
