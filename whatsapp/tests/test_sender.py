"""sender.send_text against a local fake gateway: what counts as delivered,
what is worth retrying and what is not."""

from __future__ import annotations

import socket
import threading

import pytest

from whatsapp.sender import GatewayError, send_text
from whatsapp.tests.conftest import GATEWAY_KEY


def send() -> None:
    send_text(number="5561999990000", jid="5561999990000@s.whatsapp.net", text="Olá!", idempotency_key="outbound-1")


def test_a_reply_is_posted_as_json_with_the_api_key(fake_gateway):
    send()
    (request,) = fake_gateway.delivered()
    assert request.path == "/send-text"
    assert request.body == {"number": "5561999990000", "jid": "5561999990000@s.whatsapp.net", "text": "Olá!"}
    assert request.headers["x-api-key"] == GATEWAY_KEY
    assert request.headers["idempotency-key"] == "outbound-1"


@pytest.mark.parametrize("status", [500, 502, 503, 408, 429], ids=str)
def test_server_errors_and_throttling_are_transient(fake_gateway, status):
    fake_gateway.fail_with(status)
    with pytest.raises(GatewayError) as error:
        send()
    assert error.value.transient and error.value.status == status


@pytest.mark.parametrize("status", [400, 401, 403, 404, 422], ids=str)
def test_other_client_errors_are_permanent(fake_gateway, status):
    fake_gateway.fail_with(status)
    with pytest.raises(GatewayError) as error:
        send()
    assert not error.value.transient and error.value.status == status


def test_a_wrong_api_key_is_a_permanent_error(fake_gateway, settings):
    settings.GATEWAY_API_KEY = "wrong"
    with pytest.raises(GatewayError) as error:
        send()
    assert not error.value.transient and error.value.status == 401


def test_a_gateway_that_is_down_is_a_transient_error(fake_gateway):
    fake_gateway.down()
    with pytest.raises(GatewayError) as error:
        send()
    assert error.value.transient and error.value.status is None


def test_a_gateway_that_does_not_answer_in_time_is_a_transient_error(settings):
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    settings.GATEWAY_URL = f"http://127.0.0.1:{listener.getsockname()[1]}"
    settings.GATEWAY_TIMEOUT_S = 0.3
    accepted = []
    threading.Thread(target=lambda: accepted.append(listener.accept()), daemon=True).start()
    try:
        with pytest.raises(GatewayError) as error:
            send()
    finally:
        listener.close()
    assert error.value.transient and "timed out" in error.value.message


def test_the_sender_reconnects_after_the_gateway_restarts(fake_gateway):
    send()
    fake_gateway.down()
    fake_gateway.up()
    send()
    assert len(fake_gateway.delivered()) == 2
