"""API-key authentication for the REST endpoints (CONTRACT §3).

The key is accepted as ``X-API-Key`` (header names are case-insensitive, so the
original gateway's ``X-API-KEY`` works) or ``Authorization: Bearer <key>``,
and compared in constant time. In prod every endpoint but /health needs it; in
dev only when ``BOT_API_KEY`` is set.
"""

from __future__ import annotations

import hmac
import logging

from django.conf import settings
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions, permissions
from rest_framework.request import Request

logger = logging.getLogger(__name__)


class ApiClient:
    """The authenticated caller: a gateway or script holding the API key."""

    is_authenticated = True
    is_anonymous = False
    pk = None
    username = "api-client"

    def __str__(self) -> str:
        return self.username


def api_key_required() -> bool:
    return settings.PRODUCTION or bool(settings.BOT_API_KEY)


def presented_key(request) -> str | None:
    key = request.headers.get("X-API-Key")
    if key:
        return key.strip()
    auth = request.headers.get("Authorization", "")
    scheme, _, value = auth.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return None


def key_matches(candidate: str) -> bool:
    expected = settings.BOT_API_KEY
    if not expected:
        return False
    return hmac.compare_digest(candidate.encode("utf-8", "surrogatepass"), expected.encode("utf-8"))


class ApiKeyAuthentication(authentication.BaseAuthentication):
    def authenticate(self, request: Request):
        key = presented_key(request)
        if key is not None and key_matches(key):
            return (ApiClient(), None)
        if api_key_required():
            # Runs here, not as a DRF throttle: authentication fails before
            # throttles would run, and key guessing is exactly what to slow.
            from congress.throttles import AnonymousIPRateThrottle

            throttle = AnonymousIPRateThrottle()
            if not throttle.allow_request(request, None):
                raise exceptions.Throttled(wait=throttle.wait())
        if key is None:
            return None
        # Never log the key itself.
        logger.warning("API request with a wrong key from %s to %s", request.META.get("REMOTE_ADDR"), request.path)
        raise exceptions.AuthenticationFailed("Invalid API key.")

    def authenticate_header(self, request: Request) -> str:
        # Makes DRF answer 401 (not 403) when the key is missing.
        return 'ApiKey header="X-API-Key"'


class HasApiKey(permissions.BasePermission):
    message = "Missing API key: send it in the X-API-Key header."

    def has_permission(self, request: Request, view) -> bool:
        if not api_key_required():
            return True
        return isinstance(request.user, ApiClient)


class ApiKeyScheme(OpenApiAuthenticationExtension):
    """Describe the API key in the OpenAPI schema."""

    target_class = "congress.api_auth.ApiKeyAuthentication"
    name = "ApiKeyAuth"

    def get_security_definition(self, auto_schema):
        return {"type": "apiKey", "in": "header", "name": "X-API-Key"}
