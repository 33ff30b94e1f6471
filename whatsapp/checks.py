"""System checks (``manage.py check``, run at every start): a half-configured
Cloud API channel fails loudly instead of refusing every webhook quietly."""

from __future__ import annotations

from django.conf import settings
from django.core.checks import Warning, register


@register()
def cloud_api_settings(app_configs=None, **kwargs) -> list[Warning]:
    sending = bool(settings.WA_CLOUD_ACCESS_TOKEN) + bool(settings.WA_CLOUD_PHONE_NUMBER_ID)
    problems = []
    if sending == 1:
        problems.append(Warning(
            "Only one of WA_CLOUD_ACCESS_TOKEN and WA_CLOUD_PHONE_NUMBER_ID is set: the Cloud API channel cannot send.",
            hint="Set both (docs/whatsapp-cloud-api.md) or neither.",
            id="whatsapp.W001",
        ))
    if sending and not settings.WA_CLOUD_APP_SECRET:
        problems.append(Warning(
            "WA_CLOUD_APP_SECRET is not set: /whatsapp/cloud refuses every webhook (403).",
            hint="The app secret is in Meta's developer console, App settings -> Basic.",
            id="whatsapp.W002",
        ))
    if sending and not settings.WA_CLOUD_VERIFY_TOKEN:
        problems.append(Warning(
            "WA_CLOUD_VERIFY_TOKEN is not set: Meta cannot verify the webhook URL.",
            hint="Any random string, the same as in the webhook configuration.",
            id="whatsapp.W003",
        ))
    if settings.WA_CLOUD_API_URL and not settings.WA_CLOUD_API_URL.startswith(("https://", "http://")):
        problems.append(Warning("WA_CLOUD_API_URL must be an http(s) URL.", id="whatsapp.W004"))
    return problems
