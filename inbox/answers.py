"""Answers go back: an organizer's answer to a question the bot could not
answer reaches, in the chat, every conversation that asked it.

- ``answers_deliver``: the answered question and every open question that is
  "the same" (linked by ``same_as`` either way, or with the same text once
  accents, case, punctuation and spacing are folded) are marked answered, and
  each conversation among them gets one message.
- ``bot_replies_confirm``: "the bot's tentative answer was right": answered,
  nothing sent (the participant already has it).
- ``questions_mark_same`` / ``questions_unmark_same``: organizers group
  questions by hand.
- ``askers_counts`` and ``delivery_state``: what the admin shows.

Exactly once, per row and per conversation: rows are claimed with
``SELECT … FOR UPDATE`` on ``answer_sent_at IS NULL`` inside one transaction.
Two organizers saving at the same moment (or a double click) serialise on
those row locks; the second one re-reads the rows after the first commits
(PostgreSQL re-checks the condition on the new row version) and finds nothing
left to send.

A conversation that cannot be reached is answered but not sent:
``answer_sent_at`` stays empty, and ``delivery_state`` says why (erased by
the LGPD erasure, or no WhatsApp address, e.g. a /chat user id). Claiming such
a row again later sends nothing either, so the claim stays harmless.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from django.db import transaction
from django.db.models import Case, F, Q, Value, When
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext as _

from chatbot.models import ConversationState, UnansweredQuestion
from congress.errors import InvalidValue
from inbox.models import Handoff, HandoffMessage
from inbox.services import MAX_REPLY_CHARS, clean_reply, staff_name
from registrations.privacy import ERASED
from registrations.validators import fold_words

logger = logging.getLogger(__name__)

Status = UnansweredQuestion.Status
Reason = UnansweredQuestion.Reason

# The question quoted back to the participant: short, on one line.
QUOTE_CHARS = 80
# Room for the "📣 Sobre sua pergunta “…”: " prefix within one WhatsApp message.
MAX_ANSWER_CHARS = MAX_REPLY_CHARS - QUOTE_CHARS - 60
# Conversation ids the LGPD erasure leaves behind (registrations.privacy).
ERASED_PREFIX = "anon-"


@dataclass(frozen=True)
class AnswerDelivery:
    """What one ``answers_deliver`` did, counted in conversations."""

    sent: int = 0  # received a message now
    already: int = 0  # had it already: sent before, or the bot's reply was confirmed
    no_whatsapp: int = 0  # no WhatsApp address: answered, not sent
    erased: int = 0  # the conversation was erased (LGPD): answered, not sent
    answered: int = 0  # question rows marked answered now (the main one included)


class DeliveryState(StrEnum):
    """Whether an answered question's conversation got the answer (for the admin)."""

    PENDING = "pending"  # open or dismissed: nothing to say
    SENT = "sent"
    CONFIRMED = "confirmed"  # the bot's own reply was confirmed: nothing to send
    NO_WHATSAPP = "no_whatsapp"
    ERASED = "erased"
    BEFORE = "before"  # answered before answers were sent (no answered_at)


# --- checks ------------------------------------------------------------------------


def answer_check(answer: str) -> str:
    """The answer as it is sent; raises ``InvalidValue`` (pt-BR) when empty or too long."""
    answer = clean_reply(answer)
    if len(answer) > MAX_ANSWER_CHARS:
        raise InvalidValue(
            _("A resposta tem %(n)s caracteres; o máximo para enviar pelo WhatsApp é %(max)s.")
            % {"n": len(answer), "max": MAX_ANSWER_CHARS}
        )
    return answer


def _same_text(a: str, b: str) -> bool:
    return " ".join((a or "").split()) == " ".join((b or "").split())


def is_bot_confirmation(question: UnansweredQuestion, answer: str | None = None) -> bool:
    """The answer is the bot's own tentative reply: the participant already read it."""
    answer = question.answer if answer is None else answer
    return question.reason == Reason.LOW_CONFIDENCE and bool(question.bot_reply.strip()) and _same_text(
        question.bot_reply, answer
    )


def is_erased_conversation(conversation_id: str, *, exists: bool) -> bool:
    return not exists or conversation_id.startswith(ERASED_PREFIX)


# --- "the same question" --------------------------------------------------------------


def question_key(question: str) -> str:
    """The text two questions share when they are the same question ("" when it cannot say)."""
    if question.strip() == ERASED:
        return ""
    return fold_words(question)


class QuestionGroups:
    """Questions that are the same, as connected components: an edge for each
    ``same_as`` link (either way, any depth) and for each equal folded text.
    Dismissed questions take no part."""

    def __init__(self, rows: Iterable[tuple[int, str, str, int | None]]) -> None:
        self._parent: dict[int, int] = {}
        self._conversation: dict[int, str] = {}
        first_by_key: dict[str, int] = {}
        links: list[tuple[int, int]] = []
        for pk, conversation_id, question, same_as_id in rows:
            self._parent[pk] = pk
            self._conversation[pk] = conversation_id
            key = question_key(question)
            if key:
                links.append((pk, first_by_key.setdefault(key, pk)))
            if same_as_id is not None:
                links.append((pk, same_as_id))
        for a, b in links:
            if b in self._parent:
                self._union(a, b)

    @classmethod
    def load(cls) -> QuestionGroups:
        return cls(
            UnansweredQuestion.objects.exclude(status=Status.DISMISSED)
            .values_list("pk", "conversation_id", "question", "same_as_id")
            .iterator(chunk_size=2000)
        )

    def _find(self, pk: int) -> int:
        root = pk
        while self._parent[root] != root:
            root = self._parent[root]
        while self._parent[pk] != root:  # path compression
            self._parent[pk], pk = root, self._parent[pk]
        return root

    def _union(self, a: int, b: int) -> None:
        ra, rb = self._find(a), self._find(b)
        if ra != rb:
            self._parent[max(ra, rb)] = min(ra, rb)

    def members(self, pk: int) -> set[int]:
        if pk not in self._parent:
            return {pk}
        root = self._find(pk)
        return {other for other in self._parent if self._find(other) == root}

    def askers(self) -> dict[int, int]:
        """Each question's number of distinct conversations that asked it."""
        conversations: dict[int, set[str]] = defaultdict(set)
        for pk, conversation_id in self._conversation.items():
            conversations[self._find(pk)].add(conversation_id)
        return {pk: len(conversations[self._find(pk)]) for pk in self._parent}


def askers_counts(questions: Iterable[UnansweredQuestion]) -> dict[int, int]:
    """For each of ``questions``: how many conversations asked it (itself, the
    questions marked the same, and the ones with the same text). A dismissed
    question counts only itself."""
    counts = QuestionGroups.load().askers()
    return {q.pk: counts.get(q.pk, 1) for q in questions}


def question_root(question: UnansweredQuestion) -> UnansweredQuestion:
    """The question at the end of ``question``'s ``same_as`` chain (cycles stop it)."""
    seen = {question.pk}
    current = question
    while current.same_as_id is not None and current.same_as_id not in seen:
        parent = UnansweredQuestion.objects.filter(pk=current.same_as_id).first()
        if parent is None:
            break
        seen.add(parent.pk)
        current = parent
    return current


def questions_mark_same(*, main: UnansweredQuestion, questions: Iterable[UnansweredQuestion]) -> int:
    """Mark ``questions`` as the same question as ``main`` (as the one at the
    end of its chain, so groups stay one level deep: the questions that pointed
    to one of them now point to it too). Returns how many were marked."""
    root = question_root(main)
    ids = [q.pk for q in questions if q.pk != root.pk]
    if not ids:
        return 0
    with transaction.atomic():
        UnansweredQuestion.objects.filter(pk=root.pk, same_as_id__in=ids).update(same_as=None)
        UnansweredQuestion.objects.filter(same_as_id__in=ids).exclude(pk=root.pk).update(same_as=root)
        count = UnansweredQuestion.objects.filter(pk__in=ids).update(same_as=root)
    logger.info("answers.marked_same root=%s count=%s", root.pk, count)
    return count


def questions_unmark_same(*, questions: Iterable[UnansweredQuestion]) -> int:
    """Undo "the same question" for ``questions`` (and for the ones marked the same as them)."""
    ids = [q.pk for q in questions]
    with transaction.atomic():
        count = UnansweredQuestion.objects.filter(pk__in=ids, same_as__isnull=False).update(same_as=None)
        count += UnansweredQuestion.objects.filter(same_as_id__in=ids).update(same_as=None)
    return count


# --- sending ---------------------------------------------------------------------------


def _quote(question: str) -> str:
    text = " ".join(question.split())
    return text if len(text) <= QUOTE_CHARS else text[: QUOTE_CHARS - 1].rstrip() + "…"


def answer_message(question: UnansweredQuestion, answer: str) -> str:
    """The chat message for ``question``'s conversation (pt-BR). A correction
    when the bot had already given its own (tentative) answer."""
    values = {"question": _quote(question.question), "answer": answer}
    if question.reason == Reason.LOW_CONFIDENCE:
        return _("📣 Correção da organização sobre “%(question)s”: %(answer)s") % values
    return _("📣 Sobre sua pergunta “%(question)s”: %(answer)s") % values


def answers_deliver(question: UnansweredQuestion, *, user) -> AnswerDelivery:
    """Answer ``question`` and every open question that is the same, with
    ``question.answer`` (as stored), and send it to each of their
    conversations once. A dismissed question sends nothing. Raises
    ``InvalidValue`` when the stored answer is empty or too long.

    A conversation whose handoff is open gets it too (it is an organizer's
    message), and the line is added to the handoff's transcript.
    """
    from whatsapp.models import OutboundMessage
    from whatsapp.services import message_push

    main = UnansweredQuestion.objects.filter(pk=question.pk).first()
    if main is None or main.status == Status.DISMISSED:
        return AnswerDelivery()
    answer = answer_check(main.answer)
    group = QuestionGroups.load().members(main.pk)
    now = timezone.now()
    by = staff_name(user)
    author = user if getattr(user, "pk", None) else None
    sent = already = no_whatsapp = erased = answered = 0

    with transaction.atomic():
        # The claim. Ordered by pk so that two deliveries over overlapping
        # groups lock in the same order (no deadlock).
        rows = list(
            UnansweredQuestion.objects.select_for_update()
            .filter(pk__in=group, answer_sent_at__isnull=True)
            .filter(Q(status=Status.OPEN) | Q(pk=main.pk, status=Status.ANSWERED))
            .order_by("pk")
        )
        by_conversation: dict[str, list[UnansweredQuestion]] = defaultdict(list)
        for row in rows:
            by_conversation[row.conversation_id].append(row)
        existing = set(
            ConversationState.objects.filter(conversation_id__in=by_conversation).values_list(
                "conversation_id", flat=True
            )
        )
        # Conversations that already received this question's answer (they asked again).
        received = dict(
            UnansweredQuestion.objects.filter(
                pk__in=group, conversation_id__in=by_conversation, answer_sent_at__isnull=False
            ).values_list("conversation_id", "answer_sent_at")
        )
        handoffs = {
            handoff.conversation.conversation_id: handoff
            for handoff in Handoff.objects.filter(
                status=Handoff.Status.OPEN, conversation__conversation_id__in=by_conversation
            ).select_related("conversation")
        }
        for conversation_id, claimed in by_conversation.items():
            sent_at = None
            if is_erased_conversation(conversation_id, exists=conversation_id in existing):
                erased += 1
            elif conversation_id in received:
                sent_at = received[conversation_id]
                already += 1
            else:
                # Unanswered rows first: "Sobre sua pergunta" fits them all.
                needing = sorted(
                    (row for row in claimed if not is_bot_confirmation(row, answer)),
                    key=lambda row: (row.reason != Reason.UNANSWERED, row.pk),
                )
                if not needing:
                    already += 1
                else:
                    text = clean_reply(answer_message(needing[0], answer))
                    outbound = message_push(chat_id=conversation_id, text=text, kind=OutboundMessage.Kind.ANSWER)
                    if outbound is None:
                        no_whatsapp += 1
                    else:
                        sent_at = now
                        sent += 1
                        handoff = handoffs.get(conversation_id)
                        if handoff is not None:
                            HandoffMessage.objects.create(
                                handoff=handoff, role=HandoffMessage.Role.STAFF, text=text, author=author,
                                author_name=by, outbound=outbound, created_at=now,
                            )
            answered += UnansweredQuestion.objects.filter(pk__in=[row.pk for row in claimed]).update(
                status=Status.ANSWERED,
                answer=answer,
                answered_at=Coalesce(F("answered_at"), Value(now)),
                answered_by=Case(When(answered_by="", then=Value(by)), default=F("answered_by")),
                answer_sent_at=sent_at,
            )
    result = AnswerDelivery(
        sent=sent, already=already, no_whatsapp=no_whatsapp, erased=erased, answered=answered
    )
    logger.info(
        "answers.delivered question=%s rows=%s sent=%s already=%s no_whatsapp=%s erased=%s",
        main.pk, answered, sent, already, no_whatsapp, erased,
    )
    return result


def bot_replies_confirm(*, questions: Iterable[UnansweredQuestion], user) -> int:
    """"Confirmar resposta do bot": the open low-confidence ``questions``
    become answered with the bot's own reply. Nothing is sent: each
    participant already read it. Returns how many were confirmed."""
    ids = [q.pk for q in questions]
    now = timezone.now()
    count = (
        UnansweredQuestion.objects.filter(pk__in=ids, status=Status.OPEN, reason=Reason.LOW_CONFIDENCE)
        .exclude(bot_reply="")
        .update(status=Status.ANSWERED, answer=F("bot_reply"), answered_at=now, answered_by=staff_name(user))
    )
    logger.info("answers.confirmed count=%s", count)
    return count


def delivery_state(question: UnansweredQuestion, *, conversation_exists: bool) -> DeliveryState:
    """Whether ``question``'s conversation got the organizers' answer, and if not, why."""
    if question.status != Status.ANSWERED:
        return DeliveryState.PENDING
    if question.answer_sent_at is not None:
        return DeliveryState.SENT
    if is_bot_confirmation(question):
        return DeliveryState.CONFIRMED
    if question.answered_at is None:
        return DeliveryState.BEFORE
    if is_erased_conversation(question.conversation_id, exists=conversation_exists):
        return DeliveryState.ERASED
    return DeliveryState.NO_WHATSAPP
