"""A local HTTP server that speaks enough of the Central Bank's Pix API (as
PSPs implement it) for tests: the real client (``payments.psp``) runs against it.

* ``POST /oauth/token``: client credentials in HTTP Basic auth and the form
  ``grant_type=client_credentials``; answers ``{"access_token", "token_type",
  "expires_in", "scope"}``, or 401 ``{"error": "invalid_client"}``.
* ``PUT /v2/cob/{txid}``: creates an immediate charge (201, the cob JSON with
  ``status`` ATIVA, ``location`` and a valid dynamic ``pixCopiaECola``); a
  txid already used: 400 ``CobOperacaoInvalida``.
* ``GET /v2/cob/{txid}``: the cob (with its ``pix`` list once paid), or 404
  ``CobNaoEncontrado``.

The cob calls need ``Authorization: Bearer <a token it issued>`` (401
otherwise). Errors use the API's RFC 7807 bodies. Every request is recorded.
Tests drive it: ``pay`` a charge (it becomes CONCLUIDA and the webhook item is
returned), ``set_status``, ``fail_next`` / ``delay_next`` the next calls,
``revoke_tokens``. Answers go out in one write with ``TCP_NODELAY``.

    with FakePsp() as psp:
        settings.PIX_API_URL = psp.url
        item = psp.pay(txid)                 # {"endToEndId", "txid", "valor", "horario"}
        client.post(webhook_url, {"pix": [item]})

As a pytest fixture: ``fake_psp`` (settings pointed at it). Other test
modules use it with ``from payments.tests.fake_psp import fake_psp  # noqa: F401``
in a conftest, or ``pytest_plugins = ["payments.tests.fake_psp"]``.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import itertools
import json
import re
import secrets
import socket
import ssl
import threading
import time
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs

from congress.testing.local_server import FakeHTTPServer, LocalFake
from payments import brcode

# Credentials of the fake only, never real ones.
CLIENT_ID = "fake-psp-client-id"
CLIENT_SECRET = "fake-psp-client-secret-0123456789"
PIX_KEY = "pix@congresso.example"
ISPB = "99999004"  # a test ISPB (the Central Bank's homologation participant)

_TXID_RE = re.compile(r"^[a-zA-Z0-9]{26,35}$")
_AMOUNT_RE = re.compile(r"^\d{1,10}\.\d{2}$")
_ERROR_BASE = "https://pix.bcb.gov.br/api/v2/error/"
_STATUSES = ("ATIVA", "CONCLUIDA", "REMOVIDA_PELO_USUARIO_RECEBEDOR", "REMOVIDA_PELO_PSP")


@dataclass
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]  # lower-cased names
    body: bytes
    json: Any = None
    form: dict[str, str] = field(default_factory=dict)
    kind: str = ""  # "token", "cob" or "other"
    status: int = 0
    at: float = field(default_factory=time.monotonic)


@dataclass
class _Scripted:
    """What the fake does instead of (or before) answering one request."""

    kind: str  # "token", "cob" or "any"
    status: int = 0  # > 0: answer this status
    delay_s: float = 0.0  # > 0: wait this long first


def _problem(status: int, name: str, title: str, detail: str = "", **extra: Any) -> dict:
    body: dict[str, Any] = {"type": _ERROR_BASE + name, "title": title, "status": status}
    if detail:
        body["detail"] = detail
    body.update(extra)
    return body


def _now_iso() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: FakeHTTPServer

    tls_failed = False

    def setup(self) -> None:
        # Without this, Nagle + delayed ACK add ~40 ms per request.
        self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        context = self.server.fake.tls_context
        if context is not None:
            # The handshake (and the client certificate check) happens here, in
            # the handler's thread; a refused client is simply not answered.
            try:
                self.request = context.wrap_socket(self.request, server_side=True)
            except (ssl.SSLError, OSError):
                self.tls_failed = True
                self.server.fake._tls_refusals += 1
        super().setup()

    def handle(self) -> None:
        if not self.tls_failed:
            super().handle()

    def finish(self) -> None:
        with contextlib.suppress(OSError):
            super().finish()
        if isinstance(self.request, ssl.SSLSocket):
            self.request.close()

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _send(self, status: int, payload: Any) -> None:
        body = json.dumps(payload).encode()
        head = (
            f"HTTP/1.1 {status} {HTTPStatus(status).phrase}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\nConnection: keep-alive\r\n\r\n"
        )
        self.wfile.write(head.encode("latin-1") + body)  # one write: headers and body together

    def _handle(self, method: str) -> None:
        fake: FakePsp = self.server.fake
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        record = RecordedRequest(
            method=method,
            path=self.path.split("?")[0],
            headers={k.lower(): v for k, v in self.headers.items()},
            body=raw,
        )
        content_type = self.headers.get("Content-Type", "")
        if raw and content_type.startswith("application/json"):
            with contextlib.suppress(ValueError):
                record.json = json.loads(raw)
        elif raw and content_type.startswith("application/x-www-form-urlencoded"):
            record.form = {k: v[-1] for k, v in parse_qs(raw.decode("latin-1")).items()}
        status, payload = fake._answer(record)
        record.status = status
        fake._record(record)
        if status == 0:  # stopped while delaying: nothing is answered
            return
        with contextlib.suppress(OSError):  # the client may have timed out and gone
            self._send(status, payload)

    def do_POST(self) -> None:  # the stdlib's name
        self._handle("POST")

    def do_PUT(self) -> None:  # the stdlib's name
        self._handle("PUT")

    def do_GET(self) -> None:  # the stdlib's name
        self._handle("GET")

    def do_PATCH(self) -> None:  # the stdlib's name
        self._handle("PATCH")


class FakePsp(LocalFake):
    """The fake PSP. ``url`` is what ``PIX_API_URL`` should be."""

    handler = _Handler
    thread_name = "fake-psp"

    def __init__(
        self,
        *,
        client_id: str = CLIENT_ID,
        client_secret: str = CLIENT_SECRET,
        pix_key: str | None = None,
        token_ttl_s: int = 3600,
        tls_context: ssl.SSLContext | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.client_id = client_id
        self.client_secret = client_secret
        self.pix_key = pix_key  # when set, a cob for another key is refused
        self.token_ttl_s = token_ttl_s
        # A server-side context (with verify_mode CERT_REQUIRED for mTLS): HTTPS.
        self.tls_context = tls_context
        self._tls_refusals = 0
        self._init_server(host, port)
        self.charges: dict[str, dict] = {}
        self.requests: list[RecordedRequest] = []
        self.tokens: set[str] = set()
        self._scripted: list[_Scripted] = []
        self._ids = itertools.count(1)
        self._lock = threading.RLock()
        self._recorded = threading.Condition(self._lock)

    @property
    def url(self) -> str:
        scheme = "https" if self.tls_context is not None else "http"
        return f"{scheme}://{self.host}:{self.port}"

    @property
    def tls_refusals(self) -> int:
        """Connections whose TLS handshake failed (no or a wrong client certificate)."""
        return self._tls_refusals

    # --- scripting ----------------------------------------------------------------------

    def pay(self, txid: str, *, amount: str | None = None, e2e: str | None = None) -> dict:
        """A Pix transfer pays charge ``txid`` (of its own amount unless
        ``amount`` says otherwise): the cob becomes CONCLUIDA and lists the
        transfer. Returns the webhook item ``{"endToEndId", "txid", "valor",
        "horario"}`` the PSP would POST. KeyError for an unknown txid."""
        with self._lock:
            cob = self.charges[txid]
            item = {
                "endToEndId": e2e or self.new_e2e_id(),
                "txid": txid,
                "valor": amount if amount is not None else cob["valor"]["original"],
                "horario": _now_iso(),
            }
            cob.setdefault("pix", []).append(dict(item))
            cob["status"] = "CONCLUIDA"
            return item

    @staticmethod
    def webhook_body(*items: dict) -> dict:
        """The body of the PSP's webhook POST carrying ``items``."""
        return {"pix": list(items)}

    @staticmethod
    def new_e2e_id() -> str:
        """An endToEndId shaped like the SPI's: E + ISPB + yyyyMMddHHmm + 11 characters."""
        stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%d%H%M")
        return f"E{ISPB}{stamp}{secrets.token_hex(6)[:11]}"

    def set_status(self, txid: str, status: str) -> None:
        if status not in _STATUSES:
            raise ValueError(f"Unknown cob status {status!r}; one of {_STATUSES}")
        with self._lock:
            self.charges[txid]["status"] = status

    def fail_next(self, status_code: int, n: int = 1, *, kind: str = "cob") -> None:
        """The next ``n`` calls of ``kind`` (``"cob"``, ``"token"`` or ``"any"``)
        answer ``status_code`` with a Pix API error body."""
        with self._lock:
            self._scripted.extend(_Scripted(kind, status=status_code) for _ in range(n))

    def delay_next(self, seconds: float, n: int = 1, *, kind: str = "cob") -> None:
        """The next ``n`` calls of ``kind`` are answered only after ``seconds``
        (longer than the client's timeout: it gives up first)."""
        with self._lock:
            self._scripted.extend(_Scripted(kind, delay_s=seconds) for _ in range(n))

    def revoke_tokens(self) -> None:
        """Every token issued so far is refused from now on (401)."""
        with self._lock:
            self.tokens.clear()

    def reset(self) -> None:
        with self._lock:
            self.requests.clear()
            self._scripted.clear()

    # --- inspection -----------------------------------------------------------------------

    def of_kind(self, kind: str) -> list[RecordedRequest]:
        with self._lock:
            return [r for r in self.requests if r.kind == kind]

    def wait_for_requests(self, count: int, *, kind: str = "cob", timeout: float = 10.0) -> bool:
        """Wait until ``count`` calls of ``kind`` were handled (a delayed one
        counts once answered); False on timeout."""
        with self._recorded:
            return self._recorded.wait_for(lambda: len(self.of_kind(kind)) >= count, timeout=timeout)

    def token_requests(self) -> list[RecordedRequest]:
        return self.of_kind("token")

    def cob_requests(self, method: str | None = None) -> list[RecordedRequest]:
        return [r for r in self.of_kind("cob") if method is None or r.method == method]

    # --- internals ------------------------------------------------------------------------

    def _record(self, record: RecordedRequest) -> None:
        with self._lock:
            self.requests.append(record)
            self._recorded.notify_all()

    def _next_scripted(self, kind: str) -> _Scripted | None:
        with self._lock:
            for index, scripted in enumerate(self._scripted):
                if scripted.kind in (kind, "any"):
                    return self._scripted.pop(index)
        return None

    def _answer(self, record: RecordedRequest) -> tuple[int, Any]:
        parts = [p for p in record.path.split("/") if p]
        if record.method == "POST" and parts == ["oauth", "token"]:
            record.kind = "token"
        elif len(parts) == 3 and parts[:2] == ["v2", "cob"]:
            record.kind = "cob"
        else:
            record.kind = "other"
            return 404, _problem(404, "NaoEncontrado", "Recurso não encontrado.")

        scripted = self._next_scripted(record.kind)
        if scripted is not None:
            if scripted.delay_s and self._stopping.wait(scripted.delay_s):
                return 0, None
            if scripted.status:
                return scripted.status, _problem(
                    scripted.status,
                    "ServicoIndisponivel" if scripted.status >= 500 else "RequisicaoInvalida",
                    HTTPStatus(scripted.status).phrase,
                    "Falha simulada pelo PSP falso.",
                )
        if record.kind == "token":
            return self._token(record)
        token = record.headers.get("authorization", "")
        with self._lock:
            authorised = token.startswith("Bearer ") and token[7:] in self.tokens
        if not authorised:
            return 401, _problem(401, "AcessoNegado", "Não autorizado.", "Token de acesso inválido ou expirado.")
        txid = parts[2]
        if not _TXID_RE.match(txid):
            return 400, _problem(
                400, "CobOperacaoInvalida", "Cobrança inválida.", "O txid deve ter de 26 a 35 letras e dígitos."
            )
        if record.method == "PUT":
            return self._create(txid, record.json)
        if record.method == "GET":
            with self._lock:
                cob = self.charges.get(txid)
                if cob is None:
                    return 404, _problem(
                        404, "CobNaoEncontrado", "Cobrança não encontrada.", f"Cobrança {txid} não encontrada."
                    )
                return 200, json.loads(json.dumps(cob))
        return 405, _problem(405, "OperacaoInvalida", "Método não permitido.")

    def _token(self, record: RecordedRequest) -> tuple[int, Any]:
        expected = base64.b64encode(f"{self.client_id}:{self.client_secret}".encode()).decode()
        if record.headers.get("authorization", "") != f"Basic {expected}":
            return 401, {"error": "invalid_client", "error_description": "Client authentication failed."}
        if record.form.get("grant_type") != "client_credentials":
            return 400, {"error": "unsupported_grant_type"}
        token = "fake-psp-token-" + secrets.token_urlsafe(16)
        with self._lock:
            self.tokens.add(token)
        return 200, {
            "access_token": token,
            "token_type": "Bearer",
            "expires_in": self.token_ttl_s,
            "scope": "cob.write cob.read pix.read webhook.read webhook.write",
        }

    def _create(self, txid: str, body: Any) -> tuple[int, Any]:
        violations = []
        body = body if isinstance(body, dict) else {}
        expiracao = (body.get("calendario") or {}).get("expiracao", 86400)
        if isinstance(expiracao, bool) or not isinstance(expiracao, int) or expiracao <= 0:
            violations.append(
                {"razao": "O campo cob.calendario.expiracao é inválido.", "propriedade": "cob.calendario.expiracao"}
            )
        original = (body.get("valor") or {}).get("original")
        if not isinstance(original, str) or not _AMOUNT_RE.match(original) or float(original) <= 0:
            violations.append(
                {"razao": "O campo cob.valor.original não respeita o schema.", "propriedade": "cob.valor.original"}
            )
        chave = body.get("chave")
        if not isinstance(chave, str) or not chave or (self.pix_key is not None and chave != self.pix_key):
            violations.append({"razao": "A chave não pertence ao usuário recebedor.", "propriedade": "cob.chave"})
        solicitacao = body.get("solicitacaoPagador")
        if solicitacao is not None and (not isinstance(solicitacao, str) or len(solicitacao) > 140):
            violations.append(
                {"razao": "O campo cob.solicitacaoPagador é inválido.", "propriedade": "cob.solicitacaoPagador"}
            )
        if violations:
            return 400, _problem(
                400,
                "CobOperacaoInvalida",
                "Cobrança inválida.",
                "A requisição que busca alterar ou criar uma cobrança não respeita o schema.",
                violacoes=violations,
            )
        with self._lock:
            if txid in self.charges:
                return 400, _problem(
                    400, "CobOperacaoInvalida", "Cobrança inválida.", "O txid informado já está em uso."
                )
            loc_id = next(self._ids)
            location = f"{self.host}:{self.port}/qr/v2/{secrets.token_hex(16)}"
            cob: dict[str, Any] = {
                "calendario": {"criacao": _now_iso(), "expiracao": expiracao},
                "txid": txid,
                "revisao": 0,
                "loc": {"id": loc_id, "location": location, "tipoCob": "cob"},
                "location": location,
                "status": "ATIVA",
                "valor": {"original": original},
                "chave": chave,
                "pixCopiaECola": self._dynamic_brcode(location),
            }
            for key in ("devedor", "solicitacaoPagador", "infoAdicionais"):
                if key in body:
                    cob[key] = body[key]
            self.charges[txid] = cob
            return 201, json.loads(json.dumps(cob))

    @staticmethod
    def _dynamic_brcode(location: str) -> str:
        """A dynamic BR Code pointing at ``location``, as PSPs return in ``pixCopiaECola``."""
        return brcode.build(
            [
                ("00", "01"),
                ("01", "12"),
                ("26", [("00", brcode.GUI), ("25", location)]),
                ("52", "0000"),
                ("53", "986"),
                ("58", "BR"),
                ("59", "PSP FALSO DE TESTES"),
                ("60", "BRASILIA"),
                ("62", [("05", "***")]),
            ]
        )


try:
    import pytest
except ImportError:  # pragma: no cover
    pytest = None  # type: ignore[assignment]

if pytest is not None:

    @pytest.fixture
    def fake_psp(settings):
        """A running fake PSP, with the Pix API settings pointed at it (API mode
        on) and no token cached."""
        from payments.psp import PixApi, reset_session

        fake = FakePsp(pix_key=PIX_KEY).start()
        settings.PIX_API_URL = fake.url
        settings.PIX_CLIENT_ID = fake.client_id
        settings.PIX_CLIENT_SECRET = fake.client_secret
        settings.PIX_KEY = PIX_KEY
        settings.PIX_CERT_FILE = ""
        settings.PIX_CERT_KEY_FILE = ""
        settings.PIX_TIMEOUT_S = 2.0
        PixApi.from_settings().forget_token()
        try:
            yield fake
        finally:
            fake.stop()
            reset_session()
