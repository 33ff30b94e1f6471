"""Celery tasks of the WhatsApp pipeline: thin adapters that take ids, call
one service and own only the retry policy.

All of them run with ``acks_late`` and ``reject_on_worker_lost`` (settings):
a message is removed from the broker only after its task finished, and a task
whose worker died goes back to the queue. Whatever a broker loses anyway
(Redis restarted empty) the sweeper finds again in PostgreSQL.
"""

from __future__ import annotations

import logging

from celery import shared_task
from celery.signals import task_postrun, task_prerun
from django.conf import settings
from django.db import close_old_connections

from whatsapp import metrics, services
from whatsapp.services import INFRA_ERRORS, RetryLater, backoff_seconds

logger = logging.getLogger(__name__)


@task_prerun.connect(weak=False, dispatch_uid="congress-task-db-connections-prerun")
@task_postrun.connect(weak=False, dispatch_uid="congress-task-db-connections-postrun")
def _recycle_db_connections(task=None, **kwargs) -> None:
    """Django's request-cycle rule for database connections, per task.

    Celery's Django fix-up would close every connection before and after
    each task (a new PostgreSQL backend per message, ~20 % of a worker's CPU);
    CELERY_DB_REUSE_MAX switches that off, and this keeps a connection for
    CONN_MAX_AGE while closing one that broke or aged out, as Django does
    around each HTTP request. Eager tasks run inside the caller's request
    or transaction: leave its connection alone.
    """
    if task is not None and getattr(task.request, "is_eager", False):
        return
    close_old_connections()


def _retry(task, exc: RetryLater | None, *, stage: str):
    """Schedule the task again; the delay comes from the service, or from the
    task's own backoff on infrastructure errors."""
    if exc is not None:
        countdown = exc.countdown
    else:
        countdown = backoff_seconds(
            task.request.retries + 1, base=settings.WA_RETRY_BACKOFF_S, cap=settings.WA_RETRY_BACKOFF_MAX_S
        )
        metrics.RETRIES.labels(stage).inc()
    if task.request.is_eager and countdown > 0:
        # Eager mode (embedded default) cannot wait: Celery would re-run the
        # task at once, in a loop. The row stays pending for the admin.
        logger.warning("whatsapp.retry_dropped task=%s (eager mode cannot wait %.1fs)", task.name, countdown)
        return
    raise task.retry(countdown=countdown, max_retries=None)


@shared_task(bind=True, name="whatsapp.tasks.drain_chat", ignore_result=True)
def drain_chat(self, chat_id: str) -> None:
    """Answer ``chat_id``'s pending messages, oldest first, and send the replies.

    A burst of quick messages (WA_DEBOUNCE_MS) is answered once its window
    has passed: until then the service raises ``RetryLater`` for the rest of
    the window and the task comes back with that countdown, holding no
    worker meanwhile. Eager mode (the embedded default) cannot come back
    later, so it answers each message at once."""
    debounce_ms = 0 if self.request.is_eager else settings.WA_DEBOUNCE_MS
    try:
        services.chat_drain(chat_id=chat_id, deliver=True, debounce_ms=debounce_ms)
    except RetryLater as exc:
        return _retry(self, exc, stage="drain")
    except INFRA_ERRORS as exc:
        logger.warning("whatsapp.drain_infra_error chat=%s error=%s", chat_id, exc)
        return _retry(self, None, stage="drain")


@shared_task(bind=True, name="whatsapp.tasks.send_outbound", ignore_result=True)
def send_outbound(self, outbound_id: int) -> None:
    """Deliver reply ``outbound_id`` (and any before it in its chat)."""
    try:
        services.outbox_deliver(outbound_id=outbound_id)
    except RetryLater as exc:
        return _retry(self, exc, stage="send")
    except INFRA_ERRORS as exc:
        logger.warning("whatsapp.send_infra_error outbound=%s error=%s", outbound_id, exc)
        return _retry(self, None, stage="send")


@shared_task(name="whatsapp.tasks.sweep", ignore_result=True)
def sweep() -> dict[str, int]:
    """Re-enqueue pending work PostgreSQL knows of (beat runs this)."""
    return services.pipeline_sweep()
