"""Conversation state and the event knowledge organizers edit in the admin."""

from __future__ import annotations

import datetime

from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from registrations.steps import RegistrationStep

# RegistrationStep lives in registrations.steps; it is imported here for the
# field's choices and re-exported for older imports.


class ConversationState(models.Model):
    """One conversation, keyed by the user id of /chat or the number of /whatsapp."""

    conversation_id = models.CharField(_("conversa"), max_length=128, unique=True)
    registration_step = models.CharField(
        _("etapa da inscrição"), max_length=32, choices=RegistrationStep.choices, default=RegistrationStep.IDLE
    )
    data = models.JSONField(_("dados coletados"), default=dict, blank=True)
    history = models.JSONField(_("histórico"), default=list, blank=True)
    turns = models.PositiveIntegerField(_("turnos"), default=0)
    version = models.PositiveIntegerField(_("versão"), default=0)
    push_name = models.CharField(_("nome no WhatsApp"), max_length=120, blank=True)
    # A person holds the conversation (an open ``inbox.Handoff``): the bot
    # stays silent. Set and cleared with the handoff row, in one transaction.
    handoff_open = models.BooleanField(_("com a equipe"), default=False, db_default=False)
    last_activity_at = models.DateTimeField(_("última atividade"), default=timezone.now, db_index=True)
    created_at = models.DateTimeField(_("criada em"), auto_now_add=True)

    class Meta:
        verbose_name = _("conversa")
        verbose_name_plural = _("conversas")
        ordering = ["-last_activity_at"]

    def __str__(self) -> str:
        return self.conversation_id


class Event(models.Model):
    """The congress. The bot uses the one marked active."""

    name = models.CharField(_("nome"), max_length=200)
    edition = models.CharField(_("edição"), max_length=80, blank=True)
    theme = models.CharField(_("tema"), max_length=300, blank=True)
    starts_on = models.DateField(_("início"))
    ends_on = models.DateField(_("término"))
    hours = models.CharField(_("horário"), max_length=200, blank=True, help_text=_("Ex.: das 8h às 18h"))
    venue = models.CharField(_("local"), max_length=200)
    address = models.CharField(_("endereço"), max_length=300)
    city = models.CharField(_("cidade"), max_length=80)
    uf = models.CharField(_("UF"), max_length=2)
    website = models.URLField(_("site"), blank=True)
    contact_email = models.EmailField(_("e-mail de contato"), blank=True)
    contact_whatsapp = models.CharField(_("WhatsApp de contato"), max_length=30, blank=True)
    assistant_whatsapp = models.CharField(
        _("WhatsApp do assistente"),
        max_length=30,
        blank=True,
        help_text=_(
            "Número, com DDD, que o assistente atende. A página pública mostra o botão "
            "“Falar no WhatsApp” e o QR code com este número."
        ),
    )
    description = models.TextField(_("descrição"), blank=True)
    service_weekdays = models.CharField(
        _("dias de atendimento"),
        max_length=20,
        blank=True,
        default="1,2,3,4,5",
        help_text=_("Dias em que a equipe responde pelo WhatsApp (1 = segunda … 7 = domingo)."),
    )
    service_starts_at = models.TimeField(
        _("atendimento começa às"), null=True, blank=True, default=datetime.time(8, 0),
        help_text=_("Vazio: o assistente não promete horário."),
    )
    service_ends_at = models.TimeField(_("atendimento termina às"), null=True, blank=True, default=datetime.time(18, 0))
    registration_open = models.BooleanField(_("inscrições abertas"), default=True)
    capacity = models.PositiveIntegerField(
        _("vagas no evento"), null=True, blank=True,
        help_text=_("Vazio: sem limite. Soma todas as categorias; inscrições aguardando pagamento ocupam vaga."),
    )
    privacy_notice = models.TextField(
        _("aviso de privacidade (resumo)"),
        blank=True,
        help_text=_("Texto curto mostrado antes de pedir dados pessoais. Vazio = texto padrão."),
    )
    privacy_notice_url = models.URLField(_("link do aviso de privacidade"), blank=True)
    privacy_notice_version = models.CharField(_("versão do aviso de privacidade"), max_length=32, default="2026-11")
    is_active = models.BooleanField(_("ativo"), default=True)
    updated_at = models.DateTimeField(_("atualizado em"), auto_now=True)

    class Meta:
        verbose_name = _("evento")
        verbose_name_plural = _("eventos")
        constraints = [
            models.UniqueConstraint(fields=["is_active"], condition=models.Q(is_active=True), name="one_active_event"),
        ]

    def __str__(self) -> str:
        return f"{self.name} {self.edition}".strip()

    def clean(self) -> None:
        super().clean()
        if self.service_weekdays and any(
            not part.strip().isdigit() or not 1 <= int(part) <= 7 for part in self.service_weekdays.split(",") if part.strip()
        ):
            raise ValidationError({"service_weekdays": _("Use números de 1 (segunda) a 7 (domingo), separados por vírgula.")})
        if (self.service_starts_at is None) != (self.service_ends_at is None):
            raise ValidationError({"service_ends_at": _("Preencha o início e o fim do atendimento, ou deixe os dois vazios.")})
        if self.service_starts_at is not None and self.service_ends_at <= self.service_starts_at:
            raise ValidationError({"service_ends_at": _("O atendimento deve terminar depois de começar.")})
        if self.assistant_whatsapp and not assistant_number_e164(self.assistant_whatsapp):
            raise ValidationError(
                {
                    "assistant_whatsapp": _(
                        "Número de WhatsApp inválido. Digite com DDD, por exemplo (62) 99602-2027."
                    )
                }
            )


def assistant_number_e164(number: str) -> str:
    """``"(62) 99602-2027"`` -> ``"+5562996022027"``; "" when it is not a valid Brazilian phone."""
    from congress.errors import InvalidValue
    from registrations.validators import normalize_phone

    try:
        return normalize_phone(number)
    except InvalidValue:
        return ""


class TicketCategory(models.Model):
    """A ticket category (Estudante, Profissional, ...): who may buy it, its lots and its seats.

    ``price`` is the price when no lot applies (no lots, or every lot past).
    The price a registration pays is the current lot's, computed by
    ``payments.tickets`` from the lots' dates and quantities; never edited
    by hand on a registration.
    """

    class Proof(models.TextChoices):
        NONE = "", _("Nenhum")
        STUDENT = "student", _("Comprovante de estudante")
        MEIA = "meia", _("Comprovante de meia-entrada")
        MEMBER = "member", _("Comprovante de associado")

    event = models.ForeignKey(Event, verbose_name=_("evento"), on_delete=models.CASCADE, related_name="tickets")
    name = models.CharField(_("categoria"), max_length=120)
    price = models.DecimalField(
        _("preço (R$)"), max_digits=9, decimal_places=2,
        help_text=_("Preço quando nenhum lote se aplica. 0 = gratuita (confirma na hora)."),
    )
    description = models.CharField(_("descrição"), max_length=300, blank=True)
    profiles = models.ManyToManyField(
        "Profile", verbose_name=_("perfis que podem escolher"), blank=True, related_name="tickets",
        help_text=_("Vazio: qualquer perfil."),
    )
    capacity = models.PositiveIntegerField(
        _("vagas"), null=True, blank=True,
        help_text=_("Vazio: sem limite. Inscrições aguardando pagamento também ocupam vaga."),
    )
    proof = models.CharField(_("comprovante exigido"), max_length=16, choices=Proof.choices, blank=True, default="")
    active = models.BooleanField(_("ativa"), default=True)
    order = models.PositiveSmallIntegerField(_("ordem"), default=0)

    class Meta:
        verbose_name = _("categoria de ingresso")
        verbose_name_plural = _("categorias de ingresso")
        ordering = ["order", "id"]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        super().clean()
        if self.price is not None and self.price < 0:
            raise ValidationError({"price": _("O preço não pode ser negativo.")})


class TicketLot(models.Model):
    """One price period of a category ("1º lote"): by dates and/or by quantity sold.

    The current lot is the first one (by order) whose dates include now and
    whose quantity is not sold out; none left = the category's own price.
    """

    category = models.ForeignKey(TicketCategory, verbose_name=_("categoria"), on_delete=models.CASCADE, related_name="lots")
    name = models.CharField(_("lote"), max_length=60, help_text=_("Ex.: 1º lote"))
    price = models.DecimalField(_("preço (R$)"), max_digits=9, decimal_places=2)
    starts_at = models.DateTimeField(_("início"), null=True, blank=True)
    ends_at = models.DateTimeField(_("fim"), null=True, blank=True)
    quantity = models.PositiveIntegerField(
        _("quantidade"), null=True, blank=True, help_text=_("Inscrições neste lote; vazio = só pelas datas.")
    )
    order = models.PositiveSmallIntegerField(_("ordem"), default=0)

    class Meta:
        verbose_name = _("lote")
        verbose_name_plural = _("lotes")
        ordering = ["order", "id"]

    def __str__(self) -> str:
        return f"{self.category} — {self.name}"

    def clean(self) -> None:
        super().clean()
        if self.price is not None and self.price < 0:
            raise ValidationError({"price": _("O preço não pode ser negativo.")})
        if self.starts_at and self.ends_at and self.ends_at <= self.starts_at:
            raise ValidationError({"ends_at": _("O lote deve terminar depois de começar.")})


class Profile(models.Model):
    """A participant profile offered at registration (Produtor rural, Estudante, ...)."""

    event = models.ForeignKey(Event, verbose_name=_("evento"), on_delete=models.CASCADE, related_name="profiles")
    name = models.CharField(_("perfil"), max_length=80)
    keywords = models.CharField(
        _("palavras-chave"), max_length=300, blank=True, help_text=_("Sinônimos separados por vírgula, ex.: agricultor, pecuarista")
    )
    order = models.PositiveSmallIntegerField(_("ordem"), default=0)
    active = models.BooleanField(_("ativo"), default=True)

    class Meta:
        verbose_name = _("perfil de participante")
        verbose_name_plural = _("perfis de participante")
        ordering = ["order", "id"]
        constraints = [models.UniqueConstraint(fields=["event", "name"], name="profile_unique_per_event")]

    def __str__(self) -> str:
        return self.name


class FAQEntry(models.Model):
    event = models.ForeignKey(Event, verbose_name=_("evento"), on_delete=models.CASCADE, related_name="faqs")
    question = models.CharField(_("pergunta"), max_length=300)
    answer = models.TextField(_("resposta"))
    keywords = models.CharField(_("palavras-chave"), max_length=300, blank=True)
    active = models.BooleanField(_("ativa"), default=True)
    order = models.PositiveSmallIntegerField(_("ordem"), default=0)
    updated_at = models.DateTimeField(_("atualizada em"), auto_now=True)

    class Meta:
        verbose_name = _("pergunta frequente")
        verbose_name_plural = _("perguntas frequentes")
        ordering = ["order", "id"]

    def __str__(self) -> str:
        return self.question


class ProgrammeSession(models.Model):
    event = models.ForeignKey(Event, verbose_name=_("evento"), on_delete=models.CASCADE, related_name="sessions")
    day = models.DateField(_("dia"))
    start_time = models.TimeField(_("início"))
    end_time = models.TimeField(_("término"), null=True, blank=True)
    room = models.CharField(_("sala"), max_length=120, blank=True)
    title = models.CharField(_("título"), max_length=300)
    speakers = models.CharField(_("palestrantes"), max_length=300, blank=True)
    description = models.TextField(_("descrição"), blank=True)

    class Meta:
        verbose_name = _("atividade da programação")
        verbose_name_plural = _("atividades da programação")
        ordering = ["day", "start_time", "room"]

    def __str__(self) -> str:
        return f"{self.day:%d/%m} {self.start_time:%H:%M} {self.title}"


class UnansweredQuestion(models.Model):
    """A question the bot could not answer confidently, for organizers to answer.

    ``question`` never holds personal data: e-mails, CPFs, phones and long
    numbers are replaced by placeholders before the row is written.
    """

    class Status(models.TextChoices):
        OPEN = "open", _("Aberta")
        ANSWERED = "answered", _("Respondida")
        DISMISSED = "dismissed", _("Descartada")

    class Reason(models.TextChoices):
        # Nothing in the knowledge fit: the participant was told it was forwarded.
        UNANSWERED = "unanswered", _("Sem resposta")
        # The bot replied with its best guess, marked as tentative: check it.
        LOW_CONFIDENCE = "low_confidence", _("Resposta incerta")

    conversation_id = models.CharField(_("conversa"), max_length=128, db_index=True)
    question = models.TextField(_("pergunta"))
    reason = models.CharField(
        _("motivo"), max_length=16, choices=Reason.choices, default=Reason.UNANSWERED, db_index=True
    )
    bot_reply = models.TextField(_("resposta dada pelo bot"), blank=True)
    status = models.CharField(_("situação"), max_length=16, choices=Status.choices, default=Status.OPEN, db_index=True)
    answer = models.TextField(_("resposta"), blank=True)
    faq = models.ForeignKey(FAQEntry, on_delete=models.SET_NULL, null=True, blank=True, verbose_name=_("FAQ criada"))
    # "The same question" as another one: answering that one answers this
    # one's conversation too.
    same_as = models.ForeignKey(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="same_questions",
        verbose_name=_("mesma pergunta que"),
    )
    answered_at = models.DateTimeField(_("respondida em"), null=True, blank=True)
    answered_by = models.CharField(_("respondida por"), max_length=150, blank=True)
    # When the organizers' answer was sent to this conversation's chat (once).
    answer_sent_at = models.DateTimeField(_("resposta enviada ao participante em"), null=True, blank=True)
    created_at = models.DateTimeField(_("recebida em"), auto_now_add=True)

    class Meta:
        verbose_name = _("pergunta sem resposta")
        verbose_name_plural = _("perguntas sem resposta")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.question[:80]
