"""A minimal SMTP server on 127.0.0.1 that can refuse mail on purpose.

For fault tests of the confirmation e-mail: point ``EMAIL_URL`` (or the SMTP
settings) at it, make it misbehave, then recover::

    smtp = FakeSMTP().start()
    env["EMAIL_URL"] = smtp.email_url
    smtp.set_mode("down")      # connection refused (nothing listening)
    smtp.set_mode("busy")      # 421 at the greeting, then close
    smtp.set_mode("defer")     # 451 to RCPT TO (greylisting)
    smtp.set_mode("accept")    # takes every message
    smtp.drop_first = 1        # close the next connection before the greeting
    smtp.refuse_recipients = True   # 550 to RCPT TO (a permanent refusal)
    smtp.messages_to("ana@example.com")

Every SMTP session and what was refused is counted, so a test can prove the
fault was really hit.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from dataclasses import dataclass, field

MODES = ("accept", "down", "busy", "defer")


@dataclass
class ReceivedMail:
    sender: str
    recipients: list[str]
    data: bytes


@dataclass
class FakeSMTP:
    port: int = 0
    mode: str = "accept"
    messages: list[ReceivedMail] = field(default_factory=list)
    sessions: int = 0
    refused: int = 0  # sessions refused with 421, RCPTs deferred with 451
    drop_first: int = 0  # this many connections closed before the greeting
    refuse_recipients: bool = False  # 550 to every RCPT TO

    @property
    def connections(self) -> int:
        return self.sessions

    def __post_init__(self) -> None:
        self._listener: socket.socket | None = None
        self._guard = threading.Lock()
        self._thread: threading.Thread | None = None

    # --- control ---------------------------------------------------------------------
    @property
    def email_url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    def start(self) -> FakeSMTP:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(32)
        self.port = listener.getsockname()[1]
        self._listener = listener
        self._thread = threading.Thread(target=self._serve, args=(listener,), name="fake-smtp", daemon=True)
        self._thread.start()
        return self

    def _close_listener(self) -> None:
        listener, self._listener = self._listener, None
        if listener is not None:
            with contextlib.suppress(OSError):
                listener.shutdown(socket.SHUT_RDWR)
            listener.close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def stop(self) -> None:
        self._close_listener()

    def set_mode(self, mode: str) -> None:
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}")
        self.mode = mode
        if mode == "down":
            self._close_listener()
        elif self._listener is None:
            self.start()

    def messages_to(self, address: str) -> list[ReceivedMail]:
        with self._guard:
            return [m for m in self.messages if address.lower() in (r.lower() for r in m.recipients)]

    # --- protocol -----------------------------------------------------------------------
    def _serve(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            client.settimeout(10)
            with self._guard:
                self.sessions += 1
                drop = self.sessions <= self.drop_first
            if drop:  # the client sees SMTPServerDisconnected
                client.close()
                continue
            threading.Thread(target=self._session, args=(client,), daemon=True).start()

    def _session(self, client: socket.socket) -> None:
        reader = client.makefile("rb")

        def send(line: str) -> None:
            client.sendall(line.encode() + b"\r\n")

        sender, recipients = "", []
        try:
            if self.mode == "busy":
                with self._guard:
                    self.refused += 1
                send("421 4.3.2 fake-smtp busy, try again later")
                return
            send("220 fake-smtp ready")
            while True:
                line = reader.readline()
                if not line:
                    return
                command = line.decode(errors="replace").strip()
                upper = command.upper()
                if upper.startswith(("EHLO", "HELO")):
                    send("250 fake-smtp")
                elif upper.startswith("MAIL FROM"):
                    sender, recipients = command.split(":", 1)[1].strip(" <>"), []
                    send("250 OK")
                elif upper.startswith("RCPT TO"):
                    if self.refuse_recipients:
                        send("550 5.1.1 mailbox unavailable")
                    elif self.mode == "defer":
                        with self._guard:
                            self.refused += 1
                        send("451 4.7.1 greylisted, try again later")
                    else:
                        recipients.append(command.split(":", 1)[1].strip(" <>"))
                        send("250 OK")
                elif upper == "DATA":
                    send("354 end with .")
                    body = []
                    while True:
                        data = reader.readline()
                        if data in (b".\r\n", b".\n", b""):
                            break
                        body.append(data)
                    with self._guard:
                        self.messages.append(ReceivedMail(sender=sender, recipients=recipients, data=b"".join(body)))
                    send("250 queued")
                elif upper in ("RSET", "NOOP"):
                    send("250 OK")
                elif upper == "QUIT":
                    send("221 bye")
                    return
                else:
                    send("502 not implemented")
        except OSError:
            return
        finally:
            with contextlib.suppress(OSError):
                client.close()
