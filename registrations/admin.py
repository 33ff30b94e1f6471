"""The organizers' back-office for participants (pt-BR).

Nobody deletes a participant here, superusers included: cancelling and the
LGPD erasure are the only ways out, and the history always survives. Viewers
without "Ver CPF completo" (the Equipe role) see CPFs masked everywhere: list,
change page, search results and exports.
"""

from __future__ import annotations

import tempfile

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.admin.views.main import ERROR_FLAG, PAGE_VAR
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import BooleanField, Exists, OuterRef, Q, QuerySet, Value
from django.http import FileResponse, HttpRequest, HttpResponse, HttpResponseRedirect, StreamingHttpResponse
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from congress.roles import cpf_for, mask_cpf, sees_full_cpf
from payments.admin import PaymentInline, ReviewInline
from payments.tickets import format_brl
from registrations.audit import (
    admin_action_record,
    changelist_filters_text,
    export_action_label,
    export_record_filters,
    export_record_summary,
    local_time,
    registration_event_summary,
    selection_text,
)
from registrations.codes import LENGTH, find_code
from registrations.export import CONTENT_TYPES, FORMATS, format_phone_national, iter_csv, write_xlsx
from registrations.filters import search_q
from registrations.models import ACTIVE_STATUSES, ExportRecord, Participant, RegistrationEvent

# The status badges' colours (CSS in the changelist template): confirmed green,
# awaiting payment amber, expired red, cancelled grey; the waitlist blue.
_STATUS_BADGES = {
    Participant.Status.CONFIRMED: "p-ok",
    Participant.Status.PENDING_PAYMENT: "p-wait",
    Participant.Status.EXPIRED: "p-bad",
    Participant.Status.CANCELLED: "p-off",
}
# Not one of the template's classes: its own colours, readable on both themes.
_WAITLIST_STYLE = "background:#dbe9fb;color:#1d4f91"
_PROOF_BADGES = {
    Participant.Proof.MISSING: "p-wait",
    Participant.Proof.PENDING: "p-wait",
    Participant.Proof.APPROVED: "p-ok",
    Participant.Proof.REJECTED: "p-bad",
}
# Set by payments.services (seat, price, charge, review): shown, never typed here.
PAYMENT_FIELDS = (
    "code",
    "ticket",
    "lot_name",
    "amount_brl",
    "payment_due_at",
    "paid_at",
    "proof_status",
    "waitlisted_at",
    "offer_expires_at",
)


class RegistrationEventInline(admin.TabularInline):
    model = RegistrationEvent
    extra = 0
    can_delete = False
    fields = ("when", "summary")
    readonly_fields = fields
    ordering = ("-created_at", "-id")
    verbose_name_plural = _("Histórico (somente leitura)")

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    @admin.display(description=_("quando"))
    def when(self, obj: RegistrationEvent) -> str:
        return local_time(obj.created_at)

    @admin.display(description=_("o que aconteceu"))
    def summary(self, obj: RegistrationEvent) -> str:
        return registration_event_summary(obj)


def export_response(
    request: HttpRequest, queryset, *, action: str, filters: str = "", file_format: str = "csv", delimiter: str = ";"
) -> HttpResponse:
    """The export file as a download, after recording who exported what.

    CPFs come out masked for a viewer without the "Ver CPF completo" permission.
    """
    if file_format not in FORMATS:
        file_format = "csv"
    if delimiter not in (";", ",", "tab"):
        delimiter = ";"
    full_cpf = sees_full_cpf(request.user)
    admin_action_record(
        request=request, action=action, row_count=queryset.count(), filters=filters, file_format=file_format
    )
    filename = f"participantes-{timezone.localtime():%Y%m%d-%H%M}.{file_format}"
    if file_format == "xlsx":
        # openpyxl needs a seekable file to build the zip; the temporary file
        # is deleted when the response closes it.
        spool = tempfile.TemporaryFile()  # noqa: SIM115 (FileResponse closes it)
        write_xlsx(queryset, spool, full_cpf=full_cpf)
        spool.seek(0)
        return FileResponse(spool, as_attachment=True, filename=filename, content_type=CONTENT_TYPES["xlsx"])
    response = StreamingHttpResponse(
        iter_csv(queryset, delimiter=delimiter, full_cpf=full_cpf), content_type=CONTENT_TYPES["csv"]
    )
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@admin.register(Participant)
class ParticipantAdmin(admin.ModelAdmin):
    # Fits a 1366-px laptop with the navigation and the filters open: e-mail,
    # CPF, phone and the conversation links share the "Contato" cell, city,
    # district and profile the next one; badges and dates are short (the CSS
    # is in the changelist template).
    list_display = ("full_name", "contact", "place", "registration", "status_badge", "email_state", "registered")
    list_filter = (
        "status",
        "ticket",
        "uf",
        "profile",
        ("created_at", admin.DateFieldListFilter),
        "confirmation_email_status",
        "proof_status",
    )
    search_fields = ("full_name",)  # shows the box; get_search_results does the search
    search_help_text = _(
        "Busque por nome, e-mail ou cidade (sem se preocupar com acentos e maiúsculas), telefone, CPF "
        "ou código de inscrição (CBAS-…)."
    )
    list_select_related = ("profile", "conversation", "ticket")
    list_per_page = 50
    date_hierarchy = "created_at"
    actions = ("export_selected_csv", "export_selected_xlsx", "cancel_selected", "resend_confirmation", "erase_personal_data")
    readonly_fields = (
        "cpf_masked",
        "consent_at",
        "consent_version",
        "conversation_links",
        "confirmation_email_status",
        "confirmation_email_sent_at",
        "anonymized_at",
        "created_at",
        "updated_at",
        *PAYMENT_FIELDS,
    )
    fieldsets = (
        (_("Dados pessoais"), {"fields": ("full_name", "email", "cpf", "phone")}),
        (_("Localidade e perfil"), {"fields": ("city", "district", "city_ibge_code", "uf", "profile")}),
        (_("Situação"), {"fields": ("status", "confirmation_email_status", "confirmation_email_sent_at")}),
        (
            _("Inscrição e pagamento"),
            {
                "fields": PAYMENT_FIELDS,
                "description": _(
                    "Definidos pelo sistema (categoria, lote e valor na hora da inscrição; pagamento e comprovantes "
                    "pelas páginas de Pagamentos e Comprovantes para revisão). Não se editam aqui."
                ),
            },
        ),
        (_("Consentimento (LGPD)"), {"fields": ("consent_at", "consent_version", "anonymized_at")}),
        (_("Origem"), {"fields": ("conversation_links", "created_at", "updated_at")}),
    )
    inlines = (PaymentInline, ReviewInline, RegistrationEventInline)

    # --- what a viewer may see --------------------------------------------------
    def get_queryset(self, request: HttpRequest) -> QuerySet[Participant]:
        from whatsapp.models import InboundMessage

        # The CPF permission rides on each row, so display methods (which get
        # no request) mask for whoever asked; a row without it is masked.
        return (
            super()
            .get_queryset(request)
            .annotate(
                show_full_cpf=Value(sees_full_cpf(request.user), output_field=BooleanField()),
                has_whatsapp=Exists(InboundMessage.objects.filter(chat_id=OuterRef("conversation__conversation_id"))),
            )
        )

    def get_fieldsets(self, request: HttpRequest, obj: Participant | None = None):
        fieldsets = super().get_fieldsets(request, obj)
        if obj is None or sees_full_cpf(request.user):
            return fieldsets
        # Not even in a read-only form: the masked value replaces the field.
        return [
            (name, {**options, "fields": tuple("cpf_masked" if f == "cpf" else f for f in options["fields"])})
            for name, options in fieldsets
        ]

    def get_readonly_fields(self, request: HttpRequest, obj: Participant | None = None):
        fields = super().get_readonly_fields(request, obj)
        if obj is None:
            # Someone registered by hand: whoever types them in records when
            # and under which notice they consented (the columns are required).
            return tuple(f for f in fields if f not in ("consent_at", "consent_version"))
        # A paid registration's status moves with its money and its seat
        # (Pagamentos, Comprovantes, the cancel action), never by hand.
        if obj is not None and (obj.amount > 0 or obj.payments.exists()):
            return (*fields, "status")
        return fields

    def has_delete_permission(self, request: HttpRequest, obj: Participant | None = None) -> bool:
        # For everyone, superusers included: cancel or erase (LGPD) instead.
        return False

    def has_export_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("registrations.export_participant")

    def has_erase_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("registrations.erase_participant")

    # --- columns ----------------------------------------------------------------
    @admin.display(description=_("CPF"))
    def cpf_masked(self, obj: Participant) -> str:
        return mask_cpf(obj.cpf) if obj.cpf else "—"

    @admin.display(description=_("Contato"))
    def contact(self, obj: Participant) -> SafeString:
        cpf = obj.cpf_formatted if getattr(obj, "show_full_cpf", False) else (mask_cpf(obj.cpf) if obj.cpf else "")
        numbers = " · ".join(x for x in (cpf, format_phone_national(obj.phone)) if x)
        links = format_html_join(" · ", '<a href="{}">{}</a>', self._link_items(obj))
        return format_html(
            '<span class="p-email">{}</span><span class="p-line p-small p-nowrap">{}</span><span class="p-line p-links">{}</span>',
            obj.email or "—",
            numbers or "—",
            links,
        )

    @admin.display(description=_("Cidade/UF e perfil"), ordering="city")
    def place(self, obj: Participant) -> SafeString:
        # <wbr>: "Consultor(a)/Técnico(a)" may break after its slashes, never mid-word.
        place = format_html("{}/<wbr>{}", obj.city, obj.uf) if obj.city else obj.uf
        profile = format_html_join(mark_safe("/<wbr>"), "{}", ((part,) for part in obj.profile.name.split("/")))
        return format_html(
            '{}<span class="p-line p-muted">{}</span><span class="p-line p-muted">{}</span>', place, obj.district, profile
        )

    @admin.display(description=_("Situação"), ordering="status")
    def status_badge(self, obj: Participant) -> SafeString:
        if obj.anonymized_at:
            return format_html('<span class="p-badge p-erased">{}</span>', _("Apagada"))
        if obj.status == Participant.Status.WAITLISTED:
            badge = format_html('<span class="p-badge" style="{}">{}</span>', _WAITLIST_STYLE, obj.get_status_display())
        else:
            css = _STATUS_BADGES.get(obj.status, "p-off")
            badge = format_html('<span class="p-badge {}">{}</span>', css, obj.get_status_display())
        if not obj.proof_status:
            return badge
        return format_html(
            '{}<span class="p-line p-small p-nowrap"><span class="p-badge {}" title="{}">{}</span></span>',
            badge,
            _PROOF_BADGES.get(obj.proof_status, "p-off"),
            _("Comprovante de categoria"),
            obj.get_proof_status_display(),
        )

    @admin.display(description=_("Inscrição"), ordering="code")
    def registration(self, obj: Participant) -> SafeString | str:
        """Code, category and lot, amount, and the payment's due or paid date, in one compact cell."""
        lines = []
        if obj.ticket_id is not None:
            ticket = obj.ticket.name + (f" · {obj.lot_name}" if obj.lot_name else "")
            lines.append(format_html('<span class="p-line p-muted">{}</span>', ticket))
        if obj.amount:
            lines.append(format_html('<span class="p-line p-small p-nowrap">{}</span>', format_brl(obj.amount)))
        if obj.paid_at:
            moment = timezone.localtime(obj.paid_at)
            lines.append(format_html('<span class="p-line p-muted p-nowrap">{}</span>', _("pago %(when)s") % {"when": f"{moment:%d/%m %H:%M}"}))
        elif obj.payment_due_at and obj.status == Participant.Status.PENDING_PAYMENT:
            moment = timezone.localtime(obj.payment_due_at)
            lines.append(format_html('<span class="p-line p-muted p-nowrap">{}</span>', _("vence %(when)s") % {"when": f"{moment:%d/%m %H:%M}"}))
        code = format_html('<span class="p-nowrap">{}</span>', obj.code) if obj.code else "—"
        return format_html("{}{}", code, SafeString("".join(lines)))

    @admin.display(description=_("valor"))
    def amount_brl(self, obj: Participant) -> str:
        return format_brl(obj.amount) if obj.ticket_id is not None or obj.amount else "—"

    @admin.display(description=_("E-mail de confirmação"), ordering="confirmation_email_status")
    def email_state(self, obj: Participant) -> SafeString:
        css = {
            Participant.EmailStatus.SENT: "p-ok",
            Participant.EmailStatus.FAILED: "p-bad",
        }.get(obj.confirmation_email_status, "p-wait")
        sent = obj.confirmation_email_sent_at if obj.confirmation_email_status == Participant.EmailStatus.SENT else None
        if sent is None:
            return format_html('<span class="p-badge {}">{}</span>', css, obj.get_confirmation_email_status_display())
        return format_html(
            '<span class="p-badge {}">{}</span><span class="p-line p-muted p-nowrap" title="{}">{}</span>',
            css,
            obj.get_confirmation_email_status_display(),
            local_time(sent),
            f"{timezone.localtime(sent):%d/%m %H:%M}",
        )

    @admin.display(description=_("Inscrito em"), ordering="created_at")
    def registered(self, obj: Participant) -> SafeString:
        moment = timezone.localtime(obj.created_at)
        return format_html('{}<span class="p-line p-muted">{}</span>', f"{moment:%d/%m/%y}", f"{moment:%H:%M}")

    def _link_items(self, obj: Participant) -> list[tuple[str, str]]:
        if obj.conversation_id is None or obj.conversation is None:
            return []
        items = [(reverse("admin:chatbot_conversationstate_change", args=[obj.conversation_id]), str(_("Conversa")))]
        has_whatsapp = getattr(obj, "has_whatsapp", None)
        if has_whatsapp is None:  # a row not loaded through get_queryset
            from whatsapp.models import InboundMessage

            has_whatsapp = InboundMessage.objects.filter(chat_id=obj.conversation.conversation_id).exists()
        if has_whatsapp:
            items.append((reverse("admin:whatsapp_chat_transcript", args=[obj.conversation.conversation_id]), "WhatsApp"))
        return items

    @admin.display(description=_("conversa"))
    def conversation_links(self, obj: Participant) -> SafeString | str:
        items = self._link_items(obj)
        if not items:
            return _("Inscrição feita sem conversa (pelo admin ou pela API).")
        labels = {str(_("Conversa")): _("Ver a conversa (etapas e dados)"), "WhatsApp": _("Ver as mensagens no WhatsApp")}
        return format_html_join(" · ", '<a href="{}">{}</a>', ((url, labels[label]) for url, label in items))

    def change_view(self, request, object_id, form_url="", extra_context=None):
        participant = self.get_object(request, object_id)
        extra_context = {**(extra_context or {}), "participant_links": self._link_items(participant) if participant else []}
        return super().change_view(request, object_id, form_url, extra_context=extra_context)

    # --- search ---------------------------------------------------------------
    def get_search_results(self, request, queryset, search_term):
        if not search_term.strip():
            return queryset, False
        q = search_q(search_term, full_cpf=sees_full_cpf(request.user))
        # A registration code, however typed ("cbas 7f3k2", "CBAS-7F3K2"), or its five characters alone.
        term = search_term.strip().upper()
        q |= Q(code=find_code(term) or term)
        if len(term) == LENGTH and term.isalnum():
            q |= Q(code__endswith=f"-{term}")
        return queryset.filter(q), False

    # --- saving ---------------------------------------------------------------
    def save_model(self, request, obj: Participant, form, change: bool) -> None:
        from registrations.services import registration_event_record
        from registrations.validators import mask_email

        if obj.email:
            obj.email = obj.email.strip().lower()
        super().save_model(request, obj, form, change)
        if not change:
            from payments.services import code_assign

            # Every registration has a code, those typed in here too.
            code_assign(obj)
            detail = f"cpf {mask_cpf(obj.cpf)}, e-mail {mask_email(obj.email)}" if obj.cpf and obj.email else ""
            registration_event_record(
                kind=RegistrationEvent.Kind.CREATED, participant=obj, detail=detail, actor=request.user.get_username()
            )
        elif form.changed_data:
            registration_event_record(
                kind=RegistrationEvent.Kind.ADMIN_EDIT,
                participant=obj,
                # Field names only: never the CPF (or any value) in the audit trail.
                detail=", ".join(form.changed_data),
                actor=request.user.get_username(),
            )

    # --- export --------------------------------------------------------------
    def get_urls(self):
        custom = [
            path(
                "export/",
                self.admin_site.admin_view(self.export_filtered_view),
                name="registrations_participant_export",
            ),
        ]
        return custom + super().get_urls()

    def export_filtered_view(self, request: HttpRequest):
        """Export everything the changelist's current filters and search show (``?format=xlsx`` for XLSX).

        A stale or invalid parameter (an old link, a mistyped date) sends the
        user back to the list with a message, as the list itself does, and
        exports nothing.
        """
        if not self.has_export_permission(request):
            raise PermissionDenied
        params = request.GET.copy()
        delimiter = params.pop("delimiter", [";"])[-1]
        file_format = params.pop("format", ["csv"])[-1]
        # The export has every page; the changelist refuses parameters it does not know.
        params.pop(PAGE_VAR, None)
        params.pop(ERROR_FLAG, None)
        request.GET = params
        try:
            changelist = self.get_changelist_instance(request)
            queryset = changelist.get_queryset(request)
        except (IncorrectLookupParameters, ValidationError):
            self.message_user(
                request,
                _("Nada foi exportado: os filtros do link não são válidos (talvez um link antigo). "
                  "Escolha os filtros de novo e exporte."),
                messages.WARNING,
            )
            changelist_url = reverse("admin:registrations_participant_changelist")
            return HttpResponseRedirect(f"{changelist_url}?{ERROR_FLAG}=1")
        return export_response(
            request,
            queryset,
            action="export_filtered",
            filters=changelist_filters_text(changelist),
            file_format=file_format,
            delimiter=delimiter,
        )

    def changelist_view(self, request, extra_context=None):
        extra_context = extra_context or {}
        if self.has_export_permission(request):
            url = reverse("admin:registrations_participant_export")
            query = request.GET.copy()
            extra_context["export_url"] = f"{url}?{query.urlencode()}" if query else url
            query["format"] = "xlsx"
            extra_context["export_xlsx_url"] = f"{url}?{query.urlencode()}"
        return super().changelist_view(request, extra_context=extra_context)

    def _export_selected(self, request, queryset, file_format: str):
        ids = list(queryset.values_list("pk", flat=True))
        return export_response(
            request, queryset, action="export_selected", filters=selection_text(ids), file_format=file_format
        )

    @admin.action(description=_("Exportar selecionados (CSV para Excel)"), permissions=["export"])
    def export_selected_csv(self, request, queryset):
        return self._export_selected(request, queryset, "csv")

    @admin.action(description=_("Exportar selecionados (XLSX)"), permissions=["export"])
    def export_selected_xlsx(self, request, queryset):
        return self._export_selected(request, queryset, "xlsx")

    @admin.action(description=_("Cancelar inscrições selecionadas"), permissions=["change"])
    def cancel_selected(self, request, queryset):
        """Cancel every active registration selected (confirmed, awaiting payment, waitlisted).

        ``participant_cancel`` also cancels an open Pix charge and gives the
        seat to the waitlist; a paid registration's money is refunded from
        Pagamentos ("Estornar"), not here.
        """
        from registrations.services import participant_cancel

        count = 0
        for participant in queryset.filter(status__in=ACTIVE_STATUSES).select_related("profile"):
            count += participant_cancel(participant=participant, actor=request.user.get_username(), reason="admin")
        if not count:
            # Nothing happened: nothing to record, and not a success.
            self.message_user(
                request,
                _(
                    "Nenhuma inscrição ativa (confirmada, aguardando pagamento ou na lista de espera) "
                    "entre as selecionadas."
                ),
                messages.WARNING,
            )
            return
        admin_action_record(request=request, action="cancel_selected", row_count=count)
        self.message_user(
            request,
            ngettext("%(n)d inscrição cancelada.", "%(n)d inscrições canceladas.", count) % {"n": count},
            messages.SUCCESS,
        )

    @admin.action(description=_("Reenviar e-mail de confirmação"), permissions=["change"])
    def resend_confirmation(self, request, queryset):
        from registrations.services import participant_resend_confirmation

        count = sum(
            participant_resend_confirmation(participant=p, actor=request.user.get_username())
            for p in queryset.filter(status=Participant.Status.CONFIRMED)
        )
        if not count:
            self.message_user(
                request,
                _("Nenhum e-mail reenviado: nenhuma inscrição confirmada entre as selecionadas."),
                messages.WARNING,
            )
            return
        admin_action_record(request=request, action="resend_confirmation", row_count=count)
        self.message_user(
            request,
            ngettext("%(n)d e-mail de confirmação reenviado.", "%(n)d e-mails de confirmação reenviados.", count)
            % {"n": count},
            messages.SUCCESS,
        )

    @admin.action(description=_("Apagar dados pessoais (LGPD) dos selecionados"), permissions=["erase"])
    def erase_personal_data(self, request, queryset):
        """Ask first (the erasure cannot be undone), then erase on ``confirm=yes``."""
        from registrations.privacy import participant_erase

        pending = queryset.filter(anonymized_at__isnull=True).select_related("conversation")
        if not pending.exists():
            self.message_user(
                request,
                _("Nenhum dado pessoal apagado: os participantes selecionados já estavam anonimizados."),
                messages.WARNING,
            )
            return None
        if request.POST.get("confirm") != "yes":
            return self._erase_confirmation(request, queryset, pending)
        count = 0
        for participant in pending:
            participant_erase(participant=participant, actor=request.user.get_username())
            count += 1
        admin_action_record(request=request, action="erase_personal_data", row_count=count)
        self.message_user(
            request,
            ngettext("Dados de %(n)d participante anonimizados.", "Dados de %(n)d participantes anonimizados.", count)
            % {"n": count},
            messages.SUCCESS,
        )
        return None

    def _erase_confirmation(self, request, queryset, pending) -> TemplateResponse:
        """The "are you sure?" page, like Django's delete confirmation: who
        will be erased (CPFs as this user may see them), and a form that posts
        the same action back with ``confirm=yes``."""
        people = [(p, cpf_for(request.user, p.cpf)) for p in pending.order_by("full_name", "pk")]
        already = queryset.count() - len(people)
        # Erasing a conversation erases everyone registered in it (relatives
        # registered from the same WhatsApp number): say so before, by name.
        relatives = (
            Participant.objects.filter(
                conversation_id__in={p.conversation_id for p, _cpf in people if p.conversation_id},
                anonymized_at__isnull=True,
            )
            .exclude(pk__in=[p.pk for p, _cpf in people])
            .order_by("full_name", "pk")
        )
        context = {
            **self.admin_site.each_context(request),
            "title": _("Apagar dados pessoais (LGPD)?"),
            "subtitle": None,
            "opts": self.model._meta,
            "people": people,
            "relatives": [(p, cpf_for(request.user, p.cpf)) for p in relatives],
            "already_erased": already,
            "action_name": "erase_personal_data",
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
            # Back to the list as it was (the action form posts to the list's own URL, filters included).
            "cancel_url": request.get_full_path(),
            "media": self.media,
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, "admin/registrations/participant/erase_confirmation.html", context)


@admin.register(RegistrationEvent)
class RegistrationEventAdmin(admin.ModelAdmin):
    list_display = ("when", "summary", "participant_link", "conversation_id")
    list_filter = ("kind", ("created_at", admin.DateFieldListFilter))
    search_fields = ("conversation_id", "detail", "actor")
    list_select_related = ("participant",)
    fields = ("when", "summary", "kind", "participant_link", "conversation_id", "actor", "detail")
    readonly_fields = fields

    @admin.display(description=_("quando"), ordering="created_at")
    def when(self, obj: RegistrationEvent) -> SafeString:
        return format_html('<span style="white-space:nowrap">{}</span>', local_time(obj.created_at))

    @admin.display(description=_("o que aconteceu"))
    def summary(self, obj: RegistrationEvent) -> str:
        return registration_event_summary(obj)

    @admin.display(description=_("participante"))
    def participant_link(self, obj: RegistrationEvent):
        if obj.participant_id is None:
            return "—"
        url = reverse("admin:registrations_participant_change", args=[obj.participant_id])
        return format_html('<a href="{}">{}</a>', url, obj.participant)

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


class ExportActionFilter(admin.SimpleListFilter):
    title = _("ação")
    parameter_name = "action"

    def lookups(self, request, model_admin):
        actions = ExportRecord.objects.order_by("action").values_list("action", flat=True).distinct()
        return [(action, export_action_label(action)) for action in actions]

    def queryset(self, request, queryset):
        return queryset.filter(action=self.value()) if self.value() else queryset


@admin.register(ExportRecord)
class ExportRecordAdmin(admin.ModelAdmin):
    list_display = ("when", "actor", "summary", "file_format")
    list_filter = (ExportActionFilter,)
    fields = ("when", "actor", "summary", "action_label", "row_count", "readable_filters", "file_format")
    readonly_fields = fields

    @admin.display(description=_("quando"), ordering="created_at")
    def when(self, obj: ExportRecord) -> SafeString:
        return format_html('<span style="white-space:nowrap">{}</span>', local_time(obj.created_at))

    @admin.display(description=_("o que foi feito"))
    def summary(self, obj: ExportRecord) -> str:
        return export_record_summary(obj)

    @admin.display(description=_("ação"))
    def action_label(self, obj: ExportRecord) -> str:
        return export_action_label(obj.action)

    @admin.display(description=_("filtros"))
    def readable_filters(self, obj: ExportRecord) -> str:
        return export_record_filters(obj) or "—"

    @admin.display(description=_("formato"))
    def file_format(self, obj: ExportRecord) -> str:
        return obj.format.upper() or "—"

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
