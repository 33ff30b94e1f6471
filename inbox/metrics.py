"""Handoff counters, served by ``congress.metrics`` at GET /metrics."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

OPENED = Counter("handoffs_opened_total", "Handoffs opened (a person took over a conversation)", ["reason"])
CLOSED = Counter("handoffs_closed_total", "Handoffs closed (the bot answers again)", ["how"])
FIRST_REPLY = Histogram(
    "handoff_first_staff_reply_seconds",
    "Time from a handoff opening to the first staff reply",
    buckets=(60, 300, 900, 1800, 3600, 7200, 14400, 28800, 86400, 172800),
)
NOTIFICATIONS = Counter("handoff_notification_emails_total", "E-mails to the organizers about new handoffs")
