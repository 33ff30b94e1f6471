"""Throttling: 429 with Retry-After, per conversation and per IP for keyless requests."""

from __future__ import annotations

import pytest

from congress.testing.factories import make_event

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _event():
    make_event()


def post_chat(api_client, user_id, **headers):
    return api_client.post("/chat", {"user_id": user_id, "message": "menu"}, format="json", **headers)


def test_one_conversation_past_its_rate_gets_429_with_retry_after(api_client, settings):
    settings.THROTTLE_CONVERSATION_RATE = "3/min"
    codes = [post_chat(api_client, "flooder").status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    response = post_chat(api_client, "flooder")
    assert int(response.headers["Retry-After"]) > 0
    assert response.json()["error"] == "throttled"


def test_other_conversations_are_not_slowed_by_a_flooder(api_client, settings):
    settings.THROTTLE_CONVERSATION_RATE = "2/min"
    for _ in range(3):
        post_chat(api_client, "flooder")
    assert post_chat(api_client, "someone-else").status_code == 200


def test_keyless_requests_are_limited_per_ip(api_client, settings, api_key):
    settings.THROTTLE_ANON_IP_RATE = "3/min"
    codes = [post_chat(api_client, f"guess-{i}", HTTP_X_API_KEY=f"guess-{i}").status_code for i in range(5)]
    assert codes[:3] == [401, 401, 401]
    assert codes[3:] == [429, 429]


def test_the_authenticated_gateway_is_not_capped_per_ip(api_client, settings, api_key):
    settings.THROTTLE_ANON_IP_RATE = "2/min"
    codes = {post_chat(api_client, f"participant-{i}", HTTP_X_API_KEY=api_key).status_code for i in range(6)}
    assert codes == {200}


def test_the_key_is_compared_in_constant_time(monkeypatch, settings):
    import hmac

    from congress import api_auth

    calls = []
    real = hmac.compare_digest
    monkeypatch.setattr(api_auth.hmac, "compare_digest", lambda a, b: calls.append((a, b)) or real(a, b))
    settings.BOT_API_KEY = "expected-key"
    assert api_auth.key_matches("expected-key") is True
    assert api_auth.key_matches("wrong") is False
    assert len(calls) == 2
