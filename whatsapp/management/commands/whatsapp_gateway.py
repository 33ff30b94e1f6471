"""``python manage.py whatsapp_gateway``: connect a WhatsApp number through
neonize, hand every incoming message to the pipeline (``message_accept``) and
serve ``/send-text`` for the replies.

Login: a QR code printed in the terminal (and saved as PNG) to scan in
WhatsApp > Linked devices, or a pairing code with ``--phone``. The session is
stored in the project's PostgreSQL (neonize creates its ``whatsmeow_*``
tables there) or, on the embedded default, in a SQLite file.
"""

from __future__ import annotations

import contextlib
import logging
import random
import signal
import threading
from pathlib import Path
from urllib.parse import quote

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

logger = logging.getLogger("whatsapp.gateway")


def default_session() -> str:
    """Where neonize keeps the WhatsApp session: WA_SESSION, else the
    project's PostgreSQL, else a SQLite file next to the project."""
    if settings.WA_SESSION:
        return settings.WA_SESSION
    db = settings.DATABASES["default"]
    if db["ENGINE"] == "django.db.backends.postgresql":
        auth = quote(db.get("USER") or "", safe="")
        if db.get("PASSWORD"):
            auth += ":" + quote(db["PASSWORD"], safe="")
        sslmode = (db.get("OPTIONS") or {}).get("sslmode", "disable")
        return f"postgres://{auth}@{db.get('HOST') or '127.0.0.1'}:{db.get('PORT') or 5432}/{db['NAME']}?sslmode={sslmode}"
    return str(Path(settings.BASE_DIR) / "whatsapp-session.sqlite3")


class Command(BaseCommand):
    help = "Run the WhatsApp gateway (neonize): receive messages into the pipeline and serve /send-text."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--phone", help="Log in with a pairing code for this number (e.g. 5561999990000) instead of a QR code.")
        parser.add_argument("--session", default=None, help="neonize session: a postgres:// DSN or a SQLite file path.")
        parser.add_argument("--qr-png", default=str(Path(settings.BASE_DIR) / "whatsapp-qr.png"), help="Where to save the QR code image.")
        parser.add_argument("--host", default=settings.WA_GATEWAY_HOST, help="Address of the /send-text server.")
        parser.add_argument("--port", type=int, default=settings.WA_GATEWAY_PORT, help="Port of the /send-text server.")
        parser.add_argument("--accept-groups", action="store_true", default=settings.WA_ACCEPT_GROUPS, help="Answer group messages too.")
        parser.add_argument("--no-typing", action="store_true", help="Do not show 'typing...' while a reply is produced.")

    def handle(self, *args, **options) -> None:
        # neonize configures logging on import: import it only here, after Django did.
        from neonize.client import NewClient
        from neonize.events import ConnectedEv, DisconnectedEv, LoggedOutEv, MessageEv
        from neonize.events import event as neonize_stop
        from neonize.exc import NeonizeError

        from whatsapp.gateway import GatewayHandler, SendTextServer

        session = options["session"] or default_session()
        if not session.startswith("postgres") and not Path(session).parent.is_dir():
            raise CommandError(f"The session's directory does not exist: {session}")
        stopping = threading.Event()
        connected_once = threading.Event()
        client = NewClient(session)
        handler = GatewayHandler(accept_groups=options["accept_groups"], typing=not options["no_typing"])
        client.event(MessageEv)(handler.on_message)

        @client.event(ConnectedEv)
        def on_connected(_client, _ev) -> None:
            connected_once.set()
            logger.info("whatsapp.gateway_connected")
            self.stdout.write(self.style.SUCCESS("Conectado ao WhatsApp."))

        @client.event(DisconnectedEv)
        def on_disconnected(_client, _ev) -> None:
            # whatsmeow reconnects by itself; /send-text answers 503 meanwhile.
            client.connected = False
            logger.warning("whatsapp.gateway_disconnected (reconnecting)")

        logged_out = threading.Event()

        @client.event(LoggedOutEv)
        def on_logged_out(_client, _ev) -> None:
            logged_out.set()
            logger.error("whatsapp.gateway_logged_out (device unlinked): log in again")
            stop()

        pairing_started = threading.Event()

        def on_qr(_client, data: bytes) -> None:
            if options["phone"]:
                if not pairing_started.is_set():
                    pairing_started.set()
                    threading.Thread(target=pair_by_phone, name="wa-pair", daemon=True).start()
                return
            import segno

            qr = segno.make_qr(data)
            qr.terminal(compact=True)
            try:
                qr.save(options["qr_png"], scale=8)
                self.stdout.write(f"QR code salvo em {options['qr_png']}. Escaneie em WhatsApp > Aparelhos conectados.")
            except OSError as exc:
                logger.warning("whatsapp.gateway_qr_png_failed error=%s", exc)

        client.qr(on_qr)

        def pair_by_phone() -> None:
            # PairPhone only works while connect() runs (it is in another thread).
            for attempt in range(10):
                if stopping.is_set():
                    return
                try:
                    code = client.PairPhone(options["phone"], True)
                except NeonizeError as exc:
                    logger.warning("whatsapp.gateway_pairing_failed attempt=%s error=%s", attempt + 1, exc)
                    stopping.wait(2)
                    continue
                self.stdout.write(self.style.SUCCESS(f"Código de pareamento: {code}"))
                self.stdout.write("No celular: WhatsApp > Aparelhos conectados > Conectar com número de telefone.")
                return

        server = SendTextServer((options["host"], options["port"]), client)
        threading.Thread(target=server.serve_forever, name="wa-send-text", daemon=True).start()
        self.stdout.write(f"/send-text em http://{options['host']}:{server.port}/send-text")

        def stop(*_args) -> None:
            if not stopping.is_set():
                logger.info("whatsapp.gateway_stopping")
            stopping.set()
            neonize_stop.set()  # makes a running connect() return

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)

        # whatsmeow reconnects by itself after a first successful connect; the
        # first connect (network down, WhatsApp unreachable) is retried here.
        delay = 1.0
        try:
            while not stopping.is_set():
                try:
                    client.connect()
                except NeonizeError as exc:
                    logger.warning("whatsapp.gateway_connect_failed error=%s retry_in=%.0fs", exc, delay)
                if stopping.is_set():
                    break
                if connected_once.is_set():
                    delay = 1.0
                    connected_once.clear()
                stopping.wait(delay + random.uniform(0, delay / 2))
                delay = min(delay * 2, 60.0)
        finally:
            server.shutdown()
            handler.shutdown()
            with contextlib.suppress(NeonizeError):
                client.disconnect()
        logger.info("whatsapp.gateway_stopped")
        if logged_out.is_set():
            # A non-zero exit tells the supervisor something needs a person.
            raise CommandError("O aparelho foi desconectado do WhatsApp. Rode o comando de novo para parear.")
