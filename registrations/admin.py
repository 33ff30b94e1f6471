"""The organizers' back-office for participants (pt-BR)."""

from __future__ import annotations

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, StreamingHttpResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from registrations.audit import admin_action_record
from registrations.export import iter_csv
from registrations.filters import search_q
from registrations.models import ExportRecord, Participant, RegistrationEvent


class RegistrationEventInline(admin.TabularInline):
    model = RegistrationEvent
    extra = 0
    can_delete = False
    fields = ("created_at", "kind", "step", "detail", "actor")
    readonly_fields = fields
    ordering = ("-created_at", "-id")
    verbose_name_plural = _("Histórico (somente leitura)")

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


def export_response(request: HttpRequest, queryset, *, action: str, filters: str = "") -> StreamingHttpResponse:
    delimiter = request.GET.get("delimiter", ";") if request.method == "GET" else request.POST.get("delimiter", ";")
    if delimiter not in (";", ",", "tab"):
        delimiter = ";"
    admin_action_record(request=request, action=action, row_count=queryset.count(), filters=filters)
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    response = StreamingHttpResponse(iter_csv(queryset, delimiter=delimiter), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="participantes-{stamp}.csv"'
    return response


@admin.register(Participant)
class ParticipantAdmin(admin.ModelAdmin):
    list_display = (
        "full_name",
        "email",
        "cpf_display",
        "phone_display",
        "city_uf",
        "profile",
        "status",
        "confirmation_email_status",
        "created_at",
    )
    list_filter = ("status", "uf", "profile", ("created_at", admin.DateFieldListFilter), "confirmation_email_status")
    search_fields = ("full_name", "email")
    search_help_text = _("Busque por nome, e-mail, telefone ou CPF (com ou sem pontuação).")
    list_select_related = ("profile",)
    list_per_page = 50
    date_hierarchy = "created_at"
    actions = ("export_selected_csv", "cancel_selected", "resend_confirmation", "erase_personal_data")
    readonly_fields = (
        "consent_at",
        "consent_version",
        "conversation",
        "confirmation_email_status",
        "confirmation_email_sent_at",
        "anonymized_at",
        "created_at",
        "updated_at",
    )
    fieldsets = (
        (_("Dados pessoais"), {"fields": ("full_name", "email", "cpf", "phone")}),
        (_("Localidade e perfil"), {"fields": ("city", "district", "city_ibge_code", "uf", "profile")}),
        (_("Situação"), {"fields": ("status", "confirmation_email_status", "confirmation_email_sent_at")}),
        (_("Consentimento (LGPD)"), {"fields": ("consent_at", "consent_version", "anonymized_at")}),
        (_("Origem"), {"fields": ("conversation", "created_at", "updated_at")}),
    )
    inlines = (RegistrationEventInline,)

    @admin.display(description=_("CPF"), ordering="cpf")
    def cpf_display(self, obj: Participant) -> str:
        return obj.cpf_formatted

    @admin.display(description=_("Telefone"), ordering="phone")
    def phone_display(self, obj: Participant) -> str:
        from registrations.export import format_phone_national

        return format_phone_national(obj.phone)

    @admin.display(description=_("Cidade/UF"), ordering="city")
    def city_uf(self, obj: Participant) -> str:
        place = f"{obj.city}/{obj.uf}"
        return f"{obj.district} ({place})" if obj.district else place

    def get_search_results(self, request, queryset, search_term):
        if not search_term.strip():
            return queryset, False
        return queryset.filter(search_q(search_term)), False

    def save_model(self, request, obj: Participant, form, change: bool) -> None:
        if obj.email:
            obj.email = obj.email.strip().lower()
        super().save_model(request, obj, form, change)
        if change and form.changed_data:
            RegistrationEvent.objects.create(
                participant=obj,
                kind=RegistrationEvent.Kind.ADMIN_EDIT,
                # Field names only: never the CPF (or any value) in the audit trail.
                detail=", ".join(form.changed_data)[:500],
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
        """Export everything the changelist's current filters and search show."""
        if not request.user.has_perm("registrations.export_participant"):
            raise PermissionDenied
        params = request.GET.copy()
        params.pop("delimiter", None)
        request.GET = params
        changelist = self.get_changelist_instance(request)
        queryset = changelist.get_queryset(request)
        return export_response(request, queryset, action="export_filtered", filters=params.urlencode())

    def changelist_view(self, request, extra_context=None):
        extra_context = extra_context or {}
        query = request.GET.urlencode()
        url = reverse("admin:registrations_participant_export")
        if self.has_export_permission(request):
            extra_context["export_url"] = f"{url}?{query}" if query else url
        return super().changelist_view(request, extra_context=extra_context)

    def has_export_permission(self, request) -> bool:
        return request.user.has_perm("registrations.export_participant")

    @admin.action(description=_("Exportar selecionados (CSV para Excel)"), permissions=["export"])
    def export_selected_csv(self, request, queryset):
        ids = list(queryset.values_list("pk", flat=True)[:20])
        return export_response(
            request, queryset, action="export_selected", filters=f"ids={ids}{'…' if queryset.count() > 20 else ''}"
        )

    @admin.action(description=_("Cancelar inscrições selecionadas"), permissions=["change"])
    def cancel_selected(self, request, queryset):
        from registrations.services import participant_cancel

        count = 0
        for participant in queryset.filter(status=Participant.Status.CONFIRMED):
            participant_cancel(participant=participant, actor=request.user.get_username(), reason="admin")
            count += 1
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
        admin_action_record(request=request, action="resend_confirmation", row_count=count)
        self.message_user(
            request,
            ngettext("%(n)d e-mail de confirmação reenviado.", "%(n)d e-mails de confirmação reenviados.", count)
            % {"n": count},
            messages.SUCCESS,
        )

    @admin.action(description=_("Apagar dados pessoais (LGPD) dos selecionados"), permissions=["delete"])
    def erase_personal_data(self, request, queryset):
        from registrations.privacy import participant_erase

        count = 0
        for participant in queryset.filter(anonymized_at__isnull=True).select_related("conversation"):
            participant_erase(participant=participant, actor=request.user.get_username())
            count += 1
        admin_action_record(request=request, action="erase_personal_data", row_count=count)
        self.message_user(
            request,
            ngettext("Dados de %(n)d participante anonimizados.", "Dados de %(n)d participantes anonimizados.", count)
            % {"n": count},
            messages.SUCCESS,
        )


@admin.register(RegistrationEvent)
class RegistrationEventAdmin(admin.ModelAdmin):
    list_display = ("created_at", "kind", "participant_link", "conversation_id", "step", "actor", "detail")
    list_filter = ("kind", ("created_at", admin.DateFieldListFilter))
    search_fields = ("conversation_id", "detail", "actor")
    list_select_related = ("participant",)

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


@admin.register(ExportRecord)
class ExportRecordAdmin(admin.ModelAdmin):
    list_display = ("created_at", "actor", "action", "row_count", "filters")
    list_filter = ("action",)

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

