"""Answer quality on the labelled question set: top-1, recall@4, out-of-scope rejection, LLM calls.

    python bench/answers.py                           # offline and with the fake LLM; tune, holdout, all
    python bench/answers.py --misses                  # ... and every miss: question, expected, got
    python bench/answers.py --mode offline --split holdout

The questions are ``bench/questions/demo_event.yaml`` (its header says how
they are labelled and split). The demo event is loaded into the bench
database (``BENCH_DATABASE_URL``, re-created from the migrated template, see
bench/common.py; Redis ``BENCH_REDIS_URL``, flushed), and every question goes
through the real answerer in this process, ``answer_question()``, once
without an OpenAI key (``offline``) and once with a key pointed at the fake
OpenAI server running in this process (``llm``; 0 ms). The cache is cleared
before each split, so a split's figures never borrow from the other's.

Printed per mode and split (tune, holdout and all = both together):

* ``top1``: in-scope questions whose first retrieved entry is a labelled one;
* ``recall@4``: in-scope questions with every part's labelled entry in the
  top 4 (a two-part question needs both);
  (the ranking is the answerer's: each part of a multi-part question
  retrieved on its own with ``chatbot.retrieval.retrieve``, interleaved by
  rank, as ``chatbot.answer`` builds the LLM's knowledge block);
* ``right``: in-scope questions answered (not forwarded, not a tentative
  suggestion) from a labelled entry (the first entry the answer used);
* ``f.rej``: in-scope questions declined by the scope gate or forwarded;
* ``oos rej``: out-of-scope questions declined or forwarded (not answered
  from the knowledge, not offered a tentative suggestion);
* ``gap fwd``: event questions the knowledge has no answer for, declined or
  forwarded;
* ``llm/100``: chat completions the fake server received per 100 questions
  (offline it must be 0), ``emb/100`` the same for embeddings.

"Forwarded" is the answerer's own verdict: its source is ``unanswered``, or
(with the LLM, which writes a reply anyway) it queued the question for the
organizers as unanswered; queued as low confidence counts as tentative. The
fake LLM's text says nothing about quality, so with a key the figures measure
retrieval, the scope gate and the cost, not the model.

Then a per-topic breakdown per mode, and with ``--misses`` every miss. The
figures are printed, never asserted: this is a measurement, not a test.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import time
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

QUESTIONS_FILE = ROOT / "bench" / "questions" / "demo_event.yaml"
SPLITS = ("tune", "holdout")
SCOPES = ("in", "gap", "out")
MODES = ("offline", "llm")
TOP_K = 4

ANSWERED, TENTATIVE, FORWARDED, DECLINED = "answered", "tentative", "forwarded", "declined"
REJECTED = frozenset({FORWARDED, DECLINED})

# The kinds whose documents are named by title in the question set ("faq:<question>").
_BY_TITLE = ("faq", "ticket", "session")


# --------------------------------------------------------------------------
# The question set
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class Item:
    q: str
    topic: str
    split: str  # tune | holdout
    scope: str  # in | gap | out
    # One group per thing asked; a group is satisfied by any of its entries (names from ``entries``).
    expect: tuple[tuple[str, ...], ...] = ()

    @property
    def labels(self) -> frozenset[str]:
        return frozenset(name for group in self.expect for name in group)


@dataclass(frozen=True)
class QuestionSet:
    entries: dict[str, str]  # short name -> "event:dates", "faq:<question>", ...
    items: tuple[Item, ...]


def load_question_set(path: Path | str = QUESTIONS_FILE) -> QuestionSet:
    """The question set as written (no database needed); raises ``ValueError`` on a malformed item."""
    import yaml

    data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    entries = {str(k): str(v) for k, v in (data.get("entries") or {}).items()}
    items = []
    for number, raw in enumerate(data.get("questions") or [], start=1):
        try:
            groups = tuple(
                tuple(name.strip() for name in str(group).split("|") if name.strip())
                for group in raw.get("expect") or ()
            )
            item = Item(
                q=str(raw["q"]),
                topic=str(raw["topic"]),
                split=str(raw["split"]),
                scope=str(raw["scope"]),
                expect=groups,
            )
        except (KeyError, TypeError, AttributeError) as exc:
            raise ValueError(f"question {number} is malformed: {raw!r}") from exc
        items.append(item)
    return QuestionSet(entries=entries, items=tuple(items))


def resolve_entries(entries: dict[str, str], docs: Iterable) -> tuple[dict[str, str], list[str]]:
    """Short name -> document id in ``docs`` (KnowledgeDocs), and the names that match none."""
    docs = list(docs)
    ids = {doc.id for doc in docs}
    by_title = {(doc.kind, doc.title): doc.id for doc in docs}
    resolved: dict[str, str] = {}
    missing: list[str] = []
    for name, spec in entries.items():
        kind, _, rest = spec.partition(":")
        doc_id = by_title.get((kind, rest)) if kind in _BY_TITLE else (spec if spec in ids else None)
        if doc_id is None:
            missing.append(name)
        else:
            resolved[name] = doc_id
    return resolved, missing


# --------------------------------------------------------------------------
# Measuring (needs Django set up and the demo event in the database)
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class Record:
    item: Item
    mode: str
    ranked: tuple[tuple[str, float], ...]  # (doc id, confidence), the answerer's order, top 4
    outcome: str  # answered | tentative | forwarded | declined
    source: str  # Answer.source
    used: tuple[str, ...]  # Answer.doc_ids
    llm_calls: int
    embedding_calls: int
    top1: bool | None = None  # in scope only
    recall: bool | None = None
    right: bool | None = None


def ranked_doc_ids(question: str, *, k: int = TOP_K) -> list[tuple[str, float]]:
    """(doc id, confidence) of the entries the answerer retrieves for ``question``, best first.

    Each part of a multi-part question is retrieved on its own and the parts'
    rankings are interleaved (every part's best first), as ``chatbot.answer``
    does for the documents it sends to the LLM.
    """
    from chatbot.retrieval import retrieve
    from chatbot.scope import MessageKind, question_kind, redact_personal_data, split_questions, without_placeholders

    texts = split_questions(redact_personal_data(question))
    if len(texts) > 1:
        texts = [t for t in texts if question_kind(t) == MessageKind.QUESTION] or texts
    rankings = [retrieve(without_placeholders(t), k=k) for t in texts]
    out: list[tuple[str, float]] = []
    for rank in range(k):
        for hits in rankings:
            if rank < len(hits) and hits[rank].doc.id not in (doc_id for doc_id, _ in out):
                out.append((hits[rank].doc.id, hits[rank].confidence))
    return out[:k]


def _outcome(source: str, reasons: Sequence[str]) -> str:
    from chatbot.answer import AnswerSource
    from chatbot.models import UnansweredQuestion

    if source == AnswerSource.SCOPE:
        return DECLINED
    if source == AnswerSource.UNANSWERED:
        return FORWARDED
    if source == AnswerSource.TENTATIVE:
        return TENTATIVE
    if source == AnswerSource.OFFLINE:
        # A multi-part question with one part forwarded is still answered.
        return ANSWERED
    # The LLM (or any later source) writes a reply whatever the confidence:
    # the answerer's verdict is what it queued for the organizers.
    if UnansweredQuestion.Reason.UNANSWERED in reasons:
        return FORWARDED
    if UnansweredQuestion.Reason.LOW_CONFIDENCE in reasons:
        return TENTATIVE
    return ANSWERED


@contextlib.contextmanager
def llm_mode(mode: str, base_url: str) -> Iterator[None]:
    """Settings of ``mode``: no key (offline) or a key for the fake at ``base_url``.

    Offline the base URL still points at the fake, so a call made anyway is counted.
    """
    from django.test.utils import override_settings

    key = "sk-bench-answers-0123456789" if mode == "llm" else ""
    with override_settings(OPENAI_API_KEY=key, OPENAI_BASE_URL=base_url, OPENAI_MAX_RETRIES=0, OPENAI_TIMEOUT_S=10.0):
        yield


def measure(items: Sequence[Item], names: dict[str, str], *, mode: str, fake, run: str = "qset") -> list[Record]:
    """Ask every item through ``answer_question`` in ``mode`` ("offline" or "llm") and judge it.

    ``names`` maps the question set's entry names to document ids
    (``resolve_entries``); ``fake`` is a running ``FakeOpenAI`` (its requests
    are counted). The cache is cleared first. Each question gets a
    conversation of its own (``run`` prefixes the ids), so the organizers'
    queue shows what this question left there.
    """
    from django.core.cache import cache

    from chatbot.answer import answer_question
    from chatbot.models import UnansweredQuestion

    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}")
    records: list[Record] = []
    with llm_mode(mode, fake.base_url):
        cache.clear()
        for number, item in enumerate(items):
            conversation = f"{run}-{mode}-{number}-{time.monotonic_ns()}"
            chats_before = len(fake.chat_requests)
            embeddings_before = len(fake.requests_to("/embeddings"))
            ranked = tuple(ranked_doc_ids(item.q))
            answer = answer_question(question=item.q, conversation_id=conversation)
            reasons = list(
                UnansweredQuestion.objects.filter(conversation_id=conversation).values_list("reason", flat=True)
            )
            outcome = _outcome(answer.source, reasons)
            record = Record(
                item=item,
                mode=mode,
                ranked=ranked,
                outcome=outcome,
                source=str(answer.source),
                used=tuple(answer.doc_ids),
                llm_calls=len(fake.chat_requests) - chats_before,
                embedding_calls=len(fake.requests_to("/embeddings")) - embeddings_before,
            )
            if item.scope == "in":
                groups = [{names[name] for name in group} for group in item.expect]
                labelled = set().union(*groups)
                top = [doc_id for doc_id, _ in ranked]
                record = replace(
                    record,
                    top1=bool(top) and top[0] in labelled,
                    recall=all(group & set(top[:TOP_K]) for group in groups),
                    right=outcome == ANSWERED and bool(answer.doc_ids) and answer.doc_ids[0] in labelled,
                )
            records.append(record)
    return records


@dataclass(frozen=True)
class Figures:
    questions: int
    in_scope: int
    gap: int
    out_of_scope: int
    top1: float | None
    recall4: float | None
    right: float | None
    false_rejection: float | None
    oos_rejection: float | None
    gap_forwarded: float | None
    llm_calls_per_100: float
    embedding_calls_per_100: float

    def ratios(self) -> dict[str, float | None]:
        return {
            "top1": self.top1,
            "recall4": self.recall4,
            "right": self.right,
            "false_rejection": self.false_rejection,
            "oos_rejection": self.oos_rejection,
            "gap_forwarded": self.gap_forwarded,
        }


def _share(flags: list[bool]) -> float | None:
    return sum(flags) / len(flags) if flags else None


def summarize(records: Sequence[Record]) -> Figures:
    inside = [r for r in records if r.item.scope == "in"]
    gap = [r for r in records if r.item.scope == "gap"]
    out = [r for r in records if r.item.scope == "out"]
    total = len(records)
    return Figures(
        questions=total,
        in_scope=len(inside),
        gap=len(gap),
        out_of_scope=len(out),
        top1=_share([bool(r.top1) for r in inside]),
        recall4=_share([bool(r.recall) for r in inside]),
        right=_share([bool(r.right) for r in inside]),
        false_rejection=_share([r.outcome in REJECTED for r in inside]),
        oos_rejection=_share([r.outcome in REJECTED for r in out]),
        gap_forwarded=_share([r.outcome in REJECTED for r in gap]),
        llm_calls_per_100=round(100 * sum(r.llm_calls for r in records) / total, 1) if total else 0.0,
        embedding_calls_per_100=round(100 * sum(r.embedding_calls for r in records) / total, 1) if total else 0.0,
    )


# --------------------------------------------------------------------------
# Printing
# --------------------------------------------------------------------------


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def _row(cells: Sequence[object], widths: Sequence[int]) -> str:
    return "  ".join(
        str(c).rjust(w) if i else str(c).ljust(w) for i, (c, w) in enumerate(zip(cells, widths, strict=True))
    )


SUMMARY_HEADER = (
    "mode / split",
    "in",
    "top1",
    "recall@4",
    "right",
    "f.rej",
    "out",
    "oos rej",
    "gap",
    "gap fwd",
    "llm/100",
    "emb/100",
)
SUMMARY_WIDTHS = (17, 4, 6, 8, 6, 6, 4, 7, 4, 7, 7, 7)


def summary_row(label: str, f: Figures) -> str:
    return _row(
        (
            label,
            f.in_scope,
            _pct(f.top1),
            _pct(f.recall4),
            _pct(f.right),
            _pct(f.false_rejection),
            f.out_of_scope,
            _pct(f.oos_rejection),
            f.gap,
            _pct(f.gap_forwarded),
            f.llm_calls_per_100,
            f.embedding_calls_per_100,
        ),
        SUMMARY_WIDTHS,
    )


def figures_line(name: str, f: Figures) -> str:
    def short(value: float | None) -> str:
        return "-" if value is None else f"{value:.3f}"

    return (
        f"{name}: questions={f.questions} top1={short(f.top1)} recall4={short(f.recall4)} right={short(f.right)} "
        f"false_rejection={short(f.false_rejection)} oos_rejection={short(f.oos_rejection)} "
        f"gap_forwarded={short(f.gap_forwarded)} llm_calls_per_100={f.llm_calls_per_100} "
        f"embedding_calls_per_100={f.embedding_calls_per_100}"
    )


def print_topics(records: Sequence[Record], mode: str, *, llm_records: Sequence[Record] = ()) -> None:
    """Per topic: retrieval and verdicts of ``mode``; with ``llm_records`` (the same
    questions with the fake LLM, judged alike) also their LLM calls per 100."""
    print(f"\nper topic ({mode}, all splits; holdout count in brackets):")
    widths = (18, 8, 6, 8, 6, 9, 7, 7)
    header = ["topic", "n", "top1", "recall@4", "right", "rejected", "llm/100"]
    if llm_records:
        header[-1] = "llm/100 (with key)"
        widths = (18, 8, 6, 8, 6, 9, 18)
    print(_row(header, widths[: len(header)]))
    by_topic: dict[str, list[Record]] = {}
    for record in records:
        by_topic.setdefault(record.item.topic, []).append(record)
    calls: dict[str, list[Record]] = {}
    for record in llm_records:
        calls.setdefault(record.item.topic, []).append(record)
    for topic, rs in by_topic.items():
        f = summarize(rs)
        held = sum(r.item.split == "holdout" for r in rs)
        rejected = _share([r.outcome in REJECTED for r in rs])
        llm = summarize(calls[topic]).llm_calls_per_100 if llm_records else f.llm_calls_per_100
        print(
            _row(
                (topic, f"{len(rs)} [{held}]", _pct(f.top1), _pct(f.recall4), _pct(f.right), _pct(rejected), llm),
                widths[: len(header)],
            )
        )


def _verdicts(records: Sequence[Record]) -> list[tuple]:
    return [(r.item.q, r.ranked, r.outcome, r.top1, r.recall, r.right) for r in records]


def _misses(records: Sequence[Record]) -> list[Record]:
    out = []
    for r in records:
        if r.item.scope == "in":
            if not (r.top1 and r.recall and r.right):
                out.append(r)
        elif r.outcome not in REJECTED:
            out.append(r)
    return out


def print_misses(records: Sequence[Record], mode: str, names: dict[str, str], titles: dict[str, str]) -> None:
    by_id = {doc_id: name for name, doc_id in names.items()}

    def show(doc_id: str) -> str:
        return by_id.get(doc_id) or f"{doc_id} ({titles.get(doc_id, '?')[:40]})"

    misses = _misses(records)
    print(f"\nmisses ({mode}): {len(misses)} of {len(records)}  [what missed: top1 / recall@4 / right; outcome]")
    for r in misses:
        item = r.item
        if item.scope == "in":
            expected = " + ".join(" | ".join(group) for group in item.expect)
            flags = "".join(mark if ok else "-" for mark, ok in (("1", r.top1), ("4", r.recall), ("r", r.right)))
        else:
            expected = "(forward)" if item.scope == "gap" else "(out of scope)"
            flags = "   "
        got = ", ".join(f"{show(doc_id)} {confidence:.2f}" for doc_id, confidence in r.ranked) or "(nothing retrieved)"
        print(f"  [{item.split:7}] {item.topic:17} {flags} {r.outcome:9} {item.q!r}")
        print(f"{'':31}expected: {expected}")
        print(f"{'':31}got: {got}" + (f"; answer used {', '.join(show(d) for d in r.used)}" if r.used else ""))


# --------------------------------------------------------------------------
# The benchmark
# --------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mode", choices=[*MODES, "both"], default="both")
    parser.add_argument(
        "--split",
        choices=[*SPLITS, "all"],
        default="all",
        help="tune or holdout only; all (default) runs both and prints tune, holdout and all",
    )
    parser.add_argument("--misses", action="store_true", help="print every miss: question, expected, got")
    parser.add_argument("--questions", default=str(QUESTIONS_FILE), help="the question set (YAML)")
    args = parser.parse_args(argv)
    modes = MODES if args.mode == "both" else (args.mode,)
    splits = SPLITS if args.split == "all" else (args.split,)

    from bench.common import fresh_database, machine, server_env

    qset = load_question_set(args.questions)
    fresh_database()
    os.environ.update(server_env(LOG_LEVEL="WARNING"))
    import django

    django.setup()
    from chatbot.knowledge import get_knowledge_index
    from congress.testing.fake_openai import FakeOpenAI

    index = get_knowledge_index()
    names, missing = resolve_entries(qset.entries, index.docs)
    if missing:
        sys.exit(f"entries of the question set not in the demo knowledge: {', '.join(missing)}")
    titles = {doc.id: doc.title for doc in index.docs}
    counts = Counter(item.scope for item in qset.items)
    held = sum(item.split == "holdout" for item in qset.items)
    print(f"machine: {machine()}")
    print(
        f"question set: {Path(args.questions).relative_to(ROOT) if Path(args.questions).is_absolute() else args.questions} — "
        f"{counts['in']} in scope, {counts['gap']} not in the knowledge, {counts['out']} out of scope; "
        f"holdout {held} of {len(qset.items)}; knowledge: {len(index.docs)} documents",
        flush=True,
    )

    started = time.monotonic()
    results: dict[str, list[Record]] = {}
    with FakeOpenAI(latency_ms=0) as fake:
        for mode in modes:
            for split in splits:
                items = [item for item in qset.items if item.split == split]
                results[f"{mode}/{split}"] = measure(items, names, mode=mode, fake=fake, run=f"bench-{split}")
    elapsed = time.monotonic() - started

    print()
    print(_row(SUMMARY_HEADER, SUMMARY_WIDTHS))
    lines = []
    for mode in modes:
        combined: list[Record] = []
        for split in splits:
            records = results[f"{mode}/{split}"]
            combined += records
            print(summary_row(f"{mode} / {split}", summarize(records)))
            lines.append(figures_line(f"answers_{mode}_{split}", summarize(records)))
        if len(splits) > 1:
            print(summary_row(f"{mode} / all", summarize(combined)))
            lines.append(figures_line(f"answers_{mode}_all", summarize(combined)))
        if mode == "offline" and any(r.llm_calls for r in combined):
            print("WARNING: the fake OpenAI server received calls without a key")
    by_mode = {mode: [r for split in splits for r in results[f"{mode}/{split}"]] for mode in modes}
    # With the key, retrieval and the answerer's verdicts are often exactly the
    # offline ones (only the reply's writer differs): one table then.
    same = len(modes) == 2 and _verdicts(by_mode["offline"]) == _verdicts(by_mode["llm"])
    if same:
        print("\n(with the key, retrieval and verdicts are the same as offline, question by question)")
        print_topics(by_mode["offline"], "offline", llm_records=by_mode["llm"])
    else:
        for mode in modes:
            print_topics(by_mode[mode], mode)
    if args.misses:
        for mode in modes[:1] if same else modes:
            print_misses(by_mode[mode], mode if not same else "offline = with the key", names, titles)
    print(f"\n{sum(len(v) for v in results.values())} answers in {elapsed:.1f} s")
    for line in lines:
        print(line)


if __name__ == "__main__":
    main()
