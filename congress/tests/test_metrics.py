"""The metrics endpoint and its HTTP counters; each app tests its own metrics."""

from __future__ import annotations

import pytest

from congress.testing.factories import make_event
from congress.testing.metrics import metric_value

pytestmark = pytest.mark.django_db


def test_metrics_needs_the_api_key_when_one_is_configured(client, api_key):
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", HTTP_X_API_KEY=api_key).status_code == 200


def test_request_counters_move_as_requests_flow(client):
    make_event()
    before = metric_value(client.get("/metrics").content.decode(), 'http_requests_total{method="POST",status="200",view="chat"}')
    client.post("/chat", {"user_id": "m1", "message": "menu"}, content_type="application/json")
    after = metric_value(client.get("/metrics").content.decode(), 'http_requests_total{method="POST",status="200",view="chat"}')
    assert after == before + 1
