"""The WhatsApp message log: what came in, what went out, and what happened.

PostgreSQL is the source of truth of the queued pipeline (DESIGN.md, "One
message, end to end"): a message accepted with 202 is a row here before the
gateway hears back, and every later step is a compare-and-swap on its status.
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class InboundMessage(models.Model):
    """One message a participant sent, as the gateway handed it to us."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Na fila")
        DONE = "done", _("Respondida")
        FAILED = "failed", _("Falhou")

    # WhatsApp's id; unique, so a gateway retry can never be processed twice.
    message_id = models.CharField(_("id da mensagem"), max_length=128, unique=True)
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
    transcript = models.TextField(_("transcrição"), blank=True)
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
    """Our reply to one inbound message, delivered through the gateway (GATEWAY_URL/send-text)."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Aguardando envio")
        SENT = "sent", _("Enviada")
        LOGGED = "logged", _("Não enviada (envio pelo WhatsApp desligado)")
        FAILED = "failed", _("Falhou")

    class Kind(models.TextChoices):
        REPLY = "reply", _("Resposta")
        APOLOGY = "apology", _("Aviso de falha")

    inbound = models.ForeignKey(
        InboundMessage, verbose_name=_("em resposta a"), on_delete=models.CASCADE, related_name="replies"
    )
    kind = models.CharField(_("tipo"), max_length=16, choices=Kind.choices, default=Kind.REPLY)
    chat_id = models.CharField(_("conversa"), max_length=128, db_index=True)
    number = models.CharField(_("número"), max_length=32, blank=True)
    jid = models.CharField(_("JID"), max_length=128, blank=True)
    text = models.TextField(_("texto"))
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
