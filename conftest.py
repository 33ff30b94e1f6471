"""Project-wide test fixtures.

The suite talks to real PostgreSQL (``DATABASE_URL``) and real Redis
(``REDIS_URL``); the README's test command sets both. Each test starts with an
empty Redis database and an empty cache.
"""

from __future__ import annotations

import pytest
from django.core.cache import cache

from congress.redis import get_redis, reset_breaker

pytest_plugins = ["congress.testing.fake_openai"]


@pytest.fixture(autouse=True)
def _clean_redis_and_cache(settings):
    # Scripted conversations send faster than any person; throttling tests
    # set their own rates.
    settings.THROTTLE_CONVERSATION_RATE = "100000/min"
    settings.THROTTLE_ANON_IP_RATE = "100000/min"
    get_redis.cache_clear()
    reset_breaker()
    client = get_redis()
    if client is not None:
        client.flushdb()
    cache.clear()
    yield
    get_redis.cache_clear()


@pytest.fixture
def api_client():
    from rest_framework.test import APIClient

    return APIClient()


@pytest.fixture
def api_key(settings):
    settings.BOT_API_KEY = "test-api-key-0123456789"
    return settings.BOT_API_KEY
