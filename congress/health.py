"""GET /health (CONTRACT §3), and the container health probe's way past the Host check."""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Callable

import redis
from django.conf import settings
from django.core.exceptions import DisallowedHost
from django.db import DatabaseError, connection
from django.http import HttpRequest, HttpResponse
from django.urls import resolve
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import permissions, serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from congress.redis import get_redis

logger = logging.getLogger(__name__)


def check_database() -> str:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return "ok"
    except DatabaseError:
        logger.warning("Health check: database unreachable")
        # Drop the broken connection so the next request reconnects.
        connection.close_if_unusable_or_obsolete()
        return "error"


def check_redis() -> str:
    client = get_redis()
    if client is None:
        return "disabled"
    try:
        client.ping()
        return "ok"
    except redis.RedisError:
        logger.warning("Health check: Redis unreachable")
        return "error"


HEALTH_BODY = inline_serializer(
    "Health",
    {
        "status": serializers.ChoiceField(["healthy", "degraded", "error"]),
        "database": serializers.ChoiceField(["ok", "error"]),
        "redis": serializers.ChoiceField(["ok", "error", "disabled"]),
        "llm": serializers.ChoiceField(["openai", "offline"]),
        "queue": serializers.ChoiceField(["broker", "eager"]),
    },
)


class HealthView(APIView):
    authentication_classes: list = []
    permission_classes = [permissions.AllowAny]
    throttle_classes: list = []

    @extend_schema(responses={200: HEALTH_BODY, 503: HEALTH_BODY})
    def get(self, request: Request) -> Response:
        database = check_database()
        redis_state = check_redis()
        if database == "error":
            overall = "error"
        elif redis_state == "error":
            overall = "degraded"
        else:
            overall = "healthy"
        body = {
            "status": overall,
            "database": database,
            "redis": redis_state,
            "llm": "openai" if settings.OPENAI_API_KEY else "offline",
            "queue": "eager" if settings.CELERY_TASK_ALWAYS_EAGER else "broker",
        }
        return Response(body, status=503 if overall == "error" else 200)


# Headers a reverse proxy adds: a request carrying one came from outside, even
# when the proxy itself connects from a loopback address.
PROXY_HEADERS = ("HTTP_X_FORWARDED_FOR", "HTTP_FORWARDED", "HTTP_X_REAL_IP", "HTTP_X_FORWARDED_HOST")


def is_local_probe(request: HttpRequest) -> bool:
    """A GET/HEAD of /health sent from this machine's loopback, not relayed by a proxy."""
    if request.path_info != "/health" or request.method not in ("GET", "HEAD"):
        return False
    if any(header in request.META for header in PROXY_HEADERS):
        return False
    try:
        address = ipaddress.ip_address(request.META.get("REMOTE_ADDR", ""))
    except ValueError:
        return False
    mapped = getattr(address, "ipv4_mapped", None)
    return (mapped or address).is_loopback


class LocalHealthProbeMiddleware:
    """Answer the container's own health probe whatever its Host header.

    Docker runs ``curl http://127.0.0.1:8000/health`` inside the container,
    with ``Host: 127.0.0.1:8000``; with ALLOWED_HOSTS set to the real domain,
    CommonMiddleware would turn that into 400 before the view runs. Such a
    probe (a GET of /health from loopback, without proxy headers) is answered
    by the health view directly when its Host is not allowed. Every other
    request is validated as usual: /health through the reverse proxy (another
    address, or X-Forwarded-For) with a foreign Host is still 400. /health
    reads nothing from the Host, so answering it cannot poison a link.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.health_view = HealthView.as_view()

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if is_local_probe(request):
            try:
                request.get_host()
            except DisallowedHost:
                return self.answer(request)
        return self.get_response(request)

    def answer(self, request: HttpRequest) -> HttpResponse:
        request.resolver_match = resolve(request.path_info)  # metrics label the view, not "unmatched"
        response = self.health_view(request)
        response.render()  # middleware responses are not rendered by Django's handler
        return response
