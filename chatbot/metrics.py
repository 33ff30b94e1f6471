"""Counters for the LLM calls (``chatbot.llm``) and the answer cache, served by ``congress.metrics``
at GET /metrics."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

LLM_CALLS = Counter("llm_calls_total", "LLM calls", ["kind", "outcome"])
LLM_LATENCY = Histogram("llm_call_duration_seconds", "LLM call latency", ["kind"], buckets=(0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 60))
LLM_TOKENS = Counter("llm_tokens_total", "LLM tokens", ["type"])
# Shared LLM answers (chatbot.answer_cache): result = hit | miss, counted only
# for questions whose answer may be shared (no participant status, no history).
ANSWER_CACHE = Counter("answer_cache_total", "Answer cache lookups", ["result"])
