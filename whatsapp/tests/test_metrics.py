"""Pipeline counters and message gauges in GET /metrics."""

from __future__ import annotations

import pytest

from congress.testing.factories import make_event
from congress.testing.metrics import metric_value

pytestmark = pytest.mark.django_db


def test_pipeline_counters_move_as_whatsapp_messages_flow(client):
    make_event()
    accepted = 'whatsapp_inbound_accepted_total{source="api"}'
    duplicate = 'whatsapp_inbound_duplicate_total{source="api"}'
    before = client.get("/metrics").content.decode()
    body = {"message_id": "METRIC-1", "number": "5561999990000", "text": "oi"}
    assert client.post("/whatsapp", body, content_type="application/json").status_code == 202
    assert client.post("/whatsapp", body, content_type="application/json").status_code == 200
    after = client.get("/metrics").content.decode()
    assert metric_value(after, accepted) == metric_value(before, accepted) + 1
    assert metric_value(after, duplicate) == metric_value(before, duplicate) + 1
    assert metric_value(after, 'whatsapp_inbound_messages{status="pending"}') >= 1
