"""/whatsapp/cloud (CONTRACT §3): the handshake, the signature over the raw
body, what each kind of message becomes, duplicates, statuses moving
forward only, and never a 5xx for well-signed input.

In-process (Django's test client); the enqueued drains are captured, not
run. The real worker's end-to-end guarantees are in test_cloud_worker.py.
"""

from __future__ import annotations

import json

import pytest
from django.db import OperationalError
from django.urls import reverse

from whatsapp.models import InboundMessage, MessageEvent, OutboundMessage
from whatsapp.tests.conftest import (
    CLOUD_WA_ID,
    cloud_body,
    cloud_message,
    cloud_status,
    new_wamid,
    signed,
)

pytestmark = pytest.mark.django_db

SECRET = "test-app-secret-0123456789"
URL = "/whatsapp/cloud"


@pytest.fixture(autouse=True)
def cloud_settings(settings):
    settings.WA_CLOUD_APP_SECRET = SECRET
    settings.WA_CLOUD_VERIFY_TOKEN = "verify-me"
    settings.WA_CLOUD_PHONE_NUMBER_ID = "106540352242922"
    settings.BOT_API_KEY = "an-api-key-the-webhook-never-needs"


@pytest.fixture
def post(client, django_capture_on_commit_callbacks):
    """POST a signed body; returns the response (drains captured, not run)."""

    def post(body: dict | bytes, *, secret: str = SECRET, headers: dict | None = None):
        raw, signature = signed(body, secret)
        with django_capture_on_commit_callbacks():
            return client.post(URL, raw, content_type="application/json", **(signature if headers is None else headers))

    return post


# --- handshake ------------------------------------------------------------------------


def test_the_handshake_echoes_the_challenge_as_plain_text_when_the_token_matches(client):
    response = client.get(URL, {"hub.mode": "subscribe", "hub.verify_token": "verify-me", "hub.challenge": "1158201444"})
    assert response.status_code == 200
    assert response.content == b"1158201444"
    assert response["Content-Type"].startswith("text/plain")


@pytest.mark.parametrize(
    "params",
    [
        {"hub.mode": "subscribe", "hub.verify_token": "wrong", "hub.challenge": "1"},
        {"hub.mode": "unsubscribe", "hub.verify_token": "verify-me", "hub.challenge": "1"},
        {"hub.challenge": "1"},
    ],
    ids=["wrong-token", "wrong-mode", "no-token"],
)
def test_the_handshake_is_refused_with_403_otherwise(client, params):
    response = client.get(URL, params)
    assert response.status_code == 403
    assert response.content != b"1"


def test_without_a_verify_token_configured_no_handshake_succeeds(client, settings):
    settings.WA_CLOUD_VERIFY_TOKEN = ""
    response = client.get(URL, {"hub.mode": "subscribe", "hub.verify_token": "", "hub.challenge": "1"})
    assert response.status_code == 403


# --- signature --------------------------------------------------------------------------


def test_a_signed_text_is_accepted_into_the_pipeline_as_a_cloud_message(post):
    message = cloud_message(body="quero me inscrever", timestamp=1764000000)
    response = post(cloud_body(messages=[message], name="Ana Souza"))
    assert response.status_code == 200
    assert response.json() == {"accepted": 1, "duplicates": 0, "statuses": 0, "ignored": 0}
    inbound = InboundMessage.objects.get()
    assert (inbound.message_id, inbound.channel, inbound.chat_id, inbound.number, inbound.push_name, inbound.text) == (
        message["id"], "cloud", CLOUD_WA_ID, CLOUD_WA_ID, "Ana Souza", "quero me inscrever"
    )
    assert inbound.sent_at.timestamp() == 1764000000
    assert MessageEvent.objects.get(inbound=inbound).detail == "cloud"


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"HTTP_X_HUB_SIGNATURE_256": "sha256=" + "0" * 64},
        {"HTTP_X_HUB_SIGNATURE_256": "sha1=abc"},
        {"HTTP_X_HUB_SIGNATURE_256": "sha256="},
    ],
    ids=["missing", "wrong", "wrong-scheme", "empty"],
)
def test_a_missing_or_wrong_signature_is_refused_and_nothing_is_stored(post, headers):
    response = post(cloud_body(messages=[cloud_message()]), headers=headers)
    assert response.status_code == 403
    assert "detail" in response.json()
    assert InboundMessage.objects.count() == 0


def test_a_body_signed_with_another_secret_is_refused(post):
    assert post(cloud_body(messages=[cloud_message()]), secret="someone-elses-secret").status_code == 403
    assert InboundMessage.objects.count() == 0


def test_the_signature_covers_the_raw_bytes_so_a_re_serialised_body_fails(client):
    """Meta signs the bytes it sent; the same JSON re-serialised (ASCII
    escapes for "ç", other spacing) is not what was signed."""
    body = cloud_body(messages=[cloud_message(body="inscrição, João")])
    _raw, headers = signed(body, SECRET)
    reserialised = json.dumps(body).encode()  # ensure_ascii, ", " separators
    response = client.post(URL, reserialised, content_type="application/json", **headers)
    assert response.status_code == 403
    assert InboundMessage.objects.count() == 0


def test_accented_text_signed_as_sent_is_accepted_intact(post):
    post(cloud_body(messages=[cloud_message(body="inscrição, João")]))
    assert InboundMessage.objects.get().text == "inscrição, João"


def test_without_an_app_secret_configured_every_post_is_refused(post, settings):
    settings.WA_CLOUD_APP_SECRET = ""
    raw, _ = signed(cloud_body(messages=[cloud_message()]), "")
    assert post(raw, secret="").status_code == 403
    assert InboundMessage.objects.count() == 0


def test_a_signed_body_that_is_not_json_is_a_400(post):
    assert post(b"not json at all").status_code == 400
    assert post(b"[1, 2]").status_code == 400


def test_the_webhook_needs_no_api_key_and_no_csrf_token(settings):
    from django.test import Client

    settings.PRODUCTION = True  # every other endpoint but /health needs the key now
    raw, headers = signed(cloud_body(messages=[cloud_message()]), SECRET)
    response = Client(enforce_csrf_checks=True).post(URL, raw, content_type="application/json", **headers)
    assert response.status_code == 200 and InboundMessage.objects.count() == 1


# --- what messages become --------------------------------------------------------------


def test_the_same_wamid_delivered_again_is_a_duplicate(post):
    message = cloud_message(body="oi")
    assert post(cloud_body(messages=[message])).json()["accepted"] == 1
    again = post(cloud_body(messages=[{**message, "text": {"body": "outro"}}]))
    assert again.status_code == 200 and again.json()["duplicates"] == 1
    assert InboundMessage.objects.get().text == "oi"


def test_a_voice_note_is_stored_as_its_media_id_for_the_worker_to_download(post):
    post(cloud_body(messages=[cloud_message("audio", media_id="1234567890")]))
    inbound = InboundMessage.objects.get()
    assert inbound.has_audio and inbound.audio is None
    assert (inbound.media_id, inbound.mimetype, inbound.text) == ("1234567890", "audio/ogg; codecs=opus", "")


@pytest.mark.parametrize(
    ("message", "text"),
    [
        (cloud_message("button_reply", reply_id="consent-yes", title="Sim"), "Sim"),
        (cloud_message("list_reply", reply_id="profile-2", title="Estudante"), "Estudante"),
        (cloud_message("button_reply", reply_id="answer:Londrina/PR", title="Londrina"), "Londrina/PR"),
        (cloud_message("button", text="Quero me inscrever"), "Quero me inscrever"),
        (cloud_message("image", id="55", mime_type="image/jpeg", caption="meu comprovante"), "meu comprovante"),
    ],
    ids=["button-reply", "list-reply", "answer-id", "template-button", "image-caption"],
)
def test_taps_and_captions_reach_the_engine_as_the_text_a_person_would_type(post, message, text):
    post(cloud_body(messages=[message]))
    assert InboundMessage.objects.get().text == text


@pytest.mark.parametrize(
    "message",
    [
        cloud_message("sticker", id="9", mime_type="image/webp"),
        cloud_message("reaction", message_id="wamid.x", emoji="👍"),
        cloud_message("location", latitude=-15.8, longitude=-47.9),
        cloud_message("unsupported", errors=[{"code": 131051, "title": "Message type unknown"}]),
        cloud_message("text", body="   "),
    ],
    ids=["sticker", "reaction", "location", "unsupported", "blank-text"],
)
def test_what_the_bot_cannot_read_is_answered_200_logged_and_counted(post, message):
    response = post(cloud_body(messages=[message]))
    assert response.status_code == 200
    assert response.json()["ignored"] == 1
    assert InboundMessage.objects.count() == 0


def test_several_messages_in_one_post_are_each_accepted_and_a_bad_one_does_not_fail_the_others(post):
    good_one, good_two = cloud_message(body="primeira"), cloud_message(body="segunda")
    bad = {"from": CLOUD_WA_ID, "id": "x" * 300, "type": "text", "text": {"body": "id too long"}}
    body = cloud_body(messages=[good_one, bad, "not an object", good_two])
    response = post(body)
    assert response.status_code == 200
    assert response.json() == {"accepted": 2, "duplicates": 0, "statuses": 0, "ignored": 2}
    assert list(InboundMessage.objects.order_by("id").values_list("text", flat=True)) == ["primeira", "segunda"]


@pytest.mark.parametrize(
    "body",
    [
        {"object": "page", "entry": []},
        {"object": "whatsapp_business_account", "entry": "nope"},
        {"object": "whatsapp_business_account", "entry": [{"changes": [{"field": "account_update", "value": {}}]}]},
        {"object": "whatsapp_business_account", "entry": [{"changes": [None, {"field": "messages", "value": []}]}]},
        {"unexpected": True},
    ],
    ids=["other-object", "entry-not-a-list", "other-field", "broken-changes", "no-entry"],
)
def test_unknown_shapes_are_answered_200_and_store_nothing(post, body):
    response = post(body)
    assert response.status_code == 200
    assert InboundMessage.objects.count() == 0


def test_messages_to_another_number_of_the_app_are_ignored(post):
    response = post(cloud_body(messages=[cloud_message()], phone_number_id="999"))
    assert response.json()["ignored"] == 1 and InboundMessage.objects.count() == 0


def test_an_unexpected_error_on_one_item_is_logged_and_answered_200(post, monkeypatch):
    from whatsapp import services

    def explode(**kwargs):
        raise RuntimeError("bug")

    monkeypatch.setattr(services, "message_accept", explode)
    response = post(cloud_body(messages=[cloud_message()]))
    assert response.status_code == 200 and response.json()["ignored"] == 1


def test_a_database_outage_is_a_503_so_that_meta_delivers_again(post, monkeypatch):
    from whatsapp import services

    def down(**kwargs):
        raise OperationalError("connection refused")

    monkeypatch.setattr(services, "message_accept", down)
    assert post(cloud_body(messages=[cloud_message()])).status_code == 503


def test_the_accepted_message_is_queued_on_commit(client, django_capture_on_commit_callbacks):
    raw, headers = signed(cloud_body(messages=[cloud_message()]), SECRET)
    with django_capture_on_commit_callbacks() as callbacks:
        client.post(URL, raw, content_type="application/json", **headers)
    assert len(callbacks) == 1


# --- statuses ------------------------------------------------------------------------------


def sent_reply(wamid: str) -> OutboundMessage:
    inbound = InboundMessage.objects.create(message_id=new_wamid(), channel="cloud", chat_id=CLOUD_WA_ID, number=CLOUD_WA_ID,
                                            text="oi", status="done")
    return OutboundMessage.objects.create(inbound=inbound, channel="cloud", chat_id=CLOUD_WA_ID, number=CLOUD_WA_ID,
                                          text="olá", status="sent", provider_message_id=wamid)


def test_statuses_move_a_reply_forward(post):
    reply = sent_reply("wamid.OUT1")
    post(cloud_body(statuses=[cloud_status("wamid.OUT1", "delivered")]))
    reply.refresh_from_db()
    assert reply.status == "delivered"
    post(cloud_body(statuses=[cloud_status("wamid.OUT1", "read")]))
    reply.refresh_from_db()
    assert reply.status == "read"
    assert list(MessageEvent.objects.filter(outbound=reply).values_list("kind", flat=True)) == ["delivered", "read"]


@pytest.mark.parametrize(
    ("arrivals", "final", "events"),
    [
        (["delivered", "sent"], "delivered", ["delivered"]),
        (["read", "delivered", "sent"], "read", ["read"]),
        (["read", "failed"], "read", ["read"]),
        (["delivered", "delivered"], "delivered", ["delivered"]),
    ],
    ids=["sent-after-delivered", "all-reversed", "failed-after-read", "repeated"],
)
def test_statuses_arriving_out_of_order_never_move_a_reply_back(post, arrivals, final, events):
    reply = sent_reply("wamid.OUT2")
    # One POST with every status, as Meta may batch them, then one POST each.
    post(cloud_body(statuses=[cloud_status("wamid.OUT2", status) for status in arrivals]))
    for status in arrivals:
        post(cloud_body(statuses=[cloud_status("wamid.OUT2", status)]))
    reply.refresh_from_db()
    assert reply.status == final
    assert list(MessageEvent.objects.filter(outbound=reply).values_list("kind", flat=True)) == events


def test_a_failed_status_records_its_error_code_and_shows_in_the_admin(post, admin_client):
    reply = sent_reply("wamid.OUT3")
    errors = [{"code": 131026, "title": "Message undeliverable", "message": "Message undeliverable",
               "error_data": {"details": "Message Undeliverable."}}]
    post(cloud_body(statuses=[cloud_status("wamid.OUT3", "failed", errors=errors)]))
    reply.refresh_from_db()
    assert reply.status == "failed"
    assert reply.last_error == "131026 Message undeliverable: Message Undeliverable."
    assert MessageEvent.objects.get(outbound=reply).kind == "status_failed"
    listing = admin_client.get(reverse("admin:whatsapp_outboundmessage_changelist"), {"status__exact": "failed"})
    assert listing.context["cl"].result_count == 1
    assert "131026 Message undeliverable" in listing.content.decode()
    page = admin_client.get(reverse("admin:whatsapp_outboundmessage_change", args=[reply.pk])).content.decode()
    assert "131026 Message undeliverable" in page


def test_a_status_for_a_message_we_do_not_know_is_answered_200(post):
    response = post(cloud_body(statuses=[cloud_status("wamid.SOMEONE_ELSES", "delivered")]))
    assert response.status_code == 200 and response.json()["statuses"] == 1


def test_messages_and_statuses_in_one_post_are_all_handled(post):
    reply = sent_reply("wamid.OUT4")
    body = cloud_body(messages=[cloud_message(body="oi")], statuses=[cloud_status("wamid.OUT4", "read")])
    assert post(body).json() == {"accepted": 1, "duplicates": 0, "statuses": 1, "ignored": 0}
    reply.refresh_from_db()
    assert reply.status == "read"


# --- malformed fields cost only their own item ------------------------------------------------


def with_value(body: dict, **fields) -> dict:
    body["entry"][0]["changes"][0]["value"].update(fields)
    return body


@pytest.mark.parametrize(
    "fields",
    [
        {"metadata": "x"},
        {"metadata": None},
        {"contacts": "x"},
        {"contacts": [{"wa_id": CLOUD_WA_ID, "profile": "Ana"}]},
        {"contacts": [{"wa_id": CLOUD_WA_ID, "profile": {"name": ["Ana"]}}, "x", None]},
    ],
    ids=["metadata-a-string", "metadata-null", "contacts-a-string", "profile-a-string", "name-a-list"],
)
def test_a_malformed_field_beside_the_messages_does_not_drop_them(post, fields):
    body = with_value(cloud_body(messages=[cloud_message(body="primeira"), cloud_message(body="segunda")]), **fields)
    response = post(body)
    assert response.status_code == 200
    assert response.json()["accepted"] == 2
    assert list(InboundMessage.objects.order_by("id").values_list("text", flat=True)) == ["primeira", "segunda"]
    if "contacts" in fields:  # a name that cannot be read is no name
        assert set(InboundMessage.objects.values_list("push_name", flat=True)) == {""}


def test_a_text_with_a_lone_surrogate_is_accepted_with_it_replaced(post):
    body = cloud_body(messages=[cloud_message(body="oi \ud800 tudo bem"), cloud_message(body="segunda")], name="Ana \udc00")
    response = post(json.dumps(body).encode())  # JSON's \ud800 escape: valid JSON, not valid Unicode
    assert response.status_code == 200 and response.json()["accepted"] == 2
    first = InboundMessage.objects.order_by("id").first()
    assert (first.text, first.push_name) == ("oi \ufffd tudo bem", "Ana \ufffd")


@pytest.mark.parametrize("timestamp", ["²", "١٧٦٤٠٠٠٠٠٠", "-5", "1e9", "", None, [1]], ids=repr)
def test_a_timestamp_that_is_not_a_number_is_treated_as_missing(post, timestamp):
    message = cloud_message(body="oi")
    message["timestamp"] = timestamp
    response = post(cloud_body(messages=[message]))
    assert response.json()["accepted"] == 1
    inbound = InboundMessage.objects.get()
    assert inbound.text == "oi" and inbound.sent_at is None


def test_an_early_status_posted_by_meta_is_kept_and_answered_200(post):
    from whatsapp import services

    response = post(cloud_body(statuses=[cloud_status("wamid.NOT_STORED_YET", "failed", errors=[{"code": 131026}])]))
    assert response.status_code == 200 and response.json()["statuses"] == 1
    assert list(services._early_statuses_take("wamid.NOT_STORED_YET")) == ["failed"]
