"""Prometheus metrics, served at GET /metrics (API key like the other endpoints).

Two kinds:
- in-process counters (HTTP requests, LLM calls, pipeline stages in
  ``whatsapp.metrics``), aggregated across gunicorn/Celery processes when
  ``PROMETHEUS_MULTIPROC_DIR`` is set (prometheus_client's multiprocess mode);
- database-derived gauges computed at scrape time (messages by status, queue
  lag, registration funnel), which are right whichever process did the work.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator

from django.db import DatabaseError
from django.db.models import Count, Min
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from drf_spectacular.utils import extend_schema
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import REGISTRY, Collector
from rest_framework.permissions import BasePermission
from rest_framework.views import APIView

from congress.api_auth import HasApiKey

HTTP_REQUESTS = Counter("http_requests_total", "HTTP requests", ["view", "method", "status"])
HTTP_LATENCY = Histogram(
    "http_request_duration_seconds", "HTTP request latency", ["view"], buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
)
LLM_CALLS = Counter("llm_calls_total", "LLM calls", ["kind", "outcome"])
LLM_LATENCY = Histogram("llm_call_duration_seconds", "LLM call latency", ["kind"], buckets=(0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 60))
LLM_TOKENS = Counter("llm_tokens_total", "LLM tokens", ["type"])
REGISTRATION_OUTCOMES = Counter("registration_outcomes_total", "Registration outcomes seen by this process", ["outcome"])


class DatabaseCollector(Collector):
    """Gauges read from PostgreSQL at scrape time."""

    def collect(self) -> Iterator[GaugeMetricFamily]:
        from registrations.models import Participant, RegistrationEvent

        try:
            yield from self._messages()
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

    def _messages(self) -> Iterator[GaugeMetricFamily]:
        try:
            from whatsapp.models import InboundMessage, OutboundMessage
        except ImportError:  # pragma: no cover
            return
        for name, model in (("inbound", InboundMessage), ("outbound", OutboundMessage)):
            gauge = GaugeMetricFamily(f"whatsapp_{name}_messages", f"{name.title()} messages by status", labels=["status"])
            for row in model.objects.values("status").annotate(n=Count("id")):
                gauge.add_metric([row["status"]], row["n"])
            yield gauge
        oldest = InboundMessage.objects.filter(status="pending").aggregate(t=Min("created_at"))["t"]
        lag = GaugeMetricFamily("whatsapp_queue_lag_seconds", "Age of the oldest pending inbound message")
        lag.add_metric([], (timezone.now() - oldest).total_seconds() if oldest else 0.0)
        yield lag


def _registry() -> CollectorRegistry:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    else:
        registry = CollectorRegistry()
        registry.register(_DefaultRegistryProxy())
    registry.register(DatabaseCollector())
    return registry


class _DefaultRegistryProxy(Collector):
    def collect(self):
        return REGISTRY.collect()


class MetricsView(APIView):
    permission_classes: list[type[BasePermission]] = [HasApiKey]
    throttle_classes: list = []

    @extend_schema(exclude=True)
    def get(self, request: HttpRequest) -> HttpResponse:
        return HttpResponse(generate_latest(_registry()), content_type=CONTENT_TYPE_LATEST)


class MetricsMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        response = self.get_response(request)
        match = getattr(request, "resolver_match", None)
        view = match.view_name if match and match.view_name else "unmatched"
        if not view.startswith("admin:"):
            HTTP_REQUESTS.labels(view, request.method, str(response.status_code)).inc()
            HTTP_LATENCY.labels(view).observe(time.perf_counter() - started)
        return response
