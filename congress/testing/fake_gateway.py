"""A local HTTP server that stands in for a WhatsApp gateway's ``/send-text``.

It speaks the original gateway's contract (POST JSON ``{"number", "jid",
"text"}`` with ``X-API-Key``), records every request, and can be switched
down (connection refused), up again on the same port, or to answer errors::

    gateway = FakeGateway(api_key="k").start()
    settings.GATEWAY_URL = gateway.url
    ...
    gateway.down(); gateway.up(); gateway.fail_with(500); gateway.ok()
    gateway.wait_for(3)            # until 3 replies were delivered
    gateway.delivered()            # the bodies it answered 200 to
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class RecordedRequest:
    path: str
    headers: dict[str, str]
    body: dict | None
    status: int
    at: float = field(default_factory=time.monotonic)

    @property
    def text(self) -> str:
        return (self.body or {}).get("text", "")

    @property
    def number(self) -> str:
        return (self.body or {}).get("number", "")


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


class FakeGateway:
    def __init__(self, *, api_key: str | None = None, host: str = "127.0.0.1", port: int = 0) -> None:
        self.api_key = api_key
        self.host = host
        self.port = port
        self.requests: list[RecordedRequest] = []
        self.status = 200
        self.latency_s = 0.0  # a slow gateway, so a test can act while sends are in flight
        self._cond = threading.Condition()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._connections: set[socket.socket] = set()

    # --- control ---------------------------------------------------------------
    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> FakeGateway:
        self._server = _Server((self.host, self.port), self._handler_class())
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def down(self) -> None:
        """Stop listening: clients get 'connection refused'."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        # Keep-alive connections would otherwise go on being served.
        with self._cond:
            connections, self._connections = list(self._connections), set()
        for conn in connections:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)

    def up(self) -> None:
        """Listen again on the same port."""
        if self._server is None:
            self.start()

    stop = down

    def fail_with(self, status: int) -> None:
        self.status = status

    def ok(self) -> None:
        self.status = 200

    # --- inspection -------------------------------------------------------------
    def delivered(self) -> list[RecordedRequest]:
        with self._cond:
            return [r for r in self.requests if r.status == 200]

    def wait_for(self, count: int, *, timeout: float = 30.0) -> bool:
        """Wait until ``count`` requests were answered 200; False on timeout."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while sum(1 for r in self.requests if r.status == 200) < count:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._cond.wait(remaining)
        return True

    def wait_for_requests(self, count: int, *, timeout: float = 30.0) -> bool:
        """Wait until ``count`` requests arrived, whatever was answered."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while len(self.requests) < count:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._cond.wait(remaining)
        return True

    def _record(self, request: RecordedRequest) -> None:
        with self._cond:
            self.requests.append(request)
            self._cond.notify_all()

    # --- HTTP -------------------------------------------------------------------
    def _handler_class(self):
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self) -> None:
                super().setup()
                # Without this, Nagle + delayed ACK add ~40 ms per request.
                self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                with gateway._cond:
                    gateway._connections.add(self.connection)

            def finish(self) -> None:
                with gateway._cond:
                    gateway._connections.discard(self.connection)
                with contextlib.suppress(OSError):
                    super().finish()

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

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                try:
                    body = json.loads(raw or b"null")
                except ValueError:
                    body = None
                headers = {k.lower(): v for k, v in self.headers.items()}
                if self.path.rstrip("/") != "/send-text":
                    status, answer = 404, {"error": "not found"}
                elif gateway.api_key is not None and headers.get("x-api-key") != gateway.api_key:
                    status, answer = 401, {"error": "unauthorized"}
                elif not isinstance(body, dict) or not body.get("text") or not (body.get("number") or body.get("jid")):
                    status, answer = 400, {"error": "number/jid and text required"}
                elif gateway.status != 200:
                    status, answer = gateway.status, {"error": "simulated failure"}
                else:
                    status, answer = 200, {"status": "sent"}
                if gateway.latency_s:
                    time.sleep(gateway.latency_s)
                gateway._record(RecordedRequest(path=self.path, headers=headers, body=body, status=status))
                self._answer(status, answer)

        return Handler
