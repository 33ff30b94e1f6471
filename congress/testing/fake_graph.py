"""A local HTTP server that speaks enough of Meta's Graph API (WhatsApp Cloud
API) for tests and benchmarks.

It serves, under a version prefix (``WA_CLOUD_API_URL`` = ``fake.base_url``,
e.g. ``http://127.0.0.1:PORT/v23.0``):

* ``POST /{phone-number-id}/messages``: a message (text, template,
  interactive...) answered ``{"messaging_product", "contacts", "messages":
  [{"id": "wamid...."}]}``, or a read receipt / typing indicator
  (``{"status": "read", "message_id"}``) answered ``{"success": true}``;
* ``GET /{media-id}``: media metadata ``{"url", "mime_type", "sha256",
  "file_size", "id"}`` for media added with ``add_media``;
* ``GET /media/{media-id}`` (outside the version prefix, as Meta's download
  host is): the bytes.

Every call checks ``Authorization: Bearer <token>`` (401 with Graph error
190 otherwise). Every request is recorded. Per test you script failures of
the next calls of one kind (``send``, ``read``, ``media``): an HTTP status
with a real Graph error body (429 code 130429, 500 code 1, 400 code 100,
131047 the closed 24-hour window...), or a hang longer than the client's
timeout; ``latency_s`` slows every answer. Answers are written in one
``send`` with ``TCP_NODELAY`` (see fake_openai.py).

    with FakeGraph(access_token="t", phone_number_id="123") as graph:
        settings.WA_CLOUD_API_URL = graph.base_url
        graph.fail_next(GraphFailure.rate_limited())    # the next send: 429
        graph.sent()                                      # the messages it took
        graph.wait_for(2)                                 # until 2 were taken

As a pytest fixture: ``fake_graph`` (settings pointed at it). From a shell:
``python -m congress.testing.fake_graph --port 8766``.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import itertools
import json
import socket
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler
from typing import Any

from congress.testing.local_server import FakeHTTPServer, LocalFake

API_VERSION = "v23.0"
PHONE_NUMBER_ID = "106540352242922"
# Credentials of the fake only (tests and benchmarks), never real ones.
FAKE_TOKEN = "fake-graph-token"  # noqa: S105
TEST_TOKEN = "test-graph-token-0123456789"  # noqa: S105
TEST_APP_SECRET = "test-app-secret-0123456789"  # noqa: S105
TEST_VERIFY_TOKEN = "test-verify-token"  # noqa: S105


@dataclass(frozen=True)
class GraphFailure:
    """What the fake does instead of answering one request."""

    status: int = 500
    code: int = 1
    message: str = "An unknown error has occurred."
    subcode: int | None = None
    details: str = ""
    hang_s: float = 0.0  # > 0: hold the connection this long without answering
    kind: str = "send"  # which calls it hits: "send", "read" or "media"

    @classmethod
    def rate_limited(cls, kind: str = "send") -> GraphFailure:
        return cls(429, 130429, "(#130429) Rate limit hit", subcode=2494055, kind=kind)

    @classmethod
    def server_error(cls, status: int = 500, kind: str = "send") -> GraphFailure:
        return cls(status, 1, "An unknown error has occurred.", kind=kind)

    @classmethod
    def invalid_parameter(cls, details: str = "Invalid parameter", kind: str = "send") -> GraphFailure:
        return cls(400, 100, "(#100) Invalid parameter", subcode=2494010, details=details, kind=kind)

    @classmethod
    def window_closed(cls) -> GraphFailure:
        return cls(400, 131047, "Re-engagement message", subcode=2494099,
                   details="Message failed to send because more than 24 hours have passed since the customer last replied to this number.")

    @classmethod
    def hang(cls, seconds: float = 5.0, kind: str = "send") -> GraphFailure:
        return cls(0, 0, "", hang_s=seconds, kind=kind)


@dataclass
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    json: Any = None
    kind: str = ""  # "send", "read", "media_meta", "media_download", "other"
    status: int = 0
    wamid: str = ""  # the id the fake gave a message it took
    at: float = field(default_factory=time.monotonic)

    @property
    def to(self) -> str:
        return (self.json or {}).get("to", "")

    @property
    def type(self) -> str:
        return (self.json or {}).get("type", "")

    @property
    def text(self) -> str:
        """The text body of a text or interactive message, or the first body parameter of a template."""
        body = self.json or {}
        if body.get("type") == "text":
            return body.get("text", {}).get("body", "")
        if body.get("type") == "interactive":
            return body.get("interactive", {}).get("body", {}).get("text", "")
        if body.get("type") == "template":
            for component in body.get("template", {}).get("components", []):
                for parameter in component.get("parameters", []):
                    return parameter.get("text", "")
        return ""


@dataclass
class _Media:
    data: bytes
    mime_type: str




def _error_body(failure: GraphFailure) -> dict:
    error: dict[str, Any] = {"message": failure.message, "type": "OAuthException", "code": failure.code,
                             "fbtrace_id": "AfakeTrace" + str(failure.code)}
    if failure.subcode is not None:
        error["error_subcode"] = failure.subcode
    if failure.details:
        error["error_data"] = {"messaging_product": "whatsapp", "details": failure.details}
    return {"error": error}


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: FakeHTTPServer

    def setup(self) -> None:
        super().setup()
        # Without this, Nagle + delayed ACK add ~40 ms per request.
        self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _send(self, status: int, payload: Any = None, *, raw: bytes | None = None, content_type: str = "application/json") -> None:
        body = raw if raw is not None else json.dumps(payload).encode()
        head = (f"HTTP/1.1 {status} {HTTPStatus(status).phrase}\r\nContent-Type: {content_type}\r\n"
                f"Content-Length: {len(body)}\r\nConnection: keep-alive\r\n\r\n")
        self.wfile.write(head.encode("latin-1") + body)  # one write: headers and body together

    def _read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _handle(self, method: str) -> None:
        fake = self.server.fake
        raw = self._read_body() if method == "POST" else b""
        path = self.path.split("?")[0]
        record = RecordedRequest(method=method, path=path, headers={k.lower(): v for k, v in self.headers.items()}, body=raw)
        if raw and self.headers.get("Content-Type", "").startswith("application/json"):
            with contextlib.suppress(ValueError):
                record.json = json.loads(raw)
        status, payload, binary, content_type = fake._answer(record)
        if status == 0:  # a hang: the client times out; nothing is answered
            fake._record(record)
            return
        record.status = status
        fake._record(record)
        if fake.latency_s:
            fake._stopping.wait(fake.latency_s)
        if binary is not None:
            self._send(status, raw=binary, content_type=content_type)
        else:
            self._send(status, payload)

    def do_POST(self) -> None:  # the stdlib's name
        self._handle("POST")

    def do_GET(self) -> None:  # the stdlib's name
        self._handle("GET")


class FakeGraph(LocalFake):
    """The fake server. ``base_url`` is what ``WA_CLOUD_API_URL`` should be."""

    handler = _Handler
    thread_name = "fake-graph"

    def __init__(self, *, access_token: str = FAKE_TOKEN, phone_number_id: str = PHONE_NUMBER_ID,
                 host: str = "127.0.0.1", port: int = 0, latency_s: float = 0.0) -> None:
        self.access_token = access_token
        self.phone_number_id = phone_number_id
        self._init_server(host, port)
        self.latency_s = latency_s
        self.requests: list[RecordedRequest] = []
        self._media: dict[str, _Media] = {}
        self._failures: deque[GraphFailure] = deque()
        self._ids = itertools.count(1)
        self._cond = threading.Condition()

    # --- lifecycle ---------------------------------------------------------------
    @property
    def root_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def base_url(self) -> str:
        return f"{self.root_url}/{API_VERSION}"

    # --- scripting -----------------------------------------------------------------
    def add_media(self, media_id: str, data: bytes, mime_type: str = "audio/ogg; codecs=opus") -> None:
        """Media a webhook can name: ``GET /{media_id}`` and its download will find it."""
        with self._cond:
            self._media[media_id] = _Media(data, mime_type)

    def fail_next(self, *failures: GraphFailure) -> None:
        """The next calls of each failure's kind fail like this, in order."""
        with self._cond:
            self._failures.extend(failures)

    def fail_always(self, failure: GraphFailure, times: int = 1000) -> None:
        self.fail_next(*([failure] * times))

    def ok(self) -> None:
        """No more scripted failures."""
        with self._cond:
            self._failures.clear()

    # --- inspection ------------------------------------------------------------------
    def of_kind(self, kind: str, *, status: int | None = 200) -> list[RecordedRequest]:
        with self._cond:
            return [r for r in self.requests if r.kind == kind and (status is None or r.status == status)]

    def sent(self) -> list[RecordedRequest]:
        """Messages the fake took (answered 200), in arrival order."""
        return self.of_kind("send")

    def reads(self) -> list[RecordedRequest]:
        """Read receipts / typing indicators it took."""
        return self.of_kind("read")

    def wait_for(self, count: int, *, timeout: float = 30.0, kind: str = "send") -> bool:
        """Wait until ``count`` calls of ``kind`` were answered 200; False on timeout."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while sum(1 for r in self.requests if r.kind == kind and r.status == 200) < count:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._cond.wait(remaining)
        return True

    def wait_for_requests(self, count: int, *, timeout: float = 30.0, kind: str = "send") -> bool:
        """Wait until ``count`` calls of ``kind`` arrived, whatever was answered."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while sum(1 for r in self.requests if r.kind == kind) < count:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._cond.wait(remaining)
        return True

    def reset(self) -> None:
        with self._cond:
            self.requests.clear()
            self._failures.clear()

    # --- internals -----------------------------------------------------------------------
    def _record(self, record: RecordedRequest) -> None:
        with self._cond:
            self.requests.append(record)
            self._cond.notify_all()

    def _next_failure(self, kind: str) -> GraphFailure | None:
        with self._cond:
            for index, failure in enumerate(self._failures):
                if failure.kind == kind:
                    del self._failures[index]
                    return failure
        return None

    def _answer(self, record: RecordedRequest) -> tuple[int, Any, bytes | None, str]:
        """(status, JSON payload, raw bytes or None, content type) for one request."""
        parts = [p for p in record.path.split("/") if p]
        versioned = bool(parts) and parts[0].startswith("v") and parts[0][1:].replace(".", "").isdigit()
        if versioned:
            parts = parts[1:]
        if record.method == "POST" and versioned and len(parts) == 2 and parts[1] == "messages":
            record.kind = "read" if (record.json or {}).get("status") == "read" else "send"
        elif record.method == "GET" and versioned and len(parts) == 1:
            record.kind = "media_meta"
        elif record.method == "GET" and not versioned and len(parts) == 2 and parts[0] == "media":
            record.kind = "media_download"
        else:
            record.kind = "other"
            return 404, _error_body(GraphFailure(404, 100, "Unknown path components")), None, "application/json"

        if record.headers.get("authorization") != f"Bearer {self.access_token}":
            return 401, _error_body(GraphFailure(401, 190, "Invalid OAuth access token - Cannot parse access token")), None, "application/json"
        failure = self._next_failure("media" if record.kind.startswith("media") else record.kind)
        if failure is not None:
            if failure.hang_s:
                self._stopping.wait(failure.hang_s)
                return 0, None, None, ""
            return failure.status, _error_body(failure), None, "application/json"

        if record.kind == "media_meta":
            media = self._media.get(parts[0])
            if media is None:
                return 404, _error_body(GraphFailure(400, 100, "Unsupported get request.", subcode=33)), None, "application/json"
            return 200, {"messaging_product": "whatsapp", "url": f"{self.root_url}/media/{parts[0]}",
                         "mime_type": media.mime_type, "sha256": hashlib.sha256(media.data).hexdigest(),
                         "file_size": len(media.data), "id": parts[0]}, None, "application/json"
        if record.kind == "media_download":
            media = self._media.get(parts[1])
            if media is None:
                return 404, {"error": "not found"}, None, "application/json"
            return 200, None, media.data, media.mime_type.split(";")[0]

        if parts[0] != self.phone_number_id:
            return 400, _error_body(GraphFailure(400, 100, f"Unsupported post request. Object with ID '{parts[0]}' does not exist",
                                                 subcode=33)), None, "application/json"
        body = record.json if isinstance(record.json, dict) else {}
        if body.get("messaging_product") != "whatsapp":
            return 400, _error_body(GraphFailure.invalid_parameter("messaging_product is required")), None, "application/json"
        if record.kind == "read":
            if not body.get("message_id"):
                return 400, _error_body(GraphFailure.invalid_parameter("message_id is required")), None, "application/json"
            return 200, {"success": True}, None, "application/json"
        to, kind = body.get("to"), body.get("type", "text")
        if not to or not isinstance(body.get(kind), dict):
            return 400, _error_body(GraphFailure.invalid_parameter(f"to and {kind} are required")), None, "application/json"
        record.wamid = f"wamid.FAKE{next(self._ids):010d}"
        message: dict[str, str] = {"id": record.wamid}
        if kind == "template":
            message["message_status"] = "accepted"
        return 200, {"messaging_product": "whatsapp", "contacts": [{"input": to, "wa_id": to}],
                     "messages": [message]}, None, "application/json"


def serve(port: int, *, host: str = "127.0.0.1", access_token: str = FAKE_TOKEN,
          phone_number_id: str = PHONE_NUMBER_ID, latency_ms: float = 0) -> None:
    """Run the fake in the foreground until interrupted (benchmarks)."""
    fake = FakeGraph(host=host, port=port, access_token=access_token, phone_number_id=phone_number_id,
                     latency_s=latency_ms / 1000).start()
    print(f"fake Graph API listening on {fake.base_url}", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        fake.stop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8766)
    parser.add_argument("--token", default=FAKE_TOKEN)
    parser.add_argument("--phone-number-id", default=PHONE_NUMBER_ID)
    parser.add_argument("--latency-ms", type=float, default=0)
    args = parser.parse_args(argv)
    serve(args.port, host=args.host, access_token=args.token, phone_number_id=args.phone_number_id,
          latency_ms=args.latency_ms)


try:
    import pytest
except ImportError:  # pragma: no cover - benchmarks may run without pytest
    pytest = None  # type: ignore[assignment]

if pytest is not None:

    @pytest.fixture
    def fake_graph(settings):
        """A running fake Graph API, with the Cloud API channel pointed at it
        (token, phone number id, app secret and verify token set)."""
        fake = FakeGraph(access_token=TEST_TOKEN, phone_number_id=PHONE_NUMBER_ID).start()
        settings.WA_CLOUD_API_URL = fake.base_url
        settings.WA_CLOUD_ACCESS_TOKEN = fake.access_token
        settings.WA_CLOUD_PHONE_NUMBER_ID = fake.phone_number_id
        settings.WA_CLOUD_APP_SECRET = TEST_APP_SECRET
        settings.WA_CLOUD_VERIFY_TOKEN = TEST_VERIFY_TOKEN
        settings.WA_CLOUD_TIMEOUT_S = 2.0
        settings.WA_CLOUD_READ_TIMEOUT_S = 1.0
        try:
            yield fake
        finally:
            fake.stop()


if __name__ == "__main__":
    main()
