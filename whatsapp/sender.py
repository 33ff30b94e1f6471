"""The one wrapper around the gateway's ``POST GATEWAY_URL/send-text``.

The contract is the original Node gateway's (CONTRACT §3): JSON
``{"number", "jid", "text"}`` with the API key in ``X-API-Key``. Every failure
comes out as ``GatewayError`` whose ``transient`` says whether trying again
later may help (timeouts, connection errors, 5xx, 408/425/429) or not (any
other 4xx: a wrong key or a refused body will not fix itself).
"""

from __future__ import annotations

import json
import logging
import time

import redis
import urllib3
from django.conf import settings
from urllib3.exceptions import LocationValueError
from urllib3.exceptions import TimeoutError as Urllib3Timeout

from congress.redis import redis_usable
from congress.request_id import get_request_id
from whatsapp.channels import ChannelError

logger = logging.getLogger(__name__)

_TRANSIENT_STATUSES = frozenset({408, 425, 429})
# One keep-alive pool per process, shared by every thread (urllib3's pools
# are thread-safe): a reply costs one POST on an open socket. urllib3 rather
# than requests: the same pool underneath, a third of the CPU per request.
_pool = urllib3.PoolManager(num_pools=4, maxsize=64, block=False, retries=False)


class GatewayError(ChannelError):
    """Delivery to the gateway failed; ``transient`` says whether to retry."""


def gateway_configured() -> bool:
    return bool(settings.GATEWAY_URL)


# Pacing (GCRA): one shared "theoretical arrival time" per gateway, i.e. per
# WhatsApp number, in Redis, so every worker process and thread shares it.
# Returns 0 when the send may go now, else the milliseconds to wait.
_PACE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local interval = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then tat = now end
local wait = tat - now - burst
if wait > 0 then return wait end
redis.call('SET', KEYS[1], tat + interval, 'PX', math.ceil(burst + interval) + 1000)
return 0
"""
_pace_script = None


def pace(key: str) -> None:
    """Wait until the number behind ``key`` may send again
    (WA_SEND_RATE_PER_S, bursts of WA_SEND_BURST); no pacing without Redis
    or with a rate of 0.

    WhatsApp limits what one number sends (see docs/benchmarks.md): the
    pipeline answers far faster than that, so replies queue here, in order,
    rather than getting the number flagged.
    """
    global _pace_script
    rate = settings.WA_SEND_RATE_PER_S
    client = redis_usable()
    if rate <= 0 or client is None:
        return
    if _pace_script is None:
        _pace_script = client.register_script(_PACE)
    interval_ms = 1000.0 / rate
    while True:
        try:
            wait_ms = int(_pace_script(keys=[key], args=[interval_ms, interval_ms * max(0, settings.WA_SEND_BURST - 1)],
                                       client=client))
        except redis.RedisError:
            return  # pacing is a courtesy: never block a reply on it
        if wait_ms <= 0:
            return
        time.sleep(min(wait_ms, 1000) / 1000)


def send_text(*, number: str, jid: str, text: str, idempotency_key: str = "") -> str:
    """POST one reply to the gateway; raise ``GatewayError`` unless it took it.
    Returns WhatsApp's id of the sent message when the gateway tells it (our
    neonize gateway answers ``{"status": "sent", "id": ...}``), else "".

    ``idempotency_key`` travels as ``Idempotency-Key``: our own gateway uses it
    to drop a re-send of a reply it already delivered (a worker that died
    between the POST and marking the row sent); other gateways ignore it.
    """
    url = settings.GATEWAY_URL.rstrip("/") + "/send-text"
    headers = {"X-API-Key": settings.GATEWAY_API_KEY, "Content-Type": "application/json"}
    if idempotency_key:
        headers["Idempotency-Key"] = idempotency_key
    request_id = get_request_id()
    if request_id:
        headers["X-Request-ID"] = request_id
    body = json.dumps({"number": number, "jid": jid, "text": text}).encode()
    pace("congress:pace:" + (settings.GATEWAY_URL or "default"))
    timeout = urllib3.Timeout(connect=min(settings.GATEWAY_TIMEOUT_S, 5.0), read=settings.GATEWAY_TIMEOUT_S)
    try:
        response = _pool.request("POST", url, body=body, headers=headers, timeout=timeout, redirect=False)
    except Urllib3Timeout as exc:
        raise GatewayError(f"gateway timed out: {exc.__class__.__name__}", transient=True) from exc
    except LocationValueError as exc:  # a GATEWAY_URL that cannot work
        raise GatewayError(f"gateway request failed: {exc}", transient=False) from exc
    except (urllib3.exceptions.HTTPError, OSError) as exc:  # refused, reset, DNS...
        raise GatewayError(f"gateway unreachable: {exc.__class__.__name__}", transient=True) from exc
    if response.status < 300:
        return _message_id(response.data)
    transient = response.status >= 500 or response.status in _TRANSIENT_STATUSES
    text_body = response.data[:200].decode("utf-8", "replace").replace("\n", " ")
    raise GatewayError(f"gateway answered {response.status}: {text_body}", transient=transient, status=response.status)


def _message_id(data: bytes) -> str:
    if not data or not data.startswith(b"{"):
        return ""
    try:
        value = json.loads(data).get("id")
    except (ValueError, AttributeError):
        return ""
    return value[:128] if isinstance(value, str) else ""
