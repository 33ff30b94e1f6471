"""The organizers' landing dashboard: figures that each lead to the filtered
admin list (registrations today / in the last 7 days / in all, by status;
conversations waiting for the staff in the inbox, conversations stuck
mid-registration, open questions, failed deliveries, receipts awaiting review,
overdue charges), a card per ticket category (seats, waitlist, money) and
server-side SVG charts (registrations per day, the funnel by step,
participants by UF and by profile).

The paid-registration cards (awaiting payment, waitlist, expired) appear once
the event sells paid tickets or limits seats, or when such registrations
exist: a free event's dashboard stays as it was.

One aggregate query per figure group. A figure whose model the user may not
view is left out rather than shown without a link: the count is itself
information about rows they may not see.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from urllib.parse import urlencode

from django.contrib import admin
from django.contrib.admin.exceptions import NotRegistered
from django.contrib.auth.decorators import permission_required
from django.db.models import Count, Model, Q, QuerySet
from django.db.models.functions import TruncDate
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from chatbot.models import ConversationState, Event, TicketCategory, UnansweredQuestion
from inbox.services import open_count
from payments.dashboard import (
    EventSeats,
    TicketFigures,
    event_seats,
    format_brl,
    overdue_payments,
    pending_reviews,
    ticket_figures,
)
from payments.models import Payment, Review
from registrations.charts import Bar, column_chart, horizontal_bar_chart
from registrations.models import Participant, RegistrationEvent
from registrations.steps import FUNNEL_STEPS, IN_FLOW_STEPS
from whatsapp.models import OutboundMessage

# A conversation in the middle of the registration with no activity for this
# long is "stuck": someone should look at it (the admin's "stuck" filter on
# conversations uses the same definition, through stuck_conversations()).
STUCK_AFTER = dt.timedelta(hours=24)
CHART_DAYS = 30

CONFIRMED = Participant.Status.CONFIRMED
CANCELLED = Participant.Status.CANCELLED
PENDING_PAYMENT = Participant.Status.PENDING_PAYMENT
WAITLISTED = Participant.Status.WAITLISTED
EXPIRED = Participant.Status.EXPIRED


# --------------------------------------------------------------------------
# Queries
# --------------------------------------------------------------------------


def stuck_conversations(now: dt.datetime | None = None) -> QuerySet[ConversationState]:
    """Conversations at an in-flow registration step whose last activity is
    more than ``STUCK_AFTER`` (24 h) before ``now``."""
    now = now or timezone.now()
    return ConversationState.objects.filter(
        registration_step__in=sorted(IN_FLOW_STEPS), last_activity_at__lt=now - STUCK_AFTER
    )


def funnel() -> list[dict]:
    """Conversations that reached each step of ``FUNNEL_STEPS``, in order, and
    that number as a percentage of the most-reached step."""
    reached = dict(
        RegistrationEvent.objects.filter(kind=RegistrationEvent.Kind.STEP)
        .values_list("step")
        .annotate(n=Count("conversation_id", distinct=True))
        .order_by()
    )
    top = max(reached.values(), default=0) or 1
    return [
        {"label": step.label, "value": reached.get(step.value, 0), "pct": round(100 * reached.get(step.value, 0) / top)}
        for step in FUNNEL_STEPS
    ]


# --------------------------------------------------------------------------
# Links to the admin's filtered lists
# --------------------------------------------------------------------------


def local_midnight(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time.min, tzinfo=timezone.get_current_timezone())


@dataclass(frozen=True)
class Window:
    """A half-open range of local days on ``created_at``, spelled as the
    admin's ``DateFieldListFilter`` spells it (``created_at__gte`` /
    ``created_at__lt`` = ``str()`` of local midnights), so a link lands on the
    list with the same choice selected in the sidebar."""

    key: str
    label: str
    since: dt.datetime | None = None
    until: dt.datetime | None = None

    def q(self) -> Q:
        q = Q()
        if self.since is not None:
            q &= Q(created_at__gte=self.since)
        if self.until is not None:
            q &= Q(created_at__lt=self.until)
        return q

    def params(self) -> dict[str, str]:
        params = {}
        if self.since is not None:
            params["created_at__gte"] = str(self.since)
        if self.until is not None:
            params["created_at__lt"] = str(self.until)
        return params


def windows(now: dt.datetime) -> tuple[Window, Window, Window]:
    """Today, the last 7 days and all time, in local days. "Last 7 days" is
    the admin filter's "Últimos 7 dias": from 7 days before today to the end
    of today, so the figure and the list it opens agree."""
    today = timezone.localdate(now)
    tomorrow = local_midnight(today + dt.timedelta(days=1))
    return (
        Window("today", _("hoje"), local_midnight(today), tomorrow),
        Window("week", _("em 7 dias"), local_midnight(today - dt.timedelta(days=7)), tomorrow),
        Window("all", _("desde o início")),
    )


def changelist_url(model: type[Model], **params: str) -> str:
    url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
    return f"{url}?{urlencode(params)}" if params else url


def can_view(request: HttpRequest, model: type[Model]) -> bool:
    """Whether the admin would show ``request.user`` the list of ``model``."""
    try:
        model_admin = admin.site.get_model_admin(model)
    except NotRegistered:
        return False
    return model_admin.has_view_or_change_permission(request)


# --------------------------------------------------------------------------
# Figures
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class Figure:
    key: str
    label: str
    value: int
    url: str


@dataclass(frozen=True)
class RegistrationCard:
    """One status (confirmed, cancelled, all): the all-time figure and the
    recent ones (today, last 7 days)."""

    label: str
    total: Figure
    recent: tuple[Figure, ...]


@dataclass(frozen=True)
class Overview:
    registrations: tuple[RegistrationCard, ...]
    # Things someone should act on: each is a problem when it is not zero.
    attention: tuple[Figure, ...]


def _card_caption(key: str, n: int) -> str:
    if key == "confirmed":
        return ngettext("confirmada", "confirmadas", n)
    if key == "pending_payment":
        return ngettext("aguardando pagamento", "aguardando pagamento", n)
    if key == "waitlisted":
        return ngettext("na lista de espera", "na lista de espera", n)
    if key == "cancelled":
        return ngettext("cancelada", "canceladas", n)
    if key == "expired":
        return ngettext("expirada (não paga no prazo)", "expiradas (não pagas no prazo)", n)
    return ngettext("inscrição no total", "inscrições no total", n)


@dataclass(frozen=True)
class PaidSetup:
    """Whether the event sells paid tickets and whether it limits seats (one query)."""

    paid: bool = False
    limited: bool = False


def paid_setup() -> PaidSetup:
    found = TicketCategory.objects.filter(active=True, event__is_active=True).aggregate(
        paid=Count("pk", filter=Q(price__gt=0) | Q(lots__price__gt=0)),
        limited=Count("pk", filter=Q(capacity__isnull=False) | Q(event__capacity__isnull=False)),
    )
    return PaidSetup(paid=bool(found["paid"]), limited=bool(found["limited"]))


def _registration_figures(now: dt.datetime) -> tuple[tuple[RegistrationCard, ...], Figure]:
    """Registrations per status and window (the paid-registration statuses
    when the event uses them), and confirmed participants whose confirmation
    e-mail failed: one aggregate query (and one about the tickets)."""
    setup = paid_setup()
    statuses = (
        ("confirmed", Q(status=CONFIRMED), {"status__exact": CONFIRMED.value}, True),
        ("pending_payment", Q(status=PENDING_PAYMENT), {"status__exact": PENDING_PAYMENT.value}, setup.paid),
        ("waitlisted", Q(status=WAITLISTED), {"status__exact": WAITLISTED.value}, setup.limited),
        ("cancelled", Q(status=CANCELLED), {"status__exact": CANCELLED.value}, True),
        ("expired", Q(status=EXPIRED), {"status__exact": EXPIRED.value}, setup.paid),
        ("total", Q(), {}, True),
    )
    spans = windows(now)
    aggregates = {
        f"{key}_{span.key}": Count("pk", filter=(status_q & span.q()) or None)
        for key, status_q, _params, _shown in statuses
        for span in spans
    }
    aggregates["email_failed"] = Count(
        "pk", filter=Q(status=CONFIRMED, confirmation_email_status=Participant.EmailStatus.FAILED)
    )
    counts = Participant.objects.aggregate(**aggregates)

    def figure(key: str, span: Window, status_params: dict[str, str]) -> Figure:
        return Figure(
            key=f"{key}_{span.key}",
            label=span.label,
            value=counts[f"{key}_{span.key}"],
            url=changelist_url(Participant, **status_params, **span.params()),
        )

    cards = tuple(
        RegistrationCard(
            # The card's caption goes with its all-time figure: "1 confirmada", "2 confirmadas".
            label=_card_caption(key, counts[f"{key}_{spans[-1].key}"]),
            total=figure(key, spans[-1], params),
            recent=tuple(figure(key, span, params) for span in spans[:-1]),
        )
        for key, _q, params, configured in statuses
        # A free event without seat limits never has these: no card of zeros.
        if configured or counts[f"{key}_{spans[-1].key}"]
    )
    email_failed = Figure(
        key="email_failed",
        label=ngettext(
            "e-mail de confirmação que falhou", "e-mails de confirmação que falharam", counts["email_failed"]
        ),
        value=counts["email_failed"],
        url=changelist_url(
            Participant,
            status__exact=CONFIRMED.value,
            confirmation_email_status__exact=Participant.EmailStatus.FAILED.value,
        ),
    )
    return cards, email_failed


def overview(*, request: HttpRequest, now: dt.datetime | None = None) -> Overview:
    """The figures ``request.user`` may see: one query per model they can view."""
    now = now or timezone.now()
    cards: tuple[RegistrationCard, ...] = ()
    email_failed = None
    attention = []
    if can_view(request, Participant):
        cards, email_failed = _registration_figures(now)
    if request.user.has_perm("inbox.answer_conversations"):
        waiting = open_count()
        attention.append(
            Figure(
                key="open_handoffs",
                label=ngettext("conversa aguardando a equipe", "conversas aguardando a equipe", waiting),
                value=waiting,
                url=reverse("admin-inbox"),
            )
        )
    if can_view(request, ConversationState):
        stuck = stuck_conversations(now).count()
        attention.append(
            Figure(
                key="stuck",
                label=ngettext(
                    "conversa parada no meio da inscrição há mais de 24 h",
                    "conversas paradas no meio da inscrição há mais de 24 h",
                    stuck,
                ),
                value=stuck,
                url=changelist_url(ConversationState, stuck="1"),
            )
        )
    if can_view(request, UnansweredQuestion):
        status = UnansweredQuestion.Status.OPEN
        open_questions = UnansweredQuestion.objects.filter(status=status).count()
        attention.append(
            Figure(
                key="open_questions",
                label=ngettext("pergunta sem resposta em aberto", "perguntas sem resposta em aberto", open_questions),
                value=open_questions,
                url=changelist_url(UnansweredQuestion, status__exact=status.value),
            )
        )
    if can_view(request, OutboundMessage):
        status = OutboundMessage.Status.FAILED
        failed = OutboundMessage.objects.filter(status=status).count()
        attention.append(
            Figure(
                key="failed_messages",
                label=ngettext(
                    "mensagem do WhatsApp que não foi entregue", "mensagens do WhatsApp que não foram entregues", failed
                ),
                value=failed,
                url=changelist_url(OutboundMessage, status__exact=status.value),
            )
        )
    if can_view(request, Review):
        waiting_review = pending_reviews().count()
        attention.append(
            Figure(
                key="pending_reviews",
                label=ngettext("comprovante aguardando revisão", "comprovantes aguardando revisão", waiting_review),
                value=waiting_review,
                url=changelist_url(Review, status=Review.Status.PENDING.value),
            )
        )
    if can_view(request, Payment):
        overdue = overdue_payments(now).count()
        attention.append(
            Figure(
                key="overdue_payments",
                label=ngettext("pagamento vencido", "pagamentos vencidos", overdue),
                value=overdue,
                url=changelist_url(Payment, overdue="1"),
            )
        )
    if email_failed is not None:
        attention.append(email_failed)
    return Overview(registrations=cards, attention=tuple(attention))


# --------------------------------------------------------------------------
# Tickets: seats, waitlist and money per category
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class TicketCard:
    figures: TicketFigures
    price: str  # "R$ 480,00 (2º lote)", "Gratuita"
    received: str
    outstanding: str
    urls: dict[str, str]

    @property
    def category(self) -> TicketCategory:
        return self.figures.category


@dataclass(frozen=True)
class TicketsOverview:
    cards: tuple[TicketCard, ...]
    event: EventSeats | None
    received: str
    outstanding: str
    payments_url: str


def tickets_overview(*, request: HttpRequest, now: dt.datetime) -> TicketsOverview | None:
    """The active event's categories (a card each) and its seats; None when it has no categories."""
    event = Event.objects.filter(is_active=True).first()
    if event is None:
        return None
    categories = list(TicketCategory.objects.filter(event=event).prefetch_related("lots").order_by("order", "id"))
    if not categories:
        return None
    figures = ticket_figures(categories, now=now)
    see_payments = can_view(request, Payment)
    cards = []
    for category in categories:
        f = figures[category.pk]
        ticket = {"ticket__id__exact": str(category.pk)}
        urls = {
            "confirmed": changelist_url(Participant, status__exact=CONFIRMED.value, **ticket),
            "awaiting_payment": changelist_url(Participant, status__exact=PENDING_PAYMENT.value, **ticket),
            "waitlist": changelist_url(Participant, status__exact=WAITLISTED.value, **ticket),
            "category": reverse("admin:chatbot_ticketcategory_change", args=[category.pk]),
        }
        if see_payments:
            by_ticket = {"participant__ticket__id__exact": str(category.pk)}
            urls["received"] = changelist_url(Payment, status__exact=Payment.Status.PAID.value, **by_ticket)
            urls["outstanding"] = changelist_url(Payment, status__exact=Payment.Status.PENDING.value, **by_ticket)
        price = _("Gratuita") if f.price.free else format_brl(f.price.amount)
        if f.price.lot_name and not f.price.free:
            price = f"{price} ({f.price.lot_name})"
        cards.append(
            TicketCard(
                figures=f,
                price=price,
                received=format_brl(f.received),
                outstanding=format_brl(f.outstanding),
                urls=urls,
            )
        )
    seats = event_seats(event, now=now) if event.capacity is not None else None
    return TicketsOverview(
        cards=tuple(cards),
        event=seats,
        received=format_brl(sum((f.received for f in figures.values()), Decimal(0))),
        outstanding=format_brl(sum((f.outstanding for f in figures.values()), Decimal(0))),
        payments_url=changelist_url(Payment) if see_payments else "",
    )


# --------------------------------------------------------------------------
# Charts
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class Day:
    day: dt.date
    total: int
    confirmed: int
    url: str
    # Awaiting payment or on the waitlist; cancelled or expired.
    waiting: int = 0
    cancelled: int = 0


def day_url(day: dt.date) -> str:
    span = Window("day", "", local_midnight(day), local_midnight(day + dt.timedelta(days=1)))
    return changelist_url(Participant, **span.params())


def registrations_by_day(*, today: dt.date, days: int = CHART_DAYS) -> tuple[list[Day], int]:
    """The ``days`` local days up to ``today``, oldest first, days with no
    registration as zero; and how many registrations came before them."""
    first = today - dt.timedelta(days=days - 1)
    counted = {
        row["day"]: row
        for row in Participant.objects.annotate(day=TruncDate("created_at"))
        .values("day")
        .annotate(
            total=Count("pk"),
            confirmed=Count("pk", filter=Q(status=CONFIRMED)),
            waiting=Count("pk", filter=Q(status__in=(PENDING_PAYMENT, WAITLISTED))),
            cancelled=Count("pk", filter=Q(status__in=(CANCELLED, EXPIRED))),
        )
        .order_by()
    }
    series = []
    for offset in range(days):
        day = first + dt.timedelta(days=offset)
        row = counted.get(day, {"total": 0, "confirmed": 0, "waiting": 0, "cancelled": 0})
        series.append(
            Day(
                day=day,
                total=row["total"],
                confirmed=row["confirmed"],
                waiting=row["waiting"],
                cancelled=row["cancelled"],
                url=day_url(day),
            )
        )
    earlier = sum(row["total"] for day, row in counted.items() if day < first)
    return series, earlier


def participants_by_uf() -> list[Bar]:
    rows = Participant.objects.filter(status=CONFIRMED).values("uf").annotate(n=Count("pk")).order_by("-n", "uf")
    return [
        Bar(label=row["uf"] or "—", value=row["n"], url=changelist_url(Participant, status__exact=CONFIRMED.value, uf=row["uf"]))
        for row in rows
    ]


def participants_by_profile() -> list[Bar]:
    rows = (
        Participant.objects.filter(status=CONFIRMED)
        .values("profile_id", "profile__name")
        .annotate(n=Count("pk"))
        .order_by("-n", "profile__name")
    )
    return [
        Bar(
            label=row["profile__name"],
            value=row["n"],
            url=changelist_url(Participant, status__exact=CONFIRMED.value, profile__id__exact=str(row["profile_id"])),
        )
        for row in rows
    ]


@permission_required("registrations.view_participant", raise_exception=True)
def dashboard_view(request: HttpRequest) -> HttpResponse:
    now = timezone.now()
    today = timezone.localdate(now)
    days, earlier = registrations_by_day(today=today)
    steps = funnel()
    by_uf = participants_by_uf()
    by_profile = participants_by_profile()
    charts = {
        "by_day": column_chart(
            [Bar(label=date_format(d.day, "D d/m/Y"), short_label=date_format(d.day, "d/m"), value=d.total) for d in days],
            chart_id="chart-by-day",
            title=_("Inscrições por dia nos últimos %(days)d dias") % {"days": CHART_DAYS},
        ),
        "funnel": horizontal_bar_chart(
            [Bar(label=str(row["label"]), value=row["value"], note=f"{row['pct']}%") for row in steps],
            chart_id="chart-funnel",
            title=_("Funil da inscrição: conversas que chegaram a cada etapa"),
        ),
        "by_uf": horizontal_bar_chart(by_uf, chart_id="chart-by-uf", title=_("Participantes confirmados por UF")),
        "by_profile": horizontal_bar_chart(
            by_profile, chart_id="chart-by-profile", title=_("Participantes confirmados por perfil")
        ),
    }
    overview_ = overview(request=request, now=now)
    context = {
        **admin.site.each_context(request),
        "title": _("Painel de inscrições"),
        "overview": overview_,
        "tickets": tickets_overview(request=request, now=now),
        # The day table gets an "awaiting" column once paid statuses are on the cards.
        "show_waiting": any(card.total.key.startswith(("pending_payment", "waitlisted")) for card in overview_.registrations),
        "charts": charts,
        "days": list(reversed(days)),  # tables: newest day first
        "chart_days": CHART_DAYS,
        "earlier": earlier,
        "earlier_url": changelist_url(Participant, created_at__lt=str(local_midnight(days[0].day))),
        "by_uf": by_uf,
        "by_profile": by_profile,
        "now": now,
    }
    return render(request, "admin/dashboard.html", context)
