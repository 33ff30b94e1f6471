"""A Celery worker SIGKILLed mid-task ten times (the whole process group: no
clean-up, no acks, its locks left to expire) and started again each time."""

from __future__ import annotations

import pytest

from congress.testing.fake_openai import FakeOpenAI
from congress.testing.procs import wait_until
from tests.resilience.harness import (
    GatewayLoad,
    assert_guarantees,
    chat_number,
    registration_script,
    take_ledger,
    wait_for_pipeline,
)

pytestmark = [pytest.mark.resilience]

# Enough questions at a 1 s LLM that work is still left for the tenth kill,
# even on a slow or busy machine.
CHATS = 10
QUESTIONS = 7
KILLS = 10
CONCURRENCY = 2
LLM_LATENCY_MS = 1000
WAIT_S = 120
# Every one must reach the model: a follow-up ("e ...") in a conversation is
# never answered from the shared answer cache, which the same plain question
# asked 70 times would be.
FOLLOW_UP_QUESTION = "e onde vai ser o evento?"


@pytest.fixture
def slow_llm():
    # Questions take a second at the LLM: a kill lands inside the engine turn,
    # with the chat's lock held and its transaction open.
    with FakeOpenAI(latency_ms=LLM_LATENCY_MS) as fake:
        yield fake


def test_a_worker_killed_mid_task_ten_times_loses_and_duplicates_nothing(make_stack, slow_llm):
    stack = make_stack(
        OPENAI_API_KEY="sk-test-fake-openai",
        OPENAI_BASE_URL=slow_llm.base_url,
        OPENAI_TIMEOUT_S=10,
        OPENAI_MAX_RETRIES=1,
    )
    stack.start_web()
    load = GatewayLoad(stack.web.url)
    scripts = {chat_number(n, base=400): registration_script(n, questions=QUESTIONS, question=FOLLOW_UP_QUESTION) for n in range(CHATS)}
    expected = sum(len(texts) for texts in scripts.values())
    # The backlog is in place before the first worker starts: each of the ten
    # runs finds questions left to be killed in the middle of.
    load.run(scripts)
    worker = stack.start_worker(concurrency=CONCURRENCY)

    mid_llm_call = after_delivery = 0
    for kill in range(KILLS):
        if kill % 2 == 0:
            # Inside a turn: the LLM has the question and is still answering.
            seen = len(slow_llm.chat_requests)
            assert wait_until(lambda seen=seen: len(slow_llm.chat_requests) > seen, timeout=WAIT_S, interval=0.005), (
                kill,
                seen,
                len(stack.gateway.requests),
                worker.log()[-3000:],
            )
            mid_llm_call += 1
        else:
            # Right after a reply reached the gateway, before or after its
            # "sent" mark: the in-flight window.
            seen = len(stack.gateway.requests)
            assert wait_until(lambda seen=seen: len(stack.gateway.requests) > seen, timeout=WAIT_S, interval=0.002)
            after_delivery += 1
        worker.kill()
        worker = stack.start_worker(concurrency=CONCURRENCY)

    assert wait_for_pipeline(expected, stack.gateway), "the pipeline did not settle"
    ledger = take_ledger(
        "worker-sigkill-x10",
        load=load,
        gateway=stack.gateway,
        registrations=scripts,
        extra={"kills": KILLS, "kills_mid_llm_call": mid_llm_call, "kills_after_delivery": after_delivery},
    )
    # A kill inside a turn rolls it back (nothing sent); only a kill between a
    # delivery and its "sent" mark repeats a reply, one per busy child.
    assert_guarantees(ledger, max_repeats=after_delivery * CONCURRENCY)
