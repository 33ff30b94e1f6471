"""Reading one sample out of a GET /metrics scrape, for tests."""

from __future__ import annotations


def metric_value(text: str, name: str) -> float:
    """The value of the sample ``name`` (with its labels, as printed) in the
    Prometheus text ``text``; 0.0 when it is absent."""
    for line in text.splitlines():
        if line.startswith(name + " ") or line.startswith(name + "{"):
            return float(line.rsplit(" ", 1)[1])
    return 0.0
