"""The LLM misbehaving under load (timeouts, 429 with Retry-After, 500, a
malformed body) on the real worker path: every question still gets exactly
one answer, from the LLM once it recovers and from the offline answerer
meanwhile; no message fails, none is answered twice."""

from __future__ import annotations

import pytest

from congress.testing.fake_openai import FakeFailure, FakeOpenAI
from tests.resilience.harness import (
    GatewayLoad,
    assert_guarantees,
    chat_number,
    registration_script,
    take_ledger,
    wait_for_pipeline,
)
from whatsapp.models import OutboundMessage

pytestmark = [pytest.mark.resilience]

CHATS = 4
QUESTIONS = 3
LLM_REPLY = "Resposta do modelo de teste."
# Enough failures for several questions to exhaust their retries (3 attempts each).
FAILURES = 9

FAULTS = {
    "timeout": FakeFailure.hang(3.0),  # longer than OPENAI_TIMEOUT_S
    "429": FakeFailure.rate_limited(0.2),
    "500": FakeFailure.server_error(500),
    "malformed": FakeFailure.malformed(),
}


@pytest.fixture
def fake_llm():
    with FakeOpenAI(reply_text=LLM_REPLY) as fake:
        yield fake


@pytest.mark.parametrize("fault", list(FAULTS), ids=list(FAULTS))
def test_questions_are_answered_once_while_the_llm_fails_then_recovers(make_stack, fake_llm, fault):
    stack = make_stack(
        OPENAI_API_KEY="sk-test-fake-openai",
        OPENAI_BASE_URL=fake_llm.base_url,
        OPENAI_TIMEOUT_S=1,
        OPENAI_MAX_RETRIES=2,
        OPENAI_BACKOFF_BASE_S=0.05,
        OPENAI_BACKOFF_CAP_S=0.2,
        OPENAI_RETRY_AFTER_CAP_S=1,
    )
    stack.start_web()
    stack.start_worker()
    fake_llm.fail_next(*[FAULTS[fault]] * FAILURES)
    load = GatewayLoad(stack.web.url)
    scripts = {chat_number(n, base=500): registration_script(n, questions=QUESTIONS) for n in range(CHATS)}
    expected = sum(len(texts) for texts in scripts.values())

    load.run(scripts)

    assert wait_for_pipeline(expected, stack.gateway), "the pipeline did not settle"
    answers = [
        text
        for text in OutboundMessage.objects.filter(inbound__text__contains="onde vai ser").values_list(
            "text", flat=True
        )
    ]
    from_llm = sum(1 for text in answers if LLM_REPLY in text)
    ledger = take_ledger(
        f"llm-{fault}",
        load=load,
        gateway=stack.gateway,
        registrations=scripts,
        extra={
            "llm_calls": len(fake_llm.chat_requests),
            "llm_failures_injected": FAILURES,
            "questions": len(answers),
            "answered_by_llm": from_llm,
            "answered_offline": len(answers) - from_llm,
        },
    )
    assert_guarantees(ledger, max_repeats=0)
    assert len(answers) == CHATS * QUESTIONS
    assert 0 < from_llm < len(answers), "some questions answered offline during the fault, the rest by the LLM after it"
