"""POST /whatsapp, both shapes (CONTRACT §3): answers, duplicates and bad input."""

from __future__ import annotations

import base64

import pytest

from whatsapp.models import InboundMessage, MessageEvent
from whatsapp.tests.conftest import queued_body

pytestmark = pytest.mark.django_db

OGG = b"OggS" + bytes(range(256)) * 4


def post(api_client, body, **extra):
    return api_client.post("/whatsapp", body, format="json", **extra)


def test_the_queued_shape_answers_202_and_stores_the_message(api_client, django_capture_on_commit_callbacks):
    body = queued_body(text="quero me inscrever")
    with django_capture_on_commit_callbacks() as callbacks:
        response = post(api_client, body)
    assert response.status_code == 202
    assert response.json() == {"status": "queued", "message_id": body["message_id"]}
    inbound = InboundMessage.objects.get(message_id=body["message_id"])
    assert (inbound.chat_id, inbound.text, inbound.push_name, inbound.status) == (
        "5561999990000", "quero me inscrever", "Ana", InboundMessage.Status.PENDING
    )
    assert inbound.sent_at is not None and inbound.sent_at.timestamp() == 1764000000
    assert len(callbacks) == 1, "the drain is enqueued once, on commit"


def test_the_same_message_id_again_is_a_duplicate_and_changes_nothing(api_client, django_capture_on_commit_callbacks):
    body = queued_body()
    post(api_client, body)
    with django_capture_on_commit_callbacks() as callbacks:
        response = post(api_client, {**body, "text": "outro texto"})
    assert response.status_code == 200
    assert response.json() == {"status": "duplicate", "message_id": body["message_id"]}
    assert InboundMessage.objects.get().text == "oi"
    assert callbacks == []
    assert MessageEvent.objects.count() == 1


def test_a_message_with_only_a_jid_is_keyed_by_the_jid(api_client):
    body = queued_body(number=None, jid="123456789012345@lid")
    assert post(api_client, body).status_code == 202
    assert InboundMessage.objects.get().chat_id == "123456789012345@lid"


def test_a_voice_note_is_accepted_as_audio(api_client):
    body = queued_body(text=None, audio_base64=base64.b64encode(OGG).decode(), mimetype="audio/ogg; codecs=opus")
    assert post(api_client, body).status_code == 202
    inbound = InboundMessage.objects.get()
    assert inbound.has_audio and bytes(inbound.audio) == OGG
    assert inbound.mimetype == "audio/ogg; codecs=opus"


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"text": None, "audio_base64": None}, "text"),
        ({"text": "   "}, "text"),
        ({"number": None, "jid": None}, "number"),
        ({"message_id": ""}, "message_id"),
        ({"timestamp": "yesterday"}, "timestamp"),
    ],
    ids=["no-text-no-audio", "blank-text", "no-number-no-jid", "empty-message-id", "bad-timestamp"],
)
def test_a_queued_message_missing_what_it_needs_is_a_400_naming_the_field(api_client, overrides, field):
    response = post(api_client, queued_body(**overrides))
    assert response.status_code == 400
    assert field in response.json()["fields"]
    assert not InboundMessage.objects.exists()


def test_text_longer_than_max_message_chars_is_a_400(api_client, settings):
    response = post(api_client, queued_body(text="a" * (settings.MAX_MESSAGE_CHARS + 1)))
    assert response.status_code == 400
    assert "text" in response.json()["fields"]


def test_audio_larger_than_max_audio_bytes_is_a_413(api_client, settings):
    settings.MAX_AUDIO_BYTES = 1000
    response = post(api_client, queued_body(text=None, audio_base64=base64.b64encode(OGG + b"x" * 1000).decode(), mimetype="audio/ogg"))
    assert response.status_code == 413
    assert response.json()["error"] == "too_large"


def test_a_body_larger_than_the_upload_limit_is_refused_without_a_500(api_client, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 10_000
    response = post(api_client, queued_body(text=None, audio_base64="A" * 20_000, mimetype="audio/ogg"))
    assert response.status_code == 413
    assert response.json()["error"] == "too_large"


@pytest.mark.parametrize(
    ("audio", "mimetype"),
    [("not base64 at all!!", "audio/ogg"), (base64.b64encode(b"plain text, not audio").decode(), "audio/ogg"), (base64.b64encode(OGG).decode(), "image/png")],
    ids=["bad-base64", "not-audio-bytes", "not-an-audio-mimetype"],
)
def test_bad_audio_is_a_400(api_client, audio, mimetype):
    response = post(api_client, queued_body(text=None, audio_base64=audio, mimetype=mimetype))
    assert response.status_code == 400
    assert response.json()["error"] == "invalid"


@pytest.mark.parametrize(
    "number", ["55 61 9999", "abc", "5561999990000@s.whatsapp.net", "+5561999990000"], ids=["spaces", "letters", "a-jid", "plus-sign"]
)
def test_a_number_that_is_not_digits_is_a_400(api_client, number):
    assert post(api_client, queued_body(number=number)).status_code == 400


@pytest.mark.parametrize(
    "raw",
    [
        '{"message_id": "X1", "number": "5561999990000", "text": "oi \\u0000"}',
        '{"message_id": "X2", "number": "5561999990000", "text": "oi \\ud800"}',
        '{"message_id": "X\\u0000", "number": "5561999990000", "text": "oi"}',
    ],
    ids=["nul-in-text", "lone-surrogate", "nul-in-message-id"],
)
def test_text_postgresql_cannot_store_is_a_400(api_client, raw):
    response = api_client.post("/whatsapp", raw, content_type="application/json")
    assert response.status_code == 400
    assert not InboundMessage.objects.exists()


def test_a_body_that_is_not_a_json_object_is_a_400(api_client):
    response = api_client.post("/whatsapp", [1, 2], format="json")
    assert response.status_code == 400


def test_malformed_json_is_a_400(api_client):
    response = api_client.post("/whatsapp", "{not json", content_type="application/json")
    assert response.status_code == 400


def test_the_original_gateway_shape_answers_with_the_reply_inline(api_client):
    response = post(api_client, {"number": "5561999990001", "text": "oi"})
    assert response.status_code == 200
    assert set(response.json()) == {"reply"}
    assert "Olá" in response.json()["reply"]
    assert not InboundMessage.objects.exists()


def test_the_original_gateway_shape_refuses_a_huge_text(api_client, settings):
    response = post(api_client, {"number": "5561999990001", "text": "a" * (settings.MAX_MESSAGE_CHARS + 1)})
    assert response.status_code == 400


def test_the_path_with_a_trailing_slash_works_too(api_client):
    assert api_client.post("/whatsapp/", queued_body(), format="json").status_code == 202


def test_a_missing_api_key_is_a_401_when_one_is_configured(api_client, api_key):
    assert post(api_client, queued_body()).status_code == 401
    assert post(api_client, queued_body(), HTTP_X_API_KEY="wrong").status_code == 401
    assert post(api_client, queued_body(), HTTP_X_API_KEY=api_key).status_code == 202


def test_the_original_gateways_upper_case_header_is_accepted(api_client, api_key):
    response = api_client.post("/whatsapp", queued_body(), format="json", headers={"X-API-KEY": api_key})
    assert response.status_code == 202


def test_every_response_carries_a_request_id_which_the_message_keeps(api_client):
    response = post(api_client, queued_body(), HTTP_X_REQUEST_ID="req-abc-123")
    assert response["X-Request-ID"] == "req-abc-123"
    assert InboundMessage.objects.get().request_id == "req-abc-123"


def test_the_openapi_schema_documents_both_shapes(api_client):
    schema = api_client.get("/api/schema/", {"format": "json"}).json()
    (path,) = [p for p in schema["paths"] if p.strip("/") == "whatsapp"]
    post_spec = schema["paths"][path]["post"]
    assert {"200", "202", "400", "413"} <= set(post_spec["responses"])
    shapes = schema["components"]["schemas"]["WhatsAppMessageRequest"]["oneOf"]
    assert len(shapes) == 2
