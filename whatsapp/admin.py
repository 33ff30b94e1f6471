"""Back-office for the WhatsApp message log: what came in, what went out and
through which channel, a chat's messages in order, the two repair actions
("reprocess" a failed message, "retry" a failed or held reply), and the
Cloud API's message templates (the only thing sent outside its 24-hour
window)."""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import Max
from django.http import HttpRequest
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.text import Truncator
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from registrations.audit import admin_action_record
from whatsapp.markup import mask_cpfs, whatsapp_html
from whatsapp.models import InboundMessage, MessageEvent, MessageTemplate, OutboundMessage
from whatsapp.services import inbound_reprocess, outbound_retry


class ChatFilter(admin.SimpleListFilter):
    """Filter by conversation: the most recent chats are listed; any chat
    works through the link in the "conversa" column (``?chat=<id>``)."""

    title = _("conversa")
    parameter_name = "chat"

    def lookups(self, request, model_admin):
        recent = (
            model_admin.model.objects.values("chat_id").annotate(last=Max("id")).order_by("-last").values_list("chat_id", flat=True)[:15]
        )
        chats = list(recent)
        if self.value() and self.value() not in chats:
            chats.insert(0, self.value())
        return [(chat, chat) for chat in chats]

    def queryset(self, request, queryset):
        if self.value():
            return queryset.filter(chat_id=self.value())
        return queryset


def _together_link(pk: int):
    """"respondida junto com #N": the message of the burst that carries the reply."""
    url = reverse("admin:whatsapp_inboundmessage_change", args=[pk])
    return format_html('{} <a href="{}">#{}</a>', _("respondida junto com"), url, pk)


def _chat_link(chat_id: str):
    url = reverse("admin:whatsapp_chat_transcript", args=[chat_id])
    return format_html('<a href="{}" title="{}">{}</a>', url, _("ver a conversa em ordem"), chat_id)


def _bulk_report(model_admin: admin.ModelAdmin, request: HttpRequest, action: str, count: int, text: str) -> None:
    """After a repair action: audit it and tell the organizer how many rows it took (a warning for none)."""
    admin_action_record(request=request, action=action, row_count=count)
    model_admin.message_user(request, text % {"count": count}, messages.SUCCESS if count else messages.WARNING)


class ReadOnlyMixin:
    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


class MessageEventInline(ReadOnlyMixin, admin.TabularInline):
    model = MessageEvent
    fields = ["created_at", "kind", "detail"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    fk_name = "inbound"


class OutboundEventInline(MessageEventInline):
    fk_name = "outbound"


class MessageTextMixin:
    """Message bodies as organizers read them: WhatsApp formatting rendered,
    CPFs masked (never the raw column on a detail page)."""

    @admin.display(description=_("texto"))
    def text_display(self, obj) -> str:
        return whatsapp_html(obj.text) if obj.text else "—"

    @admin.display(description=_("transcrição"))
    def transcript_display(self, obj) -> str:
        return whatsapp_html(obj.transcript) if obj.transcript else "—"


class ReplyInline(MessageTextMixin, ReadOnlyMixin, admin.TabularInline):
    model = OutboundMessage
    fields = ["kind", "channel", "text_display", "status", "attempts", "sent_at", "last_error"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True


@admin.register(InboundMessage)
class InboundMessageAdmin(MessageTextMixin, admin.ModelAdmin):
    list_display = ["created_at", "chat", "push_name", "preview", "channel", "status_display", "attempts"]
    list_display_links = ["created_at"]
    list_filter = ["status", "channel", "has_audio", ChatFilter, "created_at"]
    search_fields = ["chat_id", "message_id", "push_name", "number", "jid", "sender_alt"]
    date_hierarchy = "created_at"
    readonly_fields = [
        "message_id", "channel", "chat_id", "number", "jid", "sender_alt", "push_name", "text_display", "has_audio", "media_id",
        "mimetype", "attachment_display", "transcript_display", "sent_at", "status", "answered_together_display", "attempts", "last_error", "request_id",
        "created_at", "processed_at",
    ]
    fields = readonly_fields
    inlines = [ReplyInline, MessageEventInline]
    actions = ["reprocess"]
    list_per_page = 50

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def get_queryset(self, request: HttpRequest):
        # A voice note's or file's bytes are never shown here: not loaded either.
        return super().get_queryset(request).defer("audio", "attachment")

    @admin.display(description=_("conversa"), ordering="chat_id")
    def chat(self, obj: InboundMessage):
        return _chat_link(obj.chat_id)

    @admin.display(description=_("arquivo"))
    def attachment_display(self, obj: InboundMessage) -> str:
        """A photo or PDF the participant sent: its type and name. Its bytes
        are kept only until the worker handed it on (the review queue)."""
        if not obj.attachment_mimetype:
            return "—"
        name = f"{obj.attachment_name} " if obj.attachment_name else ""
        return f"📎 {name}({obj.attachment_mimetype})"

    @admin.display(description=_("situação"), ordering="status")
    def status_display(self, obj: InboundMessage):
        """The status, and for a message of a burst (WA_DEBOUNCE_MS) the one
        whose reply answered it."""
        if obj.answered_with_id is None:
            return obj.get_status_display()
        return format_html('{}<br><small>{}</small>', obj.get_status_display(), _together_link(obj.answered_with_id))

    @admin.display(description=_("respondida junto com"))
    def answered_together_display(self, obj: InboundMessage):
        if obj.answered_with_id is not None:
            return _together_link(obj.answered_with_id)
        together = list(obj.answered_together.order_by("id").values_list("pk", flat=True))
        if not together:
            return "—"
        links = format_html_join(", ", '<a href="{}">#{}</a>', (
            (reverse("admin:whatsapp_inboundmessage_change", args=[pk]), pk) for pk in together
        ))
        return format_html("{} {}", _("a resposta desta mensagem respondeu também"), links)

    @admin.display(description=_("mensagem"))
    def preview(self, obj: InboundMessage) -> str:
        if obj.has_audio and not obj.text:
            return "🎤 " + Truncator(mask_cpfs(obj.transcript or "")).chars(80)
        if obj.attachment_mimetype:
            return f"📎 {_('arquivo')} {Truncator(mask_cpfs(obj.text)).chars(80)}".rstrip()
        return Truncator(mask_cpfs(obj.text)).chars(80)

    @admin.action(description=_("Reprocessar as mensagens com falha selecionadas"), permissions=["change"])
    def reprocess(self, request: HttpRequest, queryset) -> None:
        count = inbound_reprocess(inbound_ids=list(queryset.values_list("pk", flat=True)), actor=request.user.get_username())
        _bulk_report(self, request, "inbound_reprocess", count, ngettext(
            "%(count)d mensagem voltou para a fila.", "%(count)d mensagens voltaram para a fila.", count
        ))

    def get_urls(self):
        urls = [
            path(
                "conversa/<path:chat_id>/",
                self.admin_site.admin_view(self.chat_transcript),
                name="whatsapp_chat_transcript",
            )
        ]
        return urls + super().get_urls()

    def chat_transcript(self, request: HttpRequest, chat_id: str) -> TemplateResponse:
        """One chat's messages and replies, in the order they happened."""
        from chatbot.models import ConversationState

        inbound = list(
            InboundMessage.objects.filter(chat_id=chat_id).defer("audio", "attachment").order_by("id")
            .prefetch_related("replies")[:500]
        )
        conversation = ConversationState.objects.filter(conversation_id=chat_id).prefetch_related("participants").first()
        context = {
            "conversation": conversation,
            "participants": list(conversation.participants.all()) if conversation else [],
            **self.admin_site.each_context(request),
            "title": _("Conversa %(chat)s") % {"chat": chat_id},
            "chat_id": chat_id,
            "messages_in_order": inbound,
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/whatsapp/chat_transcript.html", context)


@admin.register(OutboundMessage)
class OutboundMessageAdmin(MessageTextMixin, admin.ModelAdmin):
    list_display = ["created_at", "chat", "kind", "preview", "channel", "status", "problem", "attempts"]
    list_display_links = ["created_at"]
    list_filter = ["status", "channel", "kind", ChatFilter, "created_at"]
    search_fields = ["chat_id", "number", "jid", "inbound__message_id", "provider_message_id"]
    date_hierarchy = "created_at"
    readonly_fields = [
        "inbound", "kind", "channel", "chat_id", "number", "jid", "text_display", "status", "attempts", "last_error",
        "next_attempt_at", "provider_message_id", "request_id", "created_at", "sent_at",
    ]
    fields = readonly_fields
    inlines = [OutboundEventInline]
    actions = ["retry"]
    list_per_page = 50

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.display(description=_("conversa"), ordering="chat_id")
    def chat(self, obj: OutboundMessage):
        return _chat_link(obj.chat_id)

    @admin.display(description=_("texto"))
    def preview(self, obj: OutboundMessage) -> str:
        return Truncator(mask_cpfs(obj.text)).chars(80)

    @admin.display(description=_("motivo"))
    def problem(self, obj: OutboundMessage) -> str:
        """Why a reply failed or is held (the Graph API's error code and text)."""
        if obj.status not in (OutboundMessage.Status.FAILED, OutboundMessage.Status.HELD) and not obj.next_attempt_at:
            return ""
        return Truncator(obj.last_error).chars(120)

    @admin.action(
        description=_("Enviar de novo as respostas selecionadas (com falha, retidas ou aguardando)"), permissions=["change"]
    )
    def retry(self, request: HttpRequest, queryset) -> None:
        count = outbound_retry(outbound_ids=list(queryset.values_list("pk", flat=True)), actor=request.user.get_username())
        _bulk_report(self, request, "outbound_retry", count, ngettext(
            "%(count)d resposta voltou para a fila de envio.", "%(count)d respostas voltaram para a fila de envio.", count
        ))


@admin.register(MessageTemplate)
class MessageTemplateAdmin(admin.ModelAdmin):
    """Approved templates (created in Meta's WhatsApp Manager) the bot may
    use outside the Cloud API's 24-hour window; at most one active."""

    list_display = ["name", "language", "active", "updated_at"]
    list_filter = ["active", "language"]
    search_fields = ["name"]
    fields = ["name", "language", "body_parameters", "active"]

    def changelist_view(self, request: HttpRequest, extra_context=None):
        held = OutboundMessage.objects.filter(status=OutboundMessage.Status.HELD).count()
        if held:
            url = reverse("admin:whatsapp_outboundmessage_changelist") + "?status__exact=held"
            self.message_user(
                request,
                format_html(
                    '{} <a href="{}">{}</a>',
                    ngettext(
                        "%(count)d resposta aguarda um modelo ativo (fora da janela de 24 h).",
                        "%(count)d respostas aguardam um modelo ativo (fora da janela de 24 h).",
                        held,
                    ) % {"count": held},
                    url,
                    _("Ver e enviar de novo"),
                ),
                messages.WARNING,
            )
        return super().changelist_view(request, extra_context)


# --- Channel alerts (whatsapp/alerts.py): what stopped a WhatsApp channel ---

from whatsapp.alerts import alert_action, channel_alert_resolve  # noqa: E402 - appended section
from whatsapp.models import ChannelAlert  # noqa: E402 - appended section


class AlertStatusFilter(admin.SimpleListFilter):
    title = _("situação")
    parameter_name = "status"

    def lookups(self, request, model_admin):
        return [("open", _("Em aberto")), ("resolved", _("Resolvidos"))]

    def queryset(self, request, queryset):
        if self.value() in ("open", "resolved"):
            return queryset.filter(resolved_at__isnull=self.value() == "open")
        return queryset


@admin.register(ChannelAlert)
class ChannelAlertAdmin(admin.ModelAdmin):
    """Alerts a channel raised (the neonize gateway: logged out, banned,
    outdated, replaced, cannot connect; the Cloud API: token, permission or
    account problems), shown as a banner on every admin page while open.
    Organizers mark them resolved once they acted; a successful connect or
    send resolves those it proves over by itself."""

    list_display = ["kind", "channel", "created_at", "resolved_at", "detail"]
    list_filter = [AlertStatusFilter, "kind", "channel"]
    readonly_fields = ["kind", "channel", "detail", "what_to_do", "created_at", "resolved_at"]
    fields = readonly_fields
    actions = ["resolve"]
    list_per_page = 50

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.display(description=_("o que fazer"))
    def what_to_do(self, obj: ChannelAlert) -> str:
        return alert_action(obj.kind)

    @admin.action(description=_("Marcar como resolvido"), permissions=["change"])
    def resolve(self, request: HttpRequest, queryset) -> None:
        count = channel_alert_resolve(alert_ids=list(queryset.values_list("pk", flat=True)), actor=request.user.get_username())
        _bulk_report(self, request, "channel_alert_resolve", count, ngettext(
            "%(count)d alerta marcado como resolvido.", "%(count)d alertas marcados como resolvidos.", count
        ))
