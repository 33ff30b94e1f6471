"""System checks for a production start (``manage.py check``, run by
``migrate`` and ``runserver``): what would fail silently otherwise."""

from __future__ import annotations

from django.conf import settings
from django.core.checks import Warning, register

_NOT_SENDING = ("django.core.mail.backends.console.EmailBackend", "django.core.mail.backends.locmem.EmailBackend")


@register()
def email_delivery(app_configs=None, **kwargs) -> list[Warning]:
    if settings.PRODUCTION and settings.EMAIL_BACKEND in _NOT_SENDING:
        return [
            Warning(
                "E-mail is not configured: confirmation e-mails are written to the log, not sent.",
                hint="Set EMAIL_URL (smtp+tls://user:password@host:587) or an anymail EMAIL_BACKEND (README, Configuration).",
                id="congress.W001",
            )
        ]
    return []
