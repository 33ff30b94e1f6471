"""One shared Redis client (or none on the embedded default), with a small
circuit breaker: after a connection failure, callers skip Redis for a few
seconds instead of paying a socket timeout on every call; it closes again by
itself, so the app recovers when Redis returns."""

from __future__ import annotations

import functools
import logging
import time

import redis
from django.conf import settings

logger = logging.getLogger(__name__)

BREAKER_SECONDS = 5.0
_down_until = 0.0


@functools.cache
def get_redis() -> redis.Redis | None:
    if not settings.REDIS_URL:
        return None
    return redis.Redis.from_url(
        settings.REDIS_URL,
        socket_connect_timeout=settings.REDIS_SOCKET_TIMEOUT_S,
        socket_timeout=settings.REDIS_SOCKET_TIMEOUT_S,
        health_check_interval=10,
    )


def redis_usable() -> redis.Redis | None:
    """The client, unless Redis is off or failed within the last few seconds."""
    client = get_redis()
    if client is None or time.monotonic() < _down_until:
        return None
    return client


def mark_redis_down() -> None:
    global _down_until
    if time.monotonic() >= _down_until:
        logger.warning("Redis unreachable: using the database fallback for %.0f s", BREAKER_SECONDS)
    _down_until = time.monotonic() + BREAKER_SECONDS


def reset_breaker() -> None:
    global _down_until
    _down_until = 0.0
