"""Registration metrics: an in-process outcome counter and the registration
gauges read from PostgreSQL at scrape time (``settings.METRICS_COLLECTORS``),
served by ``congress.metrics`` at GET /metrics."""

from __future__ import annotations

from collections.abc import Iterator

from django.db import DatabaseError
from django.db.models import Count
from prometheus_client import Counter
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from registrations.models import Participant, RegistrationEvent

REGISTRATION_OUTCOMES = Counter("registration_outcomes_total", "Registration outcomes seen by this process", ["outcome"])


class RegistrationCollector(Collector):
    """The funnel by step, abandoned registrations by step, events by kind and
    participants by status."""

    def collect(self) -> Iterator[GaugeMetricFamily]:
        try:
            steps = GaugeMetricFamily(
                "registration_funnel_conversations", "Conversations that reached each registration step", labels=["step"]
            )
            for row in (
                RegistrationEvent.objects.filter(kind=RegistrationEvent.Kind.STEP)
                .values("step")
                .annotate(n=Count("conversation_id", distinct=True))
            ):
                steps.add_metric([row["step"] or "unknown"], row["n"])
            yield steps
            abandoned = GaugeMetricFamily(
                "registration_abandoned_conversations", "Registrations abandoned, by the step they stopped at", labels=["step"]
            )
            for row in (
                RegistrationEvent.objects.filter(kind=RegistrationEvent.Kind.ABANDONED)
                .values("step")
                .annotate(n=Count("conversation_id", distinct=True))
            ):
                abandoned.add_metric([row["step"] or "unknown"], row["n"])
            yield abandoned
            outcomes = GaugeMetricFamily("registration_events", "Registration events by kind", labels=["kind"])
            for row in RegistrationEvent.objects.values("kind").annotate(n=Count("id")):
                outcomes.add_metric([row["kind"]], row["n"])
            yield outcomes
            participants = GaugeMetricFamily("participants", "Participants by status", labels=["status"])
            for row in Participant.objects.values("status").annotate(n=Count("id")):
                participants.add_metric([row["status"]], row["n"])
            yield participants
        except DatabaseError:
            return
