"""Start-up checks of payments (``manage.py check``)."""

from __future__ import annotations

from django.conf import settings
from django.core.checks import Warning, register


@register()
def pix_configuration(app_configs=None, **kwargs) -> list[Warning]:
    warnings = []
    api = bool(settings.PIX_API_URL)
    if api and not (settings.PIX_CLIENT_ID and settings.PIX_CLIENT_SECRET and settings.PIX_KEY):
        warnings.append(
            Warning(
                "PIX_API_URL is set but PIX_CLIENT_ID, PIX_CLIENT_SECRET or PIX_KEY is missing: charges cannot be created.",
                hint="Set all four (see docs/payments.md), or unset PIX_API_URL to use static Pix.",
                id="payments.W001",
            )
        )
    if api and not settings.PIX_WEBHOOK_SECRET:
        warnings.append(
            Warning(
                "PIX_WEBHOOK_SECRET is not set: the PSP's webhook answers 404; payments are confirmed only on "
                "'já paguei' and at the deadline.",
                hint="Set a long random PIX_WEBHOOK_SECRET and register the webhook URL at the PSP.",
                id="payments.W002",
            )
        )
    if not api and not settings.PIX_KEY:
        try:
            from chatbot.models import TicketCategory

            paid = TicketCategory.objects.filter(active=True, price__gt=0, event__is_active=True).exists()
        except Exception:
            paid = False
        if paid:
            warnings.append(
                Warning(
                    "Paid ticket categories exist but no Pix is configured: participants are told the organizers "
                    "will send payment instructions.",
                    hint="Set PIX_KEY (static Pix) or the PIX_API_* settings (docs/payments.md).",
                    id="payments.W003",
                )
            )
    return warnings
