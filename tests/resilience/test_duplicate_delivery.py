"""A gateway that delivers every message three times (its own retries, a
reconnect replaying the backlog) gets each one answered exactly once."""

from __future__ import annotations

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


def test_every_message_delivered_three_times_at_once_is_answered_once(make_stack):
    stack = make_stack()
    stack.start_web()
    stack.start_worker()
    load = GatewayLoad(stack.web.url)
    scripts = {chat_number(n, base=100): registration_script(n, questions=QUESTIONS) for n in range(CHATS)}
    expected = sum(len(texts) for texts in scripts.values())

    load.run(scripts, copies=3)

    assert wait_for_pipeline(expected, stack.gateway), "the pipeline did not settle"
    ledger = take_ledger("delivered-3x", load=load, gateway=stack.gateway, registrations=scripts)
    assert ledger["accepted"] == expected, "exactly one of the three copies is accepted"
    assert ledger["duplicate_posts"] == 2 * expected, "the other two are answered 200 duplicate"
    assert_guarantees(ledger, max_repeats=0)
