"""Participants and their audit trail."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models.functions import Lower
from django.utils.translation import gettext_lazy as _

from registrations.validators import fold

# What the admin's free-text search looks through, folded into ``search_text``.
# Never the CPF or the phone: ``search_text`` must not reveal a CPF to someone
# who may only see it masked (CPF and phone are searched on their own columns).
SEARCHABLE_FIELDS = ("full_name", "email", "city", "district")


def participant_search_text(*, full_name: str = "", email: str | None = "", city: str = "", district: str = "") -> str:
    """The folded text the admin search matches (lower case, no accents): "José da Conceição" -> "jose da conceicao"."""
    return fold(" ".join(part for part in (full_name, email or "", city, district) if part))


class Participant(models.Model):
    class Status(models.TextChoices):
        PENDING_PAYMENT = "pending_payment", _("Aguardando pagamento")
        CONFIRMED = "confirmed", _("Confirmada")
        WAITLISTED = "waitlisted", _("Lista de espera")
        EXPIRED = "expired", _("Expirada")
        CANCELLED = "cancelled", _("Cancelada")

    class Proof(models.TextChoices):
        NOT_NEEDED = "", _("Não exigido")
        MISSING = "missing", _("Aguardando envio")
        PENDING = "pending", _("Em análise")
        APPROVED = "approved", _("Aprovado")
        REJECTED = "rejected", _("Recusado")

    class EmailStatus(models.TextChoices):
        PENDING = "pending", _("Pendente")
        SENT = "sent", _("Enviado")
        FAILED = "failed", _("Falhou")

    full_name = models.CharField(_("nome completo"), max_length=120)
    # Stored lower-cased by the services; the unique index on Lower(email)
    # makes the database refuse another case of the same address anyway.
    # Both are NULL only after anonymization (LGPD), so erased rows never collide.
    email = models.EmailField(_("e-mail"), max_length=254, null=True)
    cpf = models.CharField(_("CPF"), max_length=11, unique=True, null=True, help_text=_("11 dígitos, sem pontuação."))
    phone = models.CharField(_("telefone"), max_length=16, help_text=_("Formato E.164, por exemplo +5561999990000."))
    city = models.CharField(_("cidade"), max_length=80)
    city_ibge_code = models.PositiveIntegerField(_("código IBGE da cidade"), null=True, blank=True)
    uf = models.CharField(_("UF"), max_length=2, db_index=True)
    # A DF administrative region (Ceilândia, Taguatinga, ...) people give as
    # their city; IBGE lists only Brasília, which is what ``city`` holds.
    district = models.CharField(_("região / distrito"), max_length=80, blank=True, default="")
    profile = models.ForeignKey(
        "chatbot.Profile", verbose_name=_("perfil"), on_delete=models.PROTECT, related_name="participants"
    )
    status = models.CharField(_("situação"), max_length=16, choices=Status.choices, default=Status.CONFIRMED, db_index=True)
    # The registration code (CBAS-7F3K2): shown to the participant, in the
    # e-mail, the admin and the exports; the Pix txid is derived from it.
    code = models.CharField(_("nº de inscrição"), max_length=16, unique=True, null=True, blank=True, editable=False)
    ticket = models.ForeignKey(
        "chatbot.TicketCategory", verbose_name=_("categoria"), on_delete=models.PROTECT, null=True, blank=True,
        related_name="participants",
    )
    lot_name = models.CharField(_("lote"), max_length=60, blank=True, default="")
    amount = models.DecimalField(_("valor (R$)"), max_digits=9, decimal_places=2, default=0)
    payment_due_at = models.DateTimeField(_("pagar até"), null=True, blank=True)
    paid_at = models.DateTimeField(_("pago em"), null=True, blank=True)
    payment_reminder_at = models.DateTimeField(_("lembrete de pagamento enviado em"), null=True, blank=True)
    proof_status = models.CharField(
        _("comprovante de categoria"), max_length=16, choices=Proof.choices, blank=True, default=""
    )
    # Waitlist: the place in line is waitlisted_at; a freed seat is offered
    # until offer_expires_at (the seat is held for them meanwhile).
    waitlisted_at = models.DateTimeField(_("na lista de espera desde"), null=True, blank=True)
    offer_expires_at = models.DateTimeField(_("vaga oferecida até"), null=True, blank=True)
    consent_at = models.DateTimeField(_("consentimento em"))
    consent_version = models.CharField(_("versão do aviso de privacidade"), max_length=32)
    conversation = models.ForeignKey(
        "chatbot.ConversationState",
        verbose_name=_("conversa"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="participants",
    )
    confirmation_email_status = models.CharField(
        _("e-mail de confirmação"), max_length=16, choices=EmailStatus.choices, default=EmailStatus.PENDING
    )
    confirmation_email_sent_at = models.DateTimeField(_("e-mail enviado em"), null=True, blank=True)
    anonymized_at = models.DateTimeField(_("anonimizado em"), null=True, blank=True)
    # Kept by save() (and by the data migration and the LGPD erasure, which
    # write with update()): code that writes the searchable fields with
    # update() or bulk_create() must set it too, with participant_search_text().
    # PostgreSQL indexes it with a trigram GIN index (migration 0006), so a
    # LIKE '%term%' does not scan the table.
    search_text = models.TextField(_("texto de busca"), blank=True, default="", editable=False)
    created_at = models.DateTimeField(_("criado em"), auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(_("atualizado em"), auto_now=True)

    class Meta:
        verbose_name = _("participante")
        verbose_name_plural = _("participantes")
        ordering = ["-created_at"]
        # No "delete": nobody deletes a participant (cancel or erase instead),
        # so the permission does not exist to be granted by mistake.
        default_permissions = ("add", "change", "view")
        permissions = [
            ("export_participant", _("Pode exportar participantes")),
            ("view_full_cpf", _("Ver CPF completo")),
            ("erase_participant", _("Apagar dados pessoais (LGPD)")),
        ]
        constraints = [
            models.UniqueConstraint(Lower("email"), name="participant_email_ci_unique"),
            models.CheckConstraint(
                condition=models.Q(cpf__regex=r"^[0-9]{11}$"), name="participant_cpf_11_digits"
            ),
        ]

    def __str__(self) -> str:
        return self.full_name

    def save(self, *args, **kwargs) -> None:
        self.search_text = participant_search_text(
            full_name=self.full_name, email=self.email, city=self.city, district=self.district
        )
        update_fields = kwargs.get("update_fields")
        if update_fields is not None and set(update_fields) & set(SEARCHABLE_FIELDS):
            kwargs["update_fields"] = {*update_fields, "search_text"}
        super().save(*args, **kwargs)

    @property
    def cpf_formatted(self) -> str:
        c = self.cpf or ""
        return f"{c[:3]}.{c[3:6]}.{c[6:9]}-{c[9:]}" if len(c) == 11 else c

    @property
    def is_active(self) -> bool:
        """Whether the registration still holds its CPF and e-mail (not expired, not cancelled)."""
        return self.status in ACTIVE_STATUSES


# A registration that holds its CPF and e-mail, and can be seen and corrected
# by its owner; expired and cancelled ones can be registered again.
ACTIVE_STATUSES = frozenset(
    {Participant.Status.PENDING_PAYMENT, Participant.Status.CONFIRMED, Participant.Status.WAITLISTED}
)
# Statuses that hold a seat (a waitlisted registration holds one only while a
# freed seat is offered to it: offer_expires_at in the future).
SEAT_STATUSES = frozenset({Participant.Status.PENDING_PAYMENT, Participant.Status.CONFIRMED})


class RegistrationEvent(models.Model):
    """What happened to a registration and why: one small row per transition.

    Never holds a CPF in clear (the services mask it before writing).
    """

    class Kind(models.TextChoices):
        STEP = "step", _("Etapa da conversa")
        CONSENT_GIVEN = "consent_given", _("Consentimento dado")
        CONSENT_REFUSED = "consent_refused", _("Consentimento recusado")
        ABANDONED = "abandoned", _("Inscrição abandonada")
        CREATED = "created", _("Inscrição criada")
        REACTIVATED = "reactivated", _("Inscrição reativada")
        UPDATED = "updated", _("Dados corrigidos")
        CANCELLED = "cancelled", _("Inscrição cancelada")
        DUPLICATE_REFUSED = "duplicate_refused", _("Duplicidade recusada")
        EMAIL_SENT = "email_sent", _("E-mail enviado")
        EMAIL_FAILED = "email_failed", _("Falha no e-mail")
        EMAIL_RESEND = "email_resend", _("Reenvio de e-mail pedido")
        EXPORTED = "exported", _("Exportada")
        ANONYMIZED = "anonymized", _("Dados anonimizados")
        ADMIN_EDIT = "admin_edit", _("Editada no admin")
        PAYMENT_CREATED = "payment_created", _("Cobrança Pix criada")
        PAID = "paid", _("Pagamento confirmado")
        PAYMENT_EXPIRED = "payment_expired", _("Pagamento expirado")
        PAYMENT_REMINDER = "payment_reminder", _("Lembrete de pagamento")
        REFUNDED = "refunded", _("Pagamento estornado")
        WAITLISTED = "waitlisted", _("Entrou na lista de espera")
        SEAT_OFFERED = "seat_offered", _("Vaga oferecida (lista de espera)")
        SEAT_CLAIMED = "seat_claimed", _("Vaga aceita (lista de espera)")
        OFFER_EXPIRED = "offer_expired", _("Oferta de vaga expirada")
        REVIEW_SUBMITTED = "review_submitted", _("Comprovante enviado")
        REVIEW_APPROVED = "review_approved", _("Comprovante aprovado")
        REVIEW_REJECTED = "review_rejected", _("Comprovante recusado")
        TICKET_CHANGED = "ticket_changed", _("Categoria trocada")

    # PROTECT: the history outlives everything; a participant leaves by
    # cancellation or LGPD anonymization, never by a delete (not even from a shell).
    participant = models.ForeignKey(
        Participant, verbose_name=_("participante"), on_delete=models.PROTECT, null=True, blank=True, related_name="events"
    )
    conversation_id = models.CharField(_("conversa"), max_length=128, blank=True, db_index=True)
    kind = models.CharField(_("tipo"), max_length=32, choices=Kind.choices)
    step = models.CharField(_("etapa"), max_length=32, blank=True)
    detail = models.CharField(_("detalhe"), max_length=500, blank=True)
    actor = models.CharField(_("quem"), max_length=150, blank=True, help_text=_("participante, sistema ou usuário do admin"))
    created_at = models.DateTimeField(_("quando"), auto_now_add=True, db_index=True)

    class Meta:
        verbose_name = _("evento da inscrição")
        verbose_name_plural = _("histórico das inscrições")
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        # What happened, in words; no time: every page that shows an event
        # shows its (local) time in a column of its own.
        from registrations.audit import registration_event_summary

        return registration_event_summary(self)


class ExportRecord(models.Model):
    """Who exported or bulk-changed participants, when, how many rows, which filters."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True)
    actor = models.CharField(_("quem"), max_length=150)
    action = models.CharField(_("ação"), max_length=64)
    row_count = models.PositiveIntegerField(_("linhas"))
    # pt-BR words ("UF=GO, situação=Confirmada"); rows written before the
    # format column existed hold raw query strings (rendered by registrations.audit).
    filters = models.CharField(_("filtros"), max_length=1000, blank=True)
    format = models.CharField(_("formato"), max_length=8, blank=True)
    created_at = models.DateTimeField(_("quando"), auto_now_add=True)

    class Meta:
        verbose_name = _("registro de exportação")
        verbose_name_plural = _("registros de exportação e ações em lote")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        # "Exportou 3 participantes (filtros: UF=GO)", for titles and breadcrumbs.
        from registrations.audit import export_record_summary

        return export_record_summary(self)
