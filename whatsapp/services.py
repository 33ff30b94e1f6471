"""The queued WhatsApp pipeline (DESIGN.md, "One message, end to end").

accept  -> ``message_accept``: validate, INSERT the inbound row (its unique
           ``message_id`` decides duplicates), enqueue ``drain_chat`` on commit.
drain   -> ``chat_drain``: under the chat's lock, process its pending messages
           oldest first (``inbound_process``); re-check after releasing. With
           a debounce window (WA_DEBOUNCE_MS, ``whatsapp.debounce``) a burst
           of quick messages is answered as one turn once the window has
           passed since its last message: the drain task comes back then
           (a countdown), it never sleeps.
process -> transcribe a voice note (or open a photo or PDF: downloaded when
           the channel handed over an id), run the engine turn, and in ONE
           transaction save the state (version check), mark the inbound
           done (dropping the file's bytes) and insert the reply; enqueue
           its delivery on commit.
send    -> ``outbox_deliver``: under the chat's outbox lock, deliver the chat's
           pending replies in order through each one's channel
           (whatsapp/channels/); transient failure -> backoff and retry.
sweep   -> ``pipeline_sweep``: re-enqueue what PostgreSQL says is pending, so a
           lost broker message (Redis restart, killed worker) loses nothing.

Tasks call these and own only their retry policy: the services raise
``RetryLater`` with the delay they want.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import logging
import random
import re
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING

import redis
from django.conf import settings
from django.core.cache import cache
from django.db import IntegrityError, InterfaceError, OperationalError, connection, transaction
from django.db.models import F, Min, Q
from django.utils import timezone
from django.utils.translation import gettext as _
from kombu.exceptions import KombuError

from congress import sql
from congress.errors import CongressError, InvalidValue
from congress.locks import (
    LockKeeper,
    LockLost,
    lock_is_held,
    release_lock,
    try_conversation_lock,
)
from congress.redis import get_redis, mark_redis_down, redis_usable
from congress.request_id import get_request_id, new_request_id, set_request_id
from whatsapp import debounce, metrics
from whatsapp.channels import ChannelError, MediaTooLarge, ReplyHeld, get_channel
from whatsapp.models import Channel, InboundMessage, MessageEvent, OutboundMessage

if TYPE_CHECKING:
    from chatbot.engine import Attachment

logger = logging.getLogger(__name__)

# Infrastructure trouble: nothing wrong with the message, try the task again.
INFRA_ERRORS: tuple[type[BaseException], ...] = (OperationalError, InterfaceError, redis.RedisError)

_NUMBER = re.compile(r"^[0-9]{5,20}$")
_JID = re.compile(r"^[^\s@]{1,100}@[a-z0-9.\-]{1,40}$")
_ID = re.compile(r"^[^\x00-\x1f\x7f]{1,128}$")


class RetryLater(CongressError):
    """The work is not finished; run the task again in ``countdown`` seconds."""

    transient = True

    def __init__(self, countdown: float, reason: str = "") -> None:
        super().__init__(reason or f"retry in {countdown:.1f}s")
        self.countdown = max(0.0, countdown)


class AudioRejected(InvalidValue):
    """The voice note is larger than MAX_AUDIO_BYTES (the API answers 413)."""


class AttachmentRejected(InvalidValue):
    """The photo or PDF is larger than MAX_ATTACHMENT_BYTES (the API answers 413)."""


# --- files: photos and PDFs (Pix receipts, category proofs) --------------------------------

# The types the engine takes, with the aliases gateways send for them.
ATTACHMENT_TYPES = ("image/jpeg", "image/png", "image/webp", "image/heic", "application/pdf")
_TYPE_ALIASES = {"image/jpg": "image/jpeg", "image/pjpeg": "image/jpeg", "image/x-png": "image/png",
                 "image/heif": "image/heic", "application/x-pdf": "application/pdf"}
_HEIC_BRANDS = (b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"mif1", b"msf1")


def attachment_type(mimetype: str | None) -> str | None:
    """``mimetype`` as one of ATTACHMENT_TYPES (parameters and case dropped,
    aliases resolved), or None when it is not a type the engine takes."""
    mime = (mimetype or "").split(";")[0].strip().lower()
    mime = _TYPE_ALIASES.get(mime, mime)
    return mime if mime in ATTACHMENT_TYPES else None


def sniff_attachment_type(data: bytes) -> str | None:
    """The type the file's own signature says, among ATTACHMENT_TYPES."""
    if data[:3] == b"\xff\xd8\xff":
        return "image/jpeg"
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return "image/png"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    if data[4:8] == b"ftyp" and data[8:12] in _HEIC_BRANDS:
        return "image/heic"
    if b"%PDF-" in data[:1024]:  # readers allow bytes before the header
        return "application/pdf"
    return None


def attachment_check(data: bytes, mimetype: str | None) -> str:
    """Check a photo or PDF; its type (the file's own signature wins over a
    wrong label). Raises ``AttachmentRejected`` when it is larger than
    MAX_ATTACHMENT_BYTES and ``InvalidValue`` when it is empty, of a type the
    engine does not take, or not what it says it is."""
    declared = attachment_type(mimetype)
    if declared is None:
        raise InvalidValue(_("Formato de arquivo não suportado: envie uma foto (JPG, PNG, WebP ou HEIC) ou um PDF."))
    if not data:
        raise InvalidValue(_("O arquivo está vazio."))
    if len(data) > settings.MAX_ATTACHMENT_BYTES:
        raise AttachmentRejected(attachment_too_large_text())
    sniffed = sniff_attachment_type(data)
    if sniffed is None:
        raise InvalidValue(_("O arquivo não parece ser uma foto (JPG, PNG, WebP ou HEIC) nem um PDF."))
    return sniffed


def attachment_too_large_text() -> str:
    return _("O arquivo é grande demais (máximo de %(size)s).") % {"size": _size_text(settings.MAX_ATTACHMENT_BYTES)}


# What a participant is told about a file the engine will not get (the
# worker's replies, and the neonize gateway's when it cannot take one).
def attachment_unopened_reply() -> str:
    return _("Não consegui abrir o arquivo. Pode enviar de novo?")


def attachment_unsupported_reply() -> str:
    return _("Só consigo abrir fotos (JPG, PNG, WebP ou HEIC) e arquivos PDF. Pode enviar o arquivo em um desses formatos?")


def attachment_too_large_reply() -> str:
    return f"{attachment_too_large_text()} {_('Pode enviar uma foto ou um PDF menor?')}"


def _size_text(size: int) -> str:
    """``5 MB``, ``1,5 MB``, ``500 KB``: a limit as a person reads it (pt-BR)."""
    if size >= 1024 * 1024:
        return f"{size / (1024 * 1024):.1f}".removesuffix(".0").replace(".", ",") + " MB"
    return f"{max(1, size // 1024)} KB"


def _clean_filename(name: str) -> str:
    """The file's own name only (no folders, no control characters), at most 200 characters."""
    name = re.sub(r"[\x00-\x1f\x7f]", "", name or "").replace("\\", "/").rsplit("/", 1)[-1].strip()
    return name[-200:]


@dataclass(frozen=True)
class AcceptResult:
    status: str  # "queued" | "duplicate"
    message_id: str
    inbound_id: int


def backoff_seconds(attempt: int, *, base: float, cap: float) -> float:
    """Exponential backoff with full jitter in its upper half (attempt >= 1)."""
    delay = min(cap, base * (2 ** max(0, attempt - 1)))
    return delay / 2 + random.uniform(0, delay / 2)


# --- accept -------------------------------------------------------------------


def message_check(
    *, message_id: str, number: str, jid: str, text: str, audio: bytes | None, mimetype: str, media_id: str = "",
    attachment: bytes | None = None, attachment_mimetype: str = "",
) -> str:
    """Validate one incoming message; raise ``InvalidValue`` (or
    ``AudioRejected``, ``AttachmentRejected``). A ``media_id`` stands for a
    voice note, or with ``attachment_mimetype`` for a file, that the worker
    downloads later (and checks then). Returns the file's type as stored."""
    from chatbot.audio import AudioTooLarge, check_audio_bytes, check_mimetype

    if not _ID.match(message_id):
        raise InvalidValue("message_id must be 1-128 printable characters.")
    if not number and not jid:
        raise InvalidValue("Send number or jid: they identify the conversation.")
    if number and not _NUMBER.match(number):
        raise InvalidValue("number must be digits only (country code and DDD), e.g. 5561999990000.")
    if jid and not _JID.match(jid):
        raise InvalidValue("jid must look like 5561999990000@s.whatsapp.net.")
    if len(text) > settings.MAX_MESSAGE_CHARS:
        raise InvalidValue(f"text is longer than {settings.MAX_MESSAGE_CHARS} characters.")
    if not text.strip() and audio is None and not media_id and attachment is None:
        raise InvalidValue("Send text, audio_base64 or media_base64.")
    if media_id and not _ID.match(media_id):
        raise InvalidValue("media_id must be 1-128 printable characters.")
    if attachment is not None:
        return attachment_check(attachment, attachment_mimetype)
    if attachment_mimetype:
        if not media_id:
            raise InvalidValue("A file needs its bytes or its media_id.")
        return attachment_type(attachment_mimetype) or attachment_mimetype.strip()[:100]
    if audio is not None or media_id:
        check_mimetype(mimetype or "audio/ogg")
    if audio is not None:
        try:
            check_audio_bytes(audio)
        except AudioTooLarge as exc:
            raise AudioRejected(exc.message) from None
    return ""


def _sent_at(timestamp: float | None) -> dt.datetime | None:
    if not timestamp or timestamp < 0:
        return None
    if timestamp > 10**11:  # milliseconds (JavaScript gateways)
        timestamp /= 1000
    try:
        return dt.datetime.fromtimestamp(timestamp, tz=dt.UTC)
    except (OverflowError, OSError, ValueError):
        return None


def message_accept(
    *,
    message_id: str,
    number: str = "",
    jid: str = "",
    text: str = "",
    push_name: str = "",
    timestamp: float | None = None,
    audio: bytes | None = None,
    mimetype: str = "",
    source: str = "api",
    channel: str = Channel.GATEWAY,
    media_id: str = "",
    sender_alt: str = "",
    attachment: bytes | None = None,
    attachment_mimetype: str = "",
    attachment_name: str = "",
) -> AcceptResult:
    """Store one incoming WhatsApp message and queue it; the same for every
    channel (the REST view, the neonize gateway, the Cloud API webhook).

    ``sender_alt`` is the sender's other WhatsApp id (neonize's SenderAlt:
    the phone JID of an @lid sender, or the reverse), stored for the admin;
    a malformed one is dropped, never a reason to refuse the message.

    ``channel`` is where the reply will leave from; ``media_id`` names a
    voice note the channel hands over as an id (the worker downloads it).

    A photo or PDF (a Pix receipt, a category proof) comes as ``attachment``
    bytes, or as ``media_id`` with ``attachment_mimetype`` (downloaded by
    the worker); ``text`` is then its caption, and it is answered in a turn
    of its own (never merged into a burst).

    Returns ``status="queued"`` for a new message and ``"duplicate"`` when
    ``message_id`` is already stored (then nothing else happens). Raises
    ``InvalidValue``/``AudioRejected`` for bad input. PostgreSQL's unique
    constraint decides duplicates, so concurrent retries of one message race
    safely: exactly one INSERT wins.
    """
    message_id, number, jid = message_id.strip(), number.strip(), jid.strip()
    # PostgreSQL text cannot hold NUL; WhatsApp text may (the REST view refuses it).
    text, push_name = (text or "").replace("\x00", ""), (push_name or "").replace("\x00", "")
    media_id = (media_id or "").strip()
    sender_alt = (sender_alt or "").strip()
    if not _JID.match(sender_alt):
        sender_alt = ""
    is_file = attachment is not None or bool((attachment_mimetype or "").strip())
    if is_file:
        audio, mimetype = None, ""  # the file is what the engine reads; text is its caption
    elif text.strip():
        audio, media_id = None, ""  # typed text (or a caption) wins over the voice note
    attachment_mimetype = message_check(
        message_id=message_id, number=number, jid=jid, text=text, audio=audio, mimetype=mimetype, media_id=media_id,
        attachment=attachment, attachment_mimetype=attachment_mimetype or "",
    )
    has_audio = not is_file and (audio is not None or bool(media_id))
    chat_id = number or jid
    request_id = get_request_id() or new_request_id()
    fields = {
        "message_id": message_id,
        "channel": channel,
        "chat_id": chat_id,
        "number": number,
        "jid": jid,
        "push_name": push_name.strip()[:120],
        "text": text,
        "audio": audio,
        "has_audio": has_audio,
        "media_id": media_id,
        "sender_alt": sender_alt,
        "mimetype": (mimetype or ("audio/ogg" if has_audio else ""))[:100],
        "sent_at": _sent_at(timestamp),
        "request_id": request_id,
        "attachment": attachment,
        "attachment_mimetype": attachment_mimetype[:100],
        "attachment_name": _clean_filename(attachment_name) if is_file else "",
    }
    inbound_id = _inbound_insert(fields, source=source)
    if inbound_id is None:
        existing = InboundMessage.objects.filter(message_id=message_id).values_list("pk", flat=True).first()
        if existing is None:  # not a duplicate after all: a real integrity problem
            raise IntegrityError(f"inbound message {message_id!r} could not be stored")
        metrics.DUPLICATES.labels(source).inc()
        logger.info("whatsapp.duplicate message_id=%s inbound=%s source=%s", message_id, existing, source)
        return AcceptResult(status="duplicate", message_id=message_id, inbound_id=existing)
    # Not inside the atomic block above: when message_accept runs inside an
    # outer transaction, the task must wait for that one to commit too.
    # With a debounce window, a message that cannot complete any step on its
    # own will wait for the window anyway: its drain is scheduled for then,
    # instead of a drain now that would only reschedule itself.
    window = settings.WA_DEBOUNCE_MS / 1000
    if window and not is_file and not debounce.may_complete(text):
        transaction.on_commit(lambda: _enqueue_drain_after_window(chat_id, window), robust=True)
    else:
        transaction.on_commit(lambda: enqueue_drain(chat_id), robust=True)
    metrics.ACCEPTED.labels(source).inc()
    logger.info(
        "whatsapp.accepted message_id=%s inbound=%s chat=%s audio=%s file=%s source=%s",
        message_id, inbound_id, chat_id, has_audio, attachment_mimetype or "-", source,
    )
    return AcceptResult(status="queued", message_id=message_id, inbound_id=inbound_id)


def _inbound_insert(fields: dict, *, source: str) -> int | None:
    """INSERT the inbound row and its "accepted" event together; the new id,
    or None when ``message_id`` is already stored.

    On PostgreSQL this is ONE statement (``ON CONFLICT (message_id) DO
    NOTHING`` feeding the event's INSERT): a single round trip and commit,
    where the ORM needs BEGIN, two INSERTs and COMMIT (a fifth of the
    accept's CPU), and a duplicate costs no exception. Elsewhere (the
    embedded SQLite default) the ORM does it in a transaction.
    """
    if connection.vendor != "postgresql":
        try:
            with transaction.atomic():
                inbound = InboundMessage.objects.create(**fields)
                MessageEvent.objects.create(inbound=inbound, kind=MessageEvent.Kind.ACCEPTED, detail=source)
        except IntegrityError:
            return None
        return inbound.pk
    params = [*fields.values(), "", InboundMessage.Status.PENDING, 0, "", timezone.now(),
              MessageEvent.Kind.ACCEPTED, source[:500]]
    with connection.cursor() as cursor:
        cursor.execute(_insert_accepted_sql(tuple(fields)), params)
        row = cursor.fetchone()
    return row[0] if row else None


@functools.cache
def _insert_accepted_sql(names: tuple[str, ...]) -> str:
    columns = [*names, "transcript", "status", "attempts", "last_error", "created_at"]
    # Table and column names come from the models, values are parameters.
    return (
        f"WITH new AS (INSERT INTO {InboundMessage._meta.db_table} ({', '.join(columns)})"  # noqa: S608
        f" VALUES ({', '.join(['%s'] * len(columns))}) ON CONFLICT (message_id) DO NOTHING"
        " RETURNING id, created_at)"
        f" INSERT INTO {MessageEvent._meta.db_table} (kind, detail, created_at, inbound_id)"
        " SELECT %s, %s, created_at, id FROM new RETURNING inbound_id"
    )


# --- enqueueing -----------------------------------------------------------------


def _enqueue(task, arg, *, countdown: float | None = None) -> bool:
    """Publish a task; a broker outage is logged, not raised: the row is in
    PostgreSQL and the sweeper enqueues it again."""
    try:
        task.apply_async(
            (arg,),
            countdown=countdown or None,
            retry=True,
            retry_policy={"max_retries": 2, "interval_start": 0, "interval_step": 0.2, "interval_max": 0.5},
        )
    except (KombuError, OSError, redis.RedisError) as exc:
        logger.warning("whatsapp.enqueue_failed task=%s arg=%s error=%s (the sweeper will retry)", task.name, arg, exc)
        return False
    return True


def enqueue_drain(chat_id: str, *, countdown: float | None = None) -> bool:
    from whatsapp.tasks import drain_chat

    return _enqueue(drain_chat, chat_id, countdown=countdown)


# The latest time (epoch ms) a drain of the chat is scheduled for, kept
# while it is due: a drain that finds a burst still open schedules another
# only when none is due by the burst's end (a message's own drain, scheduled
# by its accept, usually is). Redis never decides alone: a scheduled drain
# that is lost anyway is found by the sweeper in PostgreSQL.
_NOTE_DUE = """
local current = tonumber(redis.call('get', KEYS[1]) or '0')
if tonumber(ARGV[1]) > current then redis.call('set', KEYS[1], ARGV[1], 'PX', ARGV[2]) end
return current
"""


def _drain_due_note(chat_id: str, due: float) -> float:
    """Record that a drain of ``chat_id`` is due at ``due`` (epoch seconds);
    the time one was already due by (0.0 when none is known)."""
    client = get_redis()
    if client is None:
        return 0.0
    try:
        ttl_ms = int(max(0.0, due - time.time()) * 1000) + 2000
        return float(client.eval(_NOTE_DUE, 1, f"congress:drain_due:{chat_id}", int(due * 1000), ttl_ms)) / 1000
    except redis.RedisError:
        return 0.0


def _enqueue_drain_after_window(chat_id: str, window: float) -> bool:
    _drain_due_note(chat_id, time.time() + window)
    return enqueue_drain(chat_id, countdown=window)


def enqueue_send(outbound_id: int, *, countdown: float | None = None) -> bool:
    from whatsapp.tasks import send_outbound

    return _enqueue(send_outbound, outbound_id, countdown=countdown)


# --- drain ------------------------------------------------------------------------


class Outcome(Enum):
    DONE = "done"  # answered (or already answered by someone else)
    FAILED = "failed"  # given up; an apology went out
    RETRY = "retry"  # left pending; the drain stops here to keep the chat's order
    SPLIT = "split"  # the first part of a burst answered; the rest is still pending


# Set by chat_drain(deliver=True) while it processes: replies are then sent by
# the drain itself (outbox_flush), not by a send task enqueued per reply.
_inline_delivery = threading.local()


def _pending(chat_id: str):
    return InboundMessage.objects.filter(chat_id=chat_id, status=InboundMessage.Status.PENDING)


@functools.cache
def _claim_next_sql() -> str:
    table = InboundMessage._meta.db_table
    # Table and column names come from the model, values are parameters.
    return (
        f"UPDATE {table} AS m SET attempts = m.attempts + 1"  # noqa: S608
        f" WHERE m.id = (SELECT id FROM {table} WHERE chat_id = %s AND status = %s ORDER BY id LIMIT 1)"
        f" AND m.status = %s RETURNING {sql.columns(InboundMessage, 'm')},"
        f" EXISTS (SELECT 1 FROM {table} o WHERE o.chat_id = m.chat_id AND o.status = %s AND o.id > m.id)"
    )


def _claim_next(chat_id: str) -> tuple[InboundMessage | None, bool]:
    """The chat's oldest pending message with its attempt counted (committed
    before the turn, so a message that kills its worker every time still
    ends), and whether more are pending after it. The caller holds the
    chat's lock.

    On PostgreSQL ONE statement (an UPDATE of the oldest pending row
    returning it and an EXISTS for the next): where the ORM reads the batch,
    then updates each message's attempts.
    """
    if connection.vendor != "postgresql":
        inbound = _pending(chat_id).order_by("id").first()
        if inbound is None:
            return None, False
        if not _pending(chat_id).filter(pk=inbound.pk).update(attempts=F("attempts") + 1):
            return None, _pending(chat_id).exists()
        inbound.attempts += 1
        return inbound, _pending(chat_id).filter(pk__gt=inbound.pk).exists()
    pending = InboundMessage.Status.PENDING
    with connection.cursor() as cursor:
        cursor.execute(_claim_next_sql(), [chat_id, pending, pending, pending])
        row = cursor.fetchone()
    if row is None:
        return None, False
    return sql.from_row(InboundMessage, row[:-1]), bool(row[-1])


@functools.cache
def _burst_rows_sql() -> str:
    from chatbot.models import ConversationState

    table, states = InboundMessage._meta.db_table, ConversationState._meta.db_table
    # Table and column names come from the models, values are parameters.
    return (
        "SELECT m.id, m.created_at, m.text, m.has_audio, m.transcript, m.attachment_mimetype <> '',"  # noqa: S608
        " s.registration_step, s.data"
        f" FROM {table} m LEFT JOIN {states} s ON s.conversation_id = m.chat_id"
        " WHERE m.chat_id = %s AND m.status = %s ORDER BY m.id LIMIT %s"
    )


@functools.cache
def _claim_burst_sql() -> str:
    table = InboundMessage._meta.db_table
    # Table and column names come from the model, values are parameters.
    return (
        f"UPDATE {table} SET attempts = attempts + 1 WHERE id = ANY(%s) AND status = %s"  # noqa: S608
        f" RETURNING {sql.columns(InboundMessage)}"
    )


def _burst_rows(chat_id: str) -> tuple[list[tuple], str, dict]:
    """The chat's oldest pending messages (id, created_at, text, has_audio,
    transcript, is a file), at most one more than a burst holds, with the
    conversation's registration step and flow data (idle for a new chat).
    On PostgreSQL one statement."""
    from chatbot.models import ConversationState

    limit = debounce.MAX_MESSAGES + 1
    if connection.vendor != "postgresql":
        rows = [
            (*row[:5], bool(row[5]))
            for row in _pending(chat_id).order_by("id").values_list(
                "id", "created_at", "text", "has_audio", "transcript", "attachment_mimetype"
            )[:limit]
        ]
        state = ConversationState.objects.filter(conversation_id=chat_id).values_list("registration_step", "data").first()
    else:
        with connection.cursor() as cursor:
            cursor.execute(_burst_rows_sql(), [chat_id, InboundMessage.Status.PENDING, limit])
            fetched = cursor.fetchall()
        rows = [row[:6] for row in fetched]
        data = fetched[0][7] if fetched else None
        if isinstance(data, str):
            data = ConversationState._meta.get_field("data").from_db_value(data, None, connection)
        state = (fetched[0][6], data) if fetched and fetched[0][6] is not None else None
    if state is None:
        return rows, "idle", {}
    return rows, state[0], state[1] if isinstance(state[1], dict) else {}


def _claim_burst(chat_id: str, *, window: float) -> tuple[list[InboundMessage], bool, debounce.Plan, int]:
    """The chat's next burst (``whatsapp.debounce``), oldest first, with each
    message's attempt counted, whether more messages are pending after it,
    the plan, and the newest pending message seen. No messages while the
    burst is still open: ``plan.wait`` says for how long. The caller holds
    the chat's lock.

    On PostgreSQL two statements (the pending messages with the
    conversation's step; the claim) where ``_claim_next`` needs one: paid
    only with a window."""
    rows, step, data = _burst_rows(chat_id)
    if not rows:
        return [], False, debounce.Plan(0, 0.0, "none"), 0
    plan = debounce.plan_burst(
        [debounce.Pending(id=pk, created_at=at, text=transcript if audio and not text else text, attachment=is_file)
         for pk, at, text, audio, transcript, is_file in rows],
        now=timezone.now(),
        window=window,
        max_chars=settings.MAX_MESSAGE_CHARS,
        completes=lambda text: debounce.completes(text, step=step, data=data),
    )
    newest = rows[-1][0]
    if plan.wait:
        return [], True, plan, newest
    ids = [row[0] for row in rows[: plan.size]]
    # Counted before the work, as _claim_next does: a burst that kills its
    # worker every time still ends (given up after WA_PROCESS_MAX_ATTEMPTS).
    if connection.vendor != "postgresql":
        _pending(chat_id).filter(pk__in=ids).update(attempts=F("attempts") + 1)
        burst = list(_pending(chat_id).filter(pk__in=ids).order_by("id"))
    else:
        with connection.cursor() as cursor:
            cursor.execute(_claim_burst_sql(), [ids, InboundMessage.Status.PENDING])
            burst = sorted((sql.from_row(InboundMessage, row) for row in cursor.fetchall()), key=lambda m: m.pk)
    return burst, len(rows) > plan.size, plan, newest


def _uncount(messages: Sequence[InboundMessage]) -> None:
    """Give back the attempt a claim counted for messages left for later."""
    if messages:
        _pending(messages[0].chat_id).filter(pk__in=[m.pk for m in messages], attempts__gt=0).update(
            attempts=F("attempts") - 1
        )


def chat_drain(*, chat_id: str, deliver: bool = False, debounce_ms: int = 0) -> None:
    """Process ``chat_id``'s pending messages oldest first, under its lock.

    Returns at once when another worker holds the lock (the holder drains).
    Raises ``RetryLater`` when a message must be retried (the chat waits for
    it, to keep the order) or when more work is left than one batch.

    With ``deliver`` (the drain task) the replies are sent right after the
    lock is released, by this same task, instead of one ``send_outbound``
    task per reply: a reply whose sending fails is handed to
    ``send_outbound`` with its backoff, and one left behind by a worker that
    died in between is found by the sweeper.

    With ``debounce_ms`` (the drain task passes WA_DEBOUNCE_MS) messages that
    arrived within that window of each other are answered as one turn
    (``whatsapp.debounce``). While the newest burst's window is still open
    the drain releases the lock and raises ``RetryLater`` for the rest of the
    window: the task comes back then, nothing sleeps. 0 is exactly the
    undebounced path.
    """
    lock = try_conversation_lock(chat_id)
    if lock is None:
        logger.debug("whatsapp.drain_busy chat=%s", chat_id)
        return
    retry_in: float | None = None
    answered = False
    waiting = False
    newest_seen = 0
    window_reopened = False
    _inline_delivery.active = deliver
    try:
        with LockKeeper(lock) as keeper:
            # Only the lock's holder processes the chat's messages; one that
            # lands meanwhile is caught by the claim's "more" flag or by the
            # re-check after releasing.
            for _position in range(settings.WA_DRAIN_BATCH):
                merged: list[InboundMessage] = []
                if debounce_ms > 0:
                    burst, more, plan, newest_seen = _claim_burst(chat_id, window=debounce_ms / 1000)
                    if plan.wait:
                        # The burst may still grow: come back when its window
                        # ends, unless a drain is due by then already (the
                        # newest message's own, scheduled by its accept).
                        due = time.time() + plan.wait
                        if _drain_due_note(chat_id, due) < due - debounce.EARLY_S:
                            retry_in = plan.wait
                        logger.debug("whatsapp.burst_open chat=%s wait=%.3fs rescheduled=%s", chat_id, plan.wait, retry_in)
                        waiting = True
                        break
                    inbound, merged = (burst[-1], burst[:-1]) if burst else (None, [])
                else:
                    inbound, more = _claim_next(chat_id)
                if inbound is None:
                    break
                answered = True
                window_reopened = window_reopened or inbound.channel == Channel.CLOUD
                outcome, delay = inbound_process(inbound=inbound, keeper=keeper, claimed=True, merged=merged)
                if debounce_ms > 0 and outcome is not Outcome.RETRY:
                    metrics.BURSTS.labels(plan.reason if outcome is not Outcome.SPLIT else "split").inc()
                if outcome is Outcome.RETRY:
                    retry_in = delay
                    break
                if not more and outcome is not Outcome.SPLIT:
                    break
            else:
                retry_in = 0.0  # a long backlog: yield to other chats, then go on
            if window_reopened:
                # The participant wrote again: the Cloud API's 24-hour window
                # is open, so replies held for a template may go out as text,
                # before this message's reply (they are older).
                outbound_release_held(chat_id=chat_id, enqueue=not deliver)
    finally:
        _inline_delivery.active = False
        release_lock(lock)
        if deliver and answered:
            outbox_flush(chat_id=chat_id, recheck=False)
    if waiting and _pending(chat_id).filter(pk__gt=newest_seen).exists():
        # A message committed while we planned found the lock busy and left
        # it to us: plan again now (it may complete the burst).
        raise RetryLater(0.0, "new messages arrived while planning a burst")
    if retry_in is not None:
        raise RetryLater(retry_in)
    if waiting and not answered:
        return  # a drain is due when the burst's window ends
    # Re-check AFTER releasing: a message committed while we held the lock saw
    # it busy and returned, trusting us to pick it up; likewise a reply
    # another drain of this chat committed while our flush held the outbox
    # lock. Both in one read.
    messages_waiting, reply_due = _chat_pending(chat_id)
    if messages_waiting and not waiting:
        raise RetryLater(0.0, "new messages arrived while draining")
    if reply_due is not None and deliver and answered:
        enqueue_send(reply_due)


def _chat_pending(chat_id: str) -> tuple[bool, int | None]:
    """Whether ``chat_id`` has pending messages, and its oldest reply due for
    sending now (None when none is): one round trip."""
    inbound_table, outbound_table = InboundMessage._meta.db_table, OutboundMessage._meta.db_table
    pending = InboundMessage.Status.PENDING
    now = connection.ops.adapt_datetimefield_value(timezone.now())
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT EXISTS (SELECT 1 FROM {inbound_table} WHERE chat_id = %s AND status = %s),"  # noqa: S608
            f" (SELECT id FROM {outbound_table} WHERE chat_id = %s AND status = %s"
            " AND (next_attempt_at IS NULL OR next_attempt_at <= %s) ORDER BY id LIMIT 1)",
            [chat_id, pending, chat_id, OutboundMessage.Status.PENDING, now],
        )
        waiting, reply = cursor.fetchone()
    return bool(waiting), reply


def _transcribe(inbound: InboundMessage) -> str | None:
    """The voice note's text, or None when it cannot be had (no key, failure)."""
    from chatbot.llm import LLMError, get_llm

    llm = get_llm()
    if llm is None:
        logger.warning("whatsapp.transcription_unavailable inbound=%s (no OPENAI_API_KEY)", inbound.pk)
        return None
    mimetype = inbound.mimetype or "audio/ogg"
    extension = {"mpeg": "mp3", "mp4": "m4a", "x-wav": "wav", "wave": "wav", "amr": "amr", "webm": "webm", "wav": "wav"}
    subtype = mimetype.split(";")[0].split("/")[-1].strip().lower()
    try:
        text = llm.transcribe(bytes(inbound.audio or b""), mimetype=mimetype, filename=f"voice-note.{extension.get(subtype, 'ogg')}")
    except LLMError as exc:
        logger.warning("whatsapp.transcription_failed inbound=%s error=%s", inbound.pk, exc)
        return None
    return (text or "").strip()[: settings.MAX_MESSAGE_CHARS] or None


def _record_error(inbound: InboundMessage, error: str) -> None:
    InboundMessage.objects.filter(pk=inbound.pk).update(last_error=error[:2000])


def _reply(
    inbound: InboundMessage, text: str, kind: str = OutboundMessage.Kind.REPLY, interactive: dict | None = None
) -> OutboundMessage:
    outbound = OutboundMessage.objects.create(
        inbound=inbound,
        kind=kind,
        channel=inbound.channel,
        chat_id=inbound.chat_id,
        number=inbound.number,
        jid=inbound.jid,
        text=text,
        interactive=interactive,
        request_id=inbound.request_id,
    )
    if not getattr(_inline_delivery, "active", False):
        transaction.on_commit(lambda: enqueue_send(outbound.pk), robust=True)
    return outbound


@functools.cache
def _answer_sql() -> str:
    inbound_table, outbound_table = InboundMessage._meta.db_table, OutboundMessage._meta.db_table
    # Table and column names come from the models, values are parameters.
    return (
        # A file's bytes go with the answer (personal data the engine has
        # handed on); its type and name stay for the admin.
        f"WITH done AS (UPDATE {inbound_table} SET status = %s, processed_at = %s, last_error = '', attachment = NULL"  # noqa: S608
        " WHERE id = %s AND status = %s RETURNING id, channel, chat_id, number, jid, request_id),"
        f" reply AS (INSERT INTO {outbound_table} (inbound_id, kind, channel, chat_id, number, jid, text, status,"
        " attempts, last_error, next_attempt_at, request_id, created_at, sent_at, provider_message_id, interactive)"
        " SELECT id, %s, channel, chat_id, number, jid, %s, %s, 0, '', NULL, request_id, %s, NULL, '', %s FROM done WHERE %s"
        " RETURNING id),"
        f" event AS (INSERT INTO {MessageEvent._meta.db_table} (kind, detail, created_at, inbound_id)"
        " SELECT %s, %s, %s, id FROM done)"
        " SELECT (SELECT id FROM done), (SELECT id FROM reply)"
    )


def _inbound_answer(inbound: InboundMessage, *, reply: str, detail: str, interactive: dict | None = None) -> bool:
    """Inside the turn's transaction: mark the message done (only if still
    pending), insert its reply (with the choices it offers, ``interactive``)
    and its "processed" event. False when it was not pending any more
    (someone else answered it): the caller rolls back. A file's bytes are
    dropped with it (its type and name stay).

    On PostgreSQL ONE statement (the status-guarded UPDATE feeding both
    INSERTs): one round trip where the ORM needs three.
    """
    now = timezone.now()
    if connection.vendor != "postgresql":
        answered = InboundMessage.objects.filter(pk=inbound.pk, status=InboundMessage.Status.PENDING).update(
            status=InboundMessage.Status.DONE, processed_at=now, last_error="", attachment=None
        )
        if not answered:
            return False
        if reply:
            _reply(inbound, reply, interactive=interactive)
        MessageEvent.objects.create(inbound=inbound, kind=MessageEvent.Kind.PROCESSED, detail=detail[:500])
        return True
    with connection.cursor() as cursor:
        cursor.execute(_answer_sql(), [
            InboundMessage.Status.DONE, now, inbound.pk, InboundMessage.Status.PENDING,
            OutboundMessage.Kind.REPLY, reply, OutboundMessage.Status.PENDING, now,
            OutboundMessage._meta.get_field("interactive").get_db_prep_save(interactive, connection), bool(reply),
            MessageEvent.Kind.PROCESSED, detail[:500], now,
        ])
        answered, outbound_id = cursor.fetchone()
    if answered is None:
        return False
    if outbound_id is not None and not getattr(_inline_delivery, "active", False):
        transaction.on_commit(lambda: enqueue_send(outbound_id), robust=True)
    return True


def _inbound_merge(merged: Sequence[InboundMessage], *, into: InboundMessage, status: str, event: str, detail: str = "") -> bool:
    """Inside the burst's transaction: close its earlier messages with
    ``status``, each pointing to ``into`` (the message whose reply answers
    them all), with an ``event`` row each. False when one of them was not
    pending any more (someone else answered it): the caller rolls back."""
    ids = [message.pk for message in merged]
    closed = InboundMessage.objects.filter(pk__in=ids, status=InboundMessage.Status.PENDING).update(
        status=status, processed_at=timezone.now(), last_error=detail[:2000], answered_with=into,
        **({"audio": None, "attachment": None} if status == InboundMessage.Status.DONE else {}),
    )
    if closed != len(ids):
        return False
    note = f"respondida junto com #{into.pk}" + (f": {detail}" if detail else "")
    MessageEvent.objects.bulk_create([MessageEvent(inbound_id=pk, kind=event, detail=note[:500]) for pk in ids])
    return True


def _finish_without_turn(
    inbound: InboundMessage, *, status: str, reply: str, kind: str, event: str, detail: str,
    merged: Sequence[InboundMessage] = (),
) -> bool:
    """Close a message with a canned reply (apology) in one transaction; False
    when someone else closed it first. ``merged``: the burst's earlier
    messages, closed with it and answered by the same reply."""
    with transaction.atomic():
        changes = {"status": status, "processed_at": timezone.now(), "last_error": detail[:2000]}
        if status == InboundMessage.Status.DONE:
            # Keep a failed one's recording or file for "reprocess".
            changes["audio"] = changes["attachment"] = None
        closed = InboundMessage.objects.filter(pk=inbound.pk, status=InboundMessage.Status.PENDING).update(**changes)
        if not closed:
            return False
        if merged and not _inbound_merge(merged, into=inbound, status=status, event=event, detail=detail):
            transaction.set_rollback(True)
            return False
        _reply(inbound, reply, kind)
        MessageEvent.objects.create(inbound=inbound, kind=event, detail=detail[:500])
    return True


def inbound_fail(*, inbound: InboundMessage, error: str, merged: Sequence[InboundMessage] = ()) -> bool:
    """Give up on a message (and the burst's earlier messages ``merged``):
    status failed, an apology to the participant (never silence), visible in
    the admin with a "reprocess" action."""
    done = _finish_without_turn(
        inbound,
        status=InboundMessage.Status.FAILED,
        reply=_("Desculpe, tive um problema para processar sua mensagem. Pode enviar de novo em instantes?"),
        kind=OutboundMessage.Kind.APOLOGY,
        event=MessageEvent.Kind.FAILED,
        detail=error,
        merged=merged,
    )
    if done:
        metrics.FAILED.inc()
        logger.error("whatsapp.failed inbound=%s message_id=%s error=%s", inbound.pk, inbound.message_id, error)
    return done


def _on_processing(channel, inbound: InboundMessage) -> None:
    """The channel's "we are on it" (read receipt, typing): never in the way of the reply."""
    try:
        channel.on_processing(inbound)
    except INFRA_ERRORS:
        raise
    except Exception:
        logger.warning("whatsapp.on_processing_failed inbound=%s", inbound.pk, exc_info=True)


def _audio_download_failed(inbound: InboundMessage, exc: ChannelError, *, backoff: float) -> tuple[Outcome, float]:
    """A voice note the channel could not hand over: retried while that may
    help, else answered with a request to write instead."""
    if exc.transient and inbound.attempts < settings.WA_PROCESS_MAX_ATTEMPTS:
        _record_error(inbound, str(exc))
        MessageEvent.objects.create(inbound=inbound, kind=MessageEvent.Kind.RETRY, detail=f"media: {exc}"[:500])
        metrics.RETRIES.labels("media").inc()
        logger.warning("whatsapp.media_retry inbound=%s error=%s", inbound.pk, exc)
        return Outcome.RETRY, backoff
    if isinstance(exc, MediaTooLarge):
        reply = _("Seu áudio é longo demais para eu ouvir. Pode escrever ou mandar um áudio mais curto?")
    else:
        reply = _("Não consegui ouvir seu áudio, pode escrever?")
    if _finish_without_turn(
        inbound,
        status=InboundMessage.Status.DONE,
        reply=reply,
        kind=OutboundMessage.Kind.REPLY,
        event=MessageEvent.Kind.TRANSCRIPTION_FAILED,
        detail=f"media download failed: {exc}",
    ):
        metrics.TRANSCRIPTION_FAILED.inc()
        logger.warning("whatsapp.media_failed inbound=%s error=%s", inbound.pk, exc)
    return Outcome.DONE, 0.0


def _file_unopened(inbound: InboundMessage, reply: str, detail: str) -> tuple[Outcome, float]:
    """A file the engine will not get: answered with ``reply`` (never
    silence), its bytes dropped, the reason in its event row."""
    if _finish_without_turn(
        inbound,
        status=InboundMessage.Status.DONE,
        reply=reply,
        kind=OutboundMessage.Kind.REPLY,
        event=MessageEvent.Kind.FAILED,
        detail=detail,
    ):
        logger.warning("whatsapp.file_unopened inbound=%s reason=%s", inbound.pk, detail)
    return Outcome.DONE, 0.0


def _attachment_download_failed(inbound: InboundMessage, exc: ChannelError, *, backoff: float) -> tuple[Outcome, float]:
    """A file the channel could not hand over: retried while that may help
    (as a voice note's), else answered with a request to send it again."""
    if exc.transient and inbound.attempts < settings.WA_PROCESS_MAX_ATTEMPTS:
        _record_error(inbound, str(exc))
        MessageEvent.objects.create(inbound=inbound, kind=MessageEvent.Kind.RETRY, detail=f"media: {exc}"[:500])
        metrics.RETRIES.labels("media").inc()
        logger.warning("whatsapp.media_retry inbound=%s error=%s", inbound.pk, exc)
        return Outcome.RETRY, backoff
    reply = attachment_too_large_reply() if isinstance(exc, MediaTooLarge) else attachment_unopened_reply()
    return _file_unopened(inbound, reply, f"file download failed: {exc}")


def _open_attachment(
    inbound: InboundMessage, *, channel, backoff: float
) -> tuple[Attachment | None, Callable[[], tuple[Outcome, float]] | None]:
    """The file of ``inbound`` as the engine takes it (downloaded first when
    the channel handed over only an id), or what answering it without a
    turn takes (a retry, or a short explanation) when it cannot be had."""
    from chatbot.engine import Attachment

    content, mimetype = inbound.attachment, inbound.attachment_mimetype
    if attachment_type(mimetype) is None:  # not worth downloading (a .docx, a video sent as a document)
        return None, functools.partial(_file_unopened, inbound, attachment_unsupported_reply(), f"file type {mimetype}")
    if content is None and inbound.media_id:
        try:
            content, mimetype = channel.download_attachment(inbound)
        except ChannelError as exc:
            return None, functools.partial(_attachment_download_failed, inbound, exc, backoff=backoff)
    if content is None:
        return None, functools.partial(_file_unopened, inbound, attachment_unopened_reply(), "the file has no bytes")
    content = bytes(content)
    try:
        mimetype = attachment_check(content, mimetype)
    except AttachmentRejected:
        return None, functools.partial(_file_unopened, inbound, attachment_too_large_reply(), "file too large")
    except InvalidValue as exc:
        reply = attachment_unsupported_reply() if attachment_type(mimetype) is None else attachment_unopened_reply()
        return None, functools.partial(_file_unopened, inbound, reply, f"file refused: {exc.message}")
    return Attachment(content=content, mimetype=mimetype, filename=inbound.attachment_name), None


class _AlreadyAnswered(Exception):
    """Raised inside the turn's transaction to roll it back: a previous
    holder of the chat's lock answered this message meanwhile."""


def _transcription_failed(inbound: InboundMessage) -> tuple[Outcome, float]:
    if _finish_without_turn(
        inbound,
        status=InboundMessage.Status.DONE,
        reply=_("Não consegui ouvir seu áudio, pode escrever?"),
        kind=OutboundMessage.Kind.REPLY,
        event=MessageEvent.Kind.TRANSCRIPTION_FAILED,
        detail="transcription unavailable or failed",
    ):
        metrics.TRANSCRIPTION_FAILED.inc()
    return Outcome.DONE, 0.0


def _hear(inbound: InboundMessage, *, channel, backoff: float) -> Callable[[], tuple[Outcome, float]] | None:
    """Give a voice note its transcript (downloading it first when the channel
    handed over only an id). None when the message has its text now; else
    what answering it without a turn takes (a retry, or a polite reply), for
    the caller to run when the messages before it are answered."""
    if not (inbound.has_audio and not inbound.text and not inbound.transcript):
        return None
    if inbound.audio is None and inbound.media_id:
        try:
            inbound.audio, inbound.mimetype = channel.download_audio(inbound)
        except ChannelError as exc:
            return functools.partial(_audio_download_failed, inbound, exc, backoff=backoff)
    transcript = _transcribe(inbound)
    if transcript is None:
        return functools.partial(_transcription_failed, inbound)
    # Keep the text, drop the recording (personal data we no longer need).
    InboundMessage.objects.filter(pk=inbound.pk).update(transcript=transcript, audio=None)
    MessageEvent.objects.create(inbound=inbound, kind=MessageEvent.Kind.TRANSCRIBED)
    inbound.transcript = transcript
    return None


def inbound_process(
    *, inbound: InboundMessage, keeper: LockKeeper, claimed: bool = False, merged: Sequence[InboundMessage] = ()
) -> tuple[Outcome, float]:
    """Answer one pending message; the caller holds the chat's lock.

    The engine turn, the inbound's status change and the reply row commit in
    one transaction; the reply is enqueued for delivery on commit. A stale
    holder (its lock expired and was taken) cannot commit: the lock check
    before commit, the engine's version check and the status-guarded
    "done" update each roll it back. ``claimed``: ``_claim_next`` already
    counted this attempt.

    A photo or PDF reaches the engine as its ``attachment`` (its caption as
    the text); one that cannot be had is retried like a voice note's
    download, or answered with a short explanation.

    ``merged``: a burst's messages before ``inbound`` (WA_DEBOUNCE_MS),
    claimed with it. The turn reads every message's text (or transcript)
    joined by newlines, in order; ``inbound``, the burst's last message,
    carries the one reply, and the others are marked done in the same
    transaction, each pointing to it (``answered_with``). A voice note that
    cannot be heard ends the burst before it: the messages before it are
    answered, those from it on stay pending (``Outcome.SPLIT``).
    """
    from chatbot.engine import StaleConversation, conversation_turn

    set_request_id(inbound.request_id or get_request_id())
    if not claimed:
        # Count the attempt before working: a message that kills its worker
        # every time must end, not block its chat forever.
        counted = InboundMessage.objects.filter(pk=inbound.pk, status=InboundMessage.Status.PENDING).update(
            attempts=F("attempts") + 1
        )
        if not counted:
            return Outcome.DONE, 0.0  # answered by a previous holder
        inbound.attempts += 1
    burst = [*merged, inbound]
    attempts = max(message.attempts for message in burst)
    if attempts > settings.WA_PROCESS_MAX_ATTEMPTS:
        inbound_fail(inbound=inbound, error=f"gave up after {attempts - 1} attempts: {inbound.last_error}", merged=merged)
        return Outcome.FAILED, 0.0

    channel = get_channel(inbound.channel)
    if inbound.attempts == 1:
        _on_processing(channel, inbound)
    backoff = backoff_seconds(attempts, base=settings.WA_RETRY_BACKOFF_S, cap=settings.WA_RETRY_BACKOFF_MAX_S)
    for index, message in enumerate(burst):
        unheard = _hear(message, channel=channel, backoff=backoff)
        if unheard is None:
            continue
        if not merged:
            return unheard()
        if index == 0:
            # The burst's first message: answered alone (a retry or a polite
            # reply), the rest left for the next burst.
            _uncount(burst[1:])
            outcome, delay = unheard()
            return (Outcome.SPLIT if outcome is not Outcome.RETRY else outcome), delay
        # Answer what came before the voice note first, to keep the order.
        _uncount(burst[index:])
        outcome, delay = inbound_process(inbound=burst[index - 1], merged=burst[: index - 1], keeper=keeper, claimed=True)
        return (Outcome.SPLIT if outcome is not Outcome.RETRY else outcome), delay
    text = "\n".join(message.content for message in burst if message.content.strip()) if merged else inbound.content
    attachment = None
    if inbound.attachment_mimetype and not merged:  # a file is never merged (debounce.plan_burst)
        attachment, unopened = _open_attachment(inbound, channel=channel, backoff=backoff)
        if unopened is not None:
            return unopened()

    try:
        with transaction.atomic():
            result = conversation_turn(
                conversation_id=inbound.chat_id, text=text, push_name=inbound.push_name, lock=False, attachment=attachment
            )
            if not keeper.held():
                raise LockLost(f"lost the lock of {inbound.chat_id} during the turn")
            if merged and not _inbound_merge(
                merged, into=inbound, status=InboundMessage.Status.DONE, event=MessageEvent.Kind.PROCESSED
            ):
                raise _AlreadyAnswered
            if not _inbound_answer(inbound, reply=result.message, detail=f"step={result.step} turns={result.turns}",
                                   interactive=result.interactive):
                raise _AlreadyAnswered
            for text in result.standalone:
                # A Pix "copia e cola" alone in a message of its own, after the reply.
                message_push(chat_id=inbound.chat_id, text=text, kind=OutboundMessage.Kind.NOTICE)
    except _AlreadyAnswered:
        return Outcome.DONE, 0.0  # answered by a previous holder; our turn was rolled back
    except (StaleConversation, LockLost) as exc:
        # Another holder moved the conversation on: nothing of ours was
        # written. Retry from the new state.
        _record_error(inbound, str(exc))
        MessageEvent.objects.create(inbound=inbound, kind=MessageEvent.Kind.RETRY, detail=str(exc)[:500])
        metrics.RETRIES.labels("process").inc()
        logger.warning("whatsapp.retry inbound=%s reason=%s", inbound.pk, exc)
        return Outcome.RETRY, backoff
    except INFRA_ERRORS:
        raise  # the task retries; the message is intact
    except Exception as exc:
        logger.exception("whatsapp.process_error inbound=%s attempt=%s", inbound.pk, attempts)
        error = f"{exc.__class__.__name__}: {exc}"
        if attempts >= settings.WA_PROCESS_MAX_ATTEMPTS:
            inbound_fail(inbound=inbound, error=error, merged=merged)
            return Outcome.FAILED, 0.0
        _record_error(inbound, error)
        MessageEvent.objects.create(inbound=inbound, kind=MessageEvent.Kind.RETRY, detail=error[:500])
        metrics.RETRIES.labels("process").inc()
        return Outcome.RETRY, backoff
    metrics.PROCESSED.inc(len(burst))
    # No chat id (a phone number) in the per-message lines: the masking
    # filter would parse it on every message; the ids lead to it in the admin.
    if merged:
        metrics.MERGED.inc(len(merged))
        logger.info(
            "whatsapp.processed inbound=%s message_id=%s step=%s turns=%s together_with=%s",
            inbound.pk, inbound.message_id, result.step, result.turns, ",".join(str(m.pk) for m in merged),
        )
    else:
        logger.info(
            "whatsapp.processed inbound=%s message_id=%s step=%s turns=%s",
            inbound.pk, inbound.message_id, result.step, result.turns,
        )
    return Outcome.DONE, 0.0


# --- send ---------------------------------------------------------------------------


def _outbox_lock_name(chat_id: str) -> str:
    return f"outbox:{chat_id}"


def _pending_replies(chat_id: str):
    return OutboundMessage.objects.filter(chat_id=chat_id, status=OutboundMessage.Status.PENDING).order_by("id")


def _next_pending_reply(chat_id: str) -> OutboundMessage | None:
    return _pending_replies(chat_id).first()


@functools.cache
def _pending_replies_sql() -> str:
    # Table and column names come from the model, values are parameters.
    return (
        f"SELECT {sql.columns(OutboundMessage)} FROM {OutboundMessage._meta.db_table}"  # noqa: S608
        " WHERE chat_id = %s AND status = %s ORDER BY id LIMIT %s"
    )


def _pending_reply_batch(chat_id: str) -> list[OutboundMessage]:
    """The chat's pending replies, oldest first, at most WA_DRAIN_BATCH.

    On PostgreSQL a prepared-once raw SELECT (the ORM compiles the same
    query on every reply sent, a tenth of the flush's CPU); elsewhere the ORM.
    """
    if connection.vendor != "postgresql":
        return list(_pending_replies(chat_id)[: settings.WA_DRAIN_BATCH])
    with connection.cursor() as cursor:
        cursor.execute(_pending_replies_sql(), [chat_id, OutboundMessage.Status.PENDING, settings.WA_DRAIN_BATCH])
        return [sql.from_row(OutboundMessage, row) for row in cursor.fetchall()]


def outbox_deliver(*, outbound_id: int) -> None:
    """Deliver the pending replies of ``outbound_id``'s chat, in order.

    Replies of one chat go out one at a time under the chat's outbox lock, so
    they arrive in the order the messages were answered; a reply waiting for
    a retry holds back the ones after it. Raises ``RetryLater`` with the
    backoff of the reply at the head.
    """
    chat_id = OutboundMessage.objects.filter(pk=outbound_id).values_list("chat_id", flat=True).first()
    if chat_id is None:
        return
    _chat_outbox_deliver(chat_id)


def outbox_flush(*, chat_id: str, recheck: bool = True) -> None:
    """Send ``chat_id``'s pending replies now, from the task that answered
    them. Never raises: whatever cannot go out now is handed to
    ``send_outbound`` (with its backoff), or failing that to the sweeper.
    ``recheck=False``: the caller re-checks for replies that arrived while
    this held the outbox lock (the drain does, with its own re-check)."""
    try:
        _chat_outbox_deliver(chat_id, recheck=recheck)
    except RetryLater as exc:
        head = _next_pending_reply(chat_id)
        if head is not None:
            enqueue_send(head.pk, countdown=exc.countdown)
    except INFRA_ERRORS as exc:
        logger.warning("whatsapp.flush_infra_error chat=%s error=%s (the sweeper will send)", chat_id, exc)


def _chat_outbox_deliver(chat_id: str, *, recheck: bool = True) -> None:
    lock = try_conversation_lock(_outbox_lock_name(chat_id))
    if lock is None:
        return  # the holder sends it and re-checks after releasing
    retry_in: float | None = None
    try:
        # The chat's pending replies in one read (usually one or two), oldest
        # first; only this lock's holder sends them, so the list stays true.
        batch = _pending_reply_batch(chat_id)
        for position, outbound in enumerate(batch):
            wait = (outbound.next_attempt_at - timezone.now()).total_seconds() if outbound.next_attempt_at else 0
            if wait > 0:
                retry_in = wait
                break
            if position:
                lock.extend()  # a fresh lock needs no renewal for its first send
            retry_in = outbound_send(outbound=outbound)
            if retry_in is not None:
                break
        else:
            if len(batch) == settings.WA_DRAIN_BATCH:
                retry_in = 0.0
    finally:
        release_lock(lock)
    if retry_in is not None:
        raise RetryLater(retry_in)
    if recheck and _next_pending_reply(chat_id) is not None:
        raise RetryLater(0.0, "new replies arrived while sending")


def outbound_send(*, outbound: OutboundMessage) -> float | None:
    """Deliver one reply through its channel; mark it sent, logged, held or
    failed. Returns the backoff in seconds when it must be retried, else None."""
    set_request_id(outbound.request_id or get_request_id())
    pending = OutboundMessage.objects.filter(pk=outbound.pk, status=OutboundMessage.Status.PENDING)
    now = timezone.now()
    channel = get_channel(outbound.channel)
    if not channel.configured():
        # Channel off: the reply is only logged (embedded default, CLI tests).
        if _outbound_mark(outbound, status=OutboundMessage.Status.LOGGED, event=MessageEvent.Kind.LOGGED, now=now):
            metrics.SENT.labels("logged").inc()
            logger.info("whatsapp.reply_logged outbound=%s chat=%s text=%r", outbound.pk, outbound.chat_id, outbound.text[:500])
        return None
    try:
        delivery = channel.send(outbound)
    except ReplyHeld as exc:
        with transaction.atomic():
            if pending.update(status=OutboundMessage.Status.HELD, attempts=F("attempts") + 1, last_error=exc.message[:2000]):
                MessageEvent.objects.create(outbound=outbound, kind=MessageEvent.Kind.HELD, detail=exc.message[:500])
                metrics.HELD.inc()
                logger.warning("whatsapp.reply_held outbound=%s channel=%s reason=%s", outbound.pk, outbound.channel, exc)
        return None
    except ChannelError as exc:
        attempts = outbound.attempts + 1
        if exc.transient and attempts < settings.WA_SEND_MAX_ATTEMPTS:
            delay = backoff_seconds(attempts, base=settings.WA_RETRY_BACKOFF_S, cap=settings.WA_RETRY_BACKOFF_MAX_S)
            pending.update(attempts=attempts, last_error=str(exc)[:2000], next_attempt_at=now + dt.timedelta(seconds=delay))
            MessageEvent.objects.create(outbound=outbound, kind=MessageEvent.Kind.SEND_RETRY, detail=str(exc)[:500])
            metrics.RETRIES.labels("send").inc()
            logger.warning("whatsapp.send_retry outbound=%s attempt=%s in=%.1fs error=%s", outbound.pk, attempts, delay, exc)
            return delay
        if pending.update(status=OutboundMessage.Status.FAILED, attempts=attempts, last_error=str(exc)[:2000]):
            MessageEvent.objects.create(outbound=outbound, kind=MessageEvent.Kind.SEND_FAILED, detail=str(exc)[:500])
            metrics.SEND_FAILED.inc()
            logger.error("whatsapp.send_failed outbound=%s attempts=%s error=%s", outbound.pk, attempts, exc)
        return None
    if _outbound_mark(
        outbound, status=OutboundMessage.Status.SENT, event=MessageEvent.Kind.SENT, now=now,
        provider_message_id=delivery.provider_message_id, detail=delivery.detail,
    ):
        metrics.SENT.labels(outbound.channel).inc()
        logger.info("whatsapp.sent outbound=%s inbound=%s channel=%s", outbound.pk, outbound.inbound_id, outbound.channel)
        if outbound.channel == Channel.CLOUD and delivery.provider_message_id:
            _early_statuses_apply(delivery.provider_message_id)
    return None


def _outbound_mark(
    outbound: OutboundMessage, *, status: str, event: str, now: dt.datetime, provider_message_id: str = "", detail: str = ""
) -> bool:
    """Move a pending reply to ``status`` and record ``event``, in one commit;
    False when it was not pending any more (someone else finished it).

    On PostgreSQL one statement (the UPDATE feeding the event's INSERT): one
    round trip where the ORM needs four, on every reply sent.
    """
    if connection.vendor != "postgresql":
        with transaction.atomic():
            marked = OutboundMessage.objects.filter(pk=outbound.pk, status=OutboundMessage.Status.PENDING).update(
                status=status, sent_at=now, attempts=F("attempts") + 1, last_error="", provider_message_id=provider_message_id
            )
            if marked:
                MessageEvent.objects.create(outbound=outbound, kind=event, detail=detail[:500])
        return bool(marked)
    with connection.cursor() as cursor:
        cursor.execute(
            f"WITH marked AS (UPDATE {OutboundMessage._meta.db_table} SET status = %s, sent_at = %s,"  # noqa: S608
            " attempts = attempts + 1, last_error = '', provider_message_id = %s WHERE id = %s AND status = %s RETURNING id)"
            f" INSERT INTO {MessageEvent._meta.db_table} (kind, detail, created_at, outbound_id)"
            " SELECT %s, %s, %s, id FROM marked RETURNING outbound_id",
            [status, now, provider_message_id[:128], outbound.pk, OutboundMessage.Status.PENDING, event, detail[:500], now],
        )
        return cursor.fetchone() is not None


# --- sweep -----------------------------------------------------------------------------


def _sweep_claim(name: str) -> bool:
    """At most one sweep re-enqueue per chat per 4 x WA_SWEEP_AGE_S: under a
    backlog, a chat's queued drain may wait longer than the sweep age, and
    re-enqueuing it on every sweep would only lengthen the queue."""
    client = get_redis()
    if client is None:
        return True
    try:
        return bool(client.set(f"congress:swept:{name}", 1, nx=True, px=int(settings.WA_SWEEP_AGE_S * 4000)))
    except redis.RedisError:
        return True


def pipeline_sweep() -> dict[str, int]:
    """Re-enqueue chats with pending messages and replies stuck pending for
    longer than WA_SWEEP_AGE_S. PostgreSQL is the source of truth: whatever a
    lost broker message, a killed worker or a lost countdown left behind is
    found here. Chats whose lock is held are being worked on and skipped."""
    cutoff = timezone.now() - dt.timedelta(seconds=settings.WA_SWEEP_AGE_S)
    limit = settings.WA_SWEEP_LIMIT
    chats = list(
        InboundMessage.objects.filter(status=InboundMessage.Status.PENDING, created_at__lte=cutoff)
        .values_list("chat_id", flat=True)
        .distinct()[:limit]
    )
    drained = sum(
        1 for chat_id in chats if not lock_is_held(chat_id) and _sweep_claim(chat_id) and enqueue_drain(chat_id)
    )
    stuck = (
        OutboundMessage.objects.filter(status=OutboundMessage.Status.PENDING)
        .filter(Q(next_attempt_at__isnull=True, created_at__lte=cutoff) | Q(next_attempt_at__lte=cutoff))
        .values("chat_id")
        .annotate(first=Min("id"))[:limit]
    )
    sent = 0
    for row in stuck:
        name = _outbox_lock_name(row["chat_id"])
        if not lock_is_held(name) and _sweep_claim(name) and enqueue_send(row["first"]):
            sent += 1
    if drained or sent:
        metrics.SWEPT.labels("chats").inc(drained)
        metrics.SWEPT.labels("replies").inc(sent)
        logger.info("whatsapp.swept chats=%s replies=%s", drained, sent)
    return {"chats": drained, "replies": sent}


# --- admin actions ------------------------------------------------------------------------


def _requeue(rows, *, statuses: list[str], event_kind: str, actor: str, reset: dict, enqueue: Callable[[object], bool]) -> int:
    count = 0
    for row in rows:
        with transaction.atomic():
            if type(row).objects.filter(pk=row.pk, status__in=statuses).update(status="pending", **reset):
                field = "inbound" if isinstance(row, InboundMessage) else "outbound"
                MessageEvent.objects.create(**{field: row}, kind=event_kind, detail=actor[:500])
                transaction.on_commit(lambda row=row: enqueue(row), robust=True)
                count += 1
    return count


def inbound_reprocess(*, inbound_ids: list[int], actor: str) -> int:
    """Put failed messages back in the queue (admin "reprocess"), with the
    messages of their burst that failed with them (answered together again,
    or not, as the window decides)."""
    return _requeue(
        InboundMessage.objects.filter(Q(pk__in=inbound_ids) | Q(answered_with__in=inbound_ids)).order_by("id"),
        statuses=[InboundMessage.Status.FAILED],
        event_kind=MessageEvent.Kind.REPROCESS,
        actor=actor,
        reset={"attempts": 0, "processed_at": None, "answered_with": None},
        enqueue=lambda row: enqueue_drain(row.chat_id),
    )


def outbound_retry(*, outbound_ids: list[int], actor: str) -> int:
    """Send failed and held replies again, and pending ones now, skipping
    their backoff (admin "retry"; on the embedded default nothing else
    retries them). A held reply goes out as the active template, or is held
    again when there is still none and the window is still closed."""
    return _requeue(
        OutboundMessage.objects.filter(pk__in=outbound_ids),
        statuses=[OutboundMessage.Status.FAILED, OutboundMessage.Status.PENDING, OutboundMessage.Status.HELD],
        event_kind=MessageEvent.Kind.RESEND,
        actor=actor,
        reset={"attempts": 0, "next_attempt_at": None},
        enqueue=lambda row: enqueue_send(row.pk),
    )


# --- channels: held replies, delivery statuses ------------------------------------------------


def outbound_release_held(*, chat_id: str, enqueue: bool = True) -> int:
    """Put ``chat_id``'s held replies back in its outbox (the 24-hour window
    re-opened: they may go out as text now), oldest first as ever. With
    ``enqueue`` the first is handed to ``send_outbound``; the drain sends them
    itself. The number released."""
    held_rows = OutboundMessage.objects.filter(chat_id=chat_id, status=OutboundMessage.Status.HELD)
    if not held_rows.exists():
        return 0
    with transaction.atomic():
        held = list(held_rows.select_for_update().order_by("id").values_list("pk", flat=True))
        if not held:
            return 0
        OutboundMessage.objects.filter(pk__in=held).update(status=OutboundMessage.Status.PENDING, next_attempt_at=None)
        MessageEvent.objects.bulk_create(
            [MessageEvent(outbound_id=pk, kind=MessageEvent.Kind.RELEASED, detail="janela de 24 h reaberta") for pk in held]
        )
        if enqueue:
            transaction.on_commit(lambda: enqueue_send(held[0]), robust=True)
    logger.info("whatsapp.held_released first_outbound=%s count=%s", held[0], len(held))
    return len(held)


# Meta's delivery statuses, each allowed only from the statuses before it:
# they arrive out of order and a late "sent" or "delivered" must never move
# a reply back. "failed" (undeliverable) only follows "sent".
_STATUS_FROM: dict[str, tuple[str, ...]] = {
    "delivered": (OutboundMessage.Status.SENT,),
    "read": (OutboundMessage.Status.SENT, OutboundMessage.Status.DELIVERED),
    "failed": (OutboundMessage.Status.SENT,),
}
_STATUS_EVENT = {
    "delivered": MessageEvent.Kind.DELIVERED,
    "read": MessageEvent.Kind.READ,
    "failed": MessageEvent.Kind.STATUS_FAILED,
}


def _status_error(errors: list) -> str:
    """``131026 Message undeliverable: <details>`` from a status's ``errors``."""
    parts = []
    for error in errors[:3]:
        if not isinstance(error, dict):
            continue
        details = (error.get("error_data") or {}).get("details") if isinstance(error.get("error_data"), dict) else ""
        title = error.get("title") or error.get("message") or ""
        parts.append(" ".join(str(p) for p in (error.get("code"), title) if p) + (f": {details}" if details else ""))
    return "; ".join(parts) or "failed (no error given)"


# A status may arrive before its reply's wamid is stored: Meta answers the
# send with the wamid and may post "sent"/"failed" before ``_outbound_mark``
# commits it. Such statuses are kept this long and applied right after the
# reply is marked sent (``_early_statuses_apply``); statuses of messages
# that are not ours (sent from the Business app) simply expire.
EARLY_STATUS_TTL_S = 600
# The order kept statuses are applied in (each is still forward-only).
_STATUS_ORDER = {"delivered": 1, "read": 2, "failed": 3}


def _early_status_key(provider_message_id: str) -> str:
    return f"congress:cloud:early_status:{provider_message_id}"


def _early_status_keep(provider_message_id: str, status: str, errors: list) -> None:
    """Keep a status of an unknown wamid for EARLY_STATUS_TTL_S: a Redis hash
    (status -> errors as JSON), or Django's cache without Redis. Best effort."""
    key, encoded = _early_status_key(provider_message_id), json.dumps(errors[:3], default=str)
    client = redis_usable()
    if client is not None:
        try:
            pipe = client.pipeline(transaction=False)
            pipe.hset(key, status, encoded)
            pipe.expire(key, EARLY_STATUS_TTL_S)
            pipe.execute()
            return
        except redis.RedisError:
            mark_redis_down()
    kept = cache.get(key) or {}
    kept[status] = encoded
    cache.set(key, kept, timeout=EARLY_STATUS_TTL_S)


def _early_statuses_take(provider_message_id: str) -> dict[str, str]:
    """The statuses kept for ``provider_message_id``, removed as they are read
    (one round trip: HGETALL and DEL in one MULTI)."""
    key = _early_status_key(provider_message_id)
    client = redis_usable()
    if client is not None:
        try:
            pipe = client.pipeline(transaction=True)
            pipe.hgetall(key)
            pipe.delete(key)
            kept, _deleted = pipe.execute()
            return {k.decode(): v.decode() for k, v in kept.items()}
        except redis.RedisError:
            mark_redis_down()
    kept = cache.get(key)
    if kept:
        cache.delete(key)
    return kept or {}


def _early_statuses_apply(provider_message_id: str) -> None:
    """Apply the statuses that arrived before the reply was marked sent, in
    their forward order (forward-only as ever). Never raises: the reply is
    already sent, and a status is not worth failing its delivery task."""
    try:
        kept = _early_statuses_take(provider_message_id)
        for status in sorted(kept, key=lambda name: _STATUS_ORDER.get(name, 0)):
            try:
                errors = json.loads(kept[status])
            except ValueError:
                errors = []
            outbound_status_record(provider_message_id=provider_message_id, status=status,
                                   errors=errors if isinstance(errors, list) else [], early=True)
    except INFRA_ERRORS as exc:
        logger.warning("whatsapp.early_status_lost provider_id=%s error=%s", provider_message_id, exc)


def outbound_status_record(*, provider_message_id: str, status: str, errors: list | None = None, early: bool = False) -> str:
    """Move the reply WhatsApp knows as ``provider_message_id`` to ``status``
    (``delivered``, ``read``, ``failed``), forward only, with an event row.

    Returns ``"applied"``, ``"stale"`` (the reply is already further on),
    ``"kept"`` (no reply of ours has that id yet: the status is kept for
    EARLY_STATUS_TTL_S and applied once its reply is marked sent) or
    ``"ignored"`` (a status we do not track, e.g. ``sent``: we mark that
    ourselves when the API takes the message). ``early``: applying a kept
    status (never kept again)."""
    allowed = _STATUS_FROM.get(status)
    if allowed is None:
        result = "ignored"
    else:
        row = OutboundMessage.objects.filter(provider_message_id=provider_message_id).values_list("pk", flat=True).first()
        if row is None and not early:
            _early_status_keep(provider_message_id, status, errors or [])
            # Look once more: the reply may have been marked sent (and its
            # kept statuses taken) between the first look and the keep.
            row = OutboundMessage.objects.filter(provider_message_id=provider_message_id).values_list("pk", flat=True).first()
        if row is None:
            result = "kept" if not early else "unknown"
            logger.info("whatsapp.status_unknown provider_id=%s status=%s (kept %ss)", provider_message_id, status,
                        EARLY_STATUS_TTL_S)
        else:
            changes: dict[str, object] = {"status": status}
            detail = ""
            if status == "failed":
                detail = _status_error(errors or [])
                changes["last_error"] = detail[:2000]
            with transaction.atomic():
                moved = OutboundMessage.objects.filter(pk=row, status__in=allowed).update(**changes)
                if moved:
                    MessageEvent.objects.create(outbound_id=row, kind=_STATUS_EVENT[status], detail=detail[:500])
            result = "applied" if moved else "stale"
            if moved and status == "failed":
                metrics.SEND_FAILED.inc()
                logger.error("whatsapp.delivery_failed outbound=%s error=%s", row, detail)
    metrics.CLOUD_STATUSES.labels(status if status in ("sent", *_STATUS_FROM) else "other", result).inc()
    return result


def chat_channel(chat_id: str) -> str:
    """The channel a message to ``chat_id`` should leave through: the one its
    participant last wrote on (for replies that answer no inbound message,
    e.g. a person's reply from the inbox)."""
    channel = (
        InboundMessage.objects.filter(chat_id=chat_id).order_by("-id").values_list("channel", flat=True).first()
    )
    return channel or Channel.GATEWAY


def message_push(*, chat_id: str, text: str, kind: str) -> OutboundMessage | None:
    """A message to ``chat_id`` that answers no inbound message: a person's
    reply from the inbox, an organizer's answer to a question, a notice.

    It leaves through the channel the participant last wrote on, with the
    outbox's guarantees: after the chat's earlier replies, retried, held
    outside the Cloud API's 24-hour window when no template is active. Call
    inside the caller's transaction; it is enqueued on commit. None when the
    conversation has no WhatsApp address (a /chat user id that is not a
    phone number and never wrote on WhatsApp, or no channel is switched on).
    """
    last = (
        InboundMessage.objects.filter(chat_id=chat_id).order_by("-id").values_list("channel", "number", "jid").first()
    )
    if last is not None:
        channel, number, jid = last
    else:
        # Never wrote on a queued WhatsApp path (/chat, the original
        # gateway's synchronous shape): only a valid Brazilian mobile number,
        # and only through a channel that is switched on.
        from registrations.validators import normalize_phone

        channel = next((name for name in (Channel.GATEWAY, Channel.CLOUD) if get_channel(name).configured()), None)
        if channel is None or not re.fullmatch(r"\+?\d{10,15}", chat_id.strip()):
            return None
        try:
            number = normalize_phone(chat_id).lstrip("+")
        except InvalidValue:
            return None
        jid = ""
    outbound = OutboundMessage.objects.create(
        inbound=None, kind=kind, channel=channel, chat_id=chat_id, number=number, jid=jid, text=text,
        request_id=get_request_id() or new_request_id(),
    )
    transaction.on_commit(lambda: enqueue_send(outbound.pk), robust=True)
    return outbound
