"""The organizers' back-office for paid registration (pt-BR): charges and the review queue.

Nothing here writes a payment or a review directly: the actions and buttons
call ``payments.services`` (which decide, race-safe, and record the
registration's history), and the admin adds its own LogEntry with the reason.
Nobody adds or deletes a charge or a review through the admin.

- Charges: read-only; "Marcar como pago", "Estornar" and "Cancelar cobrança"
  ask for a reason on a confirmation page first, for holders of
  ``payments.manage_payment``.
- The review queue opens on what awaits a decision; each file is shown
  inline (images) or linked (PDF), served by ``payments.views.review_file``;
  approving and rejecting (with a reason the participant receives) need
  ``payments.review_submission``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from congress.errors import CongressError
from payments import services
from payments.models import Payment, Review
from payments.tickets import format_brl
from payments.views import is_image, review_file
from registrations.models import Participant
from registrations.validators import fold

MANAGE_PAYMENT = "payments.manage_payment"
REVIEW_SUBMISSION = "payments.review_submission"
REASON_MAX = 500


def local(moment) -> str:
    return timezone.localtime(moment).strftime("%d/%m/%Y %H:%M") if moment else "—"


def participant_link(participant) -> SafeString | str:
    if participant is None:
        return "—"
    url = reverse("admin:registrations_participant_change", args=[participant.pk])
    return format_html('<a href="{}">{}</a>', url, participant.full_name or f"#{participant.pk}")


# The badge colours of the participant list (same names, same meaning).
_PAYMENT_BADGES = {
    Payment.Status.PENDING: "p-wait",
    Payment.Status.PAID: "p-ok",
    Payment.Status.EXPIRED: "p-bad",
    Payment.Status.REFUNDED: "p-off",
    Payment.Status.CANCELLED: "p-off",
}
_REVIEW_BADGES = {
    Review.Status.PENDING: "p-wait",
    Review.Status.APPROVED: "p-ok",
    Review.Status.REJECTED: "p-bad",
    Review.Status.SUPERSEDED: "p-off",
}


# --------------------------------------------------------------------------
# Charges
# --------------------------------------------------------------------------


class OverdueFilter(admin.SimpleListFilter):
    """Charges still open after their due time (the dashboard's "pagamentos vencidos" links here)."""

    title = _("vencimento")
    parameter_name = "overdue"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("1", _("vencidos e ainda em aberto"))]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Payment]) -> QuerySet[Payment]:
        if self.value() != "1":
            return queryset
        return queryset.filter(status=Payment.Status.PENDING, due_at__lt=timezone.now())


@dataclass(frozen=True)
class ChargeAction:
    """One of the charge actions: who it applies to, the service it calls and what it says."""

    name: str
    service: str  # the name of the function in payments.services
    eligible: frozenset[str]
    title: Any
    explanation: Any
    button: Any
    done: tuple[str, str]  # ngettext singular / plural, with %(n)d
    log: Any  # the LogEntry message, with %(reason)s


CHARGE_ACTIONS = {
    action.name: action
    for action in (
        ChargeAction(
            name="mark_paid",
            service="payment_mark_paid",
            eligible=frozenset({Payment.Status.PENDING, Payment.Status.EXPIRED}),
            title=_("Marcar como pago?"),
            explanation=_(
                "Use quando o dinheiro chegou por fora do sistema (Pix conferido no extrato, pagamento na secretaria). "
                "A inscrição fica confirmada e o participante recebe a confirmação no WhatsApp e por e-mail."
            ),
            button=_("Sim, marcar como pago"),
            done=("%(n)d cobrança marcada como paga.", "%(n)d cobranças marcadas como pagas."),
            log=_("Marcada como paga no admin. Motivo: %(reason)s"),
        ),
        ChargeAction(
            name="refund",
            service="payment_refund",
            eligible=frozenset({Payment.Status.PAID}),
            title=_("Estornar pagamento?"),
            explanation=_(
                "Registre aqui um estorno já feito no banco ou no PSP (o sistema não devolve o dinheiro). "
                "A inscrição é cancelada e a vaga vai para a lista de espera."
            ),
            button=_("Sim, registrar o estorno"),
            done=("%(n)d pagamento estornado.", "%(n)d pagamentos estornados."),
            log=_("Estornado no admin. Motivo: %(reason)s"),
        ),
        ChargeAction(
            name="cancel_charge",
            service="payment_cancel",
            eligible=frozenset({Payment.Status.PENDING}),
            title=_("Cancelar cobrança?"),
            explanation=_("A cobrança deixa de valer, a inscrição é cancelada e a vaga é liberada."),
            button=_("Sim, cancelar a cobrança"),
            done=("%(n)d cobrança cancelada.", "%(n)d cobranças canceladas."),
            log=_("Cobrança cancelada no admin. Motivo: %(reason)s"),
        ),
    )
}


@admin.register(Payment)
class PaymentAdmin(admin.ModelAdmin):
    """Charges, read-only; their state changes only through the actions (services)."""

    list_display = ("txid", "participant_name", "code", "amount_brl", "status_badge", "mode", "due", "paid")
    list_filter = ("status", "mode", OverdueFilter, ("participant__ticket", admin.RelatedOnlyFieldListFilter))
    search_fields = ("txid", "participant__code", "participant__search_text")
    search_help_text = _("Busque pelo código de inscrição (CBAS-…), pelo txid ou pelo nome do participante.")
    list_select_related = ("participant",)
    list_per_page = 50
    date_hierarchy = "created_at"
    actions = ("mark_paid", "refund", "cancel_charge")
    fields = (
        "participant_link",
        "code",
        "txid",
        "mode",
        "amount_brl",
        "status",
        "due_at",
        "paid_at",
        "end_to_end_id",
        "confirmed_by",
        "reason",
        "reminder_sent_at",
        "brcode",
        "created_at",
        "updated_at",
    )
    readonly_fields = fields

    # --- permissions: view only; the actions are the only way to change a charge
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Payment | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Payment | None = None) -> bool:
        return False

    def has_manage_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm(MANAGE_PAYMENT)

    def get_search_results(self, request: HttpRequest, queryset: QuerySet[Payment], search_term: str):
        # search_text is folded (no accents, lower case): fold what was typed the same way.
        return super().get_search_results(request, queryset, fold(search_term))

    # --- columns
    @admin.display(description=_("participante"), ordering="participant__full_name")
    def participant_name(self, obj: Payment) -> str:
        return obj.participant.full_name

    @admin.display(description=_("participante"))
    def participant_link(self, obj: Payment) -> SafeString | str:
        return participant_link(obj.participant)

    @admin.display(description=_("código"), ordering="participant__code")
    def code(self, obj: Payment) -> str:
        return obj.participant.code or "—"

    @admin.display(description=_("valor"), ordering="amount")
    def amount_brl(self, obj: Payment) -> str:
        return format_brl(obj.amount)

    @admin.display(description=_("situação"), ordering="status")
    def status_badge(self, obj: Payment) -> SafeString:
        return format_html(
            '<span class="p-badge {}">{}</span>', _PAYMENT_BADGES.get(obj.status, "p-off"), obj.get_status_display()
        )

    @admin.display(description=_("vence em"), ordering="due_at")
    def due(self, obj: Payment) -> str:
        return local(obj.due_at)

    @admin.display(description=_("pago em"), ordering="paid_at")
    def paid(self, obj: Payment) -> str:
        return local(obj.paid_at)

    # --- actions: a confirmation page with the reason, then the service
    @admin.action(description=_("Marcar como pago"), permissions=["manage"])
    def mark_paid(self, request: HttpRequest, queryset: QuerySet[Payment]) -> HttpResponse | None:
        return self._charge_action(request, queryset, CHARGE_ACTIONS["mark_paid"])

    @admin.action(description=_("Estornar"), permissions=["manage"])
    def refund(self, request: HttpRequest, queryset: QuerySet[Payment]) -> HttpResponse | None:
        return self._charge_action(request, queryset, CHARGE_ACTIONS["refund"])

    @admin.action(description=_("Cancelar cobrança"), permissions=["manage"])
    def cancel_charge(self, request: HttpRequest, queryset: QuerySet[Payment]) -> HttpResponse | None:
        return self._charge_action(request, queryset, CHARGE_ACTIONS["cancel_charge"])

    def _charge_action(
        self, request: HttpRequest, queryset: QuerySet[Payment], action: ChargeAction
    ) -> HttpResponse | None:
        payments = list(queryset.select_related("participant").order_by("created_at", "pk"))
        eligible = [p for p in payments if p.status in action.eligible]
        if not eligible:
            self.message_user(
                request,
                gettext(
                    "Nada mudou: nenhuma das cobranças selecionadas está em uma situação em que “%(action)s” se aplica."
                )
                % {"action": self.get_actions(request)[action.name][2]},
                messages.WARNING,
            )
            return None
        reason = services.clean_reason(request.POST.get("reason", ""))[:REASON_MAX]
        if request.POST.get("confirm") != "yes" or not reason:
            return self._confirmation_page(
                request,
                action,
                eligible=eligible,
                skipped=[p for p in payments if p not in eligible],
                error=request.POST.get("confirm") == "yes",
                reason=reason,
            )
        service: Callable[..., bool] = getattr(services, action.service)
        actor = request.user.get_username()
        changed = 0
        failures: list[str] = []
        for payment in eligible:
            try:
                done = service(payment, actor=actor, reason=reason)
            except CongressError as exc:
                failures.append(f"{payment.participant.code or payment.txid}: {exc.message or exc}")
                continue
            if done:
                changed += 1
                self.log_change(request, payment, str(action.log) % {"reason": reason})
        skipped = len(payments) - changed - len(failures)
        if changed:
            self.message_user(
                request, ngettext(action.done[0], action.done[1], changed) % {"n": changed}, messages.SUCCESS
            )
        if skipped:
            self.message_user(
                request,
                ngettext(
                    "%(n)d cobrança ignorada: a situação dela não permite esta ação (ou já tinha mudado).",
                    "%(n)d cobranças ignoradas: a situação delas não permite esta ação (ou já tinha mudado).",
                    skipped,
                )
                % {"n": skipped},
                messages.WARNING,
            )
        for failure in failures:
            self.message_user(
                request, gettext("Não foi possível concluir: %(error)s") % {"error": failure}, messages.ERROR
            )
        return None

    def _confirmation_page(
        self,
        request: HttpRequest,
        action: ChargeAction,
        *,
        eligible: list[Payment],
        skipped: list[Payment],
        error: bool,
        reason: str,
    ) -> TemplateResponse:
        """The "are you sure?" page, like Django's delete confirmation: the
        charges that will change, those that will not, and a reason to give;
        it posts the same action back with ``confirm=yes``."""
        context = {
            **self.admin_site.each_context(request),
            "title": action.title,
            "subtitle": None,
            "opts": self.model._meta,
            "action": action,
            "eligible": [(p, format_brl(p.amount)) for p in eligible],
            "skipped": [(p, format_brl(p.amount)) for p in skipped],
            "error": error,
            "reason": reason,
            "reason_max": REASON_MAX,
            "action_name": action.name,
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
            "cancel_url": request.get_full_path(),
            "media": self.media,
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, "admin/payments/payment/action_confirmation.html", context)


# --------------------------------------------------------------------------
# The review queue
# --------------------------------------------------------------------------


class ReviewStatusFilter(admin.SimpleListFilter):
    """The queue opens on what awaits a decision; "Todos" shows every review."""

    title = _("situação")
    parameter_name = "status"
    ALL = "all"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        return [*Review.Status.choices, (self.ALL, _("Todos"))]

    def value(self) -> str:
        return super().value() or Review.Status.PENDING

    def queryset(self, request: HttpRequest, queryset: QuerySet[Review]) -> QuerySet[Review]:
        value = self.value()
        if value == self.ALL:
            return queryset
        return queryset.filter(status=value) if value in Review.Status.values else queryset.none()

    def choices(self, changelist: Any):
        # No "Todos" without a value: an empty value is the default (pending).
        for lookup, title in self.lookup_choices:
            yield {
                "selected": self.value() == str(lookup),
                "query_string": changelist.get_query_string({self.parameter_name: lookup}),
                "display": title,
            }


def file_cell(review: Review, *, large: bool = False) -> SafeString | str:
    """The file inline: an image as an image, anything else as a link; erased files say so."""
    if review.content is None:
        return gettext("arquivo apagado (LGPD)")
    url = reverse("admin:payments_review_file", args=[review.pk])
    name = review.filename or gettext("arquivo")
    if is_image(review):
        size = "max-width:100%;max-height:70vh" if large else "max-width:220px;max-height:160px"
        return format_html(
            '<a href="{}" target="_blank" rel="noopener"><img src="{}" alt="{}" style="{};border:1px solid var(--hairline-color)"></a>',
            url,
            url,
            name,
            size,
        )
    label = (
        gettext("Abrir o PDF")
        if review.mimetype.split(";")[0].strip().lower() == "application/pdf"
        else gettext("Baixar")
    )
    return format_html(
        '<a href="{}" target="_blank" rel="noopener" class="button">{}</a> <span class="p-muted">{} ({} KB)</span>',
        url,
        label,
        name,
        max(1, review.size // 1024),
    )


def amount_due(review: Review) -> str:
    if review.payment is not None:
        return format_brl(review.payment.amount)
    return format_brl(review.participant.amount) if review.participant.amount else "—"


@admin.register(Review)
class ReviewAdmin(admin.ModelAdmin):
    """Receipts and category proofs to check; the decision goes through the change page's buttons."""

    list_display = ("created", "kind", "participant_name", "code", "ticket", "amount", "file", "status_badge")
    list_display_links = ("created", "kind")
    list_filter = (ReviewStatusFilter, "kind")
    search_fields = ("participant__code", "participant__search_text")
    search_help_text = _("Busque pelo código de inscrição (CBAS-…) ou pelo nome do participante.")
    list_select_related = ("participant", "participant__ticket", "payment")
    list_per_page = 25
    fields = (
        "kind",
        "status",
        "participant_link",
        "code",
        "ticket",
        "amount",
        "payment_link",
        "filename",
        "mimetype",
        "size",
        "sha256",
        "created_at",
        "reviewed_by",
        "reviewed_at",
        "reason",
    )
    readonly_fields = fields
    change_form_template = "admin/payments/review/change_form.html"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Review | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Review | None = None) -> bool:
        return False

    def has_review_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm(REVIEW_SUBMISSION)

    def get_search_results(self, request: HttpRequest, queryset: QuerySet[Review], search_term: str):
        return super().get_search_results(request, queryset, fold(search_term))

    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [
            # cacheable: the view sets its own Cache-Control (private, no-store).
            path("<path:object_id>/file/", wrap(review_file, cacheable=True), name="payments_review_file"),
            path("<path:object_id>/approve/", wrap(self.approve_view), name="payments_review_approve"),
            path("<path:object_id>/reject/", wrap(self.reject_view), name="payments_review_reject"),
            *super().get_urls(),
        ]

    # --- columns
    @admin.display(description=_("recebido em"), ordering="created_at")
    def created(self, obj: Review) -> str:
        return local(obj.created_at)

    @admin.display(description=_("participante"), ordering="participant__full_name")
    def participant_name(self, obj: Review) -> str:
        return obj.participant.full_name

    @admin.display(description=_("participante"))
    def participant_link(self, obj: Review) -> SafeString | str:
        return participant_link(obj.participant)

    @admin.display(description=_("código"), ordering="participant__code")
    def code(self, obj: Review) -> str:
        return obj.participant.code or "—"

    @admin.display(description=_("categoria"))
    def ticket(self, obj: Review) -> str:
        ticket = obj.participant.ticket
        return str(ticket) if ticket is not None else "—"

    @admin.display(description=_("valor devido"))
    def amount(self, obj: Review) -> str:
        return amount_due(obj)

    @admin.display(description=_("pagamento"))
    def payment_link(self, obj: Review) -> SafeString | str:
        if obj.payment is None:
            return "—"
        url = reverse("admin:payments_payment_change", args=[obj.payment_id])
        return format_html('<a href="{}">{}</a> ({})', url, obj.payment.txid, obj.payment.get_status_display())

    @admin.display(description=_("arquivo"))
    def file(self, obj: Review) -> SafeString | str:
        return file_cell(obj)

    @admin.display(description=_("situação"), ordering="status")
    def status_badge(self, obj: Review) -> SafeString:
        return format_html(
            '<span class="p-badge {}">{}</span>', _REVIEW_BADGES.get(obj.status, "p-off"), obj.get_status_display()
        )

    def change_view(self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: dict | None = None):
        review = self.get_object(request, object_id)
        context = {**(extra_context or {})}
        if review is not None:
            context.update(
                review_file=file_cell(review, large=True),
                can_decide=review.status == Review.Status.PENDING and self.has_review_permission(request),
                approve_url=reverse("admin:payments_review_approve", args=[review.pk]),
                reject_url=reverse("admin:payments_review_reject", args=[review.pk]),
                reason_max=REASON_MAX,
            )
        return super().change_view(request, object_id, form_url, extra_context=context)

    # --- decisions
    def _decision_target(self, request: HttpRequest, object_id: str) -> Review:
        if not self.has_review_permission(request):
            raise PermissionDenied
        return get_object_or_404(Review.objects.select_related("participant"), pk=object_id)

    def _after_decision(self, review: Review) -> HttpResponseRedirect:
        # Back to the queue: the next file waiting is the next thing to do.
        return HttpResponseRedirect(reverse("admin:payments_review_changelist"))

    def approve_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        review = self._decision_target(request, object_id)
        try:
            done = services.review_approve(review, actor=request.user.get_username())
        except CongressError as exc:
            self.message_user(
                request, gettext("Não foi possível aprovar: %(error)s") % {"error": exc.message or exc}, messages.ERROR
            )
            return HttpResponseRedirect(reverse("admin:payments_review_change", args=[review.pk]))
        if not done:
            self.message_user(
                request, gettext("Nada mudou: este comprovante já tinha sido revisado."), messages.WARNING
            )
            return self._after_decision(review)
        self.log_change(request, review, gettext("Aprovado no admin."))
        review.participant.refresh_from_db()
        if review.kind == Review.Kind.RECEIPT and review.participant.status != Participant.Status.CONFIRMED:
            # Paid after the deadline with the seat taken: recorded as paid, to be refunded.
            self.message_user(
                request,
                gettext(
                    "Comprovante de %(name)s (%(code)s) aprovado, mas a inscrição não pôde ser confirmada (sem vaga "
                    "ou não está mais aguardando pagamento). Veja o pagamento: pode ser preciso estornar."
                ) % {"name": review.participant.full_name, "code": review.participant.code or "—"},
                messages.WARNING,
            )
            return self._after_decision(review)
        if review.kind == Review.Kind.RECEIPT:
            text = gettext(
                "Comprovante de pagamento de %(name)s (%(code)s) aprovado: inscrição confirmada e participante avisado."
            )
        else:
            text = gettext("Comprovante de categoria de %(name)s (%(code)s) aprovado: participante avisado.")
        self.message_user(
            request,
            text % {"name": review.participant.full_name, "code": review.participant.code or "—"},
            messages.SUCCESS,
        )
        return self._after_decision(review)

    def reject_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        review = self._decision_target(request, object_id)
        reason = services.clean_reason(request.POST.get("reason", ""))[:REASON_MAX]
        if not reason:
            self.message_user(
                request,
                gettext("Escreva o motivo da recusa: o participante recebe esse texto no WhatsApp."),
                messages.ERROR,
            )
            return HttpResponseRedirect(reverse("admin:payments_review_change", args=[review.pk]))
        try:
            done = services.review_reject(review, actor=request.user.get_username(), reason=reason)
        except CongressError as exc:
            self.message_user(
                request, gettext("Não foi possível recusar: %(error)s") % {"error": exc.message or exc}, messages.ERROR
            )
            return HttpResponseRedirect(reverse("admin:payments_review_change", args=[review.pk]))
        if not done:
            self.message_user(
                request, gettext("Nada mudou: este comprovante já tinha sido revisado."), messages.WARNING
            )
            return self._after_decision(review)
        self.log_change(request, review, gettext("Recusado no admin. Motivo: %(reason)s") % {"reason": reason})
        self.message_user(
            request,
            gettext("Comprovante de %(name)s (%(code)s) recusado; o participante recebeu o motivo.")
            % {"name": review.participant.full_name, "code": review.participant.code or "—"},
            messages.SUCCESS,
        )
        return self._after_decision(review)


# --------------------------------------------------------------------------
# On the participant's page: their charges and files, read-only
# --------------------------------------------------------------------------


class _ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class PaymentInline(_ReadOnlyInline):
    model = Payment
    fields = ("txid", "mode", "amount_brl", "status", "due", "paid", "reason")
    readonly_fields = fields
    ordering = ("-created_at",)
    verbose_name_plural = _("Pagamentos (somente leitura)")

    @admin.display(description=_("valor"))
    def amount_brl(self, obj: Payment) -> str:
        return format_brl(obj.amount)

    @admin.display(description=_("vence em"))
    def due(self, obj: Payment) -> str:
        return local(obj.due_at)

    @admin.display(description=_("pago em"))
    def paid(self, obj: Payment) -> str:
        return local(obj.paid_at)


class ReviewInline(_ReadOnlyInline):
    model = Review
    fk_name = "participant"
    fields = ("kind", "status", "file", "received", "reviewed_by", "reason")
    readonly_fields = fields
    ordering = ("-created_at",)
    verbose_name_plural = _("Comprovantes enviados (somente leitura)")

    @admin.display(description=_("arquivo"))
    def file(self, obj: Review) -> SafeString | str:
        return file_cell(obj)

    @admin.display(description=_("recebido em"))
    def received(self, obj: Review) -> str:
        return local(obj.created_at)
