"""``python manage.py whatsapp_gateway``: connect a WhatsApp number through
neonize, hand every incoming message to the pipeline (``message_accept``) and
serve ``/send-text`` for the replies.

Login: a QR code printed in the terminal (and saved as PNG) to scan in
WhatsApp > Linked devices, or a pairing code with ``--phone``. The session is
stored in the project's PostgreSQL (neonize creates its ``whatsmeow_*``
tables there) or, on the embedded default, in a SQLite file.

Connection (``whatsapp.gateway.GatewayConnection``): each attempt waits at most
``--connect-timeout`` seconds for a sign of life (a QR code, or connected),
then is abandoned and retried with backoff; ``--connect-alert-after`` failures
in a row open a "connect_failed" alert. A logout, a temporary ban, an outdated
client or a session replaced elsewhere opens an alert too (a banner on every
admin page, an ERROR log line, ``whatsapp_channel_alerts_total``) and
``/send-text`` answers 503 until the channel can send again; the process keeps
running. It exits non-zero only when neonize does not let go of an abandoned
attempt, so its supervisor restarts it clean.
"""

from __future__ import annotations

import contextlib
import logging
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
        parser.add_argument(
            "--connect-timeout", type=float, default=30.0,
            help="Seconds a connection attempt may go without a sign of life (QR code, connected) before it is retried.",
        )
        parser.add_argument(
            "--connect-alert-after", type=int, default=5,
            help="Failed connection attempts in a row before organizers see a 'connect_failed' alert.",
        )

    def handle(self, *args, **options) -> None:
        # neonize configures logging on import: import it only here, after Django did.
        from neonize.client import NewClient
        from neonize.events import MessageEv, UndecryptableMessageEv
        from neonize.events import event as neonize_stop
        from neonize.exc import NeonizeError

        from whatsapp.gateway import (
            ConnectPolicy,
            GatewayConnection,
            GatewayHandler,
            GatewayStuck,
            SendTextServer,
            neonize_versions,
        )

        if options["connect_timeout"] <= 0 or options["connect_alert_after"] < 1:
            raise CommandError("--connect-timeout must be > 0 and --connect-alert-after >= 1.")
        session = options["session"] or default_session()
        if not session.startswith("postgres") and not Path(session).parent.is_dir():
            raise CommandError(f"The session's directory does not exist: {session}")
        versions = neonize_versions()
        # whatsmeow is compiled into neonize's library: its version is the one
        # that matters when WhatsApp changes something (see FACTS/docs).
        logger.info("whatsapp.gateway_versions neonize=%s whatsmeow=%s go=%s", versions["neonize"], versions["whatsmeow"], versions["go"])
        self.stdout.write(f"neonize {versions['neonize']} (whatsmeow {versions['whatsmeow']}, {versions['go']})")

        stopping = threading.Event()
        client = NewClient(session)
        handler = GatewayHandler(accept_groups=options["accept_groups"], typing=not options["no_typing"])
        client.event(MessageEv)(handler.on_message)
        client.event(UndecryptableMessageEv)(handler.on_undecryptable)
        connection = GatewayConnection(
            client,
            policy=ConnectPolicy(timeout_s=options["connect_timeout"], alert_after=options["connect_alert_after"]),
            stopping=stopping,
            on_connected=lambda: self.stdout.write(self.style.SUCCESS("Conectado ao WhatsApp.")),
        )
        connection.register()

        pairing_started = threading.Event()

        def on_qr(_client, data: bytes) -> None:
            connection.on_activity()  # a person may be scanning: do not abandon the attempt
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
                connection.on_activity()
                self.stdout.write(self.style.SUCCESS(f"Código de pareamento: {code}"))
                self.stdout.write("No celular: WhatsApp > Aparelhos conectados > Conectar com número de telefone.")
                return

        server = SendTextServer((options["host"], options["port"]), client, state=connection.state)
        threading.Thread(target=server.serve_forever, name="wa-send-text", daemon=True).start()
        self.stdout.write(f"/send-text em http://{options['host']}:{server.port}/send-text")

        def stop(*_args) -> None:
            if not stopping.is_set():
                logger.info("whatsapp.gateway_stopping")
            stopping.set()
            connection.wake()
            neonize_stop.set()  # makes a running connect() return

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)

        # The first-connect loop, with a bounded wait per attempt and backoff
        # (whatsmeow reconnects by itself only after a first success); halts
        # on logout, ban, outdated client or a replaced session (alerts).
        try:
            connection.run()
        except GatewayStuck as exc:
            logger.error("whatsapp.gateway_stuck error=%s (exiting for a restart)", exc)
            raise CommandError(f"{exc}; exiting so the supervisor restarts the gateway.") from exc
        finally:
            server.shutdown()
            handler.shutdown()
            with contextlib.suppress(Exception):
                client.stop()
        logger.info("whatsapp.gateway_stopped")
