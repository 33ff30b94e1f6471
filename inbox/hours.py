"""The event's service hours (when a person answers the WhatsApp), edited in the admin."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from chatbot.knowledge import format_time

# ISO weekday order (Monday first), as ``Event.service_weekdays`` numbers them.
WEEKDAY_NAMES = tuple(
    gettext_lazy(name) for name in ("segunda", "terça", "quarta", "quinta", "sexta", "sábado", "domingo")
)
_SHORT = ("seg", "ter", "qua", "qui", "sex", "sáb", "dom")


def resumes_text(moment: dt.datetime, now: dt.datetime) -> str:
    """When the staff is back, as the participant reads it: "hoje às 8h", "amanhã às 8h", "segunda (14/12) às 8h"."""
    local, today = timezone.localtime(moment), timezone.localtime(now).date()
    hour = format_time(local.time())
    if local.date() == today:
        return _("hoje às %(hour)s") % {"hour": hour}
    if local.date() == today + dt.timedelta(days=1):
        return _("amanhã às %(hour)s") % {"hour": hour}
    return _("%(weekday)s (%(date)s) às %(hour)s") % {
        "weekday": WEEKDAY_NAMES[local.weekday()], "date": f"{local:%d/%m}", "hour": hour,
    }


def service_days(event) -> list[int]:
    """ISO weekdays (1 = Monday) the staff answers, from the event's field ("1,2,3,4,5")."""
    raw = getattr(event, "service_weekdays", "") or ""
    days = sorted({int(part) for part in raw.replace(";", ",").split(",") if part.strip().isdigit() and 1 <= int(part) <= 7})
    return days


def _days_text(days: list[int]) -> str:
    if days == list(range(1, 8)):
        return _("todos os dias")
    if len(days) > 2 and days == list(range(days[0], days[-1] + 1)):
        return _("%(first)s a %(last)s") % {"first": _SHORT[days[0] - 1], "last": _SHORT[days[-1] - 1]}
    return ", ".join(_SHORT[day - 1] for day in days)


def service_hours_text(event) -> str:
    """"seg a sex, das 08h às 18h"; "" when the event sets no hours."""
    if event is None or event.service_starts_at is None or event.service_ends_at is None:
        return ""
    days = service_days(event)
    if not days:
        return ""
    return _("%(days)s, das %(start)s às %(end)s") % {
        "days": _days_text(days), "start": format_time(event.service_starts_at), "end": format_time(event.service_ends_at),
    }


def service_resumes_at(event, now: dt.datetime) -> dt.datetime | None:
    """None while the staff is on duty (or no hours are set); else when it starts again."""
    if not service_hours_text(event):
        return None
    days = service_days(event)
    start, end = event.service_starts_at, event.service_ends_at
    local = timezone.localtime(now)
    if local.isoweekday() in days and start <= local.time() < end:
        return None
    for ahead in range(8):
        day = local.date() + dt.timedelta(days=ahead)
        if day.isoweekday() not in days:
            continue
        opening = timezone.make_aware(dt.datetime.combine(day, start), timezone.get_current_timezone())
        if opening > now:
            return opening
    return None
