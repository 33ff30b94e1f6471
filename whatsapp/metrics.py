"""Counters for every stage of the WhatsApp pipeline, and the message gauges
read from PostgreSQL at scrape time.

The counters live in the process that counts (web, worker, gateway); the
/metrics view (``congress.metrics``) or prometheus_client's multiprocess mode
exposes them. Each increment is paired with a structured log line carrying the
request id, so a number on a dashboard leads to the messages behind it. The
gauges (``MessageCollector``, listed in ``settings.METRICS_COLLECTORS``) are
right whichever process did the work.
"""

from __future__ import annotations

from collections.abc import Iterator

from django.db import DatabaseError
from django.db.models import Count, Min
from django.utils import timezone
from prometheus_client import Counter
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from whatsapp.models import InboundMessage, OutboundMessage

ACCEPTED = Counter("whatsapp_inbound_accepted_total", "Inbound messages accepted and queued", ["source"])
DUPLICATES = Counter("whatsapp_inbound_duplicate_total", "Inbound messages refused as duplicates", ["source"])
PROCESSED = Counter("whatsapp_inbound_processed_total", "Inbound messages answered by the engine")
FAILED = Counter("whatsapp_inbound_failed_total", "Inbound messages given up after their attempts")
TRANSCRIPTION_FAILED = Counter("whatsapp_transcription_failed_total", "Voice notes that could not be transcribed")
SENT = Counter("whatsapp_outbound_sent_total", "Replies delivered to the gateway (or only logged)", ["mode"])
SEND_FAILED = Counter("whatsapp_outbound_failed_total", "Replies given up (permanent error or attempts exhausted)")
RETRIES = Counter("whatsapp_retries_total", "Retries scheduled, by stage", ["stage"])
SWEPT = Counter("whatsapp_swept_total", "Chats and replies re-enqueued by the sweeper", ["kind"])
HELD = Counter("whatsapp_outbound_held_total", "Replies held: outside the Cloud API's 24-hour window without a template")
CLOUD_WEBHOOKS = Counter("whatsapp_cloud_webhook_requests_total", "Cloud API webhook requests, by outcome", ["result"])
CLOUD_IGNORED = Counter("whatsapp_cloud_ignored_total", "Cloud API webhook items not turned into messages", ["reason"])
CLOUD_STATUSES = Counter("whatsapp_cloud_statuses_total", "Cloud API message statuses, by status and outcome", ["status", "result"])
CLOUD_READ_FAILED = Counter("whatsapp_cloud_read_receipt_failed_total", "Read receipts / typing indicators the Graph API refused")


class MessageCollector(Collector):
    """Inbound and outbound messages by status, and the queue lag."""

    def collect(self) -> Iterator[GaugeMetricFamily]:
        try:
            for name, model in (("inbound", InboundMessage), ("outbound", OutboundMessage)):
                gauge = GaugeMetricFamily(f"whatsapp_{name}_messages", f"{name.title()} messages by status", labels=["status"])
                for row in model.objects.values("status").annotate(n=Count("id")):
                    gauge.add_metric([row["status"]], row["n"])
                yield gauge
            oldest = InboundMessage.objects.filter(status="pending").aggregate(t=Min("created_at"))["t"]
            lag = GaugeMetricFamily("whatsapp_queue_lag_seconds", "Age of the oldest pending inbound message")
            lag.add_metric([], (timezone.now() - oldest).total_seconds() if oldest else 0.0)
            yield lag
        except DatabaseError:
            return


# --- The neonize gateway's connection (whatsapp/gateway.py, whatsapp/alerts.py) ---
# These live in the gateway process; it serves them at GET /metrics on its
# own port (GATEWAY_API_KEY). ChannelAlertCollector reads the open alerts
# from PostgreSQL, so the web's /metrics shows them too.

from prometheus_client import Gauge  # noqa: E402 - appended section

from whatsapp.models import ChannelAlert  # noqa: E402 - appended section

CHANNEL_ALERTS = Counter(
    "whatsapp_channel_alerts_total",
    "Channel alert occurrences (logged out, temporary ban, client outdated, stream replaced, connect failed)",
    ["channel", "kind"],
)
CHANNEL_UP = Gauge(
    "whatsapp_channel_up", "1 while the channel is connected and allowed to send, else 0", ["channel"],
    multiprocess_mode="livemax",
)
GATEWAY_CONNECT_ATTEMPTS = Counter(
    "whatsapp_gateway_connect_attempts_total", "First-connect attempts of the neonize gateway, by outcome", ["outcome"]
)
GATEWAY_UNREADABLE = Counter(
    "whatsapp_gateway_unreadable_messages_total",
    "Messages the gateway could not read and did not answer (empty_lid: neonize#217; undecryptable)",
    ["reason"],
)


class ChannelAlertCollector(Collector):
    """Open channel alerts by channel and kind (0 for every known pair)."""

    def collect(self) -> Iterator[GaugeMetricFamily]:
        try:
            counts = {
                (row["channel"], row["kind"]): row["n"]
                for row in ChannelAlert.objects.filter(resolved_at__isnull=True).values("channel", "kind").annotate(n=Count("id"))
            }
        except DatabaseError:
            return
        gauge = GaugeMetricFamily("whatsapp_channel_alerts_open", "Open channel alerts", labels=["channel", "kind"])
        for channel in ChannelAlert._meta.get_field("channel").choices:
            for kind in ChannelAlert.Kind.values:
                gauge.add_metric([channel[0], kind], counts.get((channel[0], kind), 0))
        yield gauge


# Bursts (WA_DEBOUNCE_MS): messages answered together with a later one, and
# bursts answered, by why they ended ("complete": a message completed the
# pending step and was answered at once; "quiet": the window passed; "gap",
# "full", "waited", "split": see whatsapp.debounce.Plan).
MERGED = Counter("whatsapp_inbound_merged_total", "Inbound messages answered together with a later one (debounce)")
BURSTS = Counter("whatsapp_bursts_total", "Bursts answered with a debounce window, by why they ended", ["reason"])
