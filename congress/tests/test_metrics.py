"""Metrics endpoint and admin dashboard."""

from __future__ import annotations

import pytest

from congress.testing.factories import make_event, make_participant
from registrations.models import RegistrationEvent

pytestmark = pytest.mark.django_db


def metric_value(text: str, name: str) -> float:
    for line in text.splitlines():
        if line.startswith(name + " ") or line.startswith(name + "{"):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_metrics_needs_the_api_key_when_one_is_configured(client, api_key):
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", HTTP_X_API_KEY=api_key).status_code == 200


def test_request_counters_move_as_requests_flow(client):
    make_event()
    before = metric_value(client.get("/metrics").content.decode(), 'http_requests_total{method="POST",status="200",view="chat"}')
    client.post("/chat", {"user_id": "m1", "message": "menu"}, content_type="application/json")
    after = metric_value(client.get("/metrics").content.decode(), 'http_requests_total{method="POST",status="200",view="chat"}')
    assert after == before + 1


def test_registration_gauges_come_from_the_database(client):
    make_participant()
    RegistrationEvent.objects.create(conversation_id="a", kind=RegistrationEvent.Kind.STEP, step="asking_name")
    RegistrationEvent.objects.create(conversation_id="b", kind=RegistrationEvent.Kind.STEP, step="asking_name")
    RegistrationEvent.objects.create(conversation_id="b", kind=RegistrationEvent.Kind.ABANDONED, step="asking_cpf")
    text = client.get("/metrics").content.decode()
    assert metric_value(text, 'participants{status="confirmed"}') == 1
    assert metric_value(text, 'registration_abandoned_conversations{step="asking_cpf"}') == 1
    assert metric_value(text, 'registration_funnel_conversations{step="asking_name"}') == 2


def test_the_dashboard_shows_the_funnel_and_counts(admin_client):
    make_participant(uf="SP")
    make_participant(uf="SP")
    RegistrationEvent.objects.create(conversation_id="a", kind=RegistrationEvent.Kind.STEP, step="asking_email")
    page = admin_client.get("/admin/dashboard/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "Pedindo e-mail" in html
    assert page.context["by_uf"] == [{"uf": "SP", "n": 2}]


def test_the_dashboard_needs_a_logged_in_organizer(client):
    assert client.get("/admin/dashboard/").status_code == 302


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


def test_llm_counters_move_with_calls_and_errors(client, fake_openai):
    from chatbot.llm import LLMError, get_llm

    def calls(outcome: str) -> float:
        return metric_value(client.get("/metrics").content.decode(), f'llm_calls_total{{kind="chat",outcome="{outcome}"}}')

    ok, errors = calls("ok"), calls("error")
    get_llm().chat([{"role": "user", "content": "oi"}])
    fake_openai.fail_with(500, times=100)
    with pytest.raises(LLMError):
        get_llm().chat([{"role": "user", "content": "oi"}])
    assert calls("ok") == ok + 1
    assert calls("error") == errors + 1
