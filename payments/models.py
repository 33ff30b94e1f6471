"""Pix charges and the organizers' review queue (payment receipts, category proofs)."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class Payment(models.Model):
    """One Pix charge for one registration.

    Paid only when the provider says so: in API mode after ``GET /v2/cob/{txid}``
    answers CONCLUIDA with the amount due; in static mode when an organizer
    approves the receipt (or marks it paid by hand, audited).
    """

    class Mode(models.TextChoices):
        STATIC = "static", _("Chave Pix (comprovante revisado)")
        API = "api", _("API Pix do PSP (automático)")

    class Status(models.TextChoices):
        PENDING = "pending", _("Pendente")
        PAID = "paid", _("Pago")
        EXPIRED = "expired", _("Expirado")
        REFUNDED = "refunded", _("Estornado")
        CANCELLED = "cancelled", _("Cancelado")

    participant = models.ForeignKey(
        "registrations.Participant", verbose_name=_("participante"), on_delete=models.PROTECT, related_name="payments"
    )
    txid = models.CharField(_("txid"), max_length=35, unique=True)
    mode = models.CharField(_("modo"), max_length=8, choices=Mode.choices)
    amount = models.DecimalField(_("valor (R$)"), max_digits=9, decimal_places=2)
    status = models.CharField(_("situação"), max_length=16, choices=Status.choices, default=Status.PENDING, db_index=True)
    # The Pix "copia e cola" (BR Code) the participant pays with.
    brcode = models.TextField(_("Pix copia e cola"), blank=True)
    due_at = models.DateTimeField(_("vence em"), db_index=True)
    reminder_sent_at = models.DateTimeField(_("lembrete enviado em"), null=True, blank=True)
    paid_at = models.DateTimeField(_("pago em"), null=True, blank=True)
    # The Pix transfer that paid it (API mode): a webhook repeated with the
    # same endToEndId changes nothing.
    end_to_end_id = models.CharField(_("endToEndId"), max_length=64, unique=True, null=True, blank=True)
    confirmed_by = models.CharField(_("confirmado por"), max_length=150, blank=True)
    reason = models.CharField(_("motivo"), max_length=500, blank=True)
    created_at = models.DateTimeField(_("criado em"), auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(_("atualizado em"), auto_now=True)

    class Meta:
        verbose_name = _("pagamento")
        verbose_name_plural = _("pagamentos")
        ordering = ["-created_at"]
        default_permissions = ("change", "view")
        permissions = [("manage_payment", _("Pode marcar como pago, estornar e cancelar pagamentos"))]
        constraints = [
            # At most one open charge per registration.
            models.UniqueConstraint(
                fields=["participant"], condition=models.Q(status="pending"), name="payment_one_pending_per_participant"
            ),
            models.CheckConstraint(condition=models.Q(amount__gt=0), name="payment_amount_positive"),
        ]

    def __str__(self) -> str:
        return self.txid


class Review(models.Model):
    """A file a participant sent in the chat for the organizers to check:
    a payment receipt (static Pix) or a category proof (student card...)."""

    class Kind(models.TextChoices):
        RECEIPT = "receipt", _("Comprovante de pagamento")
        PROOF = "proof", _("Comprovante de categoria")

    class Status(models.TextChoices):
        PENDING = "pending", _("Aguardando revisão")
        APPROVED = "approved", _("Aprovado")
        REJECTED = "rejected", _("Recusado")
        SUPERSEDED = "superseded", _("Substituído por outro envio")

    participant = models.ForeignKey(
        "registrations.Participant", verbose_name=_("participante"), on_delete=models.PROTECT, related_name="reviews"
    )
    payment = models.ForeignKey(
        Payment, verbose_name=_("pagamento"), on_delete=models.PROTECT, null=True, blank=True, related_name="reviews"
    )
    kind = models.CharField(_("tipo"), max_length=16, choices=Kind.choices)
    status = models.CharField(_("situação"), max_length=16, choices=Status.choices, default=Status.PENDING, db_index=True)
    # The file itself, kept in the database (a receipt is a few hundred KB;
    # no shared volume needed between web and worker). Blanked by the LGPD erasure.
    content = models.BinaryField(_("arquivo"), null=True, blank=True, editable=False)
    mimetype = models.CharField(_("tipo do arquivo"), max_length=100)
    filename = models.CharField(_("nome do arquivo"), max_length=200, blank=True)
    size = models.PositiveIntegerField(_("tamanho (bytes)"), default=0)
    sha256 = models.CharField(_("SHA-256"), max_length=64, blank=True)
    reason = models.CharField(_("motivo da recusa"), max_length=500, blank=True)
    reviewed_by = models.CharField(_("revisado por"), max_length=150, blank=True)
    reviewed_at = models.DateTimeField(_("revisado em"), null=True, blank=True)
    created_at = models.DateTimeField(_("recebido em"), auto_now_add=True, db_index=True)

    class Meta:
        verbose_name = _("comprovante para revisão")
        verbose_name_plural = _("comprovantes para revisão")
        ordering = ["created_at"]
        default_permissions = ("change", "view")
        permissions = [("review_submission", _("Pode aprovar e recusar comprovantes"))]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} #{self.pk}"
