"""Project-wide test fixtures.

The suite talks to real PostgreSQL (``DATABASE_URL``) and real Redis
(``REDIS_URL``); the README's test command sets both. Each test starts with an
empty Redis database and an empty cache.
"""

from __future__ import annotations

import pytest
from django.core.cache import cache

from congress.redis import get_redis


@pytest.fixture(autouse=True)
def _clean_redis_and_cache(settings):
    get_redis.cache_clear()
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
