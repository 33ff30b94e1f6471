"""The one wrapper around the gateway's ``POST GATEWAY_URL/send-text``.

The contract is the original Node gateway's (CONTRACT §3): JSON
``{"number", "jid", "text"}`` with the API key in ``X-API-Key``. Every failure
comes out as ``GatewayError`` whose ``transient`` says whether trying again
later may help (timeouts, connection errors, 5xx, 408/425/429) or not (any
other 4xx: a wrong key or a refused body will not fix itself).
"""

from __future__ import annotations

import logging
import threading

import requests
from django.conf import settings

from congress.errors import CongressError
from congress.request_id import get_request_id

logger = logging.getLogger(__name__)

_TRANSIENT_STATUSES = frozenset({408, 425, 429})
_local = threading.local()


class GatewayError(CongressError):
    """Delivery to the gateway failed; ``transient`` says whether to retry."""

    def __init__(self, message: str, *, transient: bool, status: int | None = None) -> None:
        super().__init__(message, transient=transient)
        self.status = status


def gateway_configured() -> bool:
    return bool(settings.GATEWAY_URL)


def _session() -> requests.Session:
    # One keep-alive session per thread: requests.Session is not thread-safe,
    # and reconnecting per reply costs a TCP handshake each time.
    session = getattr(_local, "session", None)
    if session is None:
        session = _local.session = requests.Session()
    return session


def send_text(*, number: str, jid: str, text: str, idempotency_key: str = "") -> None:
    """POST one reply to the gateway; raise ``GatewayError`` unless it took it.

    ``idempotency_key`` travels as ``Idempotency-Key``: our own gateway uses it
    to drop a re-send of a reply it already delivered (a worker that died
    between the POST and marking the row sent); other gateways ignore it.
    """
    url = settings.GATEWAY_URL.rstrip("/") + "/send-text"
    headers = {"X-API-Key": settings.GATEWAY_API_KEY}
    if idempotency_key:
        headers["Idempotency-Key"] = idempotency_key
    request_id = get_request_id()
    if request_id:
        headers["X-Request-ID"] = request_id
    try:
        response = _session().post(
            url,
            json={"number": number, "jid": jid, "text": text},
            headers=headers,
            timeout=(min(settings.GATEWAY_TIMEOUT_S, 5.0), settings.GATEWAY_TIMEOUT_S),
        )
    except requests.Timeout as exc:
        raise GatewayError(f"gateway timed out: {exc.__class__.__name__}", transient=True) from exc
    except requests.ConnectionError as exc:
        _local.session = None  # drop pooled sockets that may be half-dead
        raise GatewayError(f"gateway unreachable: {exc.__class__.__name__}", transient=True) from exc
    except requests.RequestException as exc:
        raise GatewayError(f"gateway request failed: {exc}", transient=False) from exc
    if response.status_code < 300:
        return
    transient = response.status_code >= 500 or response.status_code in _TRANSIENT_STATUSES
    body = response.text[:200].replace("\n", " ")
    raise GatewayError(f"gateway answered {response.status_code}: {body}", transient=transient, status=response.status_code)
