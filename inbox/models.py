"""A person taking over a conversation from the bot (a handoff), and what was
said while they held it.

While a handoff is open the bot stays silent in that conversation
(``ConversationState.handoff_open``, kept in step with the open row in the
same transaction, so the engine reads it with the conversation and needs no
extra query per message).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class Handoff(models.Model):
    class Status(models.TextChoices):
        OPEN = "open", _("Aberto")
        CLOSED = "closed", _("Encerrado")

    class Reason(models.TextChoices):
        REQUEST = "request", _("Pedido do participante")
        COMPLAINT = "complaint", _("Reclamação")
        PHONE = "phone", _("Equipe respondeu pelo celular")
        STAFF = "staff", _("Equipe respondeu pelo admin")

    class Closed(models.TextChoices):
        PARTICIPANT = "participant", _("Participante voltou ao assistente")
        STAFF = "staff", _("Equipe devolveu ao assistente")
        IDLE = "idle", _("Sem atividade da equipe")
        ERASED = "erased", _("Dados apagados (LGPD)")

    conversation = models.ForeignKey(
        "chatbot.ConversationState", verbose_name=_("conversa"), on_delete=models.CASCADE, related_name="handoffs"
    )
    status = models.CharField(_("situação"), max_length=16, choices=Status.choices, default=Status.OPEN, db_index=True)
    reason = models.CharField(_("motivo"), max_length=16, choices=Reason.choices, default=Reason.REQUEST)
    opened_at = models.DateTimeField(_("aberto em"), db_index=True)
    # The registration step when it opened: the flow resumes from it.
    step_at_open = models.CharField(_("etapa ao abrir"), max_length=32, blank=True)
    assigned_to = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("atendente"), on_delete=models.SET_NULL, null=True, blank=True,
        related_name="+",
    )
    first_staff_reply_at = models.DateTimeField(_("primeira resposta da equipe"), null=True, blank=True)
    last_staff_at = models.DateTimeField(_("última atividade da equipe"), null=True, blank=True)
    last_participant_at = models.DateTimeField(_("última mensagem do participante"), null=True, blank=True)
    # The last time the participant was told a person answers here (the
    # opening notice, or "recebemos sua mensagem"): at most one per 30 minutes.
    last_notice_at = models.DateTimeField(_("último aviso ao participante"), null=True, blank=True)
    notified_at = models.DateTimeField(_("equipe avisada por e-mail em"), null=True, blank=True)
    closed_at = models.DateTimeField(_("encerrado em"), null=True, blank=True)
    closed_reason = models.CharField(_("como terminou"), max_length=16, choices=Closed.choices, blank=True)
    closed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("encerrado por"), on_delete=models.SET_NULL, null=True, blank=True,
        related_name="+",
    )

    class Meta:
        verbose_name = _("atendimento")
        verbose_name_plural = _("atendimentos")
        ordering = ["opened_at", "id"]
        permissions = [("answer_conversations", _("Pode atender conversas"))]
        constraints = [
            # One open handoff per conversation, whoever opens it.
            models.UniqueConstraint(
                fields=["conversation"], condition=models.Q(status="open"), name="handoff_one_open_per_conversation"
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.conversation_id}"


class HandoffMessage(models.Model):
    """One line of a handoff's transcript: what the participant wrote, what a
    person answered (and who), and what the assistant told the participant."""

    class Role(models.TextChoices):
        PARTICIPANT = "participant", _("Participante")
        STAFF = "staff", _("Equipe")
        BOT = "bot", _("Assistente")

    handoff = models.ForeignKey(Handoff, verbose_name=_("atendimento"), on_delete=models.CASCADE, related_name="messages")
    role = models.CharField(_("quem"), max_length=16, choices=Role.choices)
    text = models.TextField(_("texto"))
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("autor"), on_delete=models.SET_NULL, null=True, blank=True,
        related_name="+",
    )
    # Kept when the user is removed, and for replies typed on the phone.
    author_name = models.CharField(_("nome do autor"), max_length=150, blank=True)
    # How a staff line reached the participant (the outbox row), when it did.
    outbound = models.ForeignKey(
        "whatsapp.OutboundMessage", verbose_name=_("envio"), on_delete=models.SET_NULL, null=True, blank=True,
        related_name="+",
    )
    # The WhatsApp id of a line typed on the business phone (an echo), to
    # record each once.
    provider_message_id = models.CharField(_("id no WhatsApp"), max_length=128, blank=True, default="")
    created_at = models.DateTimeField(_("quando"), db_index=True)

    class Meta:
        verbose_name = _("mensagem do atendimento")
        verbose_name_plural = _("mensagens do atendimento")
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["provider_message_id"], condition=~models.Q(provider_message_id=""),
                name="handoff_message_one_per_provider_id",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_role_display()}: {self.text[:60]}"
