"""The WhatsApp Cloud API channel: Meta's webhook in, the Graph API out.

The one wrapper around the Graph API (``WA_CLOUD_API_URL``, bearer
``WA_CLOUD_ACCESS_TOKEN``): every failure comes out as ``GraphError`` whose
``transient`` says whether a retry may help (timeouts, connection errors,
5xx, 408/425/429 and Meta's throttling codes) or not (any other 4xx, with the
Graph error code and message for the admin).

In (``/whatsapp/cloud``, whatsapp/api.py): ``signature_valid`` checks
``X-Hub-Signature-256`` over the raw body; ``webhook_process`` turns every
``messages[]`` item into an accepted inbound message (the same
``message_accept`` as every channel; the ``wamid`` deduplicates Meta's
retries) and every ``statuses[]`` item into a forward-only status move of
the reply it names. With coexistence (the WhatsApp Business app and the
API on one number), ``smb_message_echoes`` changes carry what a person sent
from the app: each echo opens a handoff for that customer and is recorded as
a staff line (``inbox.services.phone_reply``), so the bot stays silent.

Out (``send``): free text inside the 24-hour customer-service window, which
opens with the participant's last message on this channel (reply buttons or
a list when the reply carries choices that fit, ``interactive_payload``); outside it only
the active ``MessageTemplate`` (admin), with the reply's text as its single
body parameter; neither → ``ReplyHeld``, and the reply waits in the admin.
When Meta refuses the account itself (token expired, permission missing,
account locked or blocked: ``alerts.cloud_account_kind``) the reply is held
too and a channel alert is raised; while it is open, replies are held
without calling Meta, except one probe a minute whose success resolves it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import logging
import re
from dataclasses import dataclass
from typing import Any

import urllib3
from django.conf import settings
from django.core.cache import cache
from django.db.models import Max
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext as _
from urllib3.exceptions import LocationValueError
from urllib3.exceptions import TimeoutError as Urllib3Timeout

from congress.errors import InvalidValue
from whatsapp import alerts, metrics
from whatsapp.channels import ChannelError, Delivery, MediaTooLarge, ReplyHeld
from whatsapp.models import Channel, InboundMessage, MessageTemplate, OutboundMessage
from whatsapp.sender import pace

logger = logging.getLogger(__name__)

# The customer-service window: free text may be sent for 24 h after the
# participant's last message. A minute of margin: a reply that would reach
# Meta just after the window closed is sent as a template instead.
WINDOW = dt.timedelta(hours=24)
WINDOW_MARGIN = dt.timedelta(minutes=1)

# Graph error codes worth retrying whatever the HTTP status (Meta's
# throttling and "temporarily unavailable" codes often come with a 400).
TRANSIENT_CODES = frozenset({1, 2, 4, 17, 341, 80007, 130429, 131016, 131056, 133004})
# "Re-engagement message": more than 24 h since the participant's last message.
WINDOW_CLOSED_CODE = 131047
_TRANSIENT_STATUSES = frozenset({408, 425, 429})

TEXT_MAX_CHARS = 4096  # Graph's limit for a text message body
# Template parameters may not hold new lines, tabs or more than 4 spaces in a row.
_PARAM_BREAKS = re.compile(r"\s*[\r\n\t]+\s*")
_PARAM_SPACES = re.compile(r" {4,}")
TEMPLATE_PARAM_MAX_CHARS = 1024

# One keep-alive pool per process, shared by every thread (see sender.py).
_pool = urllib3.PoolManager(num_pools=4, maxsize=64, block=False, retries=False)


class GraphError(ChannelError):
    """A Graph API call failed; ``code`` is Meta's ``error.code`` when given."""


def configured() -> bool:
    """Both the token and the sending number's id set: the channel sends."""
    return bool(settings.WA_CLOUD_ACCESS_TOKEN and settings.WA_CLOUD_PHONE_NUMBER_ID)


# --- the Graph API ----------------------------------------------------------------------


def _base_url() -> str:
    return settings.WA_CLOUD_API_URL.rstrip("/")


def _headers(json_body: bool = False) -> dict[str, str]:
    headers = {"Authorization": f"Bearer {settings.WA_CLOUD_ACCESS_TOKEN}"}
    if json_body:
        headers["Content-Type"] = "application/json"
    return headers


def _request(method: str, url: str, *, body: bytes | None = None, timeout: float | None = None,
             preload: bool = True) -> urllib3.BaseHTTPResponse:
    seconds = settings.WA_CLOUD_TIMEOUT_S if timeout is None else timeout
    limits = urllib3.Timeout(connect=min(seconds, 5.0), read=seconds)
    try:
        response = _pool.request(method, url, body=body, headers=_headers(body is not None), timeout=limits,
                                 redirect=False, preload_content=preload)
    except Urllib3Timeout as exc:
        raise GraphError(f"Graph API timed out: {exc.__class__.__name__}", transient=True) from exc
    except LocationValueError as exc:  # a WA_CLOUD_API_URL that cannot work
        raise GraphError(f"Graph API request failed: {exc}", transient=False) from exc
    except (urllib3.exceptions.HTTPError, OSError) as exc:  # refused, reset, DNS...
        raise GraphError(f"Graph API unreachable: {exc.__class__.__name__}", transient=True) from exc
    if response.status >= 300:
        if not preload:
            response.read()
            response.release_conn()
        raise _graph_error(response.status, response.data or b"")
    return response


def _graph_error(status: int, data: bytes) -> GraphError:
    """The Graph error body (``{"error": {"message", "type", "code",
    "error_subcode", "error_data": {"details"}, "fbtrace_id"}}``) as a GraphError."""
    error: dict[str, Any] = {}
    try:
        parsed = json.loads(data)
        if isinstance(parsed, dict) and isinstance(parsed.get("error"), dict):
            error = parsed["error"]
    except ValueError:
        pass
    code = error.get("code") if isinstance(error.get("code"), int) else None
    text = str(error.get("message") or data[:200].decode("utf-8", "replace")).replace("\n", " ")
    details = (error.get("error_data") or {}).get("details") if isinstance(error.get("error_data"), dict) else None
    if details and details not in text:
        text = f"{text} ({details})"
    label = f"Graph API {status}" + (f", code {code}" if code is not None else "")
    if error.get("error_subcode"):
        label += f"/{error['error_subcode']}"
    transient = status >= 500 or status in _TRANSIENT_STATUSES or code in TRANSIENT_CODES
    return GraphError(f"{label}: {text}"[:1000], transient=transient, status=status, code=code)


def _json(response: urllib3.BaseHTTPResponse) -> dict:
    try:
        data = json.loads(response.data or b"{}")
    except ValueError as exc:
        raise GraphError("Graph API answered something that is not JSON", transient=True, status=response.status) from exc
    return data if isinstance(data, dict) else {}


def post_message(payload: dict, *, timeout: float | None = None, paced: bool = True) -> str:
    """POST ``/{phone-number-id}/messages``; the new message's id (wamid), or
    "" for calls that create none (read receipts)."""
    url = f"{_base_url()}/{settings.WA_CLOUD_PHONE_NUMBER_ID}/messages"
    if paced:
        pace(f"congress:pace:cloud:{settings.WA_CLOUD_PHONE_NUMBER_ID}")
    response = _request("POST", url, body=json.dumps(payload).encode(), timeout=timeout)
    messages = _json(response).get("messages")
    if isinstance(messages, list) and messages and isinstance(messages[0], dict):
        return str(messages[0].get("id") or "")[:128]
    return ""


# --- out: replies --------------------------------------------------------------------------


def recipient(outbound: OutboundMessage) -> str:
    """The ``to`` of a reply: the participant's ``wa_id``."""
    return outbound.number or outbound.jid.split("@", 1)[0]


def text_payload(to: str, text: str) -> dict:
    return {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": to,
        "type": "text",
        "text": {"preview_url": False, "body": text[:TEXT_MAX_CHARS]},
    }


# Interactive messages (reply buttons, lists): Meta's limits. A reply whose
# choices do not fit goes out as its plain text, which holds the same options
# numbered, so nothing is lost by falling back.
INTERACTIVE_BODY_MAX_CHARS = 1024
MAX_BUTTONS = 3
BUTTON_TITLE_MAX_CHARS = 20
BUTTON_ID_MAX_CHARS = 256
MAX_LIST_ROWS = 10
ROW_TITLE_MAX_CHARS = 24
ROW_DESCRIPTION_MAX_CHARS = 72
ROW_ID_MAX_CHARS = 200
LIST_BUTTON_MAX_CHARS = 20


def interactive_payload(to: str, text: str, interactive: Any) -> dict | None:
    """The reply as reply buttons or a list (``OutboundMessage.interactive``:
    ``{"kind": "buttons"|"list", "button": …, "options": [{"id", "title",
    "description"}]}``), with ``text`` as the body; None when it cannot be one
    (no choices, a body or an option beyond Meta's limits): send the text.

    Each option's id goes out as ``answer:<id>``, so a tap comes back as the
    text the participant could have typed (``inbound_content``)."""
    if not isinstance(interactive, dict) or not text.strip() or len(text) > INTERACTIVE_BODY_MAX_CHARS:
        return None
    options = interactive.get("options")
    if not isinstance(options, list) or not options or not all(isinstance(option, dict) for option in options):
        return None
    items = [
        (ANSWER_ID_PREFIX + str(option.get("id") or ""), str(option.get("title") or "").strip(),
         str(option.get("description") or "").strip())
        for option in options
    ]
    if any(item_id == ANSWER_ID_PREFIX or not title for item_id, title, _description in items):
        return None
    if len({item_id for item_id, _title, _description in items}) != len(items):
        return None
    kind = interactive.get("kind")
    if kind == "buttons":
        fits = len(items) <= MAX_BUTTONS and len({title for _id, title, _d in items}) == len(items) and all(
            len(title) <= BUTTON_TITLE_MAX_CHARS and len(item_id) <= BUTTON_ID_MAX_CHARS for item_id, title, _d in items
        )
        if not fits:
            return None
        body: dict[str, Any] = {
            "type": "button",
            "action": {"buttons": [{"type": "reply", "reply": {"id": item_id, "title": title}} for item_id, title, _d in items]},
        }
    elif kind == "list":
        button = str(interactive.get("button") or "").strip() or _("Ver opções")
        fits = len(items) <= MAX_LIST_ROWS and len(button) <= LIST_BUTTON_MAX_CHARS and all(
            len(title) <= ROW_TITLE_MAX_CHARS and len(description) <= ROW_DESCRIPTION_MAX_CHARS
            and len(item_id) <= ROW_ID_MAX_CHARS
            for item_id, title, description in items
        )
        if not fits:
            return None
        rows = [
            {"id": item_id, "title": title, **({"description": description} if description else {})}
            for item_id, title, description in items
        ]
        body = {"type": "list", "action": {"button": button, "sections": [{"title": button, "rows": rows}]}}
    else:
        return None
    body["body"] = {"text": text}
    return {"messaging_product": "whatsapp", "recipient_type": "individual", "to": to, "type": "interactive",
            "interactive": body}


def reply_payload(to: str, outbound: OutboundMessage) -> dict:
    """A reply inside the window: interactive when its choices fit, else text."""
    payload = interactive_payload(to, outbound.text, outbound.interactive)
    if payload is None and outbound.interactive:
        logger.info("whatsapp.cloud_interactive_as_text outbound=%s chars=%s", outbound.pk, len(outbound.text))
    return payload or text_payload(to, outbound.text)


def template_parameter(text: str) -> str:
    """The reply's text as a template body parameter: Meta refuses new lines,
    tabs and runs of more than four spaces there (error 132018)."""
    flat = _PARAM_SPACES.sub("   ", _PARAM_BREAKS.sub(" · ", text.strip()))
    if len(flat) > TEMPLATE_PARAM_MAX_CHARS:
        flat = flat[: TEMPLATE_PARAM_MAX_CHARS - 1].rstrip() + "…"
    return flat


def template_payload(to: str, template: MessageTemplate, text: str) -> dict:
    return {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": to,
        "type": "template",
        "template": {
            "name": template.name,
            "language": {"code": template.language},
            "components": [{"type": "body", "parameters": [{"type": "text", "text": template_parameter(text)}]}],
        },
    }


def window_open(chat_id: str, *, now: dt.datetime | None = None) -> bool:
    """Whether the 24-hour customer-service window of ``chat_id`` is open:
    the participant wrote on this channel less than 24 h ago (by WhatsApp's
    timestamp of the message, else the time we received it).

    Derived from the inbound rows themselves (one indexed aggregate when a
    reply leaves), so accepting a message stays one INSERT."""
    last = (
        InboundMessage.objects.filter(chat_id=chat_id, channel=Channel.CLOUD)
        .aggregate(last=Max(Coalesce("sent_at", "created_at")))["last"]
    )
    if last is None:
        return False
    return (now or timezone.now()) < last + WINDOW - WINDOW_MARGIN


def active_template() -> MessageTemplate | None:
    return MessageTemplate.objects.filter(active=True).order_by("-updated_at").first()


# While an account alert is open, at most one reply per this many seconds
# still goes to Meta: if it goes through, the account works again.
ACCOUNT_PROBE_S = 60
_PROBE_KEY = "whatsapp:cloud:account_probe"


def _account_probe_claim() -> bool:
    """Whether this reply may try Meta despite an open account alert (one
    per ACCOUNT_PROBE_S across all workers; the cache is Redis when there is one)."""
    return bool(cache.add(_PROBE_KEY, 1, timeout=ACCOUNT_PROBE_S))


def send(outbound: OutboundMessage) -> Delivery:
    """Deliver one reply: free text inside the window, the active template
    outside it; ``ReplyHeld`` when it needs a template and none is active,
    and when the account cannot send (an open account alert, or Meta's
    answer raises one). A success while an account alert is open resolves it.
    """
    alert_open = alerts.channel_alert_open_of(channel=Channel.CLOUD, kinds=alerts.CLOUD_ACCOUNT_KINDS)
    if alert_open and not _account_probe_claim():
        raise ReplyHeld(
            "Envio pela WhatsApp Cloud API suspenso por um alerta da conta (veja o aviso no painel): "
            "a resposta aguarda; use “Enviar de novo” depois de resolver."
        )
    try:
        delivery = _send(outbound)
    except GraphError as exc:
        kind = alerts.cloud_account_kind(exc.code)
        if kind is None:
            raise
        alerts.channel_alert_raise(kind=kind, channel=Channel.CLOUD, detail=str(exc))
        cache.set(_PROBE_KEY, 1, timeout=ACCOUNT_PROBE_S)  # Meta was just asked: the next probe in a minute
        raise ReplyHeld(
            f"A Meta recusou a conta da WhatsApp Cloud API ({exc}): a resposta aguarda; "
            "use “Enviar de novo” depois de resolver o alerta do painel."
        ) from exc
    if alert_open:
        alerts.channel_alert_resolve(channel=Channel.CLOUD, kinds=alerts.CLOUD_ACCOUNT_KINDS, actor="cloud send succeeded")
    return delivery


def _send(outbound: OutboundMessage) -> Delivery:
    to = recipient(outbound)
    if window_open(outbound.chat_id):
        try:
            payload = reply_payload(to, outbound)
            detail = f"interactive {payload['interactive']['type']}" if payload["type"] == "interactive" else ""
            return Delivery(provider_message_id=post_message(payload), detail=detail)
        except GraphError as exc:
            if exc.code != WINDOW_CLOSED_CODE:
                raise
            # Meta's clock closed the window before ours: a template may still go.
            logger.info("whatsapp.cloud_window_closed_by_meta outbound=%s", outbound.pk)
    template = active_template()
    if template is None:
        raise ReplyHeld("Fora da janela de 24 h e sem modelo aprovado ativo: a resposta aguarda um modelo (admin).")
    wamid = post_message(template_payload(to, template, outbound.text))
    return Delivery(provider_message_id=wamid, detail=f"template {template.name} ({template.language})")


def on_processing(inbound: InboundMessage) -> None:
    """Mark the message read and, with WA_TYPING_INDICATOR, show "typing…"
    until the reply goes out (Meta drops it after 25 s). Best effort: a
    short timeout, failures logged, never raised."""
    if not configured():
        return
    payload: dict[str, Any] = {"messaging_product": "whatsapp", "status": "read", "message_id": inbound.message_id}
    if settings.WA_TYPING_INDICATOR:
        payload["typing_indicator"] = {"type": "text"}
    try:
        post_message(payload, timeout=settings.WA_CLOUD_READ_TIMEOUT_S, paced=False)
    except GraphError as exc:
        metrics.CLOUD_READ_FAILED.inc()
        logger.info("whatsapp.cloud_mark_read_failed inbound=%s error=%s", inbound.pk, exc)


# --- media ----------------------------------------------------------------------------------


def download_audio(inbound: InboundMessage) -> tuple[bytes, str]:
    """The voice note's bytes and MIME type (at most MAX_AUDIO_BYTES)."""
    return _download(inbound, limit=settings.MAX_AUDIO_BYTES, limit_name="MAX_AUDIO_BYTES",
                     fallback_mimetype=inbound.mimetype or "audio/ogg")


def download_attachment(inbound: InboundMessage) -> tuple[bytes, str]:
    """The photo's or PDF's bytes and MIME type (at most MAX_ATTACHMENT_BYTES)."""
    return _download(inbound, limit=settings.MAX_ATTACHMENT_BYTES, limit_name="MAX_ATTACHMENT_BYTES",
                     fallback_mimetype=inbound.attachment_mimetype)


def _download(inbound: InboundMessage, *, limit: int, limit_name: str, fallback_mimetype: str) -> tuple[bytes, str]:
    """``GET /{media-id}`` gives a URL valid for minutes, fetched at once with
    the same token; never more than ``limit`` bytes are read."""
    if not inbound.media_id:
        raise GraphError("no media id to download", transient=False)
    meta = _json(_request("GET", f"{_base_url()}/{inbound.media_id}"))
    url, size = meta.get("url"), meta.get("file_size")
    if not isinstance(url, str) or not url.startswith(("https://", "http://")):
        raise GraphError("media metadata without a download URL", transient=False)
    if isinstance(size, int | str) and str(size).isdigit() and int(size) > limit:
        raise MediaTooLarge(int(size), limit_name)
    response = _request("GET", url, preload=False)
    chunks, total = [], 0
    try:
        for chunk in response.stream(64 * 1024):
            total += len(chunk)
            if total > limit:
                raise MediaTooLarge(total, limit_name)
            chunks.append(chunk)
    except (urllib3.exceptions.HTTPError, OSError) as exc:
        raise GraphError(f"media download interrupted: {exc.__class__.__name__}", transient=True) from exc
    finally:
        response.release_conn()
    mimetype = str(meta.get("mime_type") or fallback_mimetype)[:100]
    return b"".join(chunks), mimetype


# --- in: the webhook -------------------------------------------------------------------------


def signature_valid(raw_body: bytes, header: str | None) -> bool:
    """``X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the raw body>`` with
    WA_CLOUD_APP_SECRET, compared in constant time. No secret: nothing is valid."""
    secret = settings.WA_CLOUD_APP_SECRET
    if not secret or not header:
        return False
    scheme, _, presented = header.strip().partition("=")
    if scheme.lower() != "sha256" or not presented:
        return False
    expected = hmac.new(secret.encode(), raw_body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected.encode(), presented.strip().lower().encode("utf-8", "surrogatepass"))


def sign(raw_body: bytes, secret: str) -> str:
    """The header value Meta would send (tests and benchmarks)."""
    return "sha256=" + hmac.new(secret.encode(), raw_body, hashlib.sha256).hexdigest()


def verify_handshake(mode: str | None, token: str | None) -> bool:
    expected = settings.WA_CLOUD_VERIFY_TOKEN
    if mode != "subscribe" or not expected or token is None:
        return False
    return hmac.compare_digest(token.encode("utf-8", "surrogatepass"), expected.encode())


@dataclass
class WebhookOutcome:
    accepted: int = 0
    duplicates: int = 0
    statuses: int = 0
    ignored: int = 0
    echoes: int = 0  # messages from the business app recorded as staff lines


# Interactive replies: the engine reads what the participant tapped, i.e. the
# title they saw, exactly as if they had typed it. A reply id that starts with
# this prefix carries the full answer instead (titles are cut at 20/24
# characters), for menus rendered by the bot itself.
ANSWER_ID_PREFIX = "answer:"
# Media whose caption is read as text (as the neonize gateway does).
_CAPTIONED = ("image", "video", "document")


def inbound_content(message: dict) -> tuple[str, str, str] | None:
    """(text, media id, MIME type) of one ``messages[]`` item, or None when it
    is nothing the bot reads (a sticker, a reaction, a location...). For a
    photo or a document the text is its caption; the file itself is
    ``inbound_attachment``'s."""
    kind = message.get("type")
    body = message.get(kind) if isinstance(kind, str) else None
    body = body if isinstance(body, dict) else {}
    if kind == "text":
        return str(body.get("body") or ""), "", ""
    if kind == "audio":
        media_id = str(body.get("id") or "")
        return ("", media_id, str(body.get("mime_type") or "audio/ogg")) if media_id else None
    if kind == "interactive":
        reply = body.get("button_reply") or body.get("list_reply")
        if not isinstance(reply, dict):
            return None
        reply_id, title = str(reply.get("id") or ""), str(reply.get("title") or "")
        if reply_id.startswith(ANSWER_ID_PREFIX):
            return reply_id[len(ANSWER_ID_PREFIX):], "", ""
        return title or reply_id, "", ""
    if kind == "button":  # a template's quick-reply button
        return str(body.get("text") or body.get("payload") or ""), "", ""
    if kind in _CAPTIONED and body.get("caption"):
        return str(body["caption"]), "", ""
    return None


@dataclass(frozen=True)
class InboundFile:
    """A photo or document of one ``messages[]`` item: the worker downloads it."""

    media_id: str
    mimetype: str
    filename: str = ""


# Files handed to the engine as an attachment (Pix receipts, category proofs).
_ATTACHMENTS = ("image", "document")


def inbound_attachment(message: dict) -> InboundFile | None:
    """The photo or document of one ``messages[]`` item (its caption is
    ``inbound_content``'s text), or None. Whatever its declared type: the
    worker checks what it downloads and answers a type it cannot take with
    a short explanation, never silence."""
    kind = message.get("type")
    body = message.get(kind) if kind in _ATTACHMENTS else None
    if not isinstance(body, dict) or not body.get("id"):
        return None
    filename = body.get("filename") if kind == "document" else ""
    return InboundFile(
        media_id=str(body["id"]),
        mimetype=str(body.get("mime_type") or "application/octet-stream"),
        filename=str(filename) if isinstance(filename, str) else "",
    )


def webhook_process(payload: dict) -> WebhookOutcome:
    """Accept every message and record every status of one webhook body.

    Each item is handled on its own: a bad item is logged, counted and
    skipped, never failing the others. Infrastructure errors (the database
    is down) propagate, so the view answers 503 and Meta delivers again
    later; the ``wamid`` makes that redelivery harmless.
    """
    from whatsapp.services import INFRA_ERRORS

    outcome = WebhookOutcome()
    entries = payload.get("entry")
    if payload.get("object") not in (None, "whatsapp_business_account") or not isinstance(entries, list):
        _ignore(outcome, "not_whatsapp", f"object={str(payload.get('object'))[:40]}")
        return outcome
    for entry in entries:
        changes = entry.get("changes") if isinstance(entry, dict) else None
        for change in changes if isinstance(changes, list) else []:
            try:
                _change_process(change, outcome)
            except INFRA_ERRORS:
                raise
            except Exception:  # one bad change must not cost the others (or a 5xx)
                logger.exception("whatsapp.cloud_change_error")
                _ignore(outcome, "error")
    return outcome


def _ignore(outcome: WebhookOutcome, reason: str, detail: str = "") -> None:
    outcome.ignored += 1
    metrics.CLOUD_IGNORED.labels(reason).inc()
    logger.info("whatsapp.cloud_ignored reason=%s %s", reason, detail)


# The change fields read here; any other is logged and counted.
_FIELDS = ("messages", "smb_message_echoes")


def _change_process(change: Any, outcome: WebhookOutcome) -> None:
    from whatsapp.services import INFRA_ERRORS

    if not isinstance(change, dict) or change.get("field") not in _FIELDS or not isinstance(change.get("value"), dict):
        field = change.get("field") if isinstance(change, dict) else None
        _ignore(outcome, "field", f"field={str(field)[:60]}")
        return
    value = change["value"]
    # Every field is checked before use: a malformed one costs only the item
    # that holds it, never the messages beside it.
    metadata = value.get("metadata")
    phone_number_id = str(metadata.get("phone_number_id") or "") if isinstance(metadata, dict) else ""
    ours = settings.WA_CLOUD_PHONE_NUMBER_ID
    if ours and phone_number_id and phone_number_id != ours:
        # Another number of the same app: its replies could not leave from ours.
        _ignore(outcome, "other_number", f"phone_number_id={phone_number_id[:40]}")
        return
    if change["field"] == "smb_message_echoes":
        _echoes_process(value, outcome)
        return
    names = {}
    contacts = value.get("contacts")
    for contact in contacts if isinstance(contacts, list) else []:
        if isinstance(contact, dict) and contact.get("wa_id"):
            profile = contact.get("profile")
            name = profile.get("name") if isinstance(profile, dict) else None
            names[str(contact["wa_id"])] = clean_text(name) if isinstance(name, str) else ""
    for handler, items in ((_message_accept, value.get("messages")), (_status_record, value.get("statuses"))):
        for item in items if isinstance(items, list) else []:
            try:
                handler(item, names, outcome)
            except INFRA_ERRORS:
                raise
            except InvalidValue as exc:
                _ignore(outcome, "invalid", exc.message)
            except Exception:
                logger.exception("whatsapp.cloud_item_error")
                _ignore(outcome, "error")
    for key in value.keys() - {"messaging_product", "metadata", "contacts", "messages", "statuses"}:
        _ignore(outcome, "field", f"value.{str(key)[:60]}")  # e.g. errors


_LONE_SURROGATE = re.compile("[\ud800-\udfff]")
_TIMESTAMP = re.compile(r"[0-9]{1,12}")


def clean_text(text: str) -> str:
    """``text`` with lone UTF-16 surrogates (``"\\ud800"`` is valid JSON but
    not valid Unicode; PostgreSQL refuses it) replaced by U+FFFD. A pair that
    JSON escapes as two halves is already one character after parsing."""
    return _LONE_SURROGATE.sub("\ufffd", text)


def _timestamp(value: Any) -> int | None:
    """Meta's Unix timestamp (a string of ASCII digits); anything else is
    treated as missing ("²" is a digit to ``str.isdigit`` but not to ``int``)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    return int(value) if isinstance(value, str) and _TIMESTAMP.fullmatch(value) else None


def _message_accept(message: Any, names: dict[str, str], outcome: WebhookOutcome) -> None:
    from whatsapp.services import message_accept

    if not isinstance(message, dict):
        raise InvalidValue("a message that is not an object")
    wamid, sender, kind = str(message.get("id") or ""), str(message.get("from") or ""), message.get("type")
    content, attached = inbound_content(message), inbound_attachment(message)
    if attached is not None:
        content = (content[0] if content else "", attached.media_id, "")
    if content is None or not (content[0].strip() or content[1]):
        _ignore(outcome, "type", f"type={str(kind)[:40]} message_id={wamid[:128]}")
        return
    if not (sender.isascii() and sender.isdigit()):
        # Business-scoped ids of users hiding their number: not answerable yet.
        _ignore(outcome, "sender", f"message_id={wamid[:128]}")
        return
    text, media_id, mimetype = content
    result = message_accept(
        message_id=wamid,
        number=sender,
        text=clean_text(text)[: settings.MAX_MESSAGE_CHARS],
        push_name=names.get(sender, ""),
        timestamp=_timestamp(message.get("timestamp")),
        media_id=media_id,
        mimetype=mimetype,
        attachment_mimetype=attached.mimetype if attached else "",
        attachment_name=clean_text(attached.filename) if attached else "",
        source="cloud",
        channel=Channel.CLOUD,
    )
    if result.status == "queued":
        outcome.accepted += 1
    else:
        outcome.duplicates += 1


def _status_record(status: Any, names: dict[str, str], outcome: WebhookOutcome) -> None:
    from whatsapp.services import outbound_status_record

    if not isinstance(status, dict) or not status.get("id") or not status.get("status"):
        raise InvalidValue("a status without id or status")
    errors = status.get("errors") if isinstance(status.get("errors"), list) else []
    outbound_status_record(
        provider_message_id=str(status["id"])[:128], status=str(status["status"]), errors=errors
    )
    outcome.statuses += 1


# --- echoes: what a person sent from the WhatsApp Business app (coexistence) --------------


def placeholder_text(kind: str, *, caption: str = "") -> str:
    """How a message of type ``kind`` that is not text reads in the
    transcript (pt-BR), followed by its caption if any. Shared with the
    neonize gateway for media sent from the business phone."""
    labels = {
        "image": _("[imagem]"),
        "video": _("[vídeo]"),
        "audio": _("[áudio]"),
        "document": _("[documento]"),
        "sticker": _("[figurinha]"),
        "location": _("[localização]"),
        "contacts": _("[contato]"),
    }
    label = labels.get(kind) or _("[mensagem do tipo %(kind)s]") % {"kind": kind}
    return f"{label} {caption}".strip() if caption.strip() else label


# Echo types that are no message of their own: a reaction to a message,
# an edit or deletion of one already recorded.
_ECHO_NOT_A_MESSAGE = frozenset({"reaction", "edit", "revoke", "unsupported"})


def echo_text(echo: dict) -> str | None:
    """The transcript line of one ``message_echoes[]`` item; None when it
    says nothing (a reaction, an edit) or is malformed (a text without a
    body, no type)."""
    kind = echo.get("type")
    if not isinstance(kind, str) or not kind or len(kind) > 40 or kind in _ECHO_NOT_A_MESSAGE:
        return None
    body = echo.get(kind)
    if kind == "text":
        text = body.get("body") if isinstance(body, dict) else None
        return text.strip() if isinstance(text, str) and text.strip() else None
    caption = body.get("caption") if isinstance(body, dict) else None
    return placeholder_text(kind, caption=caption if isinstance(caption, str) else "")


def echo_chat_id(number: str) -> str:
    """The conversation of the customer an echo was sent ``to``: the string
    the inbound path uses (the ``wa_id``, digits only). ``to`` is the number
    as the business typed it, which for a Brazilian mobile may differ from
    the ``wa_id`` by the ninth digit: the form that has a conversation wins."""
    from chatbot.models import ConversationState

    candidates = [number]
    if number.startswith("55") and len(number) == 13 and number[4] == "9":
        candidates.append(number[:4] + number[5:])
    elif number.startswith("55") and len(number) == 12 and number[4] in "6789":
        candidates.append(number[:4] + "9" + number[4:])
    if len(candidates) == 1:
        return number
    existing = set(ConversationState.objects.filter(conversation_id__in=candidates).values_list("conversation_id", flat=True))
    return next((key for key in candidates if key in existing), number)


def _echoes_process(value: dict, outcome: WebhookOutcome) -> None:
    from whatsapp.services import INFRA_ERRORS

    echoes = value.get("message_echoes")
    if not isinstance(echoes, list):
        _ignore(outcome, "invalid", "smb_message_echoes without message_echoes[]")
        return
    for echo in echoes:
        try:
            _echo_record(echo, outcome)
        except INFRA_ERRORS:
            raise
        except InvalidValue as exc:
            _ignore(outcome, "invalid", exc.message)
        except Exception:
            logger.exception("whatsapp.cloud_echo_error")
            _ignore(outcome, "error")


def _echo_record(echo: Any, outcome: WebhookOutcome) -> None:
    """One message a person sent from the Business app: a handoff opens for
    that customer and the line is recorded as staff. Echoes seen before (by
    ``wamid``) change nothing; so do echoes older than HANDOFF_IDLE_HOURS
    (a late redelivery: the handoff would only close again)."""
    from inbox.services import phone_reply
    from whatsapp.services import _sent_at

    if not isinstance(echo, dict):
        raise InvalidValue("an echo that is not an object")
    wamid, to = echo.get("id"), echo.get("to")
    if not isinstance(wamid, str) or not wamid.strip() or not isinstance(to, str):
        raise InvalidValue("an echo without id or to")
    wamid = wamid.strip()[:128]
    customer = to.strip().removeprefix("+")
    if not (customer.isascii() and customer.isdigit()) or len(customer) > 20:
        raise InvalidValue(f"an echo to something that is not a number: message_id={wamid}")
    text = echo_text(echo)
    if text is None:
        _ignore(outcome, "echo_type", f"type={str(echo.get('type'))[:40]} message_id={wamid}")
        return
    sent_at = _sent_at(_timestamp(echo.get("timestamp")))
    if sent_at is not None and timezone.now() - sent_at > dt.timedelta(hours=settings.HANDOFF_IDLE_HOURS):
        _ignore(outcome, "echo_stale", f"message_id={wamid}")
        return
    chat_id = echo_chat_id(customer)
    recorded = phone_reply(
        chat_id=chat_id,
        # PostgreSQL text cannot hold NUL (valid in JSON).
        text=clean_text(text).replace("\x00", "")[: settings.MAX_MESSAGE_CHARS],
        provider_message_id=wamid,
        sent_at=sent_at,
    )
    logger.info("whatsapp.cloud_echo message_id=%s chat=%s recorded=%s", wamid, chat_id, recorded)
    if recorded:
        outcome.echoes += 1
    else:
        outcome.duplicates += 1
