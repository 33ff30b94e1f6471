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
from neonize.events import EVENT_TO_INT, MessageEv, UndecryptableMessageEv
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
    client.event(UndecryptableMessageEv)(handler.on_undecryptable)
    return lambda ev: feed(client, ev)


def feed(client, ev) -> None:
    """Serialize a neonize event and run it through the client's own
    dispatcher, as the Go side does."""
    raw = ev.SerializePartialToString()
    buffer = ctypes.create_string_buffer(raw, len(raw))
    client.event.execute(0, ctypes.addressof(buffer), len(raw), EVENT_TO_INT[type(ev)])


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
            "sender_alt": "",
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


# --- @lid senders: both ids stored, the reply goes to the chat as received -------------------------

LID = "123456789012345"


@pytest.mark.parametrize(
    ("chat", "sender", "sender_alt", "expected"),
    [
        (jid(LID, "lid"), jid(LID, "lid", device=2), jid(NUMBER), (NUMBER, f"{LID}@lid", f"{NUMBER}@s.whatsapp.net")),
        (jid(LID, "lid"), jid(LID, "lid"), None, ("", f"{LID}@lid", "")),
        (jid(NUMBER), jid(NUMBER, device=3), jid(LID, "lid"), (NUMBER, f"{NUMBER}@s.whatsapp.net", f"{LID}@lid")),
    ],
    ids=["lid-with-phone-alt", "lid-without-alt", "phone-with-lid-alt"],
)
def test_the_sender_and_its_alternate_id_are_both_handed_to_accept(dispatch, accept, chat, sender, sender_alt, expected):
    dispatch(message_event(Message(conversation="oi"), chat=chat, sender=sender, sender_alt=sender_alt))
    (call,) = accept.calls
    assert (call["number"], call["jid"], call["sender_alt"]) == expected


@pytest.mark.django_db(transaction=True)
def test_an_lid_senders_message_is_stored_with_both_ids_and_answered_at_the_lid(client, send_text_url, whatsapp, settings):
    settings.GATEWAY_URL = send_text_url
    settings.WA_DEBOUNCE_MS = 0
    handler = GatewayHandler(inline=True, typing=False)
    handler.on_message(
        client, message_event(Message(conversation="oi"), chat=jid(LID, "lid"), sender=jid(LID, "lid"), sender_alt=jid(NUMBER))
    )
    row = InboundMessage.objects.get()
    assert (row.chat_id, row.number, row.jid, row.sender_alt) == (NUMBER, NUMBER, f"{LID}@lid", f"{NUMBER}@s.whatsapp.net")

    from whatsapp.services import chat_drain

    chat_drain(chat_id=row.chat_id, deliver=True)
    assert [to for to, _text in whatsapp.sent] == [f"{LID}@lid"], "the reply goes to the chat id exactly as received"


@pytest.mark.django_db
def test_a_malformed_alternate_id_is_dropped_and_the_message_kept():
    from whatsapp.services import message_accept

    message_accept(message_id="3EB0ALT00001", number=NUMBER, text="oi", sender_alt="not a jid", source="gateway")
    assert InboundMessage.objects.get().sender_alt == ""


def test_a_voice_note_is_downloaded_before_the_message_is_accepted(client):
    seen: list[int] = []

    def accept(**kwargs):
        seen.append(len(client.downloads))

    handler = GatewayHandler(accept=accept, inline=True, typing=False)
    handler.on_message(client, message_event(Message(audioMessage=AudioMessage(PTT=True, mimetype="audio/ogg", fileLength=len(OGG)))))
    assert seen == [1]


# --- messages the gateway cannot read (neonize#217, undecryptable) ------------------------------------


def unreadable_count(reason: str) -> float:
    from prometheus_client import REGISTRY

    return REGISTRY.get_sample_value("whatsapp_gateway_unreadable_messages_total", {"reason": reason}) or 0.0


def test_an_empty_message_from_an_lid_sender_is_logged_masked_and_counted_never_accepted(dispatch, accept, client, caplog):
    before = unreadable_count("empty_lid")
    with caplog.at_level("WARNING", logger="whatsapp.gateway"):
        dispatch(message_event(Message(), chat=jid(LID, "lid"), sender=jid(LID, "lid"), sender_alt=jid(NUMBER)))
    assert accept.calls == [] and client.sent == []
    assert unreadable_count("empty_lid") == before + 1
    (record,) = [r for r in caplog.records if "unreadable_message" in r.getMessage()]
    line = record.getMessage()
    assert record.levelname == "WARNING" and "reason=empty_lid" in line
    assert LID not in line and NUMBER not in line, "sender ids are masked"
    assert "2345@lid" in line and "@s.whatsapp.net" in line, "enough to tell senders apart"


def test_an_lid_message_with_only_a_blank_text_counts_as_empty(dispatch, accept):
    before = unreadable_count("empty_lid")
    dispatch(message_event(Message(conversation="  "), chat=jid(LID, "lid"), sender=jid(LID, "lid")))
    assert accept.calls == [] and unreadable_count("empty_lid") == before + 1


@pytest.mark.parametrize(
    "message",
    [
        message_event(Message()),  # a phone sender: an ordinary ignored message
        message_event(Message(imageMessage=ImageMessage()), chat=jid(LID, "lid"), sender=jid(LID, "lid")),  # content, no text
        message_event(Message(), chat=jid(LID, "lid"), sender=jid(LID, "lid"), from_me=True),
    ],
    ids=["phone-sender", "lid-image-without-caption", "our-own"],
)
def test_other_unanswerable_messages_are_not_counted_as_empty_lid_messages(dispatch, accept, message):
    before = unreadable_count("empty_lid")
    dispatch(message)
    assert accept.calls == [] and unreadable_count("empty_lid") == before


@pytest.mark.django_db
def test_an_empty_lid_message_is_never_stored_so_never_answered(client):
    handler = GatewayHandler(inline=True, typing=False)  # the real message_accept
    handler.on_message(client, message_event(Message(), chat=jid(LID, "lid"), sender=jid(LID, "lid"), sender_alt=jid(NUMBER)))
    assert not InboundMessage.objects.exists()


def test_an_undecryptable_message_is_counted_and_not_answered(dispatch, accept):
    before = unreadable_count("undecryptable")
    info = message_event(Message(), chat=jid(LID, "lid"), sender=jid(LID, "lid")).Info
    dispatch(UndecryptableMessageEv(Info=info, IsUnavailable=False))
    assert accept.calls == [] and unreadable_count("undecryptable") == before + 1


# --- versions ------------------------------------------------------------------------------------------


def test_the_neonize_and_embedded_whatsmeow_versions_are_read_from_the_library():
    from whatsapp.gateway import neonize_versions

    versions = neonize_versions()
    assert versions["neonize"] == "0.5.2", "requirements.txt pins neonize==0.5.2"
    assert versions["whatsmeow"].startswith("v0.0.0-20260921121126-35ae40906e74 (commit 35ae40906e74 of 2026-09-21)")
    assert versions["go"].startswith("go1.")


def test_a_library_without_go_build_info_reports_nothing(tmp_path):
    from whatsapp.gateway import go_build_info

    library = tmp_path / "lib.so"
    library.write_bytes(b"\x7fELF" + bytes(1000))
    assert go_build_info(library) == ("", {})


# --- channel alerts: logout, ban, outdated client, replaced session --------------------------------------

from neonize.events import (  # noqa: E402
    ClientOutdatedEv,
    ConnectedEv,
    LoggedOutEv,
    StreamReplacedEv,
    TemporaryBanEv,
)
from neonize.proto.Neonize_pb2 import ConnectFailureReason  # noqa: E402

from whatsapp.alerts import channel_alert_raise, channel_alert_resolve  # noqa: E402
from whatsapp.gateway import ChannelState, ConnectPolicy, GatewayConnection, GatewayStuck  # noqa: E402
from whatsapp.models import ChannelAlert  # noqa: E402


def sample(name: str, labels: dict) -> float:
    from prometheus_client import REGISTRY

    return REGISTRY.get_sample_value(name, labels) or 0.0


@pytest.fixture
def connection(client):
    connection = GatewayConnection(client, policy=ConnectPolicy(stop_grace_s=1.0), state=ChannelState())
    connection.register()
    client.connection = connection  # neonize keeps bound methods as weak references
    client.stop = lambda: None  # nothing to stop: the client never connected
    return connection


@pytest.fixture
def halted_send_text(client, connection, settings):
    """/send-text of the real client (sends recorded by the ``client`` fixture), gated by the connection's state."""
    settings.GATEWAY_API_KEY = "gw-key"
    server = SendTextServer(("127.0.0.1", 0), client, state=connection.state)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.port}"
    server.shutdown()
    server.server_close()


HALTING_EVENTS = [
    (LoggedOutEv(OnConnect=False, Reason=ConnectFailureReason.LOGGED_OUT), "logged_out", "LOGGED_OUT"),
    (TemporaryBanEv(Code=TemporaryBanEv.SENT_TOO_MANY_SAME_MESSAGE, Expire=7200), "temporary_ban", "Bloqueado até"),
    (ClientOutdatedEv(), "client_outdated", "neonize 0.5.2"),
    (StreamReplacedEv(), "stream_replaced", "Outra conexão"),
]


@pytest.mark.django_db
@pytest.mark.parametrize(("event", "kind", "detail"), HALTING_EVENTS, ids=[kind for _e, kind, _d in HALTING_EVENTS])
def test_a_halting_event_opens_an_alert_logs_an_error_counts_and_stops_sending(
    client, connection, halted_send_text, caplog, event, kind, detail
):
    feed(client, ConnectedEv(status=True))
    assert call(halted_send_text, {"number": NUMBER, "text": "antes"})[0] == 200
    before = sample("whatsapp_channel_alerts_total", {"channel": "gateway", "kind": kind})
    with caplog.at_level("ERROR"):
        feed(client, event)
    alert = ChannelAlert.objects.get()
    assert (alert.kind, alert.channel, alert.resolved_at) == (kind, "gateway", None)
    assert detail in alert.detail
    assert any(r.levelname == "ERROR" and f"kind={kind}" in r.getMessage() for r in caplog.records)
    assert sample("whatsapp_channel_alerts_total", {"channel": "gateway", "kind": kind}) == before + 1
    assert sample("whatsapp_channel_up", {"channel": "gateway"}) == 0
    status, body = call(halted_send_text, {"number": NUMBER, "text": "durante"})
    assert (status, body["error"]) == (503, "channel_halted")
    assert kind in body["detail"] and f"alert #{alert.pk}" in body["detail"]
    assert [text for _to, text in client.sent] == ["antes"]
    assert _get(halted_send_text + "/health/live")[1]["alert"] == kind


@pytest.mark.django_db
def test_the_same_event_again_keeps_one_open_alert_and_counts_twice(client, connection):
    before = sample("whatsapp_channel_alerts_total", {"channel": "gateway", "kind": "stream_replaced"})
    feed(client, StreamReplacedEv())
    feed(client, StreamReplacedEv())
    assert ChannelAlert.objects.filter(resolved_at__isnull=True).count() == 1
    assert sample("whatsapp_channel_alerts_total", {"channel": "gateway", "kind": "stream_replaced"}) == before + 2


@pytest.mark.django_db
def test_a_connect_resolves_what_it_proves_over_and_sending_resumes(client, connection, halted_send_text):
    for kind in ("connect_failed", "logged_out", "temporary_ban", "client_outdated", "stream_replaced"):
        channel_alert_raise(kind=kind, detail="teste")
    feed(client, LoggedOutEv(OnConnect=True, Reason=ConnectFailureReason.LOGGED_OUT))
    assert call(halted_send_text, {"number": NUMBER, "text": "x"})[0] == 503
    feed(client, ConnectedEv(status=True))
    still_open = set(ChannelAlert.objects.filter(resolved_at__isnull=True).values_list("kind", flat=True))
    assert still_open == {"stream_replaced"}, "a replaced session needs a person to stop the other one"
    assert call(halted_send_text, {"number": NUMBER, "text": "x"})[0] == 200
    assert sample("whatsapp_channel_up", {"channel": "gateway"}) == 1


def test_send_text_answers_503_while_not_yet_connected(client, connection, halted_send_text):
    status, body = call(halted_send_text, {"number": NUMBER, "text": "x"})
    assert (status, body["error"]) == (503, "not_connected")


def test_the_gateways_metrics_need_the_key_and_show_the_channel(client, connection, halted_send_text):
    request = urllib.request.Request(halted_send_text + "/metrics", headers={"X-API-Key": "gw-key"})
    with urllib.request.urlopen(request, timeout=5) as response:
        text = response.read().decode()
    assert 'whatsapp_channel_up{channel="gateway"} 0.0' in text
    assert _get_status(halted_send_text + "/metrics") == 401


def _get_status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


# --- the banner on every admin page, for those who may see alerts -------------------------------------------


def admin_user(*, groups: tuple[str, ...] = (), perms: tuple[str, ...] = ()):
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group, Permission

    user = get_user_model().objects.create_user(f"user-{len(groups)}-{len(perms)}", password="senha-forte-123", is_staff=True)
    user.groups.set(Group.objects.filter(name__in=groups))
    for codename in perms:
        user.user_permissions.add(Permission.objects.get(codename=codename))
    return user


def admin_page(user, url_name: str = "admin:index") -> str:
    from django.test import Client
    from django.urls import reverse

    browser = Client()
    browser.force_login(user)
    response = browser.get(reverse(url_name))
    assert response.status_code == 200
    return response.content.decode()


@pytest.mark.django_db
def test_the_banner_tells_organizers_what_happened_and_what_to_do_on_every_admin_page():
    from django.urls import reverse

    alert, _created = channel_alert_raise(kind="temporary_ban", detail="Bloqueado até 02/12/2026 14:00 (horário local).")
    organizer = admin_user(groups=("Organizadores",))
    for page in (admin_page(organizer), admin_page(organizer, "admin:whatsapp_inboundmessage_changelist"), admin_page(organizer, "admin-dashboard")):
        assert "Número bloqueado temporariamente pelo WhatsApp" in page
        assert "Bloqueado até 02/12/2026 14:00" in page
        assert "o gateway tenta de novo quando o bloqueio acabar" in page
        assert reverse("admin:whatsapp_channelalert_change", args=[alert.pk]) in page


@pytest.mark.django_db
def test_the_banner_is_hidden_from_users_who_cannot_view_alerts_and_after_resolution():
    channel_alert_raise(kind="logged_out")
    other = admin_user(perms=("view_participant",))
    assert "Número desconectado" not in admin_page(other)
    organizer = admin_user(groups=("Organizadores",))
    assert "Escaneie o QR code de novo" in admin_page(organizer)
    channel_alert_resolve(channel="gateway")
    assert "Escaneie o QR code de novo" not in admin_page(organizer)


@pytest.mark.django_db
def test_the_banner_costs_one_query(rf, django_assert_num_queries):
    from django.contrib.auth import get_user_model
    from django.template import Context, Template

    channel_alert_raise(kind="client_outdated")
    request = rf.get("/admin/")
    request.user = get_user_model().objects.create_superuser("root", "root@example.com", "senha-forte-123")
    template = Template("{% load whatsapp_alerts %}{% whatsapp_alert_banner %}")
    with django_assert_num_queries(1):
        html = template.render(Context({"request": request}))
    assert "Atualize o neonize" in html


@pytest.mark.django_db
def test_an_organizer_marks_an_alert_resolved_in_the_admin():
    from django.test import Client
    from django.urls import reverse

    alert, _created = channel_alert_raise(kind="stream_replaced")
    browser = Client()
    browser.force_login(admin_user(groups=("Organizadores",)))
    url = reverse("admin:whatsapp_channelalert_changelist")
    assert browser.get(url, {"status": "open"}).context["cl"].result_count == 1
    response = browser.post(url, {"action": "resolve", "_selected_action": [alert.pk]}, follow=True)
    assert "1 alerta marcado como resolvido" in response.content.decode()
    alert.refresh_from_db()
    assert alert.resolved_at is not None
    assert browser.get(url, {"status": "open"}).context["cl"].result_count == 0
    assert browser.get(url, {"status": "resolved"}).context["cl"].result_count == 1
    page = browser.get(reverse("admin:whatsapp_channelalert_change", args=[alert.pk])).content.decode()
    assert "Pare o outro e marque este alerta" in page, "the alert's page says what to do"


# --- the first-connect loop: bounded attempts, backoff, alerts -----------------------------------------------


class ScriptedClient:
    """neonize's client as the connect loop sees it. Each connect() follows
    the next step of a script: "fail" raises at once (offline), "hang" blocks
    until stop() (a dead network), "stuck" ignores stop(), "connect" reports
    ConnectedEv and blocks until stop(), "qr" shows QR codes for a while and
    then hangs, "ban" / "replaced" report those events and block."""

    def __init__(self, *script: str) -> None:
        self.script = list(script)
        self.connection: GatewayConnection | None = None
        self.attempts = 0
        self.stops = 0
        self.connected = threading.Event()
        self._stop = threading.Event()
        self.release = threading.Event()  # frees a "stuck" connect at teardown

    def connect(self) -> None:
        from neonize.exc import NeonizeError

        self.attempts += 1
        self._stop = stop = threading.Event()
        step = self.script.pop(0) if self.script else "hang"
        if step == "fail":
            raise NeonizeError("failed to dial whatsapp: network is unreachable")
        if step == "stuck":
            self.release.wait(10)
            return
        if step == "connect":
            self.connection.on_connected(self, ConnectedEv(status=True))
            self.connected.set()
        elif step == "qr":
            for _n in range(10):
                self.connection.on_activity()
                if stop.wait(0.05):
                    return
        elif step == "ban":
            self.connection.on_temporary_ban(self, TemporaryBanEv(Code=TemporaryBanEv.BLOCKED_BY_USERS, Expire=0))
        elif step == "replaced":
            self.connection.on_stream_replaced(self, StreamReplacedEv())
        stop.wait(10)

    def stop(self) -> None:
        self.stops += 1
        self._stop.set()


def scripted(*script: str, **policy) -> tuple[ScriptedClient, GatewayConnection]:
    client = ScriptedClient(*script)
    defaults = {"timeout_s": 0.2, "qr_grace_s": 0.2, "backoff_s": 0.01, "backoff_max_s": 0.02, "stop_grace_s": 1.0, "halt_poll_s": 0.05}
    client.connection = GatewayConnection(client, policy=ConnectPolicy(**{**defaults, **policy}), state=ChannelState())
    return client, client.connection


def run_in_background(connection: GatewayConnection) -> threading.Thread:
    thread = threading.Thread(target=connection.run, daemon=True)
    thread.start()
    return thread


def stop_and_join(connection: GatewayConnection, thread: threading.Thread) -> None:
    connection.stopping.set()
    connection.wake()
    thread.join(5)
    assert not thread.is_alive()


def wait_for(predicate, timeout: float = 5.0) -> None:
    import time

    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


@pytest.mark.parametrize("failures", range(1, 9))
def test_the_backoff_doubles_up_to_its_cap_with_jitter_in_the_upper_half(failures):
    policy = ConnectPolicy(backoff_s=1.0, backoff_max_s=60.0)
    ceiling = min(60.0, 2.0 ** (failures - 1))
    for _n in range(20):
        assert ceiling / 2 <= policy.backoff(failures) <= ceiling


@pytest.mark.django_db(transaction=True)
def test_a_connect_that_hangs_on_a_dead_network_is_abandoned_retried_and_alerted(caplog):
    client, connection = scripted("hang", "hang", "hang", "connect", alert_after=3)
    with caplog.at_level("ERROR"):
        thread = run_in_background(connection)
        assert client.connected.wait(5), "the fourth attempt connects"
        stop_and_join(connection, thread)
    assert client.attempts == 4 and client.stops >= 3, "each silent attempt was stopped after its timeout"
    alert = ChannelAlert.objects.get()
    assert alert.kind == "connect_failed" and "3 tentativas seguidas" in alert.detail and "no connection within" in alert.detail
    assert alert.resolved_at is not None, "the successful connect resolved it"
    assert any("kind=connect_failed" in r.getMessage() for r in caplog.records if r.levelname == "ERROR")


@pytest.mark.django_db(transaction=True)
def test_a_connect_that_fails_at_once_is_retried_and_alerted_after_n_failures():
    client, connection = scripted("fail", "fail", alert_after=2)
    thread = run_in_background(connection)
    wait_for(lambda: ChannelAlert.objects.exists())
    stop_and_join(connection, thread)
    alert = ChannelAlert.objects.get()
    assert "network is unreachable" in alert.detail and alert.resolved_at is None
    assert client.attempts >= 2


def test_a_qr_code_on_screen_keeps_the_attempt_alive_and_an_unscanned_one_is_not_a_failure():
    import time

    client, connection = scripted("qr")
    started = time.monotonic()
    assert connection.attempt() == "unpaired"
    assert time.monotonic() - started >= 0.45, "not abandoned while QR codes were shown (timeout 0.2 s)"
    assert client.stops == 1


def test_a_connect_that_ignores_stop_ends_the_process_for_a_clean_restart():
    client, connection = scripted("stuck", stop_grace_s=0.2)
    try:
        with pytest.raises(GatewayStuck):
            connection.run()
    finally:
        client.release.set()


@pytest.mark.django_db(transaction=True)
def test_a_temporary_ban_halts_sending_until_it_ends_then_reconnects():
    client, connection = scripted("ban", "connect", ban_retry_s=0.3)
    thread = run_in_background(connection)
    wait_for(lambda: connection.state.halt is not None)
    assert connection.state.refusal()[0] == "channel_halted"
    assert client.attempts == 1
    assert client.connected.wait(5), "the gateway tried again when the ban ended"
    stop_and_join(connection, thread)
    assert ChannelAlert.objects.get(kind="temporary_ban").resolved_at is not None
    assert connection.state.halt is None, "the connect cleared the halt"


@pytest.mark.django_db(transaction=True)
def test_a_replaced_session_waits_for_an_organizer_to_resolve_the_alert():
    import time

    client, connection = scripted("replaced", "connect")
    thread = run_in_background(connection)
    wait_for(lambda: ChannelAlert.objects.filter(kind="stream_replaced").exists())
    time.sleep(0.3)
    assert client.attempts == 1, "no reconnect while the alert is open (it would take the session back)"
    channel_alert_resolve(channel="gateway", kinds=["stream_replaced"], actor="organizer")
    assert client.connected.wait(5)
    stop_and_join(connection, thread)
    assert client.attempts == 2
