"""A lock holder paused past LOCK_TTL_SECONDS (SIGSTOP: a long GC pause, a
frozen VM) while its turn waits on the LLM. Its lock expires, someone else
moves the conversation on, and when it wakes (SIGCONT) its stale write is
refused: by the lock check when another worker took the chat over, by the
conversation's version check when a /chat turn committed meanwhile. The
message it was working on is answered exactly once, by one holder."""

from __future__ import annotations

import pytest
import requests

from chatbot.models import ConversationState
from congress.testing.fake_openai import FakeOpenAI
from congress.testing.procs import wait_until
from tests.resilience.harness import (
    LOCK_TTL_S,
    QUESTION,
    GatewayLoad,
    assert_guarantees,
    queued_body,
    take_ledger,
    wait_for_pipeline,
)
from whatsapp.models import InboundMessage, MessageEvent, OutboundMessage

pytestmark = [pytest.mark.resilience]

CHAT = "5543977770001"
LLM_LATENCY_MS = 2500
WAIT_S = 60


@pytest.fixture
def slow_llm():
    with FakeOpenAI(latency_ms=LLM_LATENCY_MS) as fake:
        yield fake


def lock_value(stack) -> bytes | None:
    return stack.redis_client().get(f"congress:lock:{CHAT}")


def pause_the_holder_mid_turn(stack, slow_llm):
    """Worker A takes the chat's question and is paused while the LLM answers;
    returns A and its lock token once the lock has expired."""
    holder = stack.start_worker(concurrency=1, beat=False)
    load = GatewayLoad(stack.web.url)
    load.post(queued_body(chat=CHAT, message_id=f"{CHAT}-000", text=QUESTION))
    assert wait_until(lambda: len(slow_llm.chat_requests) == 1, timeout=WAIT_S, interval=0.01)
    holder.pause()
    token = lock_value(stack)
    assert token is not None, "A holds the chat's lock during its turn"
    assert wait_until(lambda: lock_value(stack) != token, timeout=LOCK_TTL_S * 4, interval=0.1), "the lock expires"
    return holder, token, load


def retry_reasons() -> list[str]:
    from django.db import connection

    connection.close()
    return list(MessageEvent.objects.filter(kind=MessageEvent.Kind.RETRY).values_list("detail", flat=True))


def test_a_worker_paused_past_the_lock_ttl_cannot_write_after_another_took_over(make_stack, slow_llm):
    stack = make_stack(OPENAI_API_KEY="sk-test-fake-openai", OPENAI_BASE_URL=slow_llm.base_url, OPENAI_TIMEOUT_S=20)
    stack.start_web()
    holder, token, load = pause_the_holder_mid_turn(stack, slow_llm)

    # Worker B's sweeper finds the message pending and the chat unlocked.
    stack.start_worker(concurrency=1, beat=True)
    assert wait_until(lambda: lock_value(stack) not in (None, token), timeout=WAIT_S, interval=0.05), "B takes the chat"
    holder.resume()

    assert wait_for_pipeline(1, stack.gateway), "the pipeline did not settle"
    reasons = retry_reasons()
    ledger = take_ledger(
        "lock-pause-takeover",
        load=load,
        gateway=stack.gateway,
        extra={"llm_calls": len(slow_llm.chat_requests), "stale_writes_refused": len(reasons)},
    )
    assert_guarantees(ledger, max_repeats=0)
    assert any("lost the lock" in reason for reason in reasons), f"A's write refused by the lock check: {reasons}"
    assert OutboundMessage.objects.count() == 1 and len(stack.gateway.delivered()) == 1


def test_a_worker_paused_past_the_lock_ttl_cannot_overwrite_a_newer_conversation_state(make_stack, slow_llm):
    stack = make_stack(OPENAI_API_KEY="sk-test-fake-openai", OPENAI_BASE_URL=slow_llm.base_url, OPENAI_TIMEOUT_S=20)
    web = stack.start_web()
    # The conversation exists already: a first turn would hold the new row's
    # INSERT in A's open transaction, and /chat would wait on that instead.
    assert requests.post(f"{web.url}/chat", json={"user_id": CHAT, "message": "oi"}, timeout=30).status_code == 200
    holder, _token, load = pause_the_holder_mid_turn(stack, slow_llm)

    # Meanwhile the participant's next turn runs on the synchronous path.
    chat = requests.post(f"{web.url}/chat", json={"user_id": CHAT, "message": "menu"}, timeout=30)
    assert chat.status_code == 200, chat.text
    holder.resume()

    assert wait_for_pipeline(1, stack.gateway), "the pipeline did not settle"
    reasons = retry_reasons()
    ledger = take_ledger(
        "lock-pause-version-check",
        load=load,
        gateway=stack.gateway,
        extra={"llm_calls": len(slow_llm.chat_requests), "stale_writes_refused": len(reasons)},
    )
    assert any("changed during the turn" in reason for reason in reasons), f"refused by the version check: {reasons}"
    assert_guarantees(ledger, max_repeats=0)
    state = ConversationState.objects.get(conversation_id=CHAT)
    assert [t["text"] for t in state.history if t["role"] == "user"] == ["oi", "menu", QUESTION]
    assert InboundMessage.objects.get().status == InboundMessage.Status.DONE
    assert len(stack.gateway.delivered()) == 1, "the /chat replies went back in their HTTP responses"
