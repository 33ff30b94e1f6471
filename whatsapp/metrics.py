"""Counters for every stage of the WhatsApp pipeline.

They live in the process that counts (web, worker, gateway); a /metrics view or
prometheus_client's multiprocess mode exposes them. Each increment is paired
with a structured log line carrying the request id, so a number on a dashboard
leads to the messages behind it.
"""

from __future__ import annotations

from prometheus_client import Counter

ACCEPTED = Counter("whatsapp_inbound_accepted_total", "Inbound messages accepted and queued", ["source"])
DUPLICATES = Counter("whatsapp_inbound_duplicate_total", "Inbound messages refused as duplicates", ["source"])
PROCESSED = Counter("whatsapp_inbound_processed_total", "Inbound messages answered by the engine")
FAILED = Counter("whatsapp_inbound_failed_total", "Inbound messages given up after their attempts")
TRANSCRIPTION_FAILED = Counter("whatsapp_transcription_failed_total", "Voice notes that could not be transcribed")
SENT = Counter("whatsapp_outbound_sent_total", "Replies delivered to the gateway (or only logged)", ["mode"])
SEND_FAILED = Counter("whatsapp_outbound_failed_total", "Replies given up (permanent error or attempts exhausted)")
RETRIES = Counter("whatsapp_retries_total", "Retries scheduled, by stage", ["stage"])
SWEPT = Counter("whatsapp_swept_total", "Chats and replies re-enqueued by the sweeper", ["kind"])
