"""The organizers' landing dashboard (/admin/dashboard/) and the figure cards
on the admin index, after a known set of registrations, conversations,
questions and deliveries."""

from __future__ import annotations

import datetime as dt
import itertools
from html.parser import HTMLParser

import pytest
from django.contrib.auth.models import Group, Permission, User
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django.utils.formats import date_format

from chatbot.models import ConversationState, UnansweredQuestion
from congress.roles import ORGANIZERS, STAFF
from congress.testing.factories import make_participant, make_profile
from inbox.models import Handoff
from registrations.dashboard import stuck_conversations
from registrations.models import Participant, RegistrationEvent
from whatsapp.models import InboundMessage, OutboundMessage

pytestmark = pytest.mark.django_db

DASHBOARD = "/admin/dashboard/"
INDEX = "/admin/"
CONFIRMED = Participant.Status.CONFIRMED
CANCELLED = Participant.Status.CANCELLED

# What the known set below must show, figure by figure ("week" is the admin
# filter's "Últimos 7 dias": 7 days before today up to the end of today).
EXPECTED = {
    "confirmed_all": 5,
    "confirmed_today": 2,
    "confirmed_week": 4,
    "cancelled_all": 3,
    "cancelled_today": 1,
    "cancelled_week": 2,
    "total_all": 8,
    "total_today": 3,
    "total_week": 6,
    "stuck": 1,
    "open_questions": 1,
    "failed_messages": 1,
    "email_failed": 1,
    "open_handoffs": 1,
    # A free event: no receipt to review, no charge (payments/tests/test_dashboard_exports.py seeds them).
    "pending_reviews": 0,
    "overdue_payments": 0,
}
PARTICIPANT_FIGURES = {key for key in EXPECTED if key.split("_")[0] in {"confirmed", "cancelled", "total", "email"}}
_ids = itertools.count(1)


# --------------------------------------------------------------------------
# The known set
# --------------------------------------------------------------------------


def registered(*, ago: dt.timedelta, status: str = CONFIRMED, uf: str = "SP", profile: str = "Produtor rural", **extra):
    participant = make_participant(status=status, uf=uf, profile=make_profile(name=profile), **extra)
    Participant.objects.filter(pk=participant.pk).update(created_at=timezone.now() - ago)
    return participant


def conversation(*, step: str, idle: dt.timedelta) -> ConversationState:
    return ConversationState.objects.create(
        conversation_id=f"5561988{next(_ids):06d}", registration_step=step, last_activity_at=timezone.now() - idle
    )


def outbound(*, status: str) -> OutboundMessage:
    n = next(_ids)
    inbound = InboundMessage.objects.create(message_id=f"DASH{n:06d}", chat_id=f"55619{n:08d}", text="oi")
    return OutboundMessage.objects.create(inbound=inbound, chat_id=inbound.chat_id, text="olá", status=status)


@pytest.fixture
def known_set(db) -> None:
    now, days = dt.timedelta(0), dt.timedelta(days=1)
    # Today: 2 confirmed (one whose e-mail failed), 1 cancelled (e-mail failed too: not counted).
    registered(ago=now, confirmation_email_status=Participant.EmailStatus.FAILED)
    registered(ago=now, uf="GO", profile="Estudante")
    registered(ago=now, status=CANCELLED, uf="PR", confirmation_email_status=Participant.EmailStatus.FAILED)
    # Three days ago: 2 confirmed, 1 cancelled.
    registered(ago=3 * days)
    registered(ago=3 * days, uf="GO", profile="Estudante", confirmation_email_status=Participant.EmailStatus.SENT)
    registered(ago=3 * days, status=CANCELLED, uf="PR")
    # Ten days ago: 1 confirmed, 1 cancelled.
    registered(ago=10 * days)
    registered(ago=10 * days, status=CANCELLED, uf="PR")

    hours = dt.timedelta(hours=1)
    conversation(step="asking_email", idle=30 * hours)  # stuck
    conversation(step="asking_cpf", idle=2 * hours)  # mid-registration, but fresh
    conversation(step="idle", idle=40 * hours)  # quiet, but not registering
    conversation(step="completed", idle=50 * hours)  # done

    UnansweredQuestion.objects.create(conversation_id="a", question="Tem estacionamento?")
    UnansweredQuestion.objects.create(
        conversation_id="b", question="Tem wi-fi?", status=UnansweredQuestion.Status.ANSWERED, answer="Sim."
    )
    outbound(status=OutboundMessage.Status.FAILED)
    outbound(status=OutboundMessage.Status.SENT)

    # One conversation waiting for a person, one given back to the bot.
    for status in (Handoff.Status.OPEN, Handoff.Status.CLOSED):
        Handoff.objects.create(
            conversation=conversation(step="idle", idle=hours), status=status, opened_at=timezone.now() - 2 * hours
        )

    for conversation_id, steps in {
        "c1": ("asking_consent", "asking_name", "completed"),
        "c2": ("asking_consent", "asking_name"),
        "c3": ("asking_consent",),
    }.items():
        for step in steps:
            RegistrationEvent.objects.create(conversation_id=conversation_id, kind=RegistrationEvent.Kind.STEP, step=step)


def member(client, group_name: str):
    user = User.objects.create_user(username=f"u-{group_name}", password="x-Very-long-pass-123", is_staff=True)
    user.groups.add(Group.objects.get(name=group_name))
    client.force_login(user)
    return client


def staff_with(client, *codenames: str):
    user = User.objects.create_user(username="u-partial", password="x-Very-long-pass-123", is_staff=True)
    for codename in codenames:
        app_label, name = codename.split(".")
        user.user_permissions.add(Permission.objects.get(content_type__app_label=app_label, codename=name))
    client.force_login(user)
    return client


@pytest.fixture(params=["superuser", ORGANIZERS, STAFF])
def any_role(request, client, admin_client):
    """A superuser, an organizer and an Equipe member: all see every figure they may open."""
    logged = admin_client if request.param == "superuser" else member(client, request.param)
    logged.role = request.param
    return logged


def expected_for(role) -> dict:
    """The Equipe does not open receipts and documents (they show full CPFs): no review-queue figure."""
    if getattr(role, "role", "") == STAFF:
        return {key: value for key, value in EXPECTED.items() if key != "pending_reviews"}
    return EXPECTED


# --------------------------------------------------------------------------
# Reading the page
# --------------------------------------------------------------------------


class FigureReader(HTMLParser):
    """``{figure key: (shown number, href)}`` from the ``data-figure`` links,
    and the bars of each SVG chart as ``{chart id: [(label, value)]}``."""

    def __init__(self) -> None:
        super().__init__()
        self.figures: dict[str, tuple[int, str]] = {}
        self.charts: dict[str, list[tuple[str, int]]] = {}
        self.chart_titles: dict[str, str] = {}
        self._figure: tuple[str, str] | None = None
        self._in_value = False
        self._chart: str | None = None
        self._in_title = False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "a" and "data-figure" in attrs:
            self._figure = (attrs["data-figure"], attrs["href"])
        elif self._figure and "dash-value" in (attrs.get("class") or ""):
            self._in_value = True
        elif tag == "svg" and "data-chart" in attrs:
            self._chart = attrs["data-chart"]
            self.charts[self._chart] = []
        elif tag == "title" and self._chart and self._chart not in self.chart_titles:
            self._in_title = True
        elif tag == "g" and self._chart and "data-label" in attrs:
            self.charts[self._chart].append((attrs["data-label"], int(attrs["data-value"])))

    def handle_endtag(self, tag):
        if tag == "a":
            self._figure = None
        elif tag == "svg":
            self._chart = None
        elif tag == "title":
            self._in_title = False
        self._in_value = False if tag == "b" else self._in_value

    def handle_data(self, data):
        if self._in_value and self._figure:
            key, href = self._figure
            self.figures[key] = (int(data.strip()), href)
        if self._in_title and self._chart:
            self.chart_titles[self._chart] = data


def read(response) -> FigureReader:
    assert response.status_code == 200
    reader = FigureReader()
    reader.feed(response.content.decode())
    return reader


def shown(response) -> dict[str, int]:
    return {key: value for key, (value, _href) in read(response).figures.items()}


# --------------------------------------------------------------------------
# Figures
# --------------------------------------------------------------------------


def test_stuck_conversations_are_those_mid_registration_and_quiet_for_more_than_24_hours(known_set):
    assert list(stuck_conversations().values_list("registration_step", flat=True)) == ["asking_email"]


def test_a_conversation_becomes_stuck_once_24_hours_have_passed(known_set):
    later = timezone.now() + dt.timedelta(hours=23)
    assert sorted(stuck_conversations(later).values_list("registration_step", flat=True)) == ["asking_cpf", "asking_email"]


@pytest.mark.parametrize("page", [DASHBOARD, INDEX], ids=["dashboard", "index"])
def test_every_role_sees_the_exact_figures(known_set, any_role, page):
    assert shown(any_role.get(page)) == expected_for(any_role)


@pytest.mark.parametrize("page", [DASHBOARD, INDEX], ids=["dashboard", "index"])
def test_every_figure_links_to_a_list_showing_that_many_rows(known_set, any_role, page):
    figures = read(any_role.get(page)).figures
    assert set(figures) == set(expected_for(any_role))
    for key, (value, href) in figures.items():
        response = any_role.get(href)
        # An invalid filter makes the admin redirect to ?e=1 instead.
        assert response.status_code == 200, (key, href, response.get("Location"))
        if key == "open_handoffs":  # the inbox, not an admin list
            assert len(response.context["rows"]) == value
            continue
        assert response.context["cl"].result_count == value, (key, href)


@pytest.mark.parametrize(
    ("figure", "choice"), [("confirmed_today", "Hoje"), ("total_week", "Últimos 7 dias")], ids=["today", "week"]
)
def test_a_recent_figure_opens_the_list_with_the_admin_date_filters_own_choice(known_set, admin_client, figure, choice):
    href = read(admin_client.get(DASHBOARD)).figures[figure][1]
    response = admin_client.get(href)
    changelist = response.context["cl"]
    date_filter = next(f for f in changelist.filter_specs if getattr(f, "field_path", "") == "created_at")
    assert [str(c["display"]) for c in date_filter.choices(changelist) if c["selected"]] == [choice]


def test_a_user_sees_only_the_figures_of_the_lists_they_may_view(known_set, client):
    c = staff_with(client, "registrations.view_participant")
    assert set(shown(c.get(DASHBOARD))) == PARTICIPANT_FIGURES
    assert set(shown(c.get(INDEX))) == PARTICIPANT_FIGURES


def test_without_the_participant_list_the_index_shows_the_rest_and_no_dashboard_link(known_set, client):
    c = staff_with(client, "whatsapp.view_outboundmessage")
    page = c.get(INDEX)
    assert shown(page) == {"failed_messages": 1}
    assert b"/admin/dashboard/" not in page.content
    assert c.get(DASHBOARD).status_code == 403


def test_the_index_links_to_the_full_dashboard(known_set, any_role):
    assert b'href="/admin/dashboard/"' in any_role.get(INDEX).content


def test_the_dashboard_needs_a_logged_in_user(client):
    assert client.get(DASHBOARD).status_code == 302


def test_an_empty_database_shows_zeros(admin_client):
    figures = shown(admin_client.get(DASHBOARD))
    assert figures == dict.fromkeys(EXPECTED, 0)


# --------------------------------------------------------------------------
# Charts and tables
# --------------------------------------------------------------------------


def test_the_charts_show_the_known_values(known_set, admin_client):
    reader = read(admin_client.get(DASHBOARD))
    assert reader.charts["chart-by-uf"] == [("SP", 3), ("GO", 2)]
    assert reader.charts["chart-by-profile"] == [("Produtor rural", 3), ("Estudante", 2)]
    funnel = dict(reader.charts["chart-funnel"])
    assert (funnel["Pedindo consentimento"], funnel["Pedindo nome"], funnel["Concluída"]) == (3, 2, 1)
    assert funnel["Pedindo e-mail"] == 0


def test_registrations_per_day_cover_30_local_days_with_empty_days_as_zero(known_set, admin_client):
    bars = read(admin_client.get(DASHBOARD)).charts["chart-by-day"]
    today = timezone.localdate()
    label = lambda days_ago: date_format(today - dt.timedelta(days=days_ago), "D d/m/Y")  # noqa: E731
    assert len(bars) == 30
    assert bars[-1] == (label(0), 3)
    assert dict(bars) == {label(n): {0: 3, 3: 3, 10: 2}.get(n, 0) for n in range(30)}


def test_every_chart_has_a_title_and_its_numbers_as_text(known_set, admin_client):
    html = admin_client.get(DASHBOARD).content.decode()
    reader = read(admin_client.get(DASHBOARD))
    assert set(reader.chart_titles) == {"chart-by-day", "chart-funnel", "chart-by-uf", "chart-by-profile"}
    assert html.count('aria-labelledby="chart-') == 4
    assert '<text class="dash-value" x="' in html
    assert "SP: 3; GO: 2" in html  # the <desc> a screen reader reads


def test_days_are_local_days(admin_client):
    # 22:30 yesterday in Brasília is already today in UTC.
    late_yesterday = dt.datetime.combine(timezone.localdate(), dt.time.min, tzinfo=timezone.get_current_timezone())
    registered(ago=timezone.now() - (late_yesterday - dt.timedelta(minutes=90)))
    page = admin_client.get(DASHBOARD)
    bars = read(page).charts["chart-by-day"]
    assert [value for _label, value in bars[-2:]] == [1, 0]
    assert shown(page)["total_today"] == 0


def test_the_day_table_lists_the_newest_day_first(known_set, admin_client):
    html = admin_client.get(DASHBOARD).content.decode()
    today = timezone.localdate()
    newest, older = f'data-day="{today:%Y-%m-%d}"', f'data-day="{today - dt.timedelta(days=1):%Y-%m-%d}"'
    assert html.index(newest) < html.index(older)


def test_a_day_in_the_table_links_to_that_days_registrations(known_set, admin_client):
    page = admin_client.get(DASHBOARD)
    three_days_ago = next(d for d in page.context["days"] if d.day == timezone.localdate() - dt.timedelta(days=3))
    response = admin_client.get(three_days_ago.url)
    assert response.status_code == 200
    assert response.context["cl"].result_count == 3


# --------------------------------------------------------------------------
# Cost
# --------------------------------------------------------------------------


@pytest.mark.parametrize("page", [DASHBOARD, INDEX], ids=["dashboard", "index"])
def test_the_pages_make_a_few_queries_whatever_the_data(known_set, client, page):
    c = member(client, STAFF)
    with CaptureQueriesContext(connection) as before:
        c.get(page)
    for _ in range(20):
        registered(ago=dt.timedelta(days=2), uf="MT")
    with CaptureQueriesContext(connection) as after:
        c.get(page)
    assert len(after) == len(before)
    # Session, user, permissions, the WhatsApp channel-alert banner every admin
    # page shows, then one query per figure group (the inbox's open handoffs,
    # the ticket setup, the review queue and overdue charges included; the
    # dashboard also looks for the active event's ticket categories).
    assert len(before) <= {DASHBOARD: 19, INDEX: 14}[page]


# --------------------------------------------------------------------------
# Labels agree with their numbers
# --------------------------------------------------------------------------


def captions(response) -> dict[str, str]:
    """``{figure key: "1 mensagem do WhatsApp que não foi entregue"}`` from the cards."""
    import re

    html = response.content.decode()
    found = {}
    for key, value, caption in re.findall(
        r'data-figure="(\w+)"><b class="dash-value">(\d+)</b> <span class="dash-caption">([^<]*)</span>', html
    ):
        found[key] = f"{value} {caption}"
    return found


@pytest.mark.parametrize("page", [DASHBOARD, INDEX], ids=["dashboard", "index"])
def test_a_figure_of_one_is_labelled_in_the_singular(known_set, admin_client, page):
    assert captions(admin_client.get(page)) == {
        "confirmed_all": "5 confirmadas",
        "cancelled_all": "3 canceladas",
        "total_all": "8 inscrições no total",
        "stuck": "1 conversa parada no meio da inscrição há mais de 24 h",
        "open_questions": "1 pergunta sem resposta em aberto",
        "failed_messages": "1 mensagem do WhatsApp que não foi entregue",
        "email_failed": "1 e-mail de confirmação que falhou",
        "open_handoffs": "1 conversa aguardando a equipe",
        "pending_reviews": "0 comprovantes aguardando revisão",
        "overdue_payments": "0 pagamentos vencidos",
    }


def test_figures_of_zero_and_one_registration_are_labelled_in_the_plural_and_the_singular(admin_client):
    registered(ago=dt.timedelta(0))
    found = captions(admin_client.get(DASHBOARD))
    assert found["confirmed_all"] == "1 confirmada" and found["total_all"] == "1 inscrição no total"
    assert found["cancelled_all"] == "0 canceladas"
    assert found["failed_messages"] == "0 mensagens do WhatsApp que não foram entregues"
