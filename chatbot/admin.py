"""Back-office for the event knowledge the bot uses, its unanswered questions
and the conversations (read-only). Labels come from the models' pt-BR verbose
names; every edit is visible to the bot at once (see chatbot.knowledge)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.db import models
from django.db.models import QuerySet
from django.http import HttpRequest
from django.template.response import TemplateResponse
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
    TicketLot,
    UnansweredQuestion,
)
from congress.errors import InvalidValue
from inbox.answers import (
    AnswerDelivery,
    DeliveryState,
    QuestionGroups,
    answer_check,
    answers_deliver,
    askers_counts,
    bot_replies_confirm,
    delivery_state,
    is_bot_confirmation,
    question_root,
    questions_mark_same,
    questions_unmark_same,
)
from inbox.hours import WEEKDAY_NAMES, service_days
from payments.dashboard import TicketFigures, ticket_figures
from payments.tickets import Price, format_brl
from registrations.validators import mask_cpf
from whatsapp.markup import mask_cpfs, whatsapp_html

# --------------------------------------------------------------------------
# Event and its knowledge
# --------------------------------------------------------------------------


class TicketCategoryInline(admin.TabularInline):
    """The event's categories at a glance; profiles, proof and lots on each category's own page (the link)."""

    model = TicketCategory
    extra = 0
    fields = ("order", "name", "price", "capacity", "active")
    show_change_link = True


class ProfileInline(admin.TabularInline):
    model = Profile
    extra = 0
    fields = ("order", "name", "keywords", "active")


class EventAdminForm(forms.ModelForm):
    """The service days as checkboxes, stored as "1,2,3,4,5" (``Event.service_weekdays``)."""

    service_weekdays = forms.MultipleChoiceField(
        label=_("Dias de atendimento"),
        choices=[(str(day), name) for day, name in enumerate(WEEKDAY_NAMES, start=1)],
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("Dias em que a equipe responde pelo WhatsApp. Fora deles, o assistente diz quando a equipe volta."),
    )

    class Meta:
        model = Event
        fields = ("service_weekdays", "service_starts_at", "service_ends_at")

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if isinstance(self.initial.get("service_weekdays"), str):
            self.initial["service_weekdays"] = [str(day) for day in service_days(self.instance)]

    def clean_service_weekdays(self) -> str:
        return ",".join(sorted(self.cleaned_data.get("service_weekdays") or []))


@admin.register(Event)
class EventAdmin(admin.ModelAdmin):
    form = EventAdminForm
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
        (
            _("Vagas"),
            {
                "fields": ("capacity",),
                "description": _(
                    "Limite do evento inteiro, somando as categorias. Cada categoria pode ter o seu próprio limite "
                    "(em Categorias de ingresso)."
                ),
            },
        ),
        (
            _("Atendimento pela equipe (WhatsApp)"),
            {
                "fields": ("service_weekdays", "service_starts_at", "service_ends_at"),
                "description": _(
                    "Quando alguém pede para falar com uma pessoa, o assistente diz que a equipe responde "
                    "na própria conversa e em que horário."
                ),
            },
        ),
        (_("Privacidade (LGPD)"), {"fields": ("privacy_notice", "privacy_notice_url", "privacy_notice_version")}),
        (None, {"fields": ("updated_at",)}),
    )


# --------------------------------------------------------------------------
# Ticket categories and their lots
# --------------------------------------------------------------------------


class TicketLotInline(admin.TabularInline):
    model = TicketLot
    extra = 0
    fields = ("order", "name", "price", "starts_at", "ends_at", "quantity")


class TicketCategoryForm(forms.ModelForm):
    """Eligible profiles as checkboxes, only the category's event's (the active event's on a new category)."""

    class Meta:
        model = TicketCategory
        fields = ("event", "name", "description", "price", "profiles", "capacity", "proof", "active", "order")
        widgets = {"profiles": forms.CheckboxSelectMultiple}

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        event_id = self.data.get("event") if self.is_bound else None
        event_id = event_id or self.instance.event_id or self.initial.get("event")
        if not event_id:
            event_id = Event.objects.filter(is_active=True).values_list("pk", flat=True).first()
            if event_id and "event" in self.fields:
                self.initial.setdefault("event", event_id)
        if "profiles" in self.fields and event_id and str(event_id).isdigit():
            self.fields["profiles"].queryset = Profile.objects.filter(event_id=event_id).order_by("order", "id")


def _price_text(price: Price) -> str:
    if price.free:
        return str(_("Gratuita"))
    return f"{format_brl(price.amount)} ({price.lot_name})" if price.lot_name else format_brl(price.amount)


@admin.register(TicketCategory)
class TicketCategoryAdmin(admin.ModelAdmin):
    """The price now comes from the lots (dates and quantities), never typed on a registration."""

    form = TicketCategoryForm
    list_display = ("name", "event", "price_now", "seats", "waitlist", "proof", "active", "order")
    list_display_links = ("name",)
    list_filter = ("active", "event", "proof")
    search_fields = ("name", "description")
    inlines = (TicketLotInline,)
    readonly_fields = ("price_now", "seats", "waitlist")
    fieldsets = (
        (None, {"fields": ("event", "name", "description", "active", "order")}),
        (
            _("Preço"),
            {
                "fields": ("price", "price_now"),
                "description": _(
                    "O preço vem do lote atual: o primeiro (pela ordem) cujas datas incluem agora e cuja quantidade "
                    "ainda não se esgotou. Sem lote vigente, vale o preço da categoria."
                ),
            },
        ),
        (_("Quem pode escolher"), {"fields": ("profiles", "proof")}),
        (_("Vagas"), {"fields": ("capacity", "seats", "waitlist")}),
    )

    def get_queryset(self, request: HttpRequest) -> QuerySet[TicketCategory]:
        return super().get_queryset(request).select_related("event").prefetch_related("lots")

    def get_changelist_instance(self, request: HttpRequest) -> Any:
        # The page's figures in a fixed number of queries (payments.dashboard), not one per row and column.
        changelist = super().get_changelist_instance(request)
        page = list(changelist.result_list)
        figures = ticket_figures(page, now=timezone.now())
        for category in page:
            category._figures = figures.get(category.pk)
        return changelist

    def _figures(self, obj: TicketCategory) -> TicketFigures:
        figures = getattr(obj, "_figures", None)
        if figures is None:
            figures = obj._figures = ticket_figures([obj], now=timezone.now())[obj.pk]
        return figures

    @admin.display(description=_("preço agora"))
    def price_now(self, obj: TicketCategory) -> str:
        if obj.pk is None:
            return "—"
        return _price_text(self._figures(obj).price)

    @admin.display(description=_("vagas ocupadas"))
    def seats(self, obj: TicketCategory) -> str:
        if obj.pk is None:
            return "—"
        figures = self._figures(obj)
        if figures.capacity is None:
            return _("%(held)d (sem limite)") % {"held": figures.held}
        return _("%(held)d de %(capacity)d") % {"held": figures.held, "capacity": figures.capacity}

    @admin.display(description=_("lista de espera"))
    def waitlist(self, obj: TicketCategory) -> int | str:
        if obj.pk is None:
            return "—"
        return self._figures(obj).waitlist


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


class UnansweredQuestionForm(forms.ModelForm):
    class Meta:
        model = UnansweredQuestion
        fields = ("answer", "status")
        help_texts = {
            "answer": _(
                "Ao salvar, a resposta vai pelo WhatsApp, uma única vez, para cada conversa que fez esta pergunta "
                "(e as marcadas como a mesma pergunta), e vira uma pergunta frequente que o bot passa a usar. "
                "Numa resposta incerta do bot, escrever outra resposta envia a correção; para apenas confirmar a "
                "resposta do bot, use a ação “Confirmar resposta do bot” na lista."
            ),
        }

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        answer = (cleaned.get("answer") or "").strip()
        status = cleaned.get("status")
        if status == UnansweredQuestion.Status.ANSWERED and not answer:
            self.add_error("answer", _("Escreva a resposta antes de marcar a pergunta como respondida."))
        elif answer and status != UnansweredQuestion.Status.DISMISSED:
            try:
                cleaned["answer"] = answer_check(answer)
            except InvalidValue as exc:
                self.add_error("answer", exc.message)
        return cleaned


_DELIVERY_LABELS = {
    DeliveryState.PENDING: "—",
    DeliveryState.CONFIRMED: _("resposta do bot confirmada (nada enviado)"),
    DeliveryState.NO_WHATSAPP: _("sem WhatsApp: não enviada"),
    DeliveryState.ERASED: _("conversa apagada (LGPD): não enviada"),
    DeliveryState.BEFORE: _("respondida antes do envio automático"),
}


@admin.register(UnansweredQuestion)
class UnansweredQuestionAdmin(admin.ModelAdmin):
    """Answering is writing the "resposta" and saving (or the list's actions):
    the answer goes to every conversation that asked the question, once
    (``inbox.answers``), and becomes an FAQ entry."""

    form = UnansweredQuestionForm
    list_display = ("question_short", "reason", "status", "askers", "delivery", "created_at", "faq")
    list_filter = ("status", "reason")
    search_fields = ("question", "answer")
    readonly_fields = (
        "question", "reason", "bot_reply", "conversation_id", "created_at", "faq", "askers", "same_as_link",
        "same_questions", "answered_at", "answered_by", "delivery",
    )
    fieldsets = (
        (None, {"fields": ("question", "reason", "conversation_id", "created_at", "askers", "same_as_link", "same_questions")}),
        (_("Resposta dada pelo bot"), {"fields": ("bot_reply",)}),
        (_("Resposta da organização"), {"fields": ("answer", "status", "answered_at", "answered_by", "delivery", "faq")}),
    )
    actions = (
        "answer_and_send",
        "answer_and_create_faq",
        "confirm_bot_reply",
        "mark_same",
        "unmark_same",
        "dismiss",
    )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def get_changelist_instance(self, request: HttpRequest) -> Any:
        # One pass for the whole page: how many asked each question, and
        # which conversations still exist (for the delivery column).
        changelist = super().get_changelist_instance(request)
        page = list(changelist.result_list)  # evaluated once; the template reuses the cache
        counts = askers_counts(page)
        existing = set(
            ConversationState.objects.filter(conversation_id__in={q.conversation_id for q in page}).values_list(
                "conversation_id", flat=True
            )
        )
        for question in page:
            question._askers = counts.get(question.pk, 1)
            question._conversation_exists = question.conversation_id in existing
        return changelist

    @admin.display(description=_("pergunta"), ordering="question")
    def question_short(self, obj: UnansweredQuestion) -> str:
        return obj.question if len(obj.question) <= 100 else obj.question[:99] + "…"

    @admin.display(description=_("perguntaram"))
    def askers(self, obj: UnansweredQuestion) -> int:
        count = getattr(obj, "_askers", None)
        return count if count is not None else askers_counts([obj])[obj.pk]

    @admin.display(description=_("envio da resposta"))
    def delivery(self, obj: UnansweredQuestion) -> str:
        exists = getattr(obj, "_conversation_exists", None)
        if exists is None:
            exists = ConversationState.objects.filter(conversation_id=obj.conversation_id).exists()
        state = delivery_state(obj, conversation_exists=exists)
        if state == DeliveryState.SENT:
            return _("enviada em %(when)s") % {"when": timezone.localtime(obj.answer_sent_at).strftime("%d/%m/%Y %H:%M")}
        return str(_DELIVERY_LABELS[state])

    @admin.display(description=_("mesma pergunta que"))
    def same_as_link(self, obj: UnansweredQuestion) -> SafeString | str:
        if obj.same_as is None:
            return "—"
        url = reverse("admin:chatbot_unansweredquestion_change", args=[obj.same_as_id])
        return format_html('<a href="{}">{}</a>', url, self.question_short(obj.same_as))

    @admin.display(description=_("mesma pergunta feita em"))
    def same_questions(self, obj: UnansweredQuestion) -> SafeString | str:
        members = QuestionGroups.load().members(obj.pk) - {obj.pk}
        others = UnansweredQuestion.objects.filter(pk__in=members).order_by("created_at")[:50]
        rows = [
            (
                reverse("admin:chatbot_unansweredquestion_change", args=[other.pk]),
                self.question_short(other),
                other.conversation_id,
                other.get_status_display(),
            )
            for other in others
        ]
        if not rows:
            return _("Nenhuma outra conversa fez esta pergunta.")
        return format_html(
            "<ul>{}</ul>", format_html_join("", '<li><a href="{}">{}</a> — {} ({})</li>', rows)
        )

    def save_model(self, request: HttpRequest, obj: UnansweredQuestion, form: Any, change: bool) -> None:
        # Only what the form edits: a full save would write back the
        # answer_sent_at read when the page opened and undo a delivery
        # committed meanwhile by another organizer.
        if not change:
            super().save_model(request, obj, form, change)
            return
        fields = [name for name in ("answer", "status") if name in form.changed_data]
        if fields:
            obj.save(update_fields=fields)
        answering = bool(fields) and bool(obj.answer.strip()) and obj.status != UnansweredQuestion.Status.DISMISSED
        if not answering:
            return
        # Writing an answer in the form is how an organizer answers: it becomes
        # an FAQ entry the bot uses from the next question on (unless it only
        # confirms the bot's own tentative reply), and goes to the participants.
        if not is_bot_confirmation(obj):
            self._answer(request, obj)
        self._deliver(request, obj)

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

    def _deliver(self, request: HttpRequest, obj: UnansweredQuestion, *, report: bool = True) -> AnswerDelivery | None:
        try:
            result = answers_deliver(obj, user=request.user)
        except InvalidValue as exc:
            self.message_user(request, exc.message, messages.ERROR)
            return None
        if result.sent:
            self.log_change(
                request, obj,
                ngettext("Resposta enviada a %(count)d conversa.", "Resposta enviada a %(count)d conversas.", result.sent)
                % {"count": result.sent},
            )
        if report:
            self._report(request, result)
        return result

    def _report(self, request: HttpRequest, result: AnswerDelivery) -> None:
        if not result.answered:
            self.message_user(
                request,
                _("Nenhuma mensagem enviada: quem fez esta pergunta já recebeu a resposta (ela vai uma vez só)."),
                messages.INFO,
            )
            return
        parts = [
            ngettext("Resposta enviada a %(count)d conversa.", "Resposta enviada a %(count)d conversas.", result.sent)
            % {"count": result.sent}
        ]
        if result.already:
            parts.append(
                ngettext(
                    "%(count)d conversa já tinha recebido a resposta.",
                    "%(count)d conversas já tinham recebido a resposta.",
                    result.already,
                )
                % {"count": result.already}
            )
        if result.no_whatsapp:
            parts.append(
                ngettext(
                    "%(count)d conversa sem WhatsApp: não enviada.",
                    "%(count)d conversas sem WhatsApp: não enviadas.",
                    result.no_whatsapp,
                )
                % {"count": result.no_whatsapp}
            )
        if result.erased:
            parts.append(
                ngettext(
                    "%(count)d conversa apagada (LGPD): não enviada.",
                    "%(count)d conversas apagadas (LGPD): não enviadas.",
                    result.erased,
                )
                % {"count": result.erased}
            )
        level = messages.SUCCESS if result.sent else messages.WARNING if result.no_whatsapp else messages.INFO
        self.message_user(request, " ".join(parts), level)

    def _missing_answers(self, request: HttpRequest, missing: int) -> None:
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

    def _deliver_all(self, request: HttpRequest, questions: list[UnansweredQuestion]) -> None:
        total = AnswerDelivery()
        for question in questions:
            result = self._deliver(request, question, report=False)
            if result is not None:
                total = AnswerDelivery(
                    **{name: getattr(total, name) + getattr(result, name) for name in AnswerDelivery.__dataclass_fields__}
                )
        self._report(request, total)

    @admin.action(description=_("Responder e enviar aos participantes"), permissions=["change"])
    def answer_and_send(self, request: HttpRequest, queryset: QuerySet[UnansweredQuestion]) -> None:
        ready = [
            q for q in queryset.exclude(status=UnansweredQuestion.Status.DISMISSED).order_by("created_at")
            if q.answer.strip()
        ]
        missing = queryset.exclude(status=UnansweredQuestion.Status.DISMISSED).count() - len(ready)
        if ready:
            self._deliver_all(request, ready)
        if missing:
            self._missing_answers(request, missing)
        if not ready and not missing:
            self.message_user(request, _("Perguntas descartadas não são respondidas: nada foi enviado."), messages.WARNING)

    @admin.action(description=_("Responder e criar FAQ"), permissions=["change"])
    def answer_and_create_faq(self, request: HttpRequest, queryset: QuerySet[UnansweredQuestion]) -> None:
        created = 0
        missing = 0
        answered: list[UnansweredQuestion] = []
        # A dismissed question stays dismissed (and silent): reopen it first.
        for question in queryset.exclude(status=UnansweredQuestion.Status.DISMISSED):
            if not question.answer.strip():
                missing += 1
                continue
            try:
                unanswered_question_answer(question=question, answer=question.answer)
            except ValueError:
                self.message_user(request, _("Não há evento ativo: nada foi criado."), messages.ERROR)
                return
            created += 1
            answered.append(question)
        if created:
            self.message_user(
                request,
                ngettext("%(count)d pergunta frequente criada.", "%(count)d perguntas frequentes criadas.", created)
                % {"count": created},
            )
            self._deliver_all(request, answered)
        if missing:
            self._missing_answers(request, missing)

    @admin.action(description=_("Confirmar resposta do bot (nada é enviado)"), permissions=["change"])
    def confirm_bot_reply(self, request: HttpRequest, queryset: QuerySet[UnansweredQuestion]) -> None:
        count = bot_replies_confirm(questions=queryset, user=request.user)
        skipped = queryset.count() - count
        if count:
            self.message_user(
                request,
                ngettext(
                    "%(count)d resposta do bot confirmada. Nada foi enviado: o participante já tinha recebido.",
                    "%(count)d respostas do bot confirmadas. Nada foi enviado: os participantes já tinham recebido.",
                    count,
                )
                % {"count": count},
                messages.SUCCESS,
            )
        if skipped:
            self.message_user(
                request,
                ngettext(
                    "%(count)d pergunta ignorada: só se confirma a resposta incerta de uma pergunta aberta.",
                    "%(count)d perguntas ignoradas: só se confirma a resposta incerta de uma pergunta aberta.",
                    skipped,
                )
                % {"count": skipped},
                messages.WARNING,
            )

    @admin.action(description=_("Marcar como a mesma pergunta que…"), permissions=["change"])
    def mark_same(self, request: HttpRequest, queryset: QuerySet[UnansweredQuestion]) -> TemplateResponse | None:
        """Ask which of the selected questions is the main one, then link the
        others to it. When the main one is already answered, the others get
        the answer at once."""
        questions = list(queryset.order_by("created_at", "pk"))
        if len(questions) < 2:
            self.message_user(
                request,
                _("Selecione ao menos duas perguntas: a principal e as que são a mesma pergunta que ela."),
                messages.WARNING,
            )
            return None
        chosen = request.POST.get("main", "")
        main = next((q for q in questions if str(q.pk) == chosen), None)
        if request.POST.get("confirm") != "yes" or main is None:
            return self._mark_same_page(request, questions, error=request.POST.get("confirm") == "yes")
        count = questions_mark_same(main=main, questions=questions)
        root = question_root(main)
        self.log_change(request, root, _("Marcou %(count)d perguntas como a mesma pergunta.") % {"count": count})
        self.message_user(
            request,
            format_html(
                ngettext(
                    "{} pergunta marcada como a mesma pergunta que “{}”.",
                    "{} perguntas marcadas como a mesma pergunta que “{}”.",
                    count,
                ),
                count,
                self.question_short(root),
            ),
            messages.SUCCESS,
        )
        if root.status == UnansweredQuestion.Status.ANSWERED and root.answer.strip() and not is_bot_confirmation(root):
            self._deliver(request, root)
        elif root.status == UnansweredQuestion.Status.OPEN:
            self.message_user(
                request, _("Quando você responder a pergunta principal, a resposta irá para todas essas conversas.")
            )
        return None

    def _mark_same_page(
        self, request: HttpRequest, questions: list[UnansweredQuestion], *, error: bool
    ) -> TemplateResponse:
        answered = [q for q in questions if q.status == UnansweredQuestion.Status.ANSWERED and q.answer.strip()]
        default = (answered or questions)[0]
        context = {
            **self.admin_site.each_context(request),
            "title": _("Marcar como a mesma pergunta"),
            "subtitle": None,
            "opts": self.model._meta,
            "questions": questions,
            "default_pk": default.pk,
            "error": error,
            "action_name": "mark_same",
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
            "cancel_url": request.get_full_path(),
            "media": self.media,
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, "admin/chatbot/unansweredquestion/mark_same.html", context)

    @admin.action(description=_("Desfazer “mesma pergunta”"), permissions=["change"])
    def unmark_same(self, request: HttpRequest, queryset: QuerySet[UnansweredQuestion]) -> None:
        count = questions_unmark_same(questions=queryset)
        self.message_user(
            request,
            ngettext(
                "%(count)d pergunta deixou de ser a mesma pergunta que outra.",
                "%(count)d perguntas deixaram de ser a mesma pergunta que outras.",
                count,
            )
            % {"count": count},
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
            if is_user:
                who = _("Participante")
            elif turn.get("role") == "staff":
                who = _("Equipe") + (f" ({turn['by']})" if turn.get("by") else "")
            else:
                who = _("Bot")
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
