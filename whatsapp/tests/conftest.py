from __future__ import annotations

import itertools
import json
import time

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


# --- the Cloud API channel ------------------------------------------------------------------

from congress.testing.fake_graph import fake_graph  # noqa: E402, F401 - fixture

CLOUD_PHONE_ID = "106540352242922"
CLOUD_WA_ID = "5561988880000"
_wamids = itertools.count(1)


def new_wamid() -> str:
    return f"wamid.HBgNNTU2MTk4ODg4MDAwMBUCABIYFjNFQjBD{next(_wamids):010d}"


def cloud_message(kind: str = "text", *, wa_id: str = CLOUD_WA_ID, wamid: str | None = None,
                  timestamp: int | None = None, **content) -> dict:
    """One ``messages[]`` item as Meta sends it. ``kind`` text: ``body=``;
    audio: ``media_id=``; button_reply / list_reply: ``reply_id=``, ``title=``;
    button: ``text=``; anything else: ``content`` is the type's object."""
    message = {"from": wa_id, "id": wamid or new_wamid(), "timestamp": str(timestamp or int(time.time()))}
    if kind == "text":
        message.update(type="text", text={"body": content.get("body", "oi")})
    elif kind == "audio":
        message.update(type="audio", audio={"mime_type": "audio/ogg; codecs=opus", "sha256": "x", "id": content["media_id"], "voice": True})
    elif kind in ("button_reply", "list_reply"):
        reply = {"id": content.get("reply_id", "r1"), "title": content.get("title", "Sim")}
        if kind == "list_reply":
            reply["description"] = content.get("description", "")
        message.update(type="interactive", interactive={"type": kind, kind: reply})
    elif kind == "button":
        message.update(type="button", button={"text": content.get("text", "Sim"), "payload": content.get("payload", "SIM")},
                       context={"from": CLOUD_PHONE_ID, "id": "wamid.template"})
    else:
        message.update(type=kind, **{kind: content})
    return message


def cloud_status(wamid: str, status: str, *, wa_id: str = CLOUD_WA_ID, errors: list | None = None) -> dict:
    item = {"id": wamid, "status": status, "timestamp": str(int(time.time())), "recipient_id": wa_id}
    if errors is not None:
        item["errors"] = errors
    return item


def cloud_body(*, messages: list | None = None, statuses: list | None = None, name: str = "Ana",
               wa_id: str = CLOUD_WA_ID, phone_number_id: str = CLOUD_PHONE_ID) -> dict:
    """A webhook body: one entry, one ``messages`` change."""
    value: dict = {"messaging_product": "whatsapp",
                   "metadata": {"display_phone_number": "556130000000", "phone_number_id": phone_number_id}}
    if messages is not None:
        value["contacts"] = [{"profile": {"name": name}, "wa_id": wa_id}]
        value["messages"] = messages
    if statuses is not None:
        value["statuses"] = statuses
    return {"object": "whatsapp_business_account",
            "entry": [{"id": "102290129340398", "changes": [{"value": value, "field": "messages"}]}]}


def signed(body: dict | bytes, secret: str) -> tuple[bytes, dict[str, str]]:
    """The raw body (as Meta serialises it: no spaces, non-ASCII kept) and
    its ``X-Hub-Signature-256`` header."""
    from whatsapp.channels.cloud import sign

    raw = body if isinstance(body, bytes) else json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
    return raw, {"HTTP_X_HUB_SIGNATURE_256": sign(raw, secret)}
