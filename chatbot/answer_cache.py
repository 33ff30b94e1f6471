"""A shared cache of the LLM's answers to questions anyone could have asked.

Two participants who ask the same thing in other words ("qual o valor?",
"valor?") get the same documents from retrieval, in the same order. When the
prompt holds nothing but those documents and the question (no participant
status, no conversation turns: ``chatbot.answer`` decides that), the model's
reply is a function of the documents, so the first reply is reused.

The key is a hash of what determines the reply besides the question's
wording: the ordered ids of the documents sent to the model, the number of
question parts, the knowledge version (``KnowledgeIndex.version``, a token
bumped on every save or delete of an event, ticket, profile, FAQ entry or
session, so an edit in the admin invalidates every entry at once), the
language, the model and the system prompt. Entries live in the Django cache
(Redis in production, shared by every process; locmem otherwise) for
``ANSWER_CACHE_TTL_SECONDS``.

Only successful replies are stored. The cache is an optimisation: the Redis
backend is configured to ignore connection errors, so an outage reads as a
miss (and a write is lost) without failing an answer.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence

from django.conf import settings
from django.core.cache import cache
from django.utils import translation

from chatbot.llm import SYSTEM_PROMPT
from chatbot.metrics import ANSWER_CACHE

__all__ = ["ANSWER_CACHE_TTL_SECONDS", "answer_cache_get", "answer_cache_key", "answer_cache_put"]

# A day: long enough for the burst after an announcement, short enough that
# an entry outlives no deploy by much. Edits invalidate at once regardless.
ANSWER_CACHE_TTL_SECONDS = 24 * 60 * 60
# Bump when the key's inputs or the stored value change shape.
_SCHEMA = "v1"
_PREFIX = "chatbot:answer:"
_SYSTEM_PROMPT_HASH = hashlib.sha256(SYSTEM_PROMPT.encode()).hexdigest()[:16]


def answer_cache_key(*, knowledge_version: str, doc_ids: Sequence[str], parts: int) -> str | None:
    """The cache key of an answer written from exactly these documents, or
    ``None`` when the knowledge has no version (the shared cache is down, so
    an edit could not be told apart)."""
    if not knowledge_version or not doc_ids:
        return None
    material = json.dumps(
        [
            _SCHEMA,
            knowledge_version,
            translation.get_language() or settings.LANGUAGE_CODE,
            settings.OPENAI_MODEL,
            _SYSTEM_PROMPT_HASH,
            parts,
            list(doc_ids),
        ],
        separators=(",", ":"),
    )
    return _PREFIX + hashlib.sha256(material.encode()).hexdigest()


def answer_cache_get(key: str) -> str | None:
    """The stored reply for ``key`` (counted as a hit or a miss), or ``None``."""
    value = cache.get(key)
    if isinstance(value, str) and value:
        ANSWER_CACHE.labels("hit").inc()
        return value
    ANSWER_CACHE.labels("miss").inc()
    return None


def answer_cache_put(key: str, text: str) -> None:
    """Store a successful reply (never a fallback or an error text)."""
    if not text:
        return
    cache.set(key, text, timeout=ANSWER_CACHE_TTL_SECONDS)
