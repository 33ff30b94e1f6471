"""Handoffs in the admin: a read-only record (who asked, who answered, how it
ended) with its lines and its "Histórico" (the services audit every staff
action there). Answering happens in the inbox (``inbox.views``), which is
also the "Atendimento" app's index page."""

from __future__ import annotations

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.translation import gettext_lazy as _

from inbox.models import Handoff, HandoffMessage
from whatsapp.markup import whatsapp_html


class ReadOnly:
    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


class HandoffMessageInline(ReadOnly, admin.TabularInline):
    model = HandoffMessage
    fields = ["created_at", "role", "who", "text_display", "delivery"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = False

    def get_queryset(self, request: HttpRequest) -> QuerySet[HandoffMessage]:
        return super().get_queryset(request).select_related("outbound", "author")

    @admin.display(description=_("autor"))
    def who(self, obj: HandoffMessage) -> str:
        if obj.role != HandoffMessage.Role.STAFF:
            return "—"
        return obj.author_name or (obj.author.get_username() if obj.author else "—")

    @admin.display(description=_("texto"))
    def text_display(self, obj: HandoffMessage) -> SafeString:
        # Escaped, WhatsApp formatting rendered, CPFs masked.
        return whatsapp_html(obj.text)

    @admin.display(description=_("envio"))
    def delivery(self, obj: HandoffMessage) -> str:
        return obj.outbound.get_status_display() if obj.outbound is not None else "—"


@admin.register(Handoff)
class HandoffAdmin(ReadOnly, admin.ModelAdmin):
    list_display = ["id", "conversation_link", "status", "reason", "opened_at", "assigned_to", "closed_at", "closed_reason"]
    list_display_links = ["id"]
    list_filter = ["status", "reason", "assigned_to", "closed_reason", "opened_at"]
    search_fields = ["conversation__conversation_id", "conversation__push_name"]
    date_hierarchy = "opened_at"
    list_select_related = ["conversation", "assigned_to"]
    fields = [
        "inbox_link", "conversation", "status", "reason", "opened_at", "step_at_open", "assigned_to",
        "first_staff_reply_at", "last_staff_at", "last_participant_at", "last_notice_at", "notified_at",
        "closed_at", "closed_reason", "closed_by",
    ]
    readonly_fields = fields
    inlines = [HandoffMessageInline]

    @admin.display(description=_("conversa"), ordering="conversation__conversation_id")
    def conversation_link(self, obj: Handoff) -> SafeString:
        label = obj.conversation.push_name or obj.conversation.conversation_id
        return format_html('<a href="{}">{}</a>', reverse("admin-inbox-conversation", args=[obj.conversation_id]), label)

    @admin.display(description=_("caixa de atendimento"))
    def inbox_link(self, obj: Handoff) -> SafeString:
        return format_html(
            '<a href="{}">{}</a>',
            reverse("admin-inbox-conversation", args=[obj.conversation_id]),
            _("Abrir a conversa na caixa de atendimento (responder, assumir, devolver ao robô)"),
        )
