from __future__ import annotations

import itertools

import pytest

from congress.testing.fake_gateway import FakeGateway
from congress.testing.fake_openai import fake_openai  # noqa: F401 - fixture

GATEWAY_KEY = "gateway-test-key-0123456789"
_ids = itertools.count(1)


@pytest.fixture
def fake_gateway(settings):
    """A running fake /send-text, with the pipeline pointed at it."""
    gateway = FakeGateway(api_key=GATEWAY_KEY).start()
    settings.GATEWAY_URL = gateway.url
    settings.GATEWAY_API_KEY = GATEWAY_KEY
    settings.GATEWAY_TIMEOUT_S = 2.0
    yield gateway
    gateway.stop()


@pytest.fixture
def fast_retries(settings):
    settings.WA_RETRY_BACKOFF_S = 0.05
    settings.WA_RETRY_BACKOFF_MAX_S = 0.2


def new_message_id() -> str:
    return f"3EB0TEST{next(_ids):08d}"


def queued_body(**overrides) -> dict:
    body = {
        "message_id": new_message_id(),
        "number": "5561999990000",
        "jid": "5561999990000@s.whatsapp.net",
        "text": "oi",
        "push_name": "Ana",
        "timestamp": 1764000000,
        "audio_base64": None,
        "mimetype": None,
    }
    body.update(overrides)
    return body
