"""The neonize WhatsApp gateway: its message handler and its ``/send-text``.

``python manage.py whatsapp_gateway`` wires these to a neonize client. The
handler turns a ``MessageEv`` into a ``message_accept`` call; ``/send-text``
is the original Node gateway's endpoint (same JSON, same API key), so the
pipeline's outbound delivery reaches WhatsApp through this process, the only
one that holds the connected client.

neonize dispatches events one at a time and a slow handler delays every other
event, so the handler only parses and hands the work (voice-note download,
the database insert) to a small pool: one single-thread executor per hash
bucket of chats, which keeps each chat's messages in arrival order.
"""

from __future__ import annotations

import hmac
import json
import logging
import socket
import threading
import time
import zlib
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from django.conf import settings
from django.db import close_old_connections
from django.utils.translation import gettext as _

from congress.errors import InvalidValue
from congress.request_id import clean_request_id, new_request_id, set_request_id

logger = logging.getLogger(__name__)

PHONE_SERVER = "s.whatsapp.net"
IGNORED_SERVERS = frozenset({"broadcast", "newsletter"})


def jid_string(jid: Any) -> str:
    """``user@server`` without the device part (the form replies are sent to)."""
    if jid is None or not jid.User:
        return ""
    return f"{jid.User}@{jid.Server}"


@dataclass(frozen=True)
class IncomingMessage:
    """What the gateway hands to ``message_accept`` for one WhatsApp message."""

    message_id: str
    number: str  # the sender's phone number, when WhatsApp gives one
    jid: str  # where the reply goes: the chat (a person, an @lid, or a group)
    text: str
    push_name: str
    timestamp: int | None
    is_audio: bool = False
    audio_mimetype: str = ""
    audio_length: int = 0

    @property
    def chat_key(self) -> str:
        return self.number or self.jid


def parse_message_event(ev: Any, *, accept_groups: bool = False) -> IncomingMessage | None:
    """Read a neonize ``MessageEv``; None for what the bot must not answer:
    our own messages, status broadcasts, newsletters, groups (unless
    ``accept_groups``) and messages with neither text nor audio."""
    info = ev.Info
    source = info.MessageSource
    if source.IsFromMe:
        return None
    chat = source.Chat
    if chat.Server in IGNORED_SERVERS or chat.User == "status":
        return None
    if source.IsGroup and not accept_groups:
        return None
    sender = source.Sender
    number = ""
    if sender.Server == PHONE_SERVER:
        number = sender.User
    elif source.HasField("SenderAlt") and source.SenderAlt.Server == PHONE_SERVER:
        # An @lid sender (WhatsApp's privacy id): SenderAlt has the phone form.
        number = source.SenderAlt.User
    from neonize.utils import extract_text

    message = ev.Message
    text = extract_text(message) or ""
    is_audio = not text and message.HasField("audioMessage")
    if not text.strip() and not is_audio:
        return None
    audio = message.audioMessage
    timestamp = int(info.Timestamp) if info.Timestamp else None
    return IncomingMessage(
        message_id=info.ID,
        number=number,
        jid=jid_string(chat) or jid_string(sender),
        text=text,
        push_name=info.Pushname,
        timestamp=timestamp,
        is_audio=is_audio,
        audio_mimetype=audio.mimetype if is_audio else "",
        audio_length=int(audio.fileLength) if is_audio else 0,
    )


class GatewayHandler:
    """The ``MessageEv`` handler. Never raises into neonize."""

    def __init__(
        self,
        *,
        accept: Callable[..., Any] | None = None,
        accept_groups: bool | None = None,
        typing: bool | None = None,
        buckets: int = 4,
        inline: bool = False,
    ) -> None:
        if accept is None:
            from whatsapp.services import message_accept as accept
        self.accept = accept
        self.accept_groups = settings.WA_ACCEPT_GROUPS if accept_groups is None else accept_groups
        self.typing = settings.WA_TYPING_INDICATOR if typing is None else typing
        self.inline = inline
        self._executors = [] if inline else [
            ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"wa-accept-{n}") for n in range(buckets)
        ]

    def on_message(self, client: Any, ev: Any) -> None:
        try:
            incoming = parse_message_event(ev, accept_groups=self.accept_groups)
            if incoming is None:
                return
            if self.inline:
                self.handle(client, ev, incoming)
            else:
                bucket = zlib.crc32(incoming.chat_key.encode()) % len(self._executors)
                self._executors[bucket].submit(self._handle_in_pool, client, ev, incoming)
        except Exception:
            logger.exception("whatsapp.gateway_handler_error")

    def _handle_in_pool(self, client: Any, ev: Any, incoming: IncomingMessage) -> None:
        # Like a request: drop a broken or expired database connection first.
        close_old_connections()
        try:
            self.handle(client, ev, incoming)
        finally:
            close_old_connections()

    def handle(self, client: Any, ev: Any, incoming: IncomingMessage) -> None:
        """Download a voice note if any, then accept the message."""
        set_request_id(new_request_id())
        try:
            audio = None
            if incoming.is_audio:
                if incoming.audio_length > settings.MAX_AUDIO_BYTES:
                    self._say(client, incoming, _("Seu áudio é longo demais para eu ouvir. Pode escrever ou mandar um áudio mais curto?"))
                    return
                audio = client.download_any(ev.Message)
            result = self.accept(
                message_id=incoming.message_id,
                number=incoming.number,
                jid=incoming.jid,
                text=incoming.text[: settings.MAX_MESSAGE_CHARS],
                push_name=incoming.push_name,
                timestamp=incoming.timestamp,
                audio=audio,
                mimetype=incoming.audio_mimetype,
                source="gateway",
            )
            if self.typing and getattr(result, "status", "") == "queued":
                self._typing(client, incoming.jid)
        except InvalidValue as exc:
            logger.warning("whatsapp.gateway_rejected message_id=%s reason=%s", incoming.message_id, exc.message)
        except Exception:
            logger.exception("whatsapp.gateway_accept_error message_id=%s", incoming.message_id)
        finally:
            set_request_id(None)

    def _say(self, client: Any, incoming: IncomingMessage, text: str) -> None:
        try:
            client.send_message(parse_jid(incoming.jid), text)
        except Exception:
            logger.warning("whatsapp.gateway_say_failed jid=%s", incoming.jid, exc_info=True)

    def _typing(self, client: Any, jid: str) -> None:
        from neonize.utils.enum import ChatPresence, ChatPresenceMedia

        try:
            client.send_chat_presence(parse_jid(jid), ChatPresence.CHAT_PRESENCE_COMPOSING, ChatPresenceMedia.CHAT_PRESENCE_MEDIA_TEXT)
        except Exception:
            logger.debug("whatsapp.typing_failed jid=%s", jid, exc_info=True)

    def shutdown(self) -> None:
        for executor in self._executors:
            executor.shutdown(wait=True)


def parse_jid(value: str) -> Any:
    """A neonize JID from ``user@server`` or a bare phone number."""
    from neonize.utils.jid import build_jid

    user, _at, server = value.partition("@")
    return build_jid(user, server or PHONE_SERVER)


# --- /send-text ------------------------------------------------------------------


class SendTextError(Exception):
    def __init__(self, status: int, error: str, detail: str) -> None:
        super().__init__(detail)
        self.status, self.error, self.detail = status, error, detail


class RecentKeys:
    """Idempotency keys of recently delivered replies (bounded, in memory):
    a worker that died between our 200 and marking the reply sent re-sends
    it with the same key, and WhatsApp must not get it twice."""

    def __init__(self, size: int = 20000, ttl: float = 6 * 3600) -> None:
        self.size, self.ttl = size, ttl
        self._keys: OrderedDict[str, float] = OrderedDict()
        self._lock = threading.Lock()

    def seen(self, key: str) -> bool:
        with self._lock:
            at = self._keys.get(key)
            return at is not None and time.monotonic() - at < self.ttl

    def add(self, key: str) -> None:
        with self._lock:
            self._keys[key] = time.monotonic()
            self._keys.move_to_end(key)
            while len(self._keys) > self.size:
                self._keys.popitem(last=False)


def send_text_request(client: Any, body: Any, *, recent: RecentKeys, idempotency_key: str = "") -> dict:
    """Validate a /send-text body and send it; raise ``SendTextError``."""
    if not isinstance(body, dict):
        raise SendTextError(400, "invalid", "Send a JSON object with number or jid, and text.")
    text, number, jid = body.get("text"), body.get("number") or "", body.get("jid") or ""
    if not isinstance(text, str) or not text.strip():
        raise SendTextError(400, "invalid", "text is required.")
    if not isinstance(number, str) or not isinstance(jid, str) or not (number or jid):
        raise SendTextError(400, "invalid", "number or jid is required.")
    if len(text) > 65536:
        raise SendTextError(400, "invalid", "text is longer than WhatsApp accepts (65536 characters).")
    target = jid or number
    if "@" not in target and not target.lstrip("+").isdigit():
        raise SendTextError(400, "invalid", "number must be digits only, or send jid.")
    if idempotency_key and recent.seen(idempotency_key):
        return {"status": "duplicate"}
    if not getattr(client, "connected", False):
        raise SendTextError(503, "not_connected", "The gateway is not connected to WhatsApp; try again shortly.")
    from neonize.exc import NeonizeError

    try:
        response = client.send_message(parse_jid(target.lstrip("+")), text)
    except NeonizeError as exc:
        raise SendTextError(502, "send_failed", f"WhatsApp refused or failed the send: {exc}") from exc
    if idempotency_key:
        recent.add(idempotency_key)
    message_id = getattr(response, "ID", "") or ""
    return {"status": "sent", "id": message_id}


def _api_key_ok(presented: str | None) -> bool:
    expected = settings.GATEWAY_API_KEY
    if not expected:
        return not settings.PRODUCTION  # dev without a key: open, as the REST API
    return presented is not None and hmac.compare_digest(presented.encode("utf-8", "surrogatepass"), expected.encode())


class SendTextServer(ThreadingHTTPServer):
    """``POST /send-text`` and ``GET /health`` of the gateway process."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], client: Any) -> None:
        self.client = client
        self.recent = RecentKeys()
        super().__init__(address, _SendTextHandler)

    @property
    def port(self) -> int:
        return self.server_address[1]


class _SendTextHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: SendTextServer

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format, *args) -> None:
        pass

    def _answer(self, status: int, body: dict) -> None:
        payload = json.dumps(body).encode()
        head = (
            f"HTTP/1.1 {status} {self.responses.get(status, ('',))[0]}\r\n"
            "Content-Type: application/json\r\n"
            f"Content-Length: {len(payload)}\r\n\r\n"
        ).encode()
        self.wfile.write(head + payload)

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0].rstrip("/")
        connected = bool(getattr(self.server.client, "connected", False))
        if path == "/health":
            # Readiness: can replies go out now?
            self._answer(200 if connected else 503, {"status": "connected" if connected else "disconnected"})
        elif path == "/health/live":
            # Liveness (the container's health check): the process serves, even
            # while it waits for the QR code to be scanned on first start.
            self._answer(200, {"status": "alive", "whatsapp": "connected" if connected else "disconnected"})
        else:
            self._answer(404, {"error": "not_found", "detail": "Unknown path."})

    def do_POST(self) -> None:
        set_request_id(clean_request_id(self.headers.get("X-Request-ID")))
        try:
            length = int(self.headers.get("Content-Length") or 0)
            if length > 1024 * 1024:
                self.close_connection = True
                raise SendTextError(413, "too_large", "Body larger than 1 MB.")
            raw = self.rfile.read(length) if length else b""
            if self.path.rstrip("/") != "/send-text":
                raise SendTextError(404, "not_found", "Unknown path.")
            if not _api_key_ok(self.headers.get("X-API-Key")):
                raise SendTextError(401, "unauthorized", "Missing or wrong API key (X-API-Key).")
            try:
                body = json.loads(raw or b"null")
            except ValueError:
                raise SendTextError(400, "invalid", "Body is not valid JSON.") from None
            result = send_text_request(
                self.server.client, body, recent=self.server.recent, idempotency_key=self.headers.get("Idempotency-Key", "")
            )
            logger.info("whatsapp.gateway_sent status=%s", result["status"])
            self._answer(200, result)
        except SendTextError as exc:
            level = logging.WARNING if exc.status >= 500 else logging.INFO
            logger.log(level, "whatsapp.gateway_send_text_error status=%s detail=%s", exc.status, exc.detail)
            self._answer(exc.status, {"error": exc.error, "detail": exc.detail})
        except Exception:
            logger.exception("whatsapp.gateway_send_text_crash")
            self._answer(500, {"error": "internal_error", "detail": "Unexpected error in the gateway."})
        finally:
            set_request_id(None)
