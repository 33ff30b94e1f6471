"""A fake HTTP peer served from a thread of the test process: the lifecycle
the fakes of OpenAI and the Graph API share (start on a free port, stop
releasing handlers that hang on purpose, use as a context manager)."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self


class FakeHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    block_on_close = False
    fake: Any  # the LocalFake serving; handlers read their state from it


class LocalFake:
    """Subclasses set ``handler`` and ``thread_name`` and call ``_init_server``."""

    handler: type[BaseHTTPRequestHandler]
    thread_name = "fake-http"

    def _init_server(self, host: str, port: int) -> None:
        self.host = host
        self.port = port
        self._stopping = threading.Event()  # set on stop: hanging handlers return at once
        self._server: FakeHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> Self:
        self._stopping.clear()
        self._server = FakeHTTPServer((self.host, self.port), self.handler)
        self._server.fake = self
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, name=self.thread_name, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
