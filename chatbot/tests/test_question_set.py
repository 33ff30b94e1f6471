"""The labelled question set (bench/questions/demo_event.yaml) is well-formed and measurable.

Its figures are printed by ``python bench/answers.py``; nothing here checks
how good the answers are, only that the set can be trusted to measure them.
"""

from __future__ import annotations

import io
import re
from collections import Counter

import pytest
from django.core.management import call_command

from bench.answers import (
    ANSWERED,
    DECLINED,
    FORWARDED,
    TENTATIVE,
    load_question_set,
    measure,
    resolve_entries,
    summarize,
)
from chatbot.knowledge import get_knowledge_index
from registrations.validators import fold

QSET = load_question_set()
ITEMS = QSET.items

# The questions issue 16 names, answered wrongly or at a cost before it.
ISSUE_EXAMPLES = (
    "posso levar meu cachorro?",
    "prazo pra mandar resumo",
    "preciso levar documento?",
    "qual o valor",
    "quanto custa a inscrição",
)


def _key(question: str) -> str:
    return " ".join(re.findall(r"[a-z0-9]+", fold(question)))


def test_it_has_at_least_200_questions_in_scope_and_50_out_of_scope():
    scopes = Counter(item.scope for item in ITEMS)
    assert set(scopes) <= {"in", "gap", "out"}
    assert scopes["in"] >= 200
    assert scopes["out"] >= 50


def test_every_item_is_complete():
    for item in ITEMS:
        assert item.q.strip() and item.topic and item.split in ("tune", "holdout"), item
        if item.scope == "in":
            assert item.expect and all(item.expect), item
        else:
            assert not item.expect, f"{item.q!r}: only questions in scope name the entries that answer them"


def test_no_question_appears_twice():
    counts = Counter(_key(item.q) for item in ITEMS)
    assert [q for q, n in counts.items() if n > 1] == []


def test_it_includes_the_issues_examples():
    questions = {item.q for item in ITEMS}
    assert set(ISSUE_EXAMPLES) <= questions


def test_it_has_two_part_questions_labelled_with_every_part():
    two_part = [item for item in ITEMS if len(item.expect) >= 2]
    assert len(two_part) >= 15


def test_about_30_percent_is_held_out_and_every_topic_has_held_out_questions():
    held = [item for item in ITEMS if item.split == "holdout"]
    assert 0.25 <= len(held) / len(ITEMS) <= 0.35
    topics = {item.topic for item in ITEMS}
    assert topics == {item.topic for item in held}
    # And every topic keeps questions to tune on.
    assert topics == {item.topic for item in ITEMS if item.split == "tune"}


def test_every_label_names_an_entry_of_the_question_set():
    used = {name for item in ITEMS for name in item.labels}
    assert used - set(QSET.entries) == set()


@pytest.fixture
def demo(db):
    call_command("load_demo_event", stdout=io.StringIO())
    return get_knowledge_index()


def test_every_entry_is_a_document_of_the_demo_knowledge(demo):
    names, missing = resolve_entries(QSET.entries, demo.docs)
    assert missing == []
    # Distinct names, distinct documents: a label cannot silently mean two things.
    assert len(set(names.values())) == len(names)


def test_labels_survive_reloading_the_demo_event(demo):
    from chatbot.models import Event

    first, _ = resolve_entries(QSET.entries, demo.docs)
    Event.objects.all().delete()
    call_command("load_demo_event", stdout=io.StringIO())
    again, missing = resolve_entries(QSET.entries, get_knowledge_index().docs)
    assert missing == []
    assert set(again) == set(first)
    # The database keys did change: labelling by them would have broken.
    assert again["parking"] != first["parking"]


def _sample() -> list:
    """Ten questions: seven in scope (one of two parts), two out of scope, one the knowledge lacks."""
    inside = [item for item in ITEMS if item.scope == "in"]
    two_part = next(item for item in inside if len(item.expect) > 1)
    sample = [*[item for item in inside if len(item.expect) == 1][:6], two_part]
    sample += [item for item in ITEMS if item.scope == "out"][:2]
    sample += [item for item in ITEMS if item.scope == "gap"][:1]
    return sample


def test_measuring_ten_questions_offline_gives_shares_and_makes_no_llm_call(demo, fake_openai):
    names, _ = resolve_entries(QSET.entries, demo.docs)
    sample = _sample()
    assert len(sample) == 10
    records = measure(sample, names, mode="offline", fake=fake_openai)
    assert len(records) == 10
    assert {r.outcome for r in records} <= {ANSWERED, TENTATIVE, FORWARDED, DECLINED}
    figures = summarize(records)
    assert (figures.in_scope, figures.out_of_scope, figures.gap) == (7, 2, 1)
    for name, value in figures.ratios().items():
        assert value is not None and 0.0 <= value <= 1.0, name
    # Without a key nothing may reach the model.
    assert figures.llm_calls_per_100 == 0
    assert fake_openai.chat_requests == []


def test_measuring_with_the_fake_llm_counts_its_calls(demo, fake_openai):
    names, _ = resolve_entries(QSET.entries, demo.docs)
    records = measure(_sample(), names, mode="llm", fake=fake_openai)
    figures = summarize(records)
    for name, value in figures.ratios().items():
        assert value is not None and 0.0 <= value <= 1.0, name
    assert sum(r.llm_calls for r in records) == len(fake_openai.chat_requests)
    assert figures.llm_calls_per_100 == pytest.approx(100 * len(fake_openai.chat_requests) / 10)
