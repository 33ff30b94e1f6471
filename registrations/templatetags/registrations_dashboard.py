"""``{% dashboard_figures %}``: the dashboard's key figures as compact cards,
for the admin index (which has no view of its own to compute them)."""

from __future__ import annotations

from django import template
from django.urls import reverse

from registrations.dashboard import overview

register = template.Library()


@register.inclusion_tag("admin/dashboard_figures.html", takes_context=True)
def dashboard_figures(context: template.Context) -> dict:
    request = context["request"]
    can_open_dashboard = request.user.has_perm("registrations.view_participant")
    return {
        "overview": overview(request=request),
        "dashboard_url": reverse("admin-dashboard") if can_open_dashboard else "",
    }
