"""A small TCP proxy a test controls, to cut a service's connections on demand.

Fault tests put it in front of the shared PostgreSQL (or any TCP server) and
point child processes at the proxy's port. ``cut()`` resets every live
connection and stops listening, so clients see what a crashed or unreachable
server looks like (reset connections, then "connection refused");
``restore()`` listens again on the same port::

    proxy = TcpProxy(("127.0.0.1", 5432)).start()
    env = child_env(database_url=f"postgres://postgres@127.0.0.1:{proxy.port}/test_db", ...)
    proxy.cut()          # every client connection dies, new ones are refused
    proxy.restore()      # service is back
    proxy.stop()

The real server is never touched: only the connections that go through the
proxy are affected.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading

_CHUNK = 64 * 1024


def _reset(sock: socket.socket) -> None:
    """End the connection now, as when a server process dies.

    ``shutdown`` first: a plain ``close()`` does not end a connection while
    another thread is blocked in ``recv`` on it (the kernel keeps it open
    until that call returns, which for an idle PostgreSQL session is never).
    SO_LINGER 0 turns the final close into a reset when data is pending.
    """
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    with contextlib.suppress(OSError):
        sock.close()


class TcpProxy:
    def __init__(self, target: tuple[str, int], *, host: str = "127.0.0.1", port: int = 0) -> None:
        self.target = target
        self.host = host
        self.port = port
        self.accepted = 0  # connections proxied since start
        self.severed = 0  # connections reset by cut()
        self._listener: socket.socket | None = None
        self._pairs: set[tuple[socket.socket, socket.socket]] = set()
        self._guard = threading.Lock()
        self._accept_thread: threading.Thread | None = None

    # --- control -----------------------------------------------------------------
    def start(self) -> TcpProxy:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((self.host, self.port))
        listener.listen(128)
        self.port = listener.getsockname()[1]
        self._listener = listener
        self._accept_thread = threading.Thread(
            target=self._accept_loop, args=(listener,), name="tcp-proxy", daemon=True
        )
        self._accept_thread.start()
        return self

    @property
    def is_cut(self) -> bool:
        return self._listener is None

    def cut(self) -> int:
        """Reset every proxied connection and refuse new ones; how many were reset."""
        listener, self._listener = self._listener, None
        if listener is not None:
            with contextlib.suppress(OSError):
                listener.shutdown(socket.SHUT_RDWR)  # wakes the accept() thread
            listener.close()
        if self._accept_thread is not None:
            self._accept_thread.join(timeout=5)
            self._accept_thread = None
        with self._guard:
            pairs, self._pairs = list(self._pairs), set()
        for client, upstream in pairs:
            _reset(client)
            _reset(upstream)
        self.severed += len(pairs)
        return len(pairs)

    def restore(self) -> None:
        """Listen again on the same port."""
        if self._listener is None:
            self.start()

    def stop(self) -> None:
        self.cut()

    def __enter__(self) -> TcpProxy:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def live_connections(self) -> int:
        with self._guard:
            return len(self._pairs)

    # --- plumbing -------------------------------------------------------------------
    def _accept_loop(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # cut() closed the listener
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                _reset(client)
                continue
            upstream.settimeout(None)
            for sock in (client, upstream):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            pair = (client, upstream)
            with self._guard:
                if self._listener is not listener:  # cut while we connected
                    _reset(client)
                    _reset(upstream)
                    return
                self._pairs.add(pair)
                self.accepted += 1
            threading.Thread(target=self._pipe, args=(client, upstream, pair), daemon=True).start()
            threading.Thread(target=self._pipe, args=(upstream, client, pair), daemon=True).start()

    def _pipe(self, source: socket.socket, sink: socket.socket, pair: tuple[socket.socket, socket.socket]) -> None:
        try:
            while True:
                data = source.recv(_CHUNK)
                if not data:
                    break
                sink.sendall(data)
        except OSError:
            pass
        # One side finished or failed: end both, as a real connection would.
        with self._guard:
            owned = pair in self._pairs
            self._pairs.discard(pair)
        if owned:
            for sock in pair:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)  # wakes the other direction's recv
                with contextlib.suppress(OSError):
                    sock.close()
