"""API throttling (429 with Retry-After).

- Per conversation: one chatty or scripted participant cannot flood the bot or
  the LLM bill, whichever endpoint carries their messages.
- Per client IP, only for requests WITHOUT a valid API key (key guessing). The
  authenticated gateway carries every participant's traffic from one address,
  so no per-IP limit applies to it.

Rates come from settings (``THROTTLE_CONVERSATION_RATE``,
``THROTTLE_ANON_IP_RATE``), read at request time; counters live in the
default cache (Redis when configured).
"""

from __future__ import annotations

from django.conf import settings
from rest_framework.throttling import SimpleRateThrottle


class _SettingsRateThrottle(SimpleRateThrottle):
    setting_name = ""

    def get_rate(self) -> str | None:
        return getattr(settings, self.setting_name, None) or None


class ConversationRateThrottle(_SettingsRateThrottle):
    scope = "conversation"
    setting_name = "THROTTLE_CONVERSATION_RATE"

    def get_cache_key(self, request, view) -> str | None:
        data = request.data if hasattr(request, "data") else {}
        if not hasattr(data, "get"):
            return None
        if data.get("message_id"):
            # The queued /whatsapp shape: a gateway retry must get "duplicate",
            # never a 429 that could lose the message.
            return None
        ident = data.get("user_id") or data.get("number") or data.get("jid")
        if not isinstance(ident, str) or not ident.strip():
            return None
        return self.cache_format % {"scope": self.scope, "ident": ident.strip()[:128]}


class AnonymousIPRateThrottle(_SettingsRateThrottle):
    """Applied by ``ApiKeyAuthentication`` to requests without a valid key
    (authentication fails before DRF's throttles would run)."""

    scope = "anon_ip"
    setting_name = "THROTTLE_ANON_IP_RATE"

    def get_cache_key(self, request, view) -> str | None:
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}
