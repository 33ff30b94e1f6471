"""A local HTTP server that speaks enough of the OpenAI API for tests and benchmarks.

It serves ``POST /v1/chat/completions`` (JSON), ``POST /v1/audio/transcriptions``
(multipart) and ``POST /v1/embeddings``, so the real ``openai`` client, our
retries and our timeouts are exercised end to end. Per test you choose the
reply text, a latency, and a script of failures for the next calls (HTTP 500,
429 with ``Retry-After``, a malformed body, a hang longer than the client's
timeout, ...). Every request is recorded (parsed JSON or multipart fields) for
assertions.

Replies are written in one ``send`` with ``TCP_NODELAY`` set: otherwise Nagle
and delayed ACKs add ~40 ms per call and spoil benchmarks.

Use it as the ``fake_openai`` pytest fixture (expose it with
``pytest_plugins = ["congress.testing.fake_openai"]`` in the root conftest or
import the fixture into a test module), from code (``with FakeOpenAI() as
fake: ...``), or from a shell::

    python -m congress.testing.fake_openai --port 8765 --latency-ms 300
"""

from __future__ import annotations

import argparse
import hashlib
import json
import socket
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email.parser import BytesParser
from email.policy import default as default_policy
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler
from typing import Any

from congress.testing.local_server import FakeHTTPServer, LocalFake

ReplyText = str | Callable[[dict[str, Any]], str]


@dataclass(frozen=True)
class FakeFailure:
    """What the fake does instead of answering one request."""

    kind: str  # "status", "malformed", "not_json", "empty", "hang"
    status: int = 500
    retry_after: str | None = None
    hang_s: float = 5.0

    @classmethod
    def server_error(cls, status: int = 500) -> FakeFailure:
        return cls("status", status=status)

    @classmethod
    def rate_limited(cls, retry_after: float | str = 1) -> FakeFailure:
        return cls("status", status=429, retry_after=str(retry_after))

    @classmethod
    def client_error(cls, status: int = 400) -> FakeFailure:
        return cls("status", status=status)

    @classmethod
    def malformed(cls) -> FakeFailure:
        """200 with a JSON body that has no ``choices``."""
        return cls("malformed")

    @classmethod
    def not_json(cls) -> FakeFailure:
        """200 with an HTML page, as a misconfigured proxy would send."""
        return cls("not_json")

    @classmethod
    def empty(cls) -> FakeFailure:
        """200 with an empty assistant message."""
        return cls("empty")

    @classmethod
    def hang(cls, seconds: float = 5.0) -> FakeFailure:
        """Hold the connection without answering (longer than the client's timeout)."""
        return cls("hang", hang_s=seconds)


@dataclass
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    json: Any = None
    fields: dict[str, str] = field(default_factory=dict)
    files: dict[str, tuple[str | None, str, bytes]] = field(default_factory=dict)

    @property
    def text(self) -> str:
        """Everything the client sent that a human could read (for "never contains" checks)."""
        return self.body.decode("utf-8", errors="replace")


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: FakeHTTPServer

    def setup(self) -> None:
        super().setup()
        self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(self.rfile.readline().strip().split(b";")[0], 16)
                if size == 0:
                    self.rfile.readline()
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _send(self, status: int, payload: Any, *, headers: dict[str, str] | None = None, raw: bytes | None = None) -> None:
        body = raw if raw is not None else json.dumps(payload).encode()
        lines = [f"HTTP/1.1 {status} {HTTPStatus(status).phrase}", "Content-Type: application/json"]
        lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
        lines += [f"Content-Length: {len(body)}", "Connection: keep-alive", "", ""]
        # One write: headers and body leave in the same segment.
        self.wfile.write("\r\n".join(lines).encode("latin-1") + body)

    def do_POST(self) -> None:  # the stdlib's name
        fake = self.server.fake
        body = self._read_body()
        record = RecordedRequest(
            method="POST", path=self.path.split("?")[0], headers={k.lower(): v for k, v in self.headers.items()}, body=body
        )
        content_type = self.headers.get("Content-Type", "")
        if content_type.startswith("application/json"):
            try:
                record.json = json.loads(body or b"null")
            except ValueError:
                record.json = None
        elif content_type.startswith("multipart/form-data"):
            record.fields, record.files = _parse_multipart(content_type, body)
        fake._record(record)

        if fake.latency_ms:
            fake._stopping.wait(fake.latency_ms / 1000)
        failure = fake._next_failure()
        if failure is not None:
            self._fail(failure)
            return

        path = record.path
        if path.endswith("/chat/completions"):
            self._send(200, fake._chat_payload(record.json or {}))
        elif path.endswith("/audio/transcriptions"):
            self._send(200, {"text": fake.transcript_text})
        elif path.endswith("/embeddings"):
            self._send(200, _embeddings_payload(record.json or {}))
        else:
            self._send(404, {"error": {"message": f"Unknown path {path}", "type": "invalid_request_error"}})

    def _fail(self, failure: FakeFailure) -> None:
        if failure.kind == "hang":
            self.server.fake._stopping.wait(failure.hang_s)
            self.close_connection = True
            return
        if failure.kind == "status":
            headers = {"Retry-After": failure.retry_after} if failure.retry_after is not None else {}
            kind = "rate_limit_exceeded" if failure.status == 429 else "server_error"
            self._send(failure.status, {"error": {"message": f"fake {failure.status}", "type": kind}}, headers=headers)
        elif failure.kind == "malformed":
            self._send(200, {"id": "chatcmpl-fake", "object": "chat.completion", "created": int(time.time())})
        elif failure.kind == "empty":
            payload = self.server.fake._chat_payload({})
            payload["choices"][0]["message"]["content"] = ""
            self._send(200, payload)
        elif failure.kind == "not_json":
            self._send(200, None, raw=b"<html><body>502 Bad Gateway</body></html>")
        else:  # pragma: no cover - a typo in a test
            raise ValueError(f"unknown failure kind {failure.kind!r}")




def _parse_multipart(content_type: str, body: bytes) -> tuple[dict[str, str], dict[str, tuple[str | None, str, bytes]]]:
    message = BytesParser(policy=default_policy).parsebytes(
        b"MIME-Version: 1.0\r\nContent-Type: " + content_type.encode("latin-1") + b"\r\n\r\n" + body
    )
    fields: dict[str, str] = {}
    files: dict[str, tuple[str | None, str, bytes]] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition") or ""
        payload = part.get_payload(decode=True) or b""
        filename = part.get_filename()
        if filename is not None:
            files[name] = (filename, part.get_content_type(), payload)
        else:
            fields[name] = payload.decode("utf-8", errors="replace")
    return fields, files


def _embeddings_payload(request: dict[str, Any]) -> dict[str, Any]:
    inputs = request.get("input") or []
    if isinstance(inputs, str):
        inputs = [inputs]
    data = []
    for index, text in enumerate(inputs):
        digest = hashlib.sha256(str(text).encode()).digest()
        data.append({"object": "embedding", "index": index, "embedding": [b / 255 for b in digest[:16]]})
    return {"object": "list", "data": data, "model": request.get("model", "fake-embedding"), "usage": {"prompt_tokens": 0, "total_tokens": 0}}


def _approx_tokens(text: str) -> int:
    return max(1, round(len(text.split()) * 1.3))


class FakeOpenAI(LocalFake):
    """The fake server. ``base_url`` is what ``OPENAI_BASE_URL`` should be."""

    handler = _Handler
    thread_name = "fake-openai"

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        reply_text: ReplyText = "Resposta do modelo de teste.",
        transcript_text: str = "quero me inscrever no congresso",
        latency_ms: float = 0,
    ) -> None:
        self._init_server(host, port)
        self.reply_text = reply_text
        self.transcript_text = transcript_text
        self.latency_ms = latency_ms
        self.requests: list[RecordedRequest] = []
        self._failures: deque[FakeFailure] = deque()
        self._lock = threading.Lock()

    # -- lifecycle ------------------------------------------------------------

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}/v1"

    # -- scripting ------------------------------------------------------------

    def fail_next(self, *failures: FakeFailure) -> None:
        """The next requests fail like this, in order; then normal replies resume."""
        with self._lock:
            self._failures.extend(failures)

    def fail_always(self, failure: FakeFailure, times: int = 100) -> None:
        self.fail_next(*([failure] * times))

    def fail_with(self, status: int, *, times: int = 1, retry_after: float | str | None = None) -> None:
        """Shorthand: the next ``times`` requests answer HTTP ``status``."""
        failure = FakeFailure("status", status=status, retry_after=None if retry_after is None else str(retry_after))
        self.fail_next(*([failure] * times))

    @property
    def transcription_text(self) -> str:
        """Alias of ``transcript_text``."""
        return self.transcript_text

    @transcription_text.setter
    def transcription_text(self, value: str) -> None:
        self.transcript_text = value

    def reset(self) -> None:
        with self._lock:
            self._failures.clear()
            self.requests.clear()

    def _next_failure(self) -> FakeFailure | None:
        with self._lock:
            return self._failures.popleft() if self._failures else None

    def _record(self, record: RecordedRequest) -> None:
        with self._lock:
            self.requests.append(record)

    def _chat_payload(self, request: dict[str, Any]) -> dict[str, Any]:
        text = self.reply_text(request) if callable(self.reply_text) else self.reply_text
        prompt = " ".join(str(m.get("content", "")) for m in request.get("messages") or [] if isinstance(m, dict))
        prompt_tokens, completion_tokens = _approx_tokens(prompt), _approx_tokens(text)
        return {
            "id": "chatcmpl-fake",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": request.get("model", "fake-model"),
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
            },
        }

    # -- assertions -------------------------------------------------------------

    def requests_to(self, suffix: str) -> list[RecordedRequest]:
        with self._lock:
            return [r for r in self.requests if r.path.endswith(suffix)]

    @property
    def chat_requests(self) -> list[RecordedRequest]:
        return self.requests_to("/chat/completions")

    @property
    def transcription_requests(self) -> list[RecordedRequest]:
        return self.requests_to("/audio/transcriptions")

    def iter_sent_text(self) -> Iterator[str]:
        with self._lock:
            snapshot = list(self.requests)
        for record in snapshot:
            yield record.text


def serve(port: int, latency_ms: float = 0, *, host: str = "127.0.0.1", reply_text: str | None = None) -> None:
    """Run the fake in the foreground until interrupted (for benchmarks)."""
    fake = FakeOpenAI(host=host, port=port, latency_ms=latency_ms)
    if reply_text is not None:
        fake.reply_text = reply_text
    fake.start()
    print(f"fake OpenAI listening on {fake.base_url} (latency {latency_ms} ms)", flush=True)
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
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--latency-ms", type=float, default=0)
    parser.add_argument("--reply", default=None, help="assistant text of every chat completion")
    args = parser.parse_args(argv)
    serve(args.port, args.latency_ms, host=args.host, reply_text=args.reply)


try:
    import pytest
except ImportError:  # pragma: no cover - benchmarks may run without pytest
    pytest = None  # type: ignore[assignment]

if pytest is not None:

    @pytest.fixture
    def fake_openai(settings):
        """A running fake OpenAI server, with settings pointing the bot at it.

        Timeouts and backoff are small so failure tests stay fast; tests that
        need other values set them on ``settings`` after taking this fixture.
        """
        fake = FakeOpenAI().start()
        settings.OPENAI_API_KEY = "sk-test-fake-openai"
        settings.OPENAI_BASE_URL = fake.base_url
        settings.OPENAI_TIMEOUT_S = 1.0
        settings.OPENAI_MAX_RETRIES = 2
        settings.OPENAI_BACKOFF_BASE_S = 0.01
        settings.OPENAI_BACKOFF_CAP_S = 0.05
        settings.OPENAI_RETRY_AFTER_CAP_S = 2.0
        try:
            yield fake
        finally:
            fake.stop()


if __name__ == "__main__":
    main()
