"""The one wrapper around a PSP's Pix API (the Central Bank's standard API,
https://bacen.github.io/pix-api/, that Brazilian banks and PSPs implement).

* ``POST {PIX_API_URL}/oauth/token``: OAuth2 client credentials (client id and
  secret in HTTP Basic auth, ``grant_type=client_credentials``) give a Bearer
  token, cached in Django's cache until shortly before it expires; an API call
  answered 401 drops it and is retried once with a fresh one.
* ``PUT {PIX_API_URL}/v2/cob/{txid}``: an immediate charge (``cob``) of an
  amount to our key (``PIX_KEY``), valid ``expiracao`` seconds; the answer
  carries ``pixCopiaECola``, the BR Code the participant pays.
* ``GET {PIX_API_URL}/v2/cob/{txid}``: the charge as the PSP sees it; status
  ``CONCLUIDA`` with the ``pix`` that paid it. A webhook is never trusted
  alone: the charge is looked up here before anything is marked paid.

Production PSPs require mutual TLS: ``PIX_CERT_FILE`` / ``PIX_CERT_KEY_FILE``.
Every failure is a ``PixApiError`` whose ``transient`` says whether trying
again later may help (timeouts, connection errors, 5xx, 408/425/429) or not
(other 4xx: wrong credentials, a refused body). Messages name the call and
the PSP's error title, never a credential or a token.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import threading
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

import requests
from django.conf import settings
from django.core.cache import cache

from congress.errors import CongressError
from payments.brcode import format_amount

logger = logging.getLogger(__name__)

TXID_RE = re.compile(r"^[a-zA-Z0-9]{26,35}$")
_TRANSIENT_STATUSES = frozenset({408, 425, 429})
# The token is dropped this long before the PSP says it expires, so a call
# never leaves with a token about to die on the way.
TOKEN_MARGIN_S = 60
DESCRIPTION_MAX_CHARS = 140  # solicitacaoPagador

_session: requests.Session | None = None
_session_lock = threading.Lock()
_token_lock = threading.Lock()


class PixApiError(CongressError):
    """A Pix API call failed. ``status`` is the PSP's HTTP status when one came back."""

    def __init__(self, message: str, *, transient: bool, status: int | None = None) -> None:
        super().__init__(message, transient=transient)
        self.status = status


@dataclass(frozen=True)
class Charge:
    """A ``cob`` as the PSP answered it."""

    txid: str
    status: str  # ATIVA, CONCLUIDA, REMOVIDA_PELO_USUARIO_RECEBEDOR, REMOVIDA_PELO_PSP
    amount: Decimal  # valor.original
    pix_copia_e_cola: str
    raw: dict = field(repr=False)
    # The endToEndIds of the Pix transfers that paid it (the cob's ``pix`` list).
    paid_e2e_ids: tuple[str, ...] = ()
    # The sum of those transfers' ``valor``; None when the PSP listed none.
    paid_amount: Decimal | None = None

    @property
    def concluded(self) -> bool:
        return self.status == "CONCLUIDA"

    def paid_for(self, amount: Decimal) -> bool:
        """The PSP says this charge was paid, for ``amount``: status CONCLUIDA,
        the charge's amount equal to it, and the transfers listed (if any)
        adding up to at least it."""
        if not self.concluded or self.amount != amount:
            return False
        return self.paid_amount is None or self.paid_amount >= amount

    @classmethod
    def from_cob(cls, cob: Any) -> Charge:
        """Raises PixApiError (permanent) on a body that is not a cob."""
        try:
            if not isinstance(cob, dict):
                raise TypeError("not an object")
            amount = Decimal(str(cob["valor"]["original"]))
            if not amount.is_finite():
                raise ValueError("amount not finite")
            transfers = cob.get("pix") or []
            if not isinstance(transfers, list):
                raise TypeError("pix is not a list")
            e2e_ids = tuple(
                str(item["endToEndId"]) for item in transfers if isinstance(item, dict) and item.get("endToEndId")
            )
            paid = sum(
                (Decimal(str(item["valor"])) for item in transfers if isinstance(item, dict) and "valor" in item),
                Decimal(0),
            )
            return cls(
                txid=str(cob["txid"]),
                status=str(cob["status"]),
                amount=amount,
                pix_copia_e_cola=str(cob.get("pixCopiaECola") or ""),
                raw=cob,
                paid_e2e_ids=e2e_ids,
                paid_amount=paid if transfers else None,
            )
        except (KeyError, TypeError, ValueError, InvalidOperation) as exc:
            raise PixApiError(
                f"Pix API answered something that is not a charge ({exc.__class__.__name__})", transient=False
            ) from exc


def api_configured() -> bool:
    """A PSP's Pix API is set up (API mode); otherwise static-key mode."""
    return bool(settings.PIX_API_URL and settings.PIX_CLIENT_ID and settings.PIX_CLIENT_SECRET and settings.PIX_KEY)


def _shared_session() -> requests.Session:
    global _session
    with _session_lock:
        if _session is None:
            _session = requests.Session()
        return _session


def reset_session() -> None:
    """Close the process's keep-alive connections (tests, after a fork)."""
    global _session
    with _session_lock:
        if _session is not None:
            _session.close()
        _session = None


def _validate_txid(txid: str) -> str:
    if not isinstance(txid, str) or not TXID_RE.match(txid):
        raise ValueError("A cob txid is 26 to 35 letters and digits.")
    return txid


def _problem_title(response: requests.Response) -> str:
    """The PSP's short reason: RFC 7807 ``title``/``detail`` (the Pix API's
    error format) or OAuth's ``error``; never the request, cut short."""
    try:
        body = response.json()
    except ValueError:
        return ""
    if not isinstance(body, dict):
        return ""
    parts = [str(body[key]) for key in ("error", "title", "detail") if isinstance(body.get(key), str | int)]
    return ": ".join(parts).replace("\n", " ")[:200]


class PixApi:
    """A client of one PSP account. Cheap to build; connections are shared per process."""

    def __init__(
        self,
        *,
        base_url: str,
        client_id: str,
        client_secret: str,
        pix_key: str,
        timeout_s: float = 10.0,
        cert_file: str = "",
        cert_key_file: str = "",
        session: requests.Session | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.client_id = client_id
        self._client_secret = client_secret
        self.pix_key = pix_key
        self.timeout_s = timeout_s
        self.cert_file = cert_file
        self.cert_key_file = cert_key_file
        self._session = session

    def __repr__(self) -> str:  # no secret in logs or tracebacks
        return f"PixApi(base_url={self.base_url!r}, client_id={self.client_id!r})"

    @classmethod
    def from_settings(cls) -> PixApi:
        return cls(
            base_url=settings.PIX_API_URL,
            client_id=settings.PIX_CLIENT_ID,
            client_secret=settings.PIX_CLIENT_SECRET,
            pix_key=settings.PIX_KEY,
            timeout_s=settings.PIX_TIMEOUT_S,
            cert_file=settings.PIX_CERT_FILE,
            cert_key_file=settings.PIX_CERT_KEY_FILE,
        )

    # --- charges ------------------------------------------------------------------

    def create_charge(self, txid: str, amount: Decimal, *, expires_in_s: int, description: str = "") -> Charge:
        """Create the immediate charge ``txid`` of ``amount`` to our key, valid
        ``expires_in_s`` seconds. Nothing about the payer is sent (privacy).

        Raises ValueError on a bad txid, amount or expiry; PixApiError when the
        PSP fails. Retrying after a lost answer is safe: when the PSP refuses
        the txid as taken by the same charge, that charge is returned."""
        _validate_txid(txid)
        original = format_amount(amount)
        if isinstance(expires_in_s, bool) or not isinstance(expires_in_s, int) or expires_in_s <= 0:
            raise ValueError("expires_in_s must be a positive number of seconds.")
        if not self.pix_key:
            raise PixApiError("PIX_KEY is not set: a charge needs the receiving key", transient=False)
        body: dict[str, Any] = {
            "calendario": {"expiracao": expires_in_s},
            "valor": {"original": original},
            "chave": self.pix_key,
        }
        description = (description or "").strip()[:DESCRIPTION_MAX_CHARS]
        if description:
            body["solicitacaoPagador"] = description
        try:
            charge = Charge.from_cob(self._call("PUT", f"/v2/cob/{txid}", json=body))
        except PixApiError as exc:
            if exc.status not in (400, 409):
                raise
            existing = self._existing_charge(txid, original)
            if existing is None:
                raise
            logger.info("pix cob %s already existed with the same amount; reusing it", txid)
            return existing
        if charge.txid != txid or charge.amount != Decimal(original):
            raise PixApiError(f"Pix API created cob {txid} with a different txid or amount", transient=False)
        return charge

    def _existing_charge(self, txid: str, original: str) -> Charge | None:
        """The charge ``txid`` when it exists, is open and matches what we meant to create."""
        try:
            charge = self.get_charge(txid)
        except PixApiError as exc:
            if exc.transient:
                raise
            return None
        if charge.amount != Decimal(original) or charge.raw.get("chave") not in (None, self.pix_key):
            return None
        return charge

    def get_charge(self, txid: str) -> Charge:
        """The charge ``txid`` as the PSP has it now (404 is a permanent PixApiError)."""
        _validate_txid(txid)
        return Charge.from_cob(self._call("GET", f"/v2/cob/{txid}"))

    # --- the token ----------------------------------------------------------------

    @property
    def _token_key(self) -> str:
        # Per account: a change of PSP or client id never reuses a token.
        digest = hashlib.sha256(f"{self.base_url}\n{self.client_id}".encode()).hexdigest()[:24]
        return f"payments:pix:token:{digest}"

    def forget_token(self) -> None:
        cache.delete(self._token_key)

    def _token(self) -> str:
        token = cache.get(self._token_key)
        if token:
            return token
        with _token_lock:  # one fetch at a time per process; others reuse it
            token = cache.get(self._token_key)
            if token:
                return token
            token, expires_in = self._fetch_token()
            ttl = expires_in - TOKEN_MARGIN_S if expires_in > 2 * TOKEN_MARGIN_S else expires_in // 2
            if ttl > 0:
                cache.set(self._token_key, token, timeout=ttl)
            return token

    def _fetch_token(self) -> tuple[str, int]:
        response = self._send(
            "POST",
            "/oauth/token",
            data={"grant_type": "client_credentials"},
            auth=(self.client_id, self._client_secret),
        )
        if response.status_code != 200:
            raise self._error("POST /oauth/token", response)
        try:
            body = response.json()
            token = body["access_token"]
            expires_in = int(body.get("expires_in") or 0)
            if not isinstance(token, str) or not token:
                raise ValueError("empty token")
        except (ValueError, KeyError, TypeError) as exc:
            raise PixApiError("Pix API token answer is not a token", transient=False, status=200) from exc
        return token, expires_in

    # --- HTTP ---------------------------------------------------------------------

    def _call(self, method: str, path: str, *, json: dict | None = None) -> Any:
        """An authenticated API call: the JSON answer of a 2xx; on 401 the token
        is dropped and the call repeated once."""
        for attempt in (1, 2):
            token = self._token()
            response = self._send(method, path, json=json, headers={"Authorization": f"Bearer {token}"})
            if response.status_code == 401 and attempt == 1:
                logger.info("pix api %s %s: token refused, fetching a new one", method, path)
                self.forget_token()
                continue
            if not 200 <= response.status_code < 300:
                raise self._error(f"{method} {path}", response)
            try:
                return response.json()
            except ValueError as exc:
                raise PixApiError(
                    f"Pix API {method} {path} answered non-JSON", transient=False, status=response.status_code
                ) from exc
        raise AssertionError("unreachable")  # pragma: no cover

    def _send(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        if not self.base_url:
            raise PixApiError("PIX_API_URL is not set", transient=False)
        try:
            return (self._session or _shared_session()).request(
                method,
                self.base_url + path,
                timeout=(min(self.timeout_s, 5.0), self.timeout_s),
                cert=self._cert(),
                allow_redirects=False,
                **kwargs,
            )
        except requests.exceptions.SSLError as exc:
            # A certificate the PSP refuses (or that we refuse) will not fix itself.
            raise PixApiError(
                f"Pix API {method} {path}: TLS failed ({exc.__class__.__name__})", transient=False
            ) from exc
        except (requests.exceptions.Timeout, requests.exceptions.ConnectionError) as exc:
            raise PixApiError(
                f"Pix API {method} {path} unreachable ({exc.__class__.__name__})", transient=True
            ) from exc
        except requests.exceptions.RequestException as exc:  # a URL that cannot work, and the like
            raise PixApiError(f"Pix API {method} {path} failed ({exc.__class__.__name__})", transient=False) from exc

    def _cert(self) -> str | tuple[str, str] | None:
        if not self.cert_file:
            return None
        for name, path in (("PIX_CERT_FILE", self.cert_file), ("PIX_CERT_KEY_FILE", self.cert_key_file)):
            if path and not os.path.isfile(path):
                raise PixApiError(f"{name} does not name a readable file", transient=False)
        return (self.cert_file, self.cert_key_file) if self.cert_key_file else self.cert_file

    @staticmethod
    def _error(call: str, response: requests.Response) -> PixApiError:
        status = response.status_code
        transient = status >= 500 or status in _TRANSIENT_STATUSES
        title = _problem_title(response)
        message = f"Pix API {call} answered {status}" + (f" ({title})" if title else "")
        logger.warning("%s", message)
        return PixApiError(message, transient=transient, status=status)
