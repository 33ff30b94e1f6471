"""GET /health (CONTRACT §3)."""

from __future__ import annotations

import logging

import redis
from django.conf import settings
from django.db import DatabaseError, connection
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
