"""The WhatsApp message log: what came in, what went out, and what happened.

PostgreSQL is the source of truth of the queued pipeline (DESIGN.md, "One
message, end to end"): a message accepted with 202 is a row here before the
gateway hears back, and every later step is a compare-and-swap on its status.
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class Channel(models.TextChoices):
    """How a message reached us and how its reply leaves (whatsapp/channels/).

    ``gateway`` is any gateway that POSTs to /whatsapp or calls
    ``message_accept`` in-process (the original Node gateway, our neonize
    gateway) and takes replies at ``GATEWAY_URL/send-text``; ``cloud`` is
    Meta's WhatsApp Cloud API (/whatsapp/cloud, Graph API ``/messages``).
    """

    GATEWAY = "gateway", _("Gateway (neonize / HTTP)")
    CLOUD = "cloud", _("WhatsApp Cloud API")


class InboundMessage(models.Model):
    """One message a participant sent, as a channel handed it to us."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Na fila")
        DONE = "done", _("Respondida")
        FAILED = "failed", _("Falhou")

    # WhatsApp's id; unique, so a gateway retry can never be processed twice.
    message_id = models.CharField(_("id da mensagem"), max_length=128, unique=True)
    # db_default too: the hot paths INSERT with SQL (services.py), and rows
    # written before channels existed came through the gateway.
    channel = models.CharField(
        _("canal"), max_length=16, choices=Channel.choices, default=Channel.GATEWAY, db_default=Channel.GATEWAY
    )
    # The conversation key: the phone number when known, else the chat JID
    # (same string as /chat's user_id, CONTRACT §3).
    chat_id = models.CharField(_("conversa"), max_length=128, db_index=True)
    number = models.CharField(_("número"), max_length=32, blank=True)
    jid = models.CharField(_("JID"), max_length=128, blank=True)
    push_name = models.CharField(_("nome no WhatsApp"), max_length=120, blank=True)
    text = models.TextField(_("texto"), blank=True)
    # Voice notes are kept only until transcribed (personal data).
    audio = models.BinaryField(_("áudio"), null=True, blank=True, editable=False)
    mimetype = models.CharField(_("tipo do áudio"), max_length=100, blank=True)
    has_audio = models.BooleanField(_("áudio"), default=False)
    # Cloud API voice notes arrive as a media id; the worker downloads the
    # bytes when it processes the message (media ids last days, their
    # download URLs minutes).
    media_id = models.CharField(_("id da mídia"), max_length=128, blank=True, default="", db_default="")
    transcript = models.TextField(_("transcrição"), blank=True)
    # A photo or PDF (a Pix receipt, a student card): kept only until the
    # worker hands it to the review queue (payments.Review), then cleared.
    # Cloud API media arrive as ``media_id`` and are downloaded by the worker.
    attachment = models.BinaryField(_("arquivo"), null=True, blank=True, editable=False)
    attachment_mimetype = models.CharField(_("tipo do arquivo"), max_length=100, blank=True, default="", db_default="")
    attachment_name = models.CharField(_("nome do arquivo"), max_length=200, blank=True, default="", db_default="")
    # The sender's other WhatsApp id: the phone-number JID when the sender
    # came as an @lid, or the @lid when it came as a phone number (neonize's
    # SenderAlt). The reply still goes to ``jid`` exactly as received.
    sender_alt = models.CharField(_("id alternativo do remetente"), max_length=128, blank=True, default="", db_default="")
    # Debounce (WA_DEBOUNCE_MS): a burst of quick messages is answered as one
    # turn; every message of the burst points at the one whose reply answered it.
    answered_with = models.ForeignKey(
        "self",
        verbose_name=_("respondida junto com"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="answered_together",
    )
    sent_at = models.DateTimeField(_("enviada em (WhatsApp)"), null=True, blank=True)
    status = models.CharField(_("situação"), max_length=16, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(_("tentativas"), default=0)
    last_error = models.TextField(_("último erro"), blank=True)
    request_id = models.CharField(_("id da requisição"), max_length=64, blank=True)
    created_at = models.DateTimeField(_("recebida em"), auto_now_add=True, db_index=True)
    processed_at = models.DateTimeField(_("processada em"), null=True, blank=True)

    class Meta:
        verbose_name = _("mensagem recebida")
        verbose_name_plural = _("mensagens recebidas")
        ordering = ["-id"]
        indexes = [
            # The drain reads "this chat's pending messages, oldest first";
            # the sweeper reads "pending messages older than N seconds".
            models.Index(fields=["chat_id", "id"], condition=models.Q(status="pending"), name="inbound_pending_by_chat"),
            models.Index(fields=["created_at"], condition=models.Q(status="pending"), name="inbound_pending_by_age"),
        ]

    def __str__(self) -> str:
        return self.message_id

    @property
    def content(self) -> str:
        """What the engine reads: the text, or the voice note's transcript."""
        return self.transcript if self.has_audio and not self.text else self.text


class OutboundMessage(models.Model):
    """Our reply to one inbound message, delivered through the channel the
    message came from (``GATEWAY_URL/send-text`` or the Cloud API)."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Aguardando envio")
        # Outside the Cloud API's 24-hour window only an approved template may
        # go out: without an active one the reply waits here, never dropped.
        HELD = "held", _("Aguardando modelo aprovado (fora da janela de 24 h)")
        SENT = "sent", _("Enviada")
        # Reported later by the Cloud API's status webhooks; only forward.
        DELIVERED = "delivered", _("Entregue")
        READ = "read", _("Lida")
        LOGGED = "logged", _("Não enviada (envio pelo WhatsApp desligado)")
        FAILED = "failed", _("Falhou")

    class Kind(models.TextChoices):
        REPLY = "reply", _("Resposta")
        APOLOGY = "apology", _("Aviso de falha")
        # Sent by a person (the inbox) or by the system on its own (a handoff
        # closed, an organizer's answer to a question): no inbound message.
        STAFF = "staff", _("Resposta da equipe")
        NOTICE = "notice", _("Aviso")
        ANSWER = "answer", _("Resposta da organização a uma pergunta")

    inbound = models.ForeignKey(
        InboundMessage, verbose_name=_("em resposta a"), on_delete=models.CASCADE, related_name="replies",
        null=True, blank=True,
    )
    kind = models.CharField(_("tipo"), max_length=16, choices=Kind.choices, default=Kind.REPLY)
    channel = models.CharField(
        _("canal"), max_length=16, choices=Channel.choices, default=Channel.GATEWAY, db_default=Channel.GATEWAY
    )
    chat_id = models.CharField(_("conversa"), max_length=128, db_index=True)
    number = models.CharField(_("número"), max_length=32, blank=True)
    jid = models.CharField(_("JID"), max_length=128, blank=True)
    text = models.TextField(_("texto"))
    # Choices the channel may render as reply buttons or a list (Cloud API):
    # {"kind": "buttons"|"list", "body": ..., "options": [{"id", "title", "description"}], ...};
    # null = plain text. Channels without interactive messages send ``text``.
    interactive = models.JSONField(_("menu interativo"), null=True, blank=True)
    # The id WhatsApp gave the sent message (the Cloud API's wamid): status
    # webhooks name the message by it.
    provider_message_id = models.CharField(
        _("id no WhatsApp"), max_length=128, blank=True, default="", db_default=""
    )
    status = models.CharField(_("situação"), max_length=16, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(_("tentativas"), default=0)
    last_error = models.TextField(_("último erro"), blank=True)
    next_attempt_at = models.DateTimeField(_("próxima tentativa"), null=True, blank=True)
    request_id = models.CharField(_("id da requisição"), max_length=64, blank=True)
    created_at = models.DateTimeField(_("criada em"), auto_now_add=True)
    sent_at = models.DateTimeField(_("enviada em"), null=True, blank=True)

    class Meta:
        verbose_name = _("mensagem enviada")
        verbose_name_plural = _("mensagens enviadas")
        ordering = ["-id"]
        constraints = [
            # One reply per inbound message (the engine's replies joined into
            # one WhatsApp message): a second insert for the same message is
            # impossible, whatever a stale worker does.
            models.UniqueConstraint(fields=["inbound", "kind"], name="outbound_one_per_inbound_and_kind"),
        ]
        indexes = [
            models.Index(fields=["chat_id", "id"], condition=models.Q(status="pending"), name="outbound_pending_by_chat"),
            models.Index(
                fields=["provider_message_id"], condition=~models.Q(provider_message_id=""), name="outbound_by_provider_id"
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} → {self.chat_id}"


class MessageEvent(models.Model):
    """What happened to a message and when: one small row per transition, so
    the admin answers "what happened" without reading logs."""

    class Kind(models.TextChoices):
        ACCEPTED = "accepted", _("Recebida")
        TRANSCRIBED = "transcribed", _("Áudio transcrito")
        TRANSCRIPTION_FAILED = "transcription_failed", _("Falha na transcrição")
        PROCESSED = "processed", _("Processada")
        RETRY = "retry", _("Nova tentativa agendada")
        FAILED = "failed", _("Falhou")
        REPROCESS = "reprocess", _("Reprocessamento pedido no admin")
        SENT = "sent", _("Entregue ao WhatsApp")
        LOGGED = "logged", _("Registrada sem envio (WhatsApp desligado)")
        SEND_RETRY = "send_retry", _("Envio será repetido")
        SEND_FAILED = "send_failed", _("Envio falhou")
        RESEND = "resend", _("Reenvio pedido no admin")
        HELD = "held", _("Retida: fora da janela de 24 h, sem modelo aprovado")
        RELEASED = "released", _("Liberada para envio")
        DELIVERED = "delivered", _("Entregue ao participante")
        READ = "read", _("Lida pelo participante")
        STATUS_FAILED = "status_failed", _("WhatsApp informou falha na entrega")

    inbound = models.ForeignKey(
        InboundMessage, verbose_name=_("mensagem recebida"), on_delete=models.CASCADE, null=True, blank=True, related_name="events"
    )
    outbound = models.ForeignKey(
        OutboundMessage, verbose_name=_("mensagem enviada"), on_delete=models.CASCADE, null=True, blank=True, related_name="events"
    )
    kind = models.CharField(_("tipo"), max_length=32, choices=Kind.choices)
    detail = models.CharField(_("detalhe"), max_length=500, blank=True)
    created_at = models.DateTimeField(_("quando"), auto_now_add=True)

    class Meta:
        verbose_name = _("evento de mensagem")
        verbose_name_plural = _("eventos de mensagens")
        ordering = ["id"]

    def __str__(self) -> str:
        return self.get_kind_display()


class MessageTemplate(models.Model):
    """An approved WhatsApp message template (Cloud API), the only thing that
    may be sent outside the 24-hour customer-service window.

    Templates are created and approved in Meta's WhatsApp Manager; this row
    only names one for the bot. Assumption (docs/whatsapp-cloud-api.md): the
    template's body has exactly ONE parameter, ``{{1}}``, which receives the
    reply's text, so any reply can go out through it.
    """

    name = models.CharField(
        _("nome"), max_length=512, help_text=_("Exatamente como aprovado no WhatsApp Manager, p.ex. aviso_inscricao.")
    )
    language = models.CharField(_("idioma"), max_length=16, default="pt_BR", help_text=_("Código do idioma do modelo, p.ex. pt_BR."))
    body_parameters = models.TextField(
        _("parâmetros do corpo"),
        blank=True,
        default="{{1}}: o texto da resposta",
        help_text=_("O que o corpo do modelo espera. O bot envia um único parâmetro, {{1}}, com o texto da resposta."),
    )
    active = models.BooleanField(
        _("ativo"), default=False, help_text=_("O modelo usado para mensagens fora da janela de 24 h (no máximo um ativo).")
    )
    created_at = models.DateTimeField(_("criado em"), auto_now_add=True)
    updated_at = models.DateTimeField(_("alterado em"), auto_now=True)

    class Meta:
        verbose_name = _("modelo de mensagem (WhatsApp Cloud API)")
        verbose_name_plural = _("modelos de mensagem (WhatsApp Cloud API)")
        ordering = ["-active", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["active"],
                condition=models.Q(active=True),
                name="message_template_one_active",
                violation_error_message=_("Já existe um modelo ativo: desative-o antes de ativar outro."),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.language})"


class ChannelAlert(models.Model):
    """Something that stops a WhatsApp channel and needs a person: the number
    was logged out or banned, the client is outdated, another device took the
    session; on the Cloud API, the token expired or the account was restricted.
    Shown as a banner on the admin dashboard until resolved."""

    class Kind(models.TextChoices):
        LOGGED_OUT = "logged_out", _("Número desconectado (sessão encerrada no celular)")
        TEMPORARY_BAN = "temporary_ban", _("Número bloqueado temporariamente pelo WhatsApp")
        CLIENT_OUTDATED = "client_outdated", _("Versão do cliente WhatsApp desatualizada")
        STREAM_REPLACED = "stream_replaced", _("Sessão aberta em outro lugar")
        CONNECT_FAILED = "connect_failed", _("Não foi possível conectar ao WhatsApp")
        CLOUD_TOKEN = "cloud_token", _("Token da WhatsApp Cloud API expirado ou revogado")
        CLOUD_PERMISSION = "cloud_permission", _("Token da WhatsApp Cloud API sem permissão")
        CLOUD_ACCOUNT = "cloud_account", _("Conta do WhatsApp Business bloqueada ou restrita")

    channel = models.CharField(_("canal"), max_length=16, choices=Channel.choices, default=Channel.GATEWAY)
    kind = models.CharField(_("tipo"), max_length=32, choices=Kind.choices)
    detail = models.CharField(_("detalhe"), max_length=500, blank=True)
    created_at = models.DateTimeField(_("quando"), auto_now_add=True)
    resolved_at = models.DateTimeField(_("resolvido em"), null=True, blank=True)

    class Meta:
        verbose_name = _("alerta do WhatsApp")
        verbose_name_plural = _("alertas do WhatsApp")
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["created_at"], condition=models.Q(resolved_at__isnull=True), name="channel_alert_open")]

    def __str__(self) -> str:
        return self.get_kind_display()
