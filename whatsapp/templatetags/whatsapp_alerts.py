"""``{% whatsapp_alert_banner %}``: the open WhatsApp channel alerts on every
admin page (templates/admin/base_site.html), for those who may see them.

Cheap by construction: nothing for a user without ``view_channelalert``
(the permission check reads the per-request permission cache the admin's
sidebar fills anyway), else one query on the partial index of open alerts.
"""

from __future__ import annotations

from django import template
from django.urls import reverse

from whatsapp.alerts import alert_action, channel_alerts_open

register = template.Library()


@register.inclusion_tag("admin/whatsapp/alert_banner.html", takes_context=True)
def whatsapp_alert_banner(context: template.Context) -> dict:
    request = context.get("request")
    user = getattr(request, "user", None)
    if user is None or not user.is_active or not user.is_staff or not user.has_perm("whatsapp.view_channelalert"):
        return {"alerts": []}
    alerts = channel_alerts_open()
    return {
        "alerts": [
            {
                "alert": alert,
                "action": alert_action(alert.kind),
                "url": reverse("admin:whatsapp_channelalert_change", args=[alert.pk]),
            }
            for alert in alerts
        ],
        "list_url": reverse("admin:whatsapp_channelalert_changelist") + "?status=open",
    }
