"""The Pix API client against the fake PSP, over real HTTP (and real mutual TLS)."""

from __future__ import annotations

import base64
import shutil
import ssl
import subprocess
import time
from decimal import Decimal

import pytest
from django.core.cache import cache

from payments import brcode
from payments.psp import Charge, PixApi, PixApiError, api_configured, reset_session
from payments.tests.fake_psp import CLIENT_SECRET, PIX_KEY, FakePsp, fake_psp  # noqa: F401 - fixture

TXID = "CBAS7F3K2" + "0" * 17 + "A1"  # 28 letters and digits


def new_txid(n: int) -> str:
    return f"CONGRESS{n:020d}"


@pytest.fixture
def api(fake_psp):  # noqa: F811 - the fixture
    return PixApi.from_settings()


# --- configuration ------------------------------------------------------------------------


def test_api_mode_is_on_only_with_url_credentials_and_key(settings, fake_psp):  # noqa: F811
    assert api_configured()
    settings.PIX_CLIENT_SECRET = ""
    assert not api_configured()
    settings.PIX_CLIENT_SECRET = "x"
    settings.PIX_KEY = ""
    assert not api_configured()


def test_the_client_never_shows_its_secret(api):
    assert CLIENT_SECRET not in repr(api)


# --- the token --------------------------------------------------------------------------------


def test_a_token_is_fetched_with_basic_auth_and_client_credentials(api, fake_psp):  # noqa: F811
    api.create_charge(TXID, Decimal("480.00"), expires_in_s=3600)
    (token_request,) = fake_psp.token_requests()
    expected = base64.b64encode(f"{fake_psp.client_id}:{fake_psp.client_secret}".encode()).decode()
    assert token_request.headers["authorization"] == f"Basic {expected}"
    assert token_request.form == {"grant_type": "client_credentials"}
    (cob,) = fake_psp.cob_requests()
    assert cob.headers["authorization"].startswith("Bearer fake-psp-token-")


def test_the_token_is_fetched_once_and_reused_across_calls_and_clients(api, fake_psp):  # noqa: F811
    api.create_charge(TXID, Decimal("480.00"), expires_in_s=3600)
    api.get_charge(TXID)
    PixApi.from_settings().get_charge(TXID)  # another client (another worker) shares the cached token
    assert len(fake_psp.token_requests()) == 1
    tokens = {r.headers["authorization"] for r in fake_psp.cob_requests()}
    assert len(tokens) == 1


def test_a_revoked_token_is_replaced_and_the_call_repeated_once(api, fake_psp):  # noqa: F811
    api.create_charge(TXID, Decimal("480.00"), expires_in_s=3600)
    fake_psp.revoke_tokens()
    charge = api.get_charge(TXID)
    assert charge.txid == TXID
    assert len(fake_psp.token_requests()) == 2
    assert [r.status for r in fake_psp.cob_requests("GET")] == [401, 200]
    # and the new token is the one cached now
    api.get_charge(TXID)
    assert len(fake_psp.token_requests()) == 2


def test_a_401_that_persists_after_a_new_token_is_a_permanent_error(api, fake_psp):  # noqa: F811
    fake_psp.fail_next(401, n=2)
    with pytest.raises(PixApiError) as caught:
        api.get_charge(TXID)
    assert caught.value.status == 401 and not caught.value.transient
    assert len(fake_psp.cob_requests()) == 2  # retried once, not in a loop


def test_a_wrong_client_secret_is_a_permanent_error_that_does_not_show_it(settings, fake_psp):  # noqa: F811
    settings.PIX_CLIENT_SECRET = "wrong-secret-abcdef"
    with pytest.raises(PixApiError) as caught:
        PixApi.from_settings().create_charge(TXID, Decimal("480.00"), expires_in_s=3600)
    assert not caught.value.transient
    assert caught.value.status == 401
    assert "invalid_client" in str(caught.value)
    assert "wrong-secret-abcdef" not in str(caught.value)
    assert fake_psp.cob_requests() == []


def test_a_token_that_expires_too_soon_is_not_cached(settings):
    with FakePsp(token_ttl_s=1) as fake:
        settings.PIX_API_URL, settings.PIX_KEY = fake.url, PIX_KEY
        settings.PIX_CLIENT_ID, settings.PIX_CLIENT_SECRET = fake.client_id, fake.client_secret
        api = PixApi.from_settings()
        api.create_charge(TXID, Decimal("1.00"), expires_in_s=60)
        api.get_charge(TXID)
        assert len(fake.token_requests()) == 2


def test_tokens_of_different_accounts_do_not_mix(api, fake_psp, settings):  # noqa: F811
    api.create_charge(TXID, Decimal("480.00"), expires_in_s=3600)
    settings.PIX_CLIENT_ID = "another-client"
    other = PixApi.from_settings()
    with pytest.raises(PixApiError):  # its own token request, refused: the other account's token is not used
        other.get_charge(TXID)
    assert len(fake_psp.token_requests()) == 2
    assert len(fake_psp.cob_requests()) == 1


# --- charges --------------------------------------------------------------------------------------


def test_a_charge_is_created_with_amount_key_and_expiry_and_nothing_about_the_payer(api, fake_psp):  # noqa: F811
    charge = api.create_charge(TXID, Decimal("480"), expires_in_s=259200, description="Inscrição CBAS-7F3K2")
    (put,) = fake_psp.cob_requests("PUT")
    assert put.path == f"/v2/cob/{TXID}"
    assert put.headers["content-type"].startswith("application/json")
    assert put.json == {
        "calendario": {"expiracao": 259200},
        "valor": {"original": "480.00"},
        "chave": PIX_KEY,
        "solicitacaoPagador": "Inscrição CBAS-7F3K2",
    }
    assert b"devedor" not in put.body and b"cpf" not in put.body.lower() and b"nome" not in put.body
    assert isinstance(charge, Charge)
    assert (charge.txid, charge.status, charge.amount) == (TXID, "ATIVA", Decimal("480.00"))
    assert charge.pix_copia_e_cola == fake_psp.charges[TXID]["pixCopiaECola"]
    assert brcode.is_valid(charge.pix_copia_e_cola)
    assert charge.paid_e2e_ids == () and not charge.paid_for(Decimal("480.00"))


def test_the_description_is_cut_to_140_characters_and_omitted_when_empty(api, fake_psp):  # noqa: F811
    api.create_charge(new_txid(1), Decimal("1.00"), expires_in_s=60, description="x" * 300)
    api.create_charge(new_txid(2), Decimal("1.00"), expires_in_s=60)
    first, second = fake_psp.cob_requests("PUT")
    assert first.json["solicitacaoPagador"] == "x" * 140
    assert "solicitacaoPagador" not in second.json


def test_a_paid_charge_is_concluded_with_its_transfer(api, fake_psp):  # noqa: F811
    api.create_charge(TXID, Decimal("480.00"), expires_in_s=3600)
    item = fake_psp.pay(TXID)
    charge = api.get_charge(TXID)
    assert charge.status == "CONCLUIDA"
    assert charge.paid_e2e_ids == (item["endToEndId"],)
    assert charge.paid_amount == Decimal("480.00")
    assert charge.paid_for(Decimal("480.00"))
    assert not charge.paid_for(Decimal("580.00"))
    assert [r.path for r in fake_psp.cob_requests("GET")] == [f"/v2/cob/{TXID}"]


def test_a_charge_paid_short_is_not_paid_for_its_amount(api, fake_psp):  # noqa: F811
    api.create_charge(TXID, Decimal("480.00"), expires_in_s=3600)
    fake_psp.pay(TXID, amount="48.00")
    charge = api.get_charge(TXID)
    assert charge.concluded and charge.paid_amount == Decimal("48.00")
    assert not charge.paid_for(Decimal("480.00"))


def test_an_open_or_removed_charge_is_not_paid(api, fake_psp):  # noqa: F811
    api.create_charge(TXID, Decimal("480.00"), expires_in_s=3600)
    assert not api.get_charge(TXID).paid_for(Decimal("480.00"))
    fake_psp.set_status(TXID, "REMOVIDA_PELO_PSP")
    charge = api.get_charge(TXID)
    assert charge.status == "REMOVIDA_PELO_PSP" and not charge.paid_for(Decimal("480.00"))


def test_an_unknown_charge_is_a_permanent_404(api):
    with pytest.raises(PixApiError) as caught:
        api.get_charge(TXID)
    assert caught.value.status == 404 and not caught.value.transient
    assert "Cobrança não encontrada" in str(caught.value)


def test_creating_again_after_a_lost_answer_returns_the_same_charge(api, fake_psp, settings):  # noqa: F811
    settings.PIX_TIMEOUT_S = 0.3
    fake_psp.delay_next(0.8)  # the PSP creates the charge but the answer comes too late
    with pytest.raises(PixApiError) as caught:
        PixApi.from_settings().create_charge(TXID, Decimal("480.00"), expires_in_s=3600)
    assert caught.value.transient
    assert fake_psp.wait_for_requests(1)  # the PSP got there in the end
    assert TXID in fake_psp.charges
    fake_psp.reset()
    charge = api.create_charge(TXID, Decimal("480.00"), expires_in_s=3600)  # the retry
    assert charge.txid == TXID and charge.status == "ATIVA"
    assert [(r.method, r.status) for r in fake_psp.cob_requests()] == [("PUT", 400), ("GET", 200)]
    assert len(fake_psp.charges) == 1


def test_a_txid_taken_by_a_different_charge_is_refused(api, fake_psp):  # noqa: F811
    api.create_charge(TXID, Decimal("480.00"), expires_in_s=3600)
    with pytest.raises(PixApiError) as caught:
        api.create_charge(TXID, Decimal("580.00"), expires_in_s=3600)
    assert caught.value.status == 400 and not caught.value.transient
    assert fake_psp.charges[TXID]["valor"]["original"] == "480.00"


@pytest.mark.parametrize(
    "txid",
    ["A" * 25, "A" * 36, "CBAS-7F3K2-0000000000000000000", "Ç" * 30, ""],
    ids=["25-chars", "36-chars", "dashes", "non-ascii", "empty"],
)
def test_a_txid_outside_26_to_35_letters_and_digits_is_refused_before_any_call(api, fake_psp, txid):  # noqa: F811
    with pytest.raises(ValueError, match="txid"):
        api.create_charge(txid, Decimal("1.00"), expires_in_s=60)
    with pytest.raises(ValueError, match="txid"):
        api.get_charge(txid)
    assert fake_psp.requests == []


@pytest.mark.parametrize(
    "amount",
    [Decimal("0"), Decimal("-1.00"), Decimal("1.001"), 480.0, "480,00"],
    ids=["zero", "negative", "3-places", "float", "comma"],
)
def test_an_amount_that_is_not_a_positive_decimal_is_refused_before_any_call(api, fake_psp, amount):  # noqa: F811
    with pytest.raises(ValueError, match="amount"):
        api.create_charge(TXID, amount, expires_in_s=60)
    assert fake_psp.requests == []


@pytest.mark.parametrize("expires", [0, -5, 1.5, True], ids=["zero", "negative", "float", "bool"])
def test_an_expiry_that_is_not_a_positive_int_is_refused(api, fake_psp, expires):  # noqa: F811
    with pytest.raises(ValueError, match="expires_in_s"):
        api.create_charge(TXID, Decimal("1.00"), expires_in_s=expires)


# --- failures ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [500, 502, 503, 429, 408], ids=str)
def test_server_errors_and_throttling_are_transient(api, fake_psp, status):  # noqa: F811
    fake_psp.fail_next(status)
    with pytest.raises(PixApiError) as caught:
        api.create_charge(TXID, Decimal("480.00"), expires_in_s=3600)
    assert caught.value.transient and caught.value.status == status
    assert TXID not in fake_psp.charges
    # the next call goes through
    assert api.create_charge(TXID, Decimal("480.00"), expires_in_s=3600).status == "ATIVA"


@pytest.mark.parametrize("status", [400, 403, 404, 422], ids=str)
def test_other_client_errors_are_permanent(api, fake_psp, status):  # noqa: F811
    fake_psp.fail_next(status)
    with pytest.raises(PixApiError) as caught:
        api.get_charge(TXID)
    assert not caught.value.transient and caught.value.status == status


def test_a_token_endpoint_that_fails_with_503_is_transient(api, fake_psp):  # noqa: F811
    fake_psp.fail_next(503, kind="token")
    with pytest.raises(PixApiError) as caught:
        api.get_charge(TXID)
    assert caught.value.transient and caught.value.status == 503
    assert fake_psp.cob_requests() == []


def test_a_psp_slower_than_the_timeout_is_a_transient_error(settings, fake_psp):  # noqa: F811
    settings.PIX_TIMEOUT_S = 0.3
    api = PixApi.from_settings()
    api.create_charge(TXID, Decimal("1.00"), expires_in_s=60)
    fake_psp.delay_next(1.5)
    with pytest.raises(PixApiError) as caught:
        api.get_charge(TXID)
    assert caught.value.transient and caught.value.status is None
    assert api.get_charge(TXID).txid == TXID  # the PSP answers in time again


def test_a_slow_token_endpoint_is_a_transient_error(settings, fake_psp):  # noqa: F811
    settings.PIX_TIMEOUT_S = 0.3
    fake_psp.delay_next(1.5, kind="token")
    with pytest.raises(PixApiError) as caught:
        PixApi.from_settings().get_charge(TXID)
    assert caught.value.transient


def test_a_psp_that_is_down_is_a_transient_error(settings, fake_psp):  # noqa: F811
    fake_psp.stop()
    with pytest.raises(PixApiError) as caught:
        PixApi.from_settings().get_charge(TXID)
    assert caught.value.transient and caught.value.status is None


def test_a_missing_url_or_key_is_a_permanent_error(settings, fake_psp):  # noqa: F811
    settings.PIX_KEY = ""
    with pytest.raises(PixApiError, match="PIX_KEY") as caught:
        PixApi.from_settings().create_charge(TXID, Decimal("1.00"), expires_in_s=60)
    assert not caught.value.transient
    settings.PIX_API_URL = ""
    with pytest.raises(PixApiError, match="PIX_API_URL"):
        PixApi.from_settings().get_charge(TXID)
    assert fake_psp.requests == []


def test_a_cob_answer_that_is_not_a_cob_is_a_permanent_error(api, fake_psp):  # noqa: F811
    api.create_charge(TXID, Decimal("1.00"), expires_in_s=60)
    del fake_psp.charges[TXID]["valor"]
    with pytest.raises(PixApiError) as caught:
        api.get_charge(TXID)
    assert not caught.value.transient


# --- mutual TLS ---------------------------------------------------------------------------------------


def _openssl(*args: str, cwd) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=30)


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    """A throwaway CA, a server certificate for 127.0.0.1 and a client certificate."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    d = tmp_path_factory.mktemp("pki")
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    _openssl(
        "req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=Fake PSP CA", cwd=d
    )
    (d / "server.ext").write_text("subjectAltName=IP:127.0.0.1\n")
    for name in ("server", "client"):
        _openssl("req", *ec, "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", f"/CN={name}", cwd=d)
        extra = ["-extfile", "server.ext"] if name == "server" else []
        _openssl(
            "x509",
            "-req",
            "-in",
            f"{name}.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            f"{name}.pem",
            "-days",
            "2",
            *extra,
            cwd=d,
        )
    return d


@pytest.fixture
def mtls_psp(pki, settings, monkeypatch):
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(pki / "server.pem", pki / "server.key")
    context.verify_mode = ssl.CERT_REQUIRED  # the PSP demands our certificate
    context.load_verify_locations(pki / "ca.pem")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(pki / "ca.pem"))  # we trust the PSP's CA
    fake = FakePsp(pix_key=PIX_KEY, tls_context=context).start()
    settings.PIX_API_URL = fake.url
    settings.PIX_CLIENT_ID, settings.PIX_CLIENT_SECRET = fake.client_id, fake.client_secret
    settings.PIX_KEY = PIX_KEY
    settings.PIX_TIMEOUT_S = 2.0
    cache.clear()
    yield fake
    fake.stop()
    reset_session()


def test_with_the_client_certificate_the_psp_answers_over_mutual_tls(mtls_psp, pki, settings):
    settings.PIX_CERT_FILE = str(pki / "client.pem")
    settings.PIX_CERT_KEY_FILE = str(pki / "client.key")
    charge = PixApi.from_settings().create_charge(TXID, Decimal("480.00"), expires_in_s=3600)
    assert mtls_psp.url.startswith("https://")
    assert charge.status == "ATIVA"
    assert len(mtls_psp.token_requests()) == 1 and mtls_psp.tls_refusals == 0


def test_without_the_client_certificate_the_psp_refuses_the_connection(mtls_psp, settings):
    settings.PIX_CERT_FILE = ""
    settings.PIX_CERT_KEY_FILE = ""
    with pytest.raises(PixApiError):
        PixApi.from_settings().get_charge(TXID)
    assert mtls_psp.requests == []
    # The server records the refused handshake in its own thread, maybe just after the client gave up.
    deadline = time.monotonic() + 5
    while mtls_psp.tls_refusals < 1 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert mtls_psp.tls_refusals >= 1


def test_a_certificate_path_that_does_not_exist_is_a_permanent_error(mtls_psp, settings, tmp_path):
    settings.PIX_CERT_FILE = str(tmp_path / "missing.pem")
    settings.PIX_CERT_KEY_FILE = ""
    with pytest.raises(PixApiError, match="PIX_CERT_FILE") as caught:
        PixApi.from_settings().get_charge(TXID)
    assert not caught.value.transient
    assert mtls_psp.requests == []
