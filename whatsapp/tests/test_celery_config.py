"""The Celery settings the pipeline's guarantees rest on (settings.py's
"three timeouts must agree")."""

from __future__ import annotations

from django.conf import settings

from congress.celery import app


def test_a_task_leaves_the_broker_only_after_it_finished_and_returns_if_its_worker_dies():
    assert app.conf.task_acks_late is True
    assert app.conf.task_reject_on_worker_lost is True


def test_a_worker_reserves_one_task_at_a_time():
    assert app.conf.worker_prefetch_multiplier == 1


def test_the_broker_never_hands_a_running_drain_to_a_second_worker():
    visibility = app.conf.broker_transport_options["visibility_timeout"]
    llm_worst_case = settings.OPENAI_TIMEOUT_S * (settings.OPENAI_MAX_RETRIES + 1) * 1.25  # + backoff
    assert visibility > settings.LOCK_TTL_SECONDS
    assert visibility > settings.WA_DRAIN_BATCH * llm_worst_case


def test_the_sweeper_is_scheduled_for_beat():
    entry = app.conf.beat_schedule["whatsapp-sweep"]
    assert entry["task"] == "whatsapp.tasks.sweep"
    assert entry["schedule"] == settings.WA_SWEEP_INTERVAL_S
    assert "whatsapp.tasks.sweep" in app.tasks
