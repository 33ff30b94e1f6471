"""The neonize WhatsApp gateway: its message handler and its ``/send-text``.

``python manage.py whatsapp_gateway`` wires these to a neonize client. The
handler turns a ``MessageEv`` into a ``message_accept`` call; ``/send-text``
is the original Node gateway's endpoint (same JSON, same API key), so the
pipeline's outbound delivery reaches WhatsApp through this process, the only
one that holds the connected client.

neonize dispatches events one at a time and a slow handler delays every other
event, so the handler only parses and hands the work (voice-note and file
download, the database insert) to a small pool: one single-thread executor per hash
bucket of chats, which keeps each chat's messages in arrival order.

A message the business itself sends from its phone (or another linked
device) arrives as "from me": in a one-to-one chat it is a person talking
to that contact, so ``inbox.services.phone_reply`` opens a handoff and the
bot stays silent (``parse_phone_message``, ``GatewayHandler.handle_phone``).

``GatewayConnection`` owns the connection: the first-connect loop (whatsmeow
reconnects by itself only after a first success) with a bounded wait per
attempt and backoff, and the events that stop the channel (logged out,
temporary ban, client outdated, session replaced), which open a
``ChannelAlert`` (whatsapp/alerts.py) and make ``/send-text`` answer 503
until the channel can send again.
"""

from __future__ import annotations

import datetime as dt
import hmac
import json
import logging
import math
import mimetypes
import mmap
import random
import re
import socket
import threading
import time
import zlib
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import DatabaseError, close_old_connections, connection
from django.utils import timezone
from django.utils.translation import gettext as _

from congress.errors import CongressError, InvalidValue
from congress.request_id import clean_request_id, new_request_id, set_request_id
from whatsapp import metrics
from whatsapp.models import Channel, ChannelAlert

logger = logging.getLogger(__name__)

PHONE_SERVER = "s.whatsapp.net"
LID_SERVER = "lid"
IGNORED_SERVERS = frozenset({"broadcast", "newsletter"})


def jid_string(jid: Any) -> str:
    """``user@server`` without the device part (the form replies are sent to)."""
    if jid is None or not jid.User:
        return ""
    return f"{jid.User}@{jid.Server}"


def mask_jid(value: str) -> str:
    """``"123456789012345@lid"`` -> ``"***********2345@lid"``: enough to tell
    two senders apart in a log, not enough to contact one."""
    user, at, server = value.partition("@")
    return "*" * max(len(user) - 4, 0) + user[-4:] + at + server


# --- versions ----------------------------------------------------------------------

_BUILDINFO_MAGIC = b"\xff Go buildinf:"
_PSEUDO_VERSION = re.compile(r"^v\d+\.\d+\.\d+-(?:[\w.]+\.)?(\d{14})-([0-9a-f]{12})$")


def _uvarint(data: Any, position: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = data[position]
        position += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, position
        shift += 7
        if shift > 63:
            raise ValueError("varint too long")


def go_build_info(path: Path) -> tuple[str, dict[str, str]]:
    """The Go version and the module versions a Go binary was built with: the
    build info Go embeds in every binary and shared library (what
    ``go version -m`` prints). ``("", {})`` when there is none in the layout
    of Go >= 1.18 (a 32-byte header, then two length-prefixed strings)."""
    with path.open("rb") as file, mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ) as data:
        start = data.find(_BUILDINFO_MAGIC)
        if start < 0 or not data[start + 15] & 0x2:
            return "", {}
        position = start + 32
        strings = []
        for _n in range(2):
            length, position = _uvarint(data, position)
            strings.append(bytes(data[position : position + length]).decode("utf-8", "replace"))
            position += length
    go_version, modinfo = strings
    modules: dict[str, str] = {}
    module = ""
    for line in modinfo.split("\n"):
        fields = line.split("\t")
        if fields[0] == "dep" and len(fields) >= 3:
            module = fields[1]
            modules[module] = fields[2]
        elif fields[0] == "=>" and module and len(fields) >= 3:
            modules[module] = f"{fields[2] or '(local)'} (replaced by {fields[1]})"
    return go_version, modules


def neonize_versions() -> dict[str, str]:
    """neonize's version, and the whatsmeow and Go versions its compiled
    library was built with (read from the library's Go build info; "unknown"
    when that cannot be read, never guessed)."""
    import neonize
    from neonize.utils.platform import generated_name

    versions = {"neonize": getattr(neonize, "__version__", "unknown"), "whatsmeow": "unknown", "go": "unknown"}
    library = Path(neonize.__file__).parent / generated_name()
    try:
        go_version, modules = go_build_info(library)
    except (OSError, ValueError, IndexError) as exc:
        logger.warning("whatsapp.gateway_build_info_unreadable library=%s error=%s", library, exc)
        return versions
    whatsmeow = modules.get("go.mau.fi/whatsmeow", "")
    if whatsmeow:
        found = _PSEUDO_VERSION.match(whatsmeow)
        if found:  # v0.0.0-20260921121126-35ae40906e74: a commit, not a release
            stamp, commit = found.groups()
            whatsmeow += f" (commit {commit} of {stamp[:4]}-{stamp[4:6]}-{stamp[6:8]})"
        versions["whatsmeow"] = whatsmeow
    versions["go"] = go_version or "unknown"
    return versions


@dataclass(frozen=True)
class IncomingMessage:
    """What the gateway hands to ``message_accept`` for one WhatsApp message."""

    message_id: str
    number: str  # the sender's phone number, when WhatsApp gives one
    jid: str  # where the reply goes: the chat (a person, an @lid, or a group), exactly as received
    text: str
    push_name: str
    timestamp: int | None
    is_audio: bool = False
    audio_mimetype: str = ""
    audio_length: int = 0
    sender_alt: str = ""  # the sender's other id: the phone JID of an @lid sender, or the reverse
    # A photo or document (a Pix receipt, a category proof): "image" or
    # "document"; ``text`` is then its caption.
    file_kind: str = ""
    file_mimetype: str = ""
    file_name: str = ""
    file_length: int = 0

    @property
    def chat_key(self) -> str:
        return self.number or self.jid


def file_part(message: Any) -> tuple[str, Any, Any] | None:
    """``(kind, media, container)`` of a photo or document WhatsApp lets us
    download: ``media`` is the ``ImageMessage``/``DocumentMessage``,
    ``container`` the ``Message`` to hand to ``download_any`` (a document
    with a caption may come wrapped in ``documentWithCaptionMessage``).
    None for anything else, and for media without a key and a path (nothing
    to download: such a message is read by its caption alone)."""
    for container in (message, message.documentWithCaptionMessage.message):
        for field, kind in (("imageMessage", "image"), ("documentMessage", "document")):
            if container.HasField(field):
                media = getattr(container, field)
                if media.mediaKey and (media.directPath or media.URL):
                    return kind, media, container
                return None
    return None


def _answerable_source(source: Any, *, accept_groups: bool) -> bool:
    """Not our own message, not a status broadcast or newsletter, not a group
    (unless ``accept_groups``)."""
    if source.IsFromMe:
        return False
    chat = source.Chat
    if chat.Server in IGNORED_SERVERS or chat.User == "status":
        return False
    return accept_groups or not source.IsGroup


def parse_message_event(ev: Any, *, accept_groups: bool = False) -> IncomingMessage | None:
    """Read a neonize ``MessageEv``; None for what the bot must not answer:
    our own messages, status broadcasts, newsletters, groups (unless
    ``accept_groups``) and messages with neither text, audio nor a photo or
    document to download."""
    info = ev.Info
    source = info.MessageSource
    if not _answerable_source(source, accept_groups=accept_groups):
        return None
    chat = source.Chat
    sender = source.Sender
    sender_alt = jid_string(source.SenderAlt) if source.HasField("SenderAlt") else ""
    number = ""
    if sender.Server == PHONE_SERVER:
        number = sender.User
    elif source.HasField("SenderAlt") and source.SenderAlt.Server == PHONE_SERVER:
        # An @lid sender (WhatsApp's privacy id): SenderAlt has the phone form.
        number = source.SenderAlt.User
    from neonize.utils import extract_text

    message = ev.Message
    text = extract_text(message) or ""
    file = file_part(message)
    if file is not None and not text:
        text = file[1].caption  # a document wrapped with its caption
    is_audio = not text and file is None and message.HasField("audioMessage")
    if not text.strip() and not is_audio and file is None:
        return None
    audio = message.audioMessage
    file_fields = {}
    if file is not None:
        kind, media, _container = file
        guessed = mimetypes.guess_type(media.fileName)[0] if kind == "document" and media.fileName else None
        file_fields = {
            "file_kind": kind,
            "file_mimetype": media.mimetype or guessed or ("image/jpeg" if kind == "image" else ""),
            "file_name": media.fileName if kind == "document" else "",
            "file_length": int(media.fileLength),
        }
    timestamp = int(info.Timestamp) if info.Timestamp else None
    return IncomingMessage(
        message_id=info.ID,
        number=number,
        # The chat id exactly as WhatsApp gave it (an @lid stays an @lid):
        # sending to the phone form can fail silently for contacts migrated
        # to LIDs, so replies go where the message came from.
        jid=jid_string(chat) or jid_string(sender),
        text=text,
        push_name=info.Pushname,
        timestamp=timestamp,
        is_audio=is_audio,
        audio_mimetype=audio.mimetype if is_audio else "",
        audio_length=int(audio.fileLength) if is_audio else 0,
        sender_alt=sender_alt,
        **file_fields,
    )


# Fields that wrap a message rather than carry it.
_ENVELOPE_FIELDS = frozenset({"messageContextInfo", "senderKeyDistributionMessage"})


def is_empty_lid_message(ev: Any, *, accept_groups: bool = False) -> bool:
    """A message from an ``@lid`` sender that arrived with nothing in it: a
    known neonize bug (krypton-byte/neonize#217, open in 0.5.2), where the
    content could not be decrypted or parsed. The bot cannot know what was
    said, so it must not answer; the gateway logs and counts it."""
    source = ev.Info.MessageSource
    if not _answerable_source(source, accept_groups=accept_groups):
        return False
    if LID_SERVER not in (source.Sender.Server, source.Chat.Server):
        return False
    for field, value in ev.Message.ListFields():
        if field.name in _ENVELOPE_FIELDS or (field.name == "conversation" and not value.strip()):
            continue
        return False
    return True


# --- messages the business sent from its own phone ----------------------------------


@dataclass(frozen=True)
class PhoneMessage:
    """A message the business sent to a contact from its phone or another
    linked device (not from this gateway): a person is answering."""

    message_id: str
    number: str  # the contact's phone number, when WhatsApp gives it
    jid: str  # the chat (the contact), exactly as received
    alt_jid: str  # the chat's other id (RecipientAlt): the phone JID of an @lid chat, or the reverse
    text: str
    timestamp: int | None

    @property
    def chat_key(self) -> str:
        return self.number or self.jid


# Media sent without a caption, recorded in the transcript as a placeholder.
_PHONE_MEDIA = (
    ("imageMessage", "image"),
    ("videoMessage", "video"),
    ("audioMessage", "audio"),
    ("documentMessage", "document"),
    ("stickerMessage", "sticker"),
)


def parse_phone_message(ev: Any) -> PhoneMessage | None:
    """Read a neonize ``MessageEv`` sent by the business itself ("from me")
    to one contact; None for anything else: other people's messages, groups,
    status broadcasts, newsletters, the business's chat with itself, and
    messages with no text or media (reactions, edits, protocol messages).

    The chat's number is read as ``parse_message_event`` reads a sender's:
    the chat itself when it is a phone JID, else its alternate id
    (whatsmeow's ``RecipientAlt``, the phone JID of an ``@lid`` chat)."""
    info = ev.Info
    source = info.MessageSource
    if not source.IsFromMe or source.IsGroup:
        return None
    chat, sender = source.Chat, source.Sender
    if chat.Server not in (PHONE_SERVER, LID_SERVER) or not chat.User or chat.User == "status":
        return None
    own = {sender.User, source.SenderAlt.User if source.HasField("SenderAlt") else ""}
    if chat.User in own:  # "message yourself": notes, not a conversation
        return None
    alt = source.RecipientAlt if source.HasField("RecipientAlt") else None
    number = ""
    if chat.Server == PHONE_SERVER:
        number = chat.User
    elif alt is not None and alt.Server == PHONE_SERVER and alt.User:
        number = alt.User
    from neonize.utils import extract_text

    from whatsapp.channels.cloud import placeholder_text

    message = ev.Message
    text = (extract_text(message) or "").strip()
    kind = next((kind for field, kind in _PHONE_MEDIA if message.HasField(field)), "")
    if kind:
        text = placeholder_text(kind, caption=text)
    if not text:
        return None
    return PhoneMessage(
        message_id=info.ID,
        number=number,
        jid=jid_string(chat),
        alt_jid=jid_string(alt) if alt is not None else "",
        text=text,
        timestamp=int(info.Timestamp) if info.Timestamp else None,
    )


def phone_chat_id(message: PhoneMessage) -> str:
    """The conversation a message from the business phone belongs to: the
    same string the inbound path uses as ``chat_id`` for that contact
    (``number or jid``). A contact whose messages arrived from an ``@lid``
    without a phone number is keyed by that ``@lid``; the conversation that
    exists wins, the phone number first."""
    from chatbot.models import ConversationState

    lids = [jid for jid in (message.jid, message.alt_jid) if jid.endswith("@" + LID_SERVER)]
    candidates = [key for key in (message.number, *lids) if key]
    if not candidates:
        return message.jid
    existing = set(
        ConversationState.objects.filter(conversation_id__in=candidates).values_list("conversation_id", flat=True)
    )
    return next((key for key in candidates if key in existing), candidates[0])


# A from-me message whose text equals a reply we sent to that chat this
# recently is taken for an echo of our own send.
OWN_SEND_WINDOW = dt.timedelta(minutes=2)


def is_own_send(chat_id: str, text: str, *, at: dt.datetime | None = None) -> bool:
    """Whether ``text`` is a reply the pipeline sent (or is sending) to
    ``chat_id`` within ``OWN_SEND_WINDOW`` of ``at`` (now by default): the
    second guard against counting our own sends as a person's, after the
    WhatsApp ids the outbox stores."""
    from django.db.models import Q

    from whatsapp.models import OutboundMessage

    now = timezone.now()
    since = min(at or now, now) - OWN_SEND_WINDOW
    return (
        OutboundMessage.objects.filter(chat_id=chat_id, text=text)
        .filter(Q(created_at__gte=since) | Q(sent_at__gte=since))
        .exists()
    )


class GatewayHandler:
    """The ``MessageEv`` handler. Never raises into neonize."""

    def __init__(
        self,
        *,
        accept: Callable[..., Any] | None = None,
        phone_reply: Callable[..., Any] | None = None,
        accept_groups: bool | None = None,
        typing: bool | None = None,
        buckets: int = 4,
        inline: bool = False,
        sent: RecentKeys | None = None,
    ) -> None:
        if accept is None:
            from whatsapp.services import message_accept as accept
        if phone_reply is None:
            from inbox.services import phone_reply
        self.accept = accept
        self.phone_reply = phone_reply
        self.sent = SENT_IDS if sent is None else sent
        self.accept_groups = settings.WA_ACCEPT_GROUPS if accept_groups is None else accept_groups
        self.typing = settings.WA_TYPING_INDICATOR if typing is None else typing
        self.inline = inline
        self._executors = [] if inline else [
            ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"wa-accept-{n}") for n in range(buckets)
        ]

    def on_message(self, client: Any, ev: Any) -> None:
        try:
            incoming = parse_message_event(ev, accept_groups=self.accept_groups)
            if incoming is None:
                phone = parse_phone_message(ev) if ev.Info.MessageSource.IsFromMe else None
                if phone is not None:
                    self._run(phone.chat_key, self.handle_phone, phone)
                elif is_empty_lid_message(ev, accept_groups=self.accept_groups):
                    self._unreadable(ev.Info, reason="empty_lid")
                return
            self._run(incoming.chat_key, self.handle, client, ev, incoming)
        except Exception:
            logger.exception("whatsapp.gateway_handler_error")

    def _run(self, chat_key: str, work: Callable[..., None], *args: Any) -> None:
        """Run ``work`` now (inline) or on the chat's single-thread executor,
        which keeps each chat's messages in arrival order."""
        if self.inline:
            work(*args)
        else:
            bucket = zlib.crc32(chat_key.encode()) % len(self._executors)
            self._executors[bucket].submit(self._in_pool, work, *args)

    def on_undecryptable(self, client: Any, ev: Any) -> None:
        """``UndecryptableMessageEv``: WhatsApp delivered a message we could not
        decrypt (whatsmeow asks the sender's phone to send it again; if that
        works it arrives as a normal message). Never answered, only counted."""
        try:
            if _answerable_source(ev.Info.MessageSource, accept_groups=self.accept_groups):
                self._unreadable(ev.Info, reason="undecryptable", unavailable=ev.IsUnavailable)
        except Exception:
            logger.exception("whatsapp.gateway_handler_error")

    def _unreadable(self, info: Any, *, reason: str, unavailable: bool = False) -> None:
        source = info.MessageSource
        metrics.GATEWAY_UNREADABLE.labels(reason).inc()
        logger.warning(
            "whatsapp.gateway_unreadable_message reason=%s message_id=%s sender=%s sender_alt=%s type=%s unavailable=%s"
            " (not answered)",
            reason,
            info.ID,
            mask_jid(jid_string(source.Sender)),
            mask_jid(jid_string(source.SenderAlt)) if source.HasField("SenderAlt") else "-",
            info.Type or "-",
            unavailable,
        )

    @staticmethod
    def _in_pool(work: Callable[..., None], *args: Any) -> None:
        # Like a request: drop a broken or expired database connection first.
        close_old_connections()
        try:
            work(*args)
        finally:
            close_old_connections()

    def handle(self, client: Any, ev: Any, incoming: IncomingMessage) -> None:
        """Download a voice note, photo or document if any (at once:
        WhatsApp's media links expire), then accept the message."""
        from whatsapp.services import AttachmentRejected, attachment_too_large_reply, attachment_unsupported_reply

        set_request_id(new_request_id())
        try:
            audio = None
            file_fields: dict[str, Any] = {}
            if incoming.is_audio:
                if incoming.audio_length > settings.MAX_AUDIO_BYTES:
                    self._say(client, incoming, _("Seu áudio é longo demais para eu ouvir. Pode escrever ou mandar um áudio mais curto?"))
                    return
                audio = client.download_any(ev.Message)
            elif incoming.file_kind:
                content = self._file_download(client, ev, incoming)
                if content is None:
                    return  # the sender was told why
                file_fields = {
                    "attachment": content,
                    "attachment_mimetype": incoming.file_mimetype,
                    "attachment_name": incoming.file_name,
                }
            result = self.accept(
                message_id=incoming.message_id,
                number=incoming.number,
                jid=incoming.jid,
                text=incoming.text[: settings.MAX_MESSAGE_CHARS],
                push_name=incoming.push_name,
                timestamp=incoming.timestamp,
                audio=audio,
                mimetype=incoming.audio_mimetype,
                source="gateway",
                sender_alt=incoming.sender_alt,
                **file_fields,
            )
            if self.typing and getattr(result, "status", "") == "queued":
                self._typing(client, incoming.jid)
        except AttachmentRejected:
            self._say(client, incoming, attachment_too_large_reply())
        except InvalidValue as exc:
            logger.warning("whatsapp.gateway_rejected message_id=%s reason=%s", incoming.message_id, exc.message)
            if incoming.file_kind:  # a file that is not what it says: never silence
                self._say(client, incoming, attachment_unsupported_reply())
        except Exception:
            logger.exception("whatsapp.gateway_accept_error message_id=%s", incoming.message_id)
        finally:
            set_request_id(None)

    # A photo or document whose download fails is tried this many times,
    # this far apart (seconds), before the sender is asked to send it again.
    FILE_DOWNLOAD_ATTEMPTS = 3
    FILE_DOWNLOAD_BACKOFF_S = 0.5

    def _file_download(self, client: Any, ev: Any, incoming: IncomingMessage) -> bytes | None:
        """The photo's or document's bytes; None, after telling the sender
        why, when it is of a type the engine does not take, larger than
        MAX_ATTACHMENT_BYTES, or cannot be downloaded."""
        from neonize.exc import NeonizeError

        from whatsapp.services import (
            attachment_too_large_reply,
            attachment_type,
            attachment_unopened_reply,
            attachment_unsupported_reply,
        )

        if attachment_type(incoming.file_mimetype) is None:
            logger.info("whatsapp.gateway_file_refused message_id=%s type=%s", incoming.message_id, incoming.file_mimetype)
            self._say(client, incoming, attachment_unsupported_reply())
            return None
        if incoming.file_length > settings.MAX_ATTACHMENT_BYTES:
            logger.info("whatsapp.gateway_file_too_large message_id=%s bytes=%s", incoming.message_id, incoming.file_length)
            self._say(client, incoming, attachment_too_large_reply())
            return None
        part = file_part(ev.Message)
        container = part[2] if part is not None else ev.Message
        for attempt in range(1, self.FILE_DOWNLOAD_ATTEMPTS + 1):
            try:
                return client.download_any(container)
            except NeonizeError as exc:
                logger.warning(
                    "whatsapp.gateway_file_download_failed message_id=%s attempt=%s error=%s",
                    incoming.message_id, attempt, exc,
                )
                if attempt < self.FILE_DOWNLOAD_ATTEMPTS:
                    time.sleep(self.FILE_DOWNLOAD_BACKOFF_S * attempt)
        self._say(client, incoming, attachment_unopened_reply())
        return None

    def handle_phone(self, phone: PhoneMessage) -> None:
        """A person typed on the business phone: open a handoff for the chat
        and record the line as staff (``inbox.services.phone_reply``, which
        also skips ids of the outbox's own sends and duplicates). Our own
        sends are skipped here too, by the ids this process sent and by text
        (``is_own_send``); so are messages older than HANDOFF_IDLE_HOURS (a
        long offline catch-up: the handoff would only close again)."""
        from whatsapp.services import _sent_at

        set_request_id(new_request_id())
        try:
            if self.sent.seen(phone.message_id):
                logger.info("whatsapp.gateway_phone_skipped reason=own_send message_id=%s", phone.message_id)
                return
            sent_at = _sent_at(phone.timestamp)
            if sent_at is not None and timezone.now() - sent_at > dt.timedelta(hours=settings.HANDOFF_IDLE_HOURS):
                logger.info("whatsapp.gateway_phone_skipped reason=stale message_id=%s", phone.message_id)
                return
            text = phone.text.replace("\x00", "")[: settings.MAX_MESSAGE_CHARS]
            chat_id = phone_chat_id(phone)
            if is_own_send(chat_id, text, at=sent_at):
                logger.info("whatsapp.gateway_phone_skipped reason=own_text message_id=%s", phone.message_id)
                return
            recorded = self.phone_reply(
                chat_id=chat_id, text=text, provider_message_id=phone.message_id[:128], sent_at=sent_at
            )
            logger.info(
                "whatsapp.gateway_phone_reply message_id=%s chat=%s recorded=%s",
                phone.message_id, mask_jid(chat_id), bool(recorded),
            )
        except Exception:
            logger.exception("whatsapp.gateway_phone_reply_error message_id=%s", phone.message_id)
        finally:
            set_request_id(None)

    def _say(self, client: Any, incoming: IncomingMessage, text: str) -> None:
        try:
            response = client.send_message(parse_jid(incoming.jid), text)
            self.sent.add(getattr(response, "ID", "") or "")
        except Exception:
            logger.warning("whatsapp.gateway_say_failed jid=%s", incoming.jid, exc_info=True)

    def _typing(self, client: Any, jid: str) -> None:
        from neonize.utils.enum import ChatPresence, ChatPresenceMedia

        try:
            client.send_chat_presence(parse_jid(jid), ChatPresence.CHAT_PRESENCE_COMPOSING, ChatPresenceMedia.CHAT_PRESENCE_MEDIA_TEXT)
        except Exception:
            logger.debug("whatsapp.typing_failed jid=%s", jid, exc_info=True)

    def shutdown(self) -> None:
        for executor in self._executors:
            executor.shutdown(wait=True)


def parse_jid(value: str) -> Any:
    """A neonize JID from ``user@server`` or a bare phone number."""
    from neonize.utils.jid import build_jid

    user, _at, server = value.partition("@")
    return build_jid(user, server or PHONE_SERVER)


# --- the connection: state, alerts, first-connect loop ------------------------------


@dataclass(frozen=True)
class Halt:
    """Why the channel stopped sending, until a connect succeeds again."""

    kind: str  # a ChannelAlert.Kind
    alert_id: int | None  # the open ChannelAlert (None when it could not be stored)
    retry_at: float | None  # time.monotonic() when to try connecting again; None = when the alert is resolved


class ChannelState:
    """What the gateway process knows about its WhatsApp session, read by
    ``/send-text`` and the health checks, written by the connection's event
    handlers (neonize's thread) and the connect loop (the main thread)."""

    def __init__(self, channel: str = Channel.GATEWAY) -> None:
        self.channel = channel
        self._lock = threading.Lock()
        self._connected = False
        self._halt: Halt | None = None
        self._down_since: float | None = None  # set when a connected session drops
        self._publish()

    @property
    def connected(self) -> bool:
        return self._connected

    @property
    def halt(self) -> Halt | None:
        return self._halt

    @property
    def can_send(self) -> bool:
        with self._lock:
            return self._connected and self._halt is None

    def down_for(self) -> float | None:
        """Seconds since a connected session dropped (None while up or never up)."""
        since = self._down_since
        return None if since is None else time.monotonic() - since

    def set_connected(self, connected: bool) -> None:
        with self._lock:
            if connected:
                self._down_since = None
            elif self._connected:
                self._down_since = time.monotonic()
            self._connected = connected
            self._publish()

    def set_halt(self, halt: Halt | None) -> None:
        with self._lock:
            self._halt = halt
            if halt is not None:
                self._connected = False
                self._down_since = None  # the halt's own alert says it; no second one
            self._publish()

    def refusal(self) -> tuple[str, str] | None:
        """``(error, detail)`` for /send-text's 503, or None when it may send."""
        with self._lock:
            halt, connected = self._halt, self._connected
        if halt is not None:
            alert = f"alert #{halt.alert_id}" if halt.alert_id else "alert not stored"
            return (
                "channel_halted",
                f"The WhatsApp channel stopped sending: {halt.kind} ({alert}). Replies wait until it is"
                " resolved: see the banner in the admin.",
            )
        if not connected:
            return "not_connected", "The gateway is not connected to WhatsApp; try again shortly."
        return None

    def _publish(self) -> None:
        metrics.CHANNEL_UP.labels(self.channel).set(1 if self._connected and self._halt is None else 0)


@dataclass(frozen=True)
class ConnectPolicy:
    """How long to wait and how often to try (``whatsapp_gateway`` options)."""

    timeout_s: float = 30.0  # an attempt with no sign of life (QR code, connected) for this long is abandoned
    qr_grace_s: float = 90.0  # a QR or pairing code on screen extends the attempt by this (a person is scanning)
    backoff_s: float = 1.0
    backoff_max_s: float = 60.0
    alert_after: int = 5  # consecutive failed attempts before a connect_failed alert (then every that many)
    stop_grace_s: float = 30.0  # an abandoned connect() that has not returned by then: the process exits
    down_alert_s: float = 300.0  # a session down this long (whatsmeow reconnecting in vain): connect_failed alert
    halt_poll_s: float = 15.0  # while halted, how often to ask the database whether the alert was resolved
    ban_retry_s: float = 3600.0  # a temporary ban without a known end: try again after this
    logged_out_retry_s: float = 5.0  # after a logout, a new QR code to scan after this
    unstored_retry_s: float = 600.0  # a halt whose alert could not be stored: try again after this

    def backoff(self, failures: int) -> float:
        """Exponential, with jitter in the upper half (failures >= 1)."""
        delay = min(self.backoff_max_s, self.backoff_s * 2 ** max(0, failures - 1))
        return delay / 2 + random.uniform(0, delay / 2)


class GatewayStuck(CongressError):
    """neonize's connect() did not return after stop(): only a new process
    gets a clean client, so the command exits and its supervisor restarts it."""


_TEMP_BAN_REASONS = {
    "SEND_TO_TOO_MANY_PEOPLE": "mensagens para gente demais",
    "BLOCKED_BY_USERS": "bloqueado por muitos usuários",
    "CREATED_TOO_MANY_GROUPS": "grupos criados demais",
    "SENT_TOO_MANY_SAME_MESSAGE": "a mesma mensagem repetida vezes demais",
    "BROADCAST_LIST": "lista de transmissão",
}


class GatewayConnection:
    """Connects the neonize client and keeps it connected, or says why not.

    ``run()`` is the first-connect loop: each attempt runs ``client.connect()``
    (which blocks for the whole session) in a thread and waits for a sign of
    life (a QR or pairing code, or ``ConnectedEv``) for at most
    ``timeout_s``; a failed or silent attempt is abandoned with
    ``client.stop()`` and retried with backoff, and after ``alert_after``
    failures in a row a ``connect_failed`` alert opens. Once connected,
    whatsmeow reconnects by itself; a session down for ``down_alert_s``
    opens the same alert.

    ``LoggedOutEv``, ``TemporaryBanEv``, ``ClientOutdatedEv`` and
    ``StreamReplacedEv`` halt the channel: a ``ChannelAlert``, an ERROR log
    line, ``whatsapp_channel_alerts_total`` and ``whatsapp_channel_up`` = 0;
    the client is stopped and /send-text answers 503 ``channel_halted``. The
    loop tries again when the halt allows it (a new QR code shortly after a
    logout, the ban's end) or when an organizer marks the alert resolved;
    ``ConnectedEv`` resolves the alerts a connection proves over.
    """

    def __init__(
        self,
        client: Any,
        *,
        policy: ConnectPolicy | None = None,
        state: ChannelState | None = None,
        stopping: threading.Event | None = None,
        on_connected: Callable[[], None] | None = None,
    ) -> None:
        self.client = client
        self.policy = policy or ConnectPolicy()
        self.state = state or ChannelState()
        self.stopping = stopping or threading.Event()
        self.on_connected_callback = on_connected
        self.last_error = ""
        self._wake = threading.Event()
        self._connected = threading.Event()  # this attempt reached ConnectedEv
        self._activity = threading.Event()  # a QR or pairing code was shown
        self._halted = threading.Event()
        self._failed = threading.Event()  # ConnectFailureEv before connecting
        self._down_alerted = False
        self._halts_in_a_row = 0  # halts without a connection in between (a logout that repeats)

    def register(self) -> None:
        """Register the connection's event handlers on the client (before
        connect(): neonize subscribes only to the events registered then).
        neonize keeps bound methods as weak references: keep this object
        referenced for as long as the client runs."""
        from neonize.events import (
            ClientOutdatedEv,
            ConnectedEv,
            ConnectFailureEv,
            DisconnectedEv,
            LoggedOutEv,
            StreamErrorEv,
            StreamReplacedEv,
            TemporaryBanEv,
        )

        for event, handler in (
            (ConnectedEv, self.on_connected),
            (DisconnectedEv, self.on_disconnected),
            (LoggedOutEv, self.on_logged_out),
            (TemporaryBanEv, self.on_temporary_ban),
            (ClientOutdatedEv, self.on_client_outdated),
            (StreamReplacedEv, self.on_stream_replaced),
            (ConnectFailureEv, self.on_connect_failure),
            (StreamErrorEv, self.on_stream_error),
        ):
            self.client.event(event)(handler)

    def wake(self) -> None:
        self._wake.set()

    # --- neonize event handlers (neonize's thread; never raise into neonize) ---

    def on_activity(self) -> None:
        """A QR or pairing code is on screen: a person may be scanning."""
        self._activity.set()
        self._wake.set()

    def on_connected(self, _client: Any, _ev: Any) -> None:
        try:
            self.state.set_connected(True)
            self.state.set_halt(None)
            self._down_alerted = False
            self._halts_in_a_row = 0
            self._connected.set()
            self._wake.set()
            logger.info("whatsapp.gateway_connected")
            from whatsapp.alerts import RESOLVED_BY_CONNECT, channel_alert_resolve

            self._in_db(
                lambda: channel_alert_resolve(channel=self.state.channel, kinds=RESOLVED_BY_CONNECT, actor="gateway (connected)")
            )
            if self.on_connected_callback is not None:
                self.on_connected_callback()
        except Exception:
            logger.exception("whatsapp.gateway_handler_error event=connected")

    def on_disconnected(self, _client: Any, _ev: Any) -> None:
        # whatsmeow reconnects by itself; /send-text answers 503 meanwhile.
        self.state.set_connected(False)
        logger.warning("whatsapp.gateway_disconnected (reconnecting)")

    def on_logged_out(self, _client: Any, ev: Any) -> None:
        reason = _enum_name(ev, "Reason")
        detail = _("O WhatsApp encerrou a sessão deste aparelho (motivo: %(reason)s%(when)s).") % {
            "reason": reason,
            "when": _(", ao conectar") if ev.OnConnect else "",
        }
        # A new QR code shortly; later and later if the logout repeats at once.
        retry_after = min(self.policy.logged_out_retry_s * 2**self._halts_in_a_row, 600.0)
        self._halt(ChannelAlert.Kind.LOGGED_OUT, detail, retry_after=retry_after, log=f"reason={reason}")

    def on_temporary_ban(self, _client: Any, ev: Any) -> None:
        code = _enum_name(ev, "Code")
        reason = _TEMP_BAN_REASONS.get(code, code)
        expire = int(ev.Expire) if ev.Expire > 0 else 0
        if expire:
            until = timezone.localtime(timezone.now() + dt.timedelta(seconds=expire))
            detail = _("Bloqueado até %(until)s (horário local); motivo informado: %(reason)s.") % {
                "until": until.strftime("%d/%m/%Y %H:%M"),
                "reason": reason,
            }
        else:
            detail = _("Fim do bloqueio não informado; motivo informado: %(reason)s.") % {"reason": reason}
        retry_after = expire + 60 if expire else self.policy.ban_retry_s
        self._halt(ChannelAlert.Kind.TEMPORARY_BAN, detail, retry_after=retry_after, log=f"code={code} expire_s={expire}")

    def on_client_outdated(self, _client: Any, _ev: Any) -> None:
        versions = neonize_versions()
        detail = _("O WhatsApp recusou esta versão do cliente (neonize %(neonize)s, whatsmeow %(whatsmeow)s).") % versions
        self._halt(ChannelAlert.Kind.CLIENT_OUTDATED, detail, retry_after=None, log=f"neonize={versions['neonize']}")

    def on_stream_replaced(self, _client: Any, _ev: Any) -> None:
        detail = _("Outra conexão abriu esta mesma sessão em %(when)s e derrubou o gateway.") % {
            "when": timezone.localtime().strftime("%d/%m/%Y %H:%M")
        }
        self._halt(ChannelAlert.Kind.STREAM_REPLACED, detail, retry_after=None, log="")

    def on_connect_failure(self, _client: Any, ev: Any) -> None:
        logger.warning("whatsapp.gateway_connect_failure reason=%s message=%s", _enum_name(ev, "Reason"), ev.Message)
        if not self._connected.is_set():
            self.last_error = f"connect failure: {_enum_name(ev, 'Reason')} {ev.Message}".strip()
            self._failed.set()
            self._wake.set()

    def on_stream_error(self, _client: Any, ev: Any) -> None:
        logger.warning("whatsapp.gateway_stream_error code=%s", ev.Code)

    def _halt(self, kind: str, detail: str, *, retry_after: float | None, log: str) -> None:
        self._halts_in_a_row += 1
        try:
            from whatsapp.alerts import channel_alert_raise

            logger.error("whatsapp.gateway_halted kind=%s %s", kind, log)
            alert = self._in_db(lambda: channel_alert_raise(kind=kind, channel=self.state.channel, detail=detail)[0])
            if alert is None and retry_after is None:
                retry_after = self.policy.unstored_retry_s  # no row an organizer could resolve
            retry_at = None if retry_after is None else time.monotonic() + retry_after
            self.state.set_halt(Halt(kind=kind, alert_id=alert.pk if alert else None, retry_at=retry_at))
        except Exception:
            logger.exception("whatsapp.gateway_handler_error event=%s", kind)
            self.state.set_halt(Halt(kind=kind, alert_id=None, retry_at=time.monotonic() + self.policy.unstored_retry_s))
        finally:
            self._halted.set()
            self._wake.set()

    @staticmethod
    def _in_db(work: Callable[[], Any]) -> Any:
        """Run ``work`` on this thread's database connection, then close it
        (neonize calls handlers from threads Django does not manage; a
        caller's open transaction is left alone). None when the database
        fails: the alert is logged either way."""
        managed = not connection.in_atomic_block
        if managed:
            close_old_connections()
        try:
            return work()
        except DatabaseError:
            logger.exception("whatsapp.gateway_database_error")
            return None
        finally:
            if managed:
                connection.close()

    # --- the connect loop (the command's main thread) ---

    def run(self) -> None:
        """Connect and stay connected until ``stopping`` is set; raise
        ``GatewayStuck`` when neonize does not let go of a connect()."""
        failures = 0
        while not self.stopping.is_set():
            outcome = self.attempt()
            metrics.GATEWAY_CONNECT_ATTEMPTS.labels(outcome).inc()
            if outcome == "stopped":
                return
            if outcome == "halted":
                failures = 0
                self.wait_while_halted()
                continue
            if outcome == "ended":  # a connected session ended by itself: start over
                failures = 0
                logger.warning("whatsapp.gateway_session_ended (reconnecting)")
            elif outcome == "unpaired":
                failures = 0
                logger.info("whatsapp.gateway_qr_expired (nobody scanned it; showing a new one)")
            else:
                failures += 1
                self._connect_failed(failures)
            self.stopping.wait(self.policy.backoff(max(failures, 1)))

    def attempt(self) -> str:
        """One connect(): "ended" (it connected, then the session ended),
        "failed", "timeout", "unpaired" (QR codes were shown and none was
        scanned: waiting for a person, not a failure), "halted" or "stopped"."""
        for flag in (self._connected, self._activity, self._halted, self._failed):
            flag.clear()
        saw_code = False
        done = threading.Event()
        errors: list[BaseException] = []

        def connect() -> None:
            try:
                self.client.connect()
            except Exception as exc:  # NeonizeError and anything else neonize raises
                errors.append(exc)
            finally:
                done.set()
                self._wake.set()

        threading.Thread(target=connect, name="wa-connect", daemon=True).start()
        deadline = time.monotonic() + self.policy.timeout_s
        while True:
            self._wake.clear()
            now = time.monotonic()
            if self.stopping.is_set():
                self._abandon(done)
                return "stopped"
            if self._halted.is_set():
                self._abandon(done)
                return "halted"
            if done.is_set():
                self.state.set_connected(False)
                if self._connected.is_set():
                    return "ended"
                self.last_error = str(errors[0]) if errors else "connect() returned without connecting"
                return "failed"
            if self._failed.is_set():
                self._abandon(done)
                return "failed"
            if self._connected.is_set():
                deadline = math.inf
                self._watch_session()
            elif self._activity.is_set():
                self._activity.clear()
                saw_code = True
                deadline = max(deadline, now + self.policy.qr_grace_s)
            elif now >= deadline:
                self.last_error = f"no connection within {self.policy.timeout_s:.0f}s"
                self._abandon(done)
                return "unpaired" if saw_code else "timeout"
            self._wake.wait(min(max(deadline - now, 0.01), 1.0))

    def _abandon(self, done: threading.Event) -> None:
        try:
            self.client.stop()  # cancels neonize's Go context: connect() returns
        except Exception:
            logger.warning("whatsapp.gateway_stop_failed", exc_info=True)
        self.state.set_connected(False)
        if not done.wait(self.policy.stop_grace_s):
            raise GatewayStuck(f"neonize's connect() did not return {self.policy.stop_grace_s:.0f}s after stop()")

    def _watch_session(self) -> None:
        down = self.state.down_for()
        if down is not None and down >= self.policy.down_alert_s and not self._down_alerted:
            self._down_alerted = True
            self._raise_connect_failed(
                _("Desconectado há %(minutes)d min; o gateway continua tentando reconectar.") % {"minutes": down // 60}
            )

    def _connect_failed(self, failures: int) -> None:
        logger.warning("whatsapp.gateway_connect_failed failures=%s error=%s", failures, self.last_error)
        if failures % self.policy.alert_after == 0:
            self._raise_connect_failed(
                _("%(count)d tentativas seguidas sem conectar; último erro: %(error)s") % {
                    "count": failures, "error": self.last_error[:300]
                }
            )

    def _raise_connect_failed(self, detail: str) -> None:
        from whatsapp.alerts import channel_alert_raise

        self._in_db(lambda: channel_alert_raise(kind=ChannelAlert.Kind.CONNECT_FAILED, channel=self.state.channel, detail=detail))

    def wait_while_halted(self) -> None:
        """Until the halt allows a new attempt (its ``retry_at``), an organizer
        resolves its alert, or ``stopping``."""
        from whatsapp.alerts import channel_alert_is_open

        halt = self.state.halt
        if halt is None:
            return
        logger.info(
            "whatsapp.gateway_waiting kind=%s alert=%s retry_in=%s", halt.kind, halt.alert_id,
            "-" if halt.retry_at is None else f"{max(halt.retry_at - time.monotonic(), 0):.0f}s",
        )
        next_poll = time.monotonic() + self.policy.halt_poll_s
        while not self.stopping.is_set():
            now = time.monotonic()
            if halt.retry_at is not None and now >= halt.retry_at:
                return  # the halt stays (and /send-text refuses) until ConnectedEv
            if halt.alert_id is not None and now >= next_poll:
                next_poll = now + self.policy.halt_poll_s
                if self._in_db(lambda: channel_alert_is_open(halt.alert_id)) is False:
                    logger.info("whatsapp.gateway_alert_resolved kind=%s alert=%s (reconnecting)", halt.kind, halt.alert_id)
                    self.state.set_halt(None)
                    return
            wake_at = next_poll if halt.retry_at is None else min(next_poll, halt.retry_at)
            self.stopping.wait(max(wake_at - now, 0.01))


def _enum_name(ev: Any, field: str) -> str:
    """The name of an enum field of a neonize event ("-" when unset)."""
    if not ev.HasField(field):
        return "-"
    descriptor = ev.DESCRIPTOR.fields_by_name[field].enum_type
    value = getattr(ev, field)
    return descriptor.values_by_number[value].name if value in descriptor.values_by_number else str(value)


# --- /send-text ------------------------------------------------------------------


class SendTextError(Exception):
    def __init__(self, status: int, error: str, detail: str) -> None:
        super().__init__(detail)
        self.status, self.error, self.detail = status, error, detail


class RecentKeys:
    """Idempotency keys of recently delivered replies (bounded, in memory):
    a worker that died between our 200 and marking the reply sent re-sends
    it with the same key, and WhatsApp must not get it twice."""

    def __init__(self, size: int = 20000, ttl: float = 6 * 3600) -> None:
        self.size, self.ttl = size, ttl
        self._keys: OrderedDict[str, float] = OrderedDict()
        self._lock = threading.Lock()

    def seen(self, key: str) -> bool:
        with self._lock:
            at = self._keys.get(key)
            return at is not None and time.monotonic() - at < self.ttl

    def add(self, key: str) -> None:
        if not key:
            return
        with self._lock:
            self._keys[key] = time.monotonic()
            self._keys.move_to_end(key)
            while len(self._keys) > self.size:
                self._keys.popitem(last=False)


# WhatsApp ids of the messages this process sent (/send-text, the handler's
# own notices): should whatsmeow ever hand one back as a "from me" event, it
# is ours, not a person's, even before the pipeline stored its id.
SENT_IDS = RecentKeys(size=20000, ttl=3600)


def send_text_request(
    client: Any,
    body: Any,
    *,
    recent: RecentKeys,
    idempotency_key: str = "",
    state: ChannelState | None = None,
    sent: RecentKeys | None = None,
) -> dict:
    """Validate a /send-text body and send it; raise ``SendTextError``.
    With ``state``, a halted channel (an open alert) or a disconnected one
    answers 503: the pipeline's sender retries, then fails visibly."""
    if not isinstance(body, dict):
        raise SendTextError(400, "invalid", "Send a JSON object with number or jid, and text.")
    text, number, jid = body.get("text"), body.get("number") or "", body.get("jid") or ""
    if not isinstance(text, str) or not text.strip():
        raise SendTextError(400, "invalid", "text is required.")
    if not isinstance(number, str) or not isinstance(jid, str) or not (number or jid):
        raise SendTextError(400, "invalid", "number or jid is required.")
    if len(text) > 65536:
        raise SendTextError(400, "invalid", "text is longer than WhatsApp accepts (65536 characters).")
    target = jid or number
    if "@" not in target and not target.lstrip("+").isdigit():
        raise SendTextError(400, "invalid", "number must be digits only, or send jid.")
    if idempotency_key and recent.seen(idempotency_key):
        return {"status": "duplicate"}
    if state is not None:
        refusal = state.refusal()
        if refusal is not None:
            raise SendTextError(503, *refusal)
    elif not getattr(client, "connected", False):
        raise SendTextError(503, "not_connected", "The gateway is not connected to WhatsApp; try again shortly.")
    from neonize.exc import NeonizeError

    try:
        response = client.send_message(parse_jid(target.lstrip("+")), text)
    except NeonizeError as exc:
        raise SendTextError(502, "send_failed", f"WhatsApp refused or failed the send: {exc}") from exc
    if idempotency_key:
        recent.add(idempotency_key)
    message_id = getattr(response, "ID", "") or ""
    # The pipeline stores this id as the reply's provider_message_id.
    (SENT_IDS if sent is None else sent).add(message_id)
    return {"status": "sent", "id": message_id}


def _api_key_ok(presented: str | None) -> bool:
    expected = settings.GATEWAY_API_KEY
    if not expected:
        return not settings.PRODUCTION  # dev without a key: open, as the REST API
    return presented is not None and hmac.compare_digest(presented.encode("utf-8", "surrogatepass"), expected.encode())


def _bearer(authorization: str | None) -> str | None:
    scheme, _space, value = (authorization or "").partition(" ")
    return (value.strip() or None) if scheme.lower() == "bearer" else None


class SendTextServer(ThreadingHTTPServer):
    """``POST /send-text``, ``GET /health``, ``/health/live`` and ``/metrics``
    of the gateway process. ``state`` (the connection's ``ChannelState``)
    decides whether it may send; without one, ``client.connected`` does."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], client: Any, *, state: ChannelState | None = None) -> None:
        self.client = client
        self.state = state
        self.recent = RecentKeys()
        super().__init__(address, _SendTextHandler)

    @property
    def can_send(self) -> bool:
        if self.state is not None:
            return self.state.can_send
        return bool(getattr(self.client, "connected", False))

    @property
    def port(self) -> int:
        return self.server_address[1]


class _SendTextHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: SendTextServer

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format, *args) -> None:
        pass

    def _answer(self, status: int, body: dict | bytes, content_type: str = "application/json") -> None:
        payload = body if isinstance(body, bytes) else json.dumps(body).encode()
        head = (
            f"HTTP/1.1 {status} {self.responses.get(status, ('',))[0]}\r\n"
            f"Content-Type: {content_type}\r\n"
            f"Content-Length: {len(payload)}\r\n\r\n"
        ).encode()
        self.wfile.write(head + payload)

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0].rstrip("/")
        connected = self.server.can_send
        if path == "/health":
            # Readiness: can replies go out now?
            self._answer(200 if connected else 503, {"status": "connected" if connected else "disconnected"})
        elif path == "/health/live":
            # Liveness (the container's health check): the process serves, even
            # while it waits for the QR code to be scanned on first start.
            body = {"status": "alive", "whatsapp": "connected" if connected else "disconnected"}
            halt = self.server.state.halt if self.server.state is not None else None
            if halt is not None:
                body["alert"] = halt.kind
            self._answer(200, body)
        elif path == "/metrics":
            # This process's counters (connection, alerts, unreadable messages);
            # the web's /metrics cannot see them.
            if not _api_key_ok(self.headers.get("X-API-Key") or _bearer(self.headers.get("Authorization"))):
                self._answer(401, {"error": "unauthorized", "detail": "Missing or wrong API key (X-API-Key)."})
                return
            from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

            self._answer(200, generate_latest(), CONTENT_TYPE_LATEST)
        else:
            self._answer(404, {"error": "not_found", "detail": "Unknown path."})

    def do_POST(self) -> None:
        set_request_id(clean_request_id(self.headers.get("X-Request-ID")))
        try:
            length = int(self.headers.get("Content-Length") or 0)
            if length > 1024 * 1024:
                self.close_connection = True
                raise SendTextError(413, "too_large", "Body larger than 1 MB.")
            raw = self.rfile.read(length) if length else b""
            if self.path.rstrip("/") != "/send-text":
                raise SendTextError(404, "not_found", "Unknown path.")
            if not _api_key_ok(self.headers.get("X-API-Key")):
                raise SendTextError(401, "unauthorized", "Missing or wrong API key (X-API-Key).")
            try:
                body = json.loads(raw or b"null")
            except ValueError:
                raise SendTextError(400, "invalid", "Body is not valid JSON.") from None
            result = send_text_request(
                self.server.client,
                body,
                recent=self.server.recent,
                idempotency_key=self.headers.get("Idempotency-Key", ""),
                state=self.server.state,
            )
            logger.info("whatsapp.gateway_sent status=%s", result["status"])
            self._answer(200, result)
        except SendTextError as exc:
            level = logging.WARNING if exc.status >= 500 else logging.INFO
            logger.log(level, "whatsapp.gateway_send_text_error status=%s detail=%s", exc.status, exc.detail)
            self._answer(exc.status, {"error": exc.error, "detail": exc.detail})
        except Exception:
            logger.exception("whatsapp.gateway_send_text_crash")
            self._answer(500, {"error": "internal_error", "detail": "Unexpected error in the gateway."})
        finally:
            set_request_id(None)
