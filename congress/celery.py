"""Celery application. Settings come from Django's (``CELERY_*``)."""

from __future__ import annotations

import os

from celery import Celery
from celery.signals import before_task_publish, task_postrun, task_prerun

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "congress.settings")

app = Celery("congress")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@before_task_publish.connect
def _carry_request_id(headers: dict | None = None, **kwargs) -> None:
    """Carry the current request id into the task message headers."""
    from congress.request_id import get_request_id

    if headers is not None and "request_id" not in headers:
        headers["request_id"] = get_request_id()


@task_prerun.connect
def _restore_request_id(task=None, **kwargs) -> None:
    from congress.request_id import set_request_id

    request_id = getattr(task.request, "request_id", None) if task is not None else None
    if request_id is None and task is not None:
        request_id = (task.request.headers or {}).get("request_id") if task.request.headers else None
    set_request_id(request_id)


@task_postrun.connect
def _clear_request_id(**kwargs) -> None:
    from congress.request_id import set_request_id

    set_request_id(None)
