"""A small admin page: the registration funnel by step and counts by UF,
profile and day."""

from __future__ import annotations

from django.contrib import admin
from django.contrib.auth.decorators import permission_required
from django.db.models import Count
from django.db.models.functions import TruncDate
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from registrations.models import Participant, RegistrationEvent
from registrations.steps import FUNNEL_STEPS


def funnel() -> list[dict]:
    reached = dict(
        RegistrationEvent.objects.filter(kind=RegistrationEvent.Kind.STEP)
        .values_list("step")
        .annotate(n=Count("conversation_id", distinct=True))
    )
    top = max(reached.values(), default=0) or 1
    return [
        {"label": step.label, "value": reached.get(step.value, 0), "pct": round(100 * reached.get(step.value, 0) / top)}
        for step in FUNNEL_STEPS
    ]


@permission_required("registrations.view_participant")
def dashboard_view(request: HttpRequest) -> HttpResponse:
    active = Participant.objects.filter(status=Participant.Status.CONFIRMED)
    context = {
        **admin.site.each_context(request),
        "title": "Painel de inscrições",
        "funnel": funnel(),
        "total": active.count(),
        "cancelled": Participant.objects.filter(status=Participant.Status.CANCELLED).count(),
        "by_uf": list(active.values("uf").annotate(n=Count("id")).order_by("-n", "uf")),
        "by_profile": list(active.values("profile__name").annotate(n=Count("id")).order_by("-n")),
        "by_day": list(
            active.annotate(day=TruncDate("created_at")).values("day").annotate(n=Count("id")).order_by("day")
        ),
    }
    return render(request, "admin/dashboard.html", context)
