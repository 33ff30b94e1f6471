"""LLM counters in GET /metrics."""

from __future__ import annotations

import pytest

from chatbot.llm import LLMError, get_llm
from congress.testing.metrics import metric_value

pytestmark = pytest.mark.django_db


def test_llm_counters_move_with_calls_and_errors(client, fake_openai):
    def calls(outcome: str) -> float:
        return metric_value(client.get("/metrics").content.decode(), f'llm_calls_total{{kind="chat",outcome="{outcome}"}}')

    ok, errors = calls("ok"), calls("error")
    get_llm().chat([{"role": "user", "content": "oi"}])
    fake_openai.fail_with(500, times=100)
    with pytest.raises(LLMError):
        get_llm().chat([{"role": "user", "content": "oi"}])
    assert calls("ok") == ok + 1
    assert calls("error") == errors + 1
