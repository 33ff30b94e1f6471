"""Redis (broker, locks, cache) stopped for 30 s under load, then restarted
empty: PostgreSQL holds every accepted message, the sweeper finds them again,
and nothing is lost or answered twice."""

from __future__ import annotations

import time

import pytest

from tests.resilience.harness import (
    GatewayLoad,
    assert_guarantees,
    chat_number,
    registration_script,
    take_ledger,
    wait_for_pipeline,
)

pytestmark = [pytest.mark.resilience]

CHATS = 8
QUESTIONS = 2
OUTAGE_S = 30
CONCURRENCY = 2


def test_redis_down_for_thirty_seconds_under_load_loses_nothing(make_stack):
    stack = make_stack()
    stack.start_web()
    stack.start_worker(concurrency=CONCURRENCY)
    load = GatewayLoad(stack.web.url)
    scripts = {chat_number(n, base=200): registration_script(n, questions=QUESTIONS) for n in range(CHATS)}
    expected = sum(len(texts) for texts in scripts.values())
    # Paced so messages arrive before, during and after the outage.
    gap_s = (OUTAGE_S + 10) / len(next(iter(scripts.values())))

    sender = load.start(scripts, gap_s=gap_s)
    time.sleep(3)
    before = len(load.accepted)
    stack.redis.kill()
    time.sleep(OUTAGE_S)
    during = len(load.accepted) - before
    stack.redis.start()  # same port, empty: the queued tasks are gone
    sender.join()

    assert wait_for_pipeline(expected, stack.gateway), "the pipeline did not settle"
    ledger = take_ledger(
        "redis-down-30s",
        load=load,
        gateway=stack.gateway,
        registrations=scripts,
        extra={"accepted_during_outage": during, "outage_s": OUTAGE_S},
    )
    assert during > 0, "the load must go on during the outage"
    assert_guarantees(ledger, max_repeats=CONCURRENCY)
