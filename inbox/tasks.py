"""Celery beat: close idle handoffs and e-mail the organizers about new ones."""

from __future__ import annotations

from celery import shared_task


@shared_task(name="inbox.tasks.sweep", ignore_result=True)
def sweep() -> dict[str, int]:
    from inbox.services import handoffs_sweep

    return handoffs_sweep()
