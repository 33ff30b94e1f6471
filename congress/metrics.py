"""Prometheus metrics plumbing, served at GET /metrics (API key like the other
endpoints).

Two kinds of metric, each defined by the app it describes:
- in-process counters (HTTP requests here; LLM calls in ``chatbot.metrics``;
  pipeline stages in ``whatsapp.metrics``; registration outcomes in
  ``registrations.metrics``), aggregated across gunicorn/Celery processes when
  ``PROMETHEUS_MULTIPROC_DIR`` is set (prometheus_client's multiprocess mode);
- database-derived gauges computed at scrape time by the collectors named in
  ``settings.METRICS_COLLECTORS`` (messages by status, queue lag, registration
  funnel), which are right whichever process did the work.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils.module_loading import import_string
from drf_spectacular.utils import extend_schema
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.registry import REGISTRY, Collector
from rest_framework.permissions import BasePermission
from rest_framework.views import APIView

from congress.api_auth import HasApiKey

HTTP_REQUESTS = Counter("http_requests_total", "HTTP requests", ["view", "method", "status"])
HTTP_LATENCY = Histogram(
    "http_request_duration_seconds", "HTTP request latency", ["view"], buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
)


def _registry() -> CollectorRegistry:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    else:
        registry = CollectorRegistry()
        registry.register(_DefaultRegistryProxy())
    # In settings order, so the scrape output keeps a stable shape.
    for path in settings.METRICS_COLLECTORS:
        registry.register(import_string(path)())
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
