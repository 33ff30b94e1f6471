"""The project's Celery app, plus one bench-only probe: when each inbound
message's processing starts (``BENCH_START_LOG``: one line per message,
``<inbound id> <wall clock>``). Run as ``celery -A bench.celery_app worker``.
"""

from __future__ import annotations

import os
import time

from congress.celery import app

__all__ = ["app"]

_path = os.environ.get("BENCH_START_LOG")


def _install() -> None:
    import django

    django.setup()
    from whatsapp import services

    original = services.inbound_process
    files: dict[int, object] = {}

    def inbound_process(*, inbound, **kwargs):
        out = files.get(os.getpid())
        if out is None:
            out = files[os.getpid()] = open(_path, "a", buffering=1)  # noqa: SIM115 - one per process
        out.write(f"{inbound.pk} {time.time():.6f}\n")
        return original(inbound=inbound, **kwargs)

    services.inbound_process = inbound_process


if _path:
    from celery.signals import worker_init

    # Before the pool starts, so prefork children inherit the probe.
    worker_init.connect(lambda **_: _install(), weak=False)
