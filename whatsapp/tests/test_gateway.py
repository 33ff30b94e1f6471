"""The neonize gateway: hand-built ``MessageEv`` protobufs fed through a real
neonize client's event dispatcher, and its /send-text endpoint."""

from __future__ import annotations

import ctypes
import json
import threading
import urllib.error
import urllib.request

import pytest
from neonize.client import NewClient
from neonize.events import EVENT_TO_INT, MessageEv
from neonize.exc import SendMessageError
from neonize.proto.Neonize_pb2 import JID, MessageInfo, MessageSource
from neonize.proto.waE2E.WAWebProtobufsE2E_pb2 import (
    AudioMessage,
    ExtendedTextMessage,
    ImageMessage,
    Message,
)

from whatsapp.gateway import GatewayHandler, SendTextServer
from whatsapp.models import InboundMessage

OGG = b"OggS" + bytes(range(256)) * 4
NUMBER = "5561999990000"


def jid(user: str, server: str = "s.whatsapp.net", device: int = 0) -> JID:
    return JID(User=user, Server=server, Device=device, RawAgent=0, Integrator=0, IsEmpty=False)


def message_event(
    message: Message,
    *,
    id: str = "3EB0AAAA0001",
    chat: JID | None = None,
    sender: JID | None = None,
    sender_alt: JID | None = None,
    from_me: bool = False,
    group: bool = False,
    push_name: str = "Ana",
) -> MessageEv:
    source = MessageSource(Chat=chat or jid(NUMBER), Sender=sender or jid(NUMBER, device=3), IsFromMe=from_me, IsGroup=group)
    if sender_alt is not None:
        source.SenderAlt.CopyFrom(sender_alt)
    return MessageEv(Info=MessageInfo(ID=id, Pushname=push_name, Timestamp=1764000000, MessageSource=source), Message=message)


class RecordingAccept:
    def __init__(self) -> None:
        self.calls: list[dict] = []

    def __call__(self, **kwargs):
        self.calls.append(kwargs)
        from whatsapp.services import AcceptResult

        return AcceptResult(status="queued", message_id=kwargs["message_id"], inbound_id=0)


@pytest.fixture
def client(tmp_path):
    """A real neonize client (not connected); WhatsApp itself is the fake edge:
    media downloads and sends are recorded instead of going to WhatsApp."""
    client = NewClient(str(tmp_path / "session.sqlite3"))
    client.downloads = []
    client.sent = []
    client.presence = []

    def download_any(message):
        client.downloads.append(message)
        return OGG

    client.download_any = download_any
    client.send_message = lambda to, text: client.sent.append((f"{to.User}@{to.Server}", text))
    client.send_chat_presence = lambda to, state, media: client.presence.append(f"{to.User}@{to.Server}")
    return client


@pytest.fixture
def accept():
    return RecordingAccept()


@pytest.fixture
def dispatch(client, accept):
    """Register the handler on the client and feed serialized events through
    neonize's own dispatcher, as the Go side does."""
    handler = GatewayHandler(accept=accept, inline=True, typing=True, accept_groups=False)
    # neonize keeps bound methods as weak references: the handler must stay referenced.
    client.handler = handler
    client.event(MessageEv)(handler.on_message)

    def dispatch(ev: MessageEv) -> None:
        raw = ev.SerializePartialToString()
        buffer = ctypes.create_string_buffer(raw, len(raw))
        client.event.execute(0, ctypes.addressof(buffer), len(raw), EVENT_TO_INT[MessageEv])

    return dispatch


def test_a_text_message_is_accepted_with_the_senders_number(dispatch, accept, client):
    dispatch(message_event(Message(conversation="oi, tudo bem?")))
    assert accept.calls == [
        {
            "message_id": "3EB0AAAA0001",
            "number": NUMBER,
            "jid": f"{NUMBER}@s.whatsapp.net",
            "text": "oi, tudo bem?",
            "push_name": "Ana",
            "timestamp": 1764000000,
            "audio": None,
            "mimetype": "",
            "source": "gateway",
        }
    ]
    assert client.presence == [f"{NUMBER}@s.whatsapp.net"], "typing... while the reply is produced"


def test_an_extended_text_message_is_accepted_with_its_text(dispatch, accept):
    dispatch(message_event(Message(extendedTextMessage=ExtendedTextMessage(text="veja https://exemplo.com.br"))))
    assert accept.calls[0]["text"] == "veja https://exemplo.com.br"


def test_an_image_caption_is_accepted_as_text(dispatch, accept):
    dispatch(message_event(Message(imageMessage=ImageMessage(caption="meu comprovante"))))
    assert accept.calls[0]["text"] == "meu comprovante"


def test_a_voice_note_is_downloaded_and_accepted_as_audio(dispatch, accept, client):
    voice = AudioMessage(PTT=True, mimetype="audio/ogg; codecs=opus", seconds=4, fileLength=len(OGG))
    dispatch(message_event(Message(audioMessage=voice)))
    (call,) = accept.calls
    assert (call["audio"], call["mimetype"], call["text"]) == (OGG, "audio/ogg; codecs=opus", "")
    assert len(client.downloads) == 1


def test_a_voice_note_too_large_is_not_downloaded_and_the_sender_is_told(dispatch, accept, client, settings):
    settings.MAX_AUDIO_BYTES = 1000
    dispatch(message_event(Message(audioMessage=AudioMessage(PTT=True, mimetype="audio/ogg", fileLength=5000))))
    assert accept.calls == [] and client.downloads == []
    assert len(client.sent) == 1 and "longo demais" in client.sent[0][1]


def test_our_own_message_is_ignored(dispatch, accept):
    dispatch(message_event(Message(conversation="resposta do bot"), from_me=True))
    assert accept.calls == []


def test_a_group_message_is_ignored_by_default(dispatch, accept):
    dispatch(message_event(Message(conversation="oi grupo"), chat=jid("120363040000000000", "g.us"), group=True))
    assert accept.calls == []


def test_a_group_message_is_answered_in_the_group_when_groups_are_accepted(client, accept):
    handler = GatewayHandler(accept=accept, inline=True, typing=False, accept_groups=True)
    handler.on_message(client, message_event(Message(conversation="oi grupo"), chat=jid("120363040000000000", "g.us"), group=True))
    (call,) = accept.calls
    assert (call["number"], call["jid"]) == (NUMBER, "120363040000000000@g.us")


def test_a_status_broadcast_is_ignored(dispatch, accept):
    dispatch(message_event(Message(conversation="meu status"), chat=jid("status", "broadcast")))
    assert accept.calls == []


def test_an_lid_sender_is_keyed_by_the_phone_number_in_sender_alt(dispatch, accept):
    lid = jid("123456789012345", "lid")
    dispatch(message_event(Message(conversation="oi"), chat=lid, sender=lid, sender_alt=jid(NUMBER)))
    (call,) = accept.calls
    assert (call["number"], call["jid"]) == (NUMBER, "123456789012345@lid")


def test_an_lid_sender_without_a_phone_number_is_keyed_by_the_chat_jid(dispatch, accept):
    lid = jid("123456789012345", "lid")
    dispatch(message_event(Message(conversation="oi"), chat=lid, sender=lid))
    (call,) = accept.calls
    assert (call["number"], call["jid"]) == ("", "123456789012345@lid")


def test_a_message_with_neither_text_nor_audio_is_ignored(dispatch, accept):
    dispatch(message_event(Message(imageMessage=ImageMessage())))
    assert accept.calls == []


def test_an_accept_error_never_reaches_neonize(client):
    def explode(**kwargs):
        raise RuntimeError("database down")

    handler = GatewayHandler(accept=explode, inline=True, typing=False)
    handler.on_message(client, message_event(Message(conversation="oi")))  # no exception


def test_a_malformed_event_never_reaches_neonize(client, accept):
    handler = GatewayHandler(accept=accept, inline=True)
    handler.on_message(client, object())  # no exception
    assert accept.calls == []


@pytest.mark.django_db(transaction=True)
def test_the_gateway_stores_messages_through_the_same_accept_service(client):
    handler = GatewayHandler(typing=False)  # the real message_accept, on the pool
    for n in range(3):
        handler.on_message(client, message_event(Message(conversation=f"mensagem {n}"), id=f"3EB0POOL000{n}"))
    handler.shutdown()
    rows = list(InboundMessage.objects.order_by("id").values_list("message_id", "chat_id", "text"))
    assert rows == [(f"3EB0POOL000{n}", NUMBER, f"mensagem {n}") for n in range(3)], "in arrival order"
    handler_again = GatewayHandler(inline=True, typing=False)
    handler_again.on_message(client, message_event(Message(conversation="mensagem 0"), id="3EB0POOL0000"))
    assert InboundMessage.objects.count() == 3, "a redelivered event is a duplicate"


# --- /send-text ---------------------------------------------------------------------------------------


class FakeWhatsApp:
    """The connected neonize client as /send-text sees it."""

    def __init__(self) -> None:
        self.connected = True
        self.sent: list[tuple[str, str]] = []
        self.error: Exception | None = None

    def send_message(self, to, text):
        if self.error is not None:
            raise self.error
        self.sent.append((f"{to.User}@{to.Server}", text))
        return type("SendResponse", (), {"ID": f"WA{len(self.sent)}"})()


@pytest.fixture
def whatsapp():
    return FakeWhatsApp()


@pytest.fixture
def send_text_url(whatsapp, settings):
    settings.GATEWAY_API_KEY = "gw-key"
    server = SendTextServer(("127.0.0.1", 0), whatsapp)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.port}"
    server.shutdown()
    server.server_close()


def call(url: str, body, *, key: str | None = "gw-key", path: str = "/send-text", headers: dict | None = None):
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    request = urllib.request.Request(url + path, data=data, method="POST", headers={"Content-Type": "application/json", **(headers or {})})
    if key is not None:
        request.add_header("X-API-Key", key)
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_send_text_delivers_to_the_jid(send_text_url, whatsapp):
    status, body = call(send_text_url, {"number": NUMBER, "jid": "123456789012345@lid", "text": "Olá!"})
    assert (status, body["status"]) == (200, "sent")
    assert whatsapp.sent == [("123456789012345@lid", "Olá!")]


def test_send_text_delivers_to_the_number_when_there_is_no_jid(send_text_url, whatsapp):
    assert call(send_text_url, {"number": NUMBER, "text": "Olá!"})[0] == 200
    assert whatsapp.sent == [(f"{NUMBER}@s.whatsapp.net", "Olá!")]


@pytest.mark.parametrize("key", [None, "wrong"], ids=["missing-key", "wrong-key"])
def test_send_text_refuses_a_missing_or_wrong_key_with_401(send_text_url, whatsapp, key):
    status, body = call(send_text_url, {"number": NUMBER, "text": "x"}, key=key)
    assert (status, body["error"]) == (401, "unauthorized")
    assert whatsapp.sent == []


def test_send_text_accepts_the_original_gateways_header_spelling(send_text_url):
    assert call(send_text_url, {"number": NUMBER, "text": "x"}, key=None, headers={"X-API-KEY": "gw-key"})[0] == 200


@pytest.mark.parametrize(
    "body",
    [b"{not json", {"number": NUMBER}, {"text": "x"}, {"number": "abc", "text": "x"}, ["x"], {"number": NUMBER, "text": "   "}],
    ids=["not-json", "no-text", "no-number", "letters-number", "not-an-object", "blank-text"],
)
def test_send_text_answers_bad_input_with_400(send_text_url, whatsapp, body):
    status, answer = call(send_text_url, body)
    assert (status, answer["error"]) == (400, "invalid")
    assert whatsapp.sent == []


def test_send_text_answers_503_while_not_connected(send_text_url, whatsapp):
    whatsapp.connected = False
    status, body = call(send_text_url, {"number": NUMBER, "text": "x"})
    assert (status, body["error"]) == (503, "not_connected")


def test_send_text_answers_502_when_whatsapp_refuses(send_text_url, whatsapp):
    whatsapp.error = SendMessageError("server returned error 479")
    status, body = call(send_text_url, {"number": NUMBER, "text": "x"})
    assert (status, body["error"]) == (502, "send_failed")


def test_send_text_answers_404_elsewhere(send_text_url):
    assert call(send_text_url, {"number": NUMBER, "text": "x"}, path="/other")[0] == 404


def test_send_text_drops_a_resend_with_the_same_idempotency_key(send_text_url, whatsapp):
    for _n in range(2):
        status, _body = call(send_text_url, {"number": NUMBER, "text": "x"}, headers={"Idempotency-Key": "outbound-7"})
        assert status == 200
    assert len(whatsapp.sent) == 1


def test_the_pipelines_sender_speaks_to_our_gateway(send_text_url, whatsapp, settings):
    from whatsapp.sender import send_text

    settings.GATEWAY_URL = send_text_url
    send_text(number=NUMBER, jid=f"{NUMBER}@s.whatsapp.net", text="Olá!", idempotency_key="outbound-1")
    assert whatsapp.sent == [(f"{NUMBER}@s.whatsapp.net", "Olá!")]


def test_the_pipelines_sender_reads_our_gateways_errors_as_transient_or_permanent(send_text_url, whatsapp, settings):
    from whatsapp.sender import GatewayError, send_text

    settings.GATEWAY_URL = send_text_url
    whatsapp.connected = False
    with pytest.raises(GatewayError) as down:
        send_text(number=NUMBER, jid="", text="x")
    with pytest.raises(GatewayError) as refused:
        send_text(number=NUMBER, jid="", text="   ")
    assert down.value.transient and down.value.status == 503
    assert not refused.value.transient


@pytest.mark.django_db
def test_a_nul_character_in_whatsapp_text_does_not_lose_the_message(client):
    handler = GatewayHandler(inline=True, typing=False)
    handler.on_message(client, message_event(Message(conversation="oi\x00 tudo bem")))
    assert InboundMessage.objects.get().text == "oi tudo bem"


def _get(url: str) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_health_is_readiness_and_health_live_is_liveness(send_text_url, whatsapp):
    """The container's check (/health/live) passes while the gateway waits for the first QR scan."""
    whatsapp.connected = False
    assert _get(send_text_url + "/health") == (503, {"status": "disconnected"})
    assert _get(send_text_url + "/health/live") == (200, {"status": "alive", "whatsapp": "disconnected"})
    whatsapp.connected = True
    assert _get(send_text_url + "/health")[0] == 200
    assert _get(send_text_url + "/health/live")[1]["whatsapp"] == "connected"
