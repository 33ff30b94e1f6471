"""Schemathesis against our own OpenAPI schema (``/api/schema/``): at least
1,000 generated requests per endpoint, valid and invalid, through the real
WSGI application, with zero 5xx and zero responses that break the schema;
and requests without the API key or with a wrong one always 401/403.

Bounded and repeatable: ``derandomize`` (the same cases on every run), no
deadline, no example database. The OpenAI edge is the local fake, so a voice
note that passed validation would go through the real client.

Run alone: ``pytest tests/fuzz -m fuzz`` (also part of ``-m resilience``).
"""

from __future__ import annotations

import json
import re
from collections import Counter

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from schemathesis.generation.modes import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
)

from congress.testing.fake_openai import fake_openai  # noqa: F401 - fixture

pytestmark = [pytest.mark.resilience, pytest.mark.fuzz, pytest.mark.django_db]

EXAMPLES_PER_ENDPOINT = 1000
API_KEY = "fuzz-api-key-0123456789abcdef"
ENDPOINTS = [("POST", "/chat/"), ("POST", "/whatsapp/"), ("POST", "/transcribe-audio/"), ("GET", "/health")]
PROTECTED = [endpoint for endpoint in ENDPOINTS if endpoint[1] != "/health"]


def _fuzz_settings(max_examples: int):
    return hypothesis_settings(
        max_examples=max_examples,
        deadline=None,
        derandomize=True,
        database=None,
        print_blob=True,
        # The fixtures (database, settings, fake OpenAI) are set up once per
        # endpoint on purpose: every case shares them.
        suppress_health_check=list(HealthCheck),
    )


@pytest.fixture(scope="module")
def schema(django_db_blocker):
    from congress.wsgi import application

    # Serving the schema runs Django's request signals, which touch the
    # database connection: allowed here, at module scope, explicitly.
    with django_db_blocker.unblock():
        return schemathesis.openapi.from_wsgi("/api/schema/", application)


@pytest.fixture
def wsgi_like_the_test_client():
    """Keep the test's database connection across requests, as Django's test
    client does: the WSGI handler would close it at the end of each request
    (it sits in the test's transaction)."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def fuzz_env(settings, fake_openai, wsgi_like_the_test_client):  # noqa: F811
    settings.BOT_API_KEY = API_KEY
    return fake_openai


VISIBLE_ASCII = st.from_regex(r"[!-~]([ -~]{0,60}[!-~])?", fullmatch=True)
# What a client adds beyond the schema: stray query parameters and its own
# X-Request-ID (echoed back only when harmless). It also gives /health, which
# has no inputs at all, a thousand distinct requests.
NOISE = st.fixed_dictionaries(
    {
        "params": st.dictionaries(st.from_regex(r"[a-z_]{1,12}", fullmatch=True), st.text(max_size=40), max_size=3),
        "request_id": st.one_of(st.none(), VISIBLE_ASCII),
    }
)


def noisy_headers(noise: dict, **headers: str) -> dict[str, str]:
    if noise["request_id"] is not None:
        headers["X-Request-ID"] = noise["request_id"]
    return headers


def response_header(response, name: str) -> str | None:
    for key, values in response.headers.items():
        if key.lower() == name.lower():
            return values[0] if isinstance(values, list) else values
    return None


def any_case(operation):
    """Requests that fit the schema and requests that do not."""
    return st.one_of(
        operation.as_strategy(generation_mode=GenerationMode.POSITIVE),
        operation.as_strategy(generation_mode=GenerationMode.NEGATIVE),
    )


def documented_statuses(operation) -> set[int]:
    return {int(code) for code in operation.definition.raw.get("responses", {}) if code.isdigit()}


def use_key(case, key: str | None) -> None:
    """Whatever key the generator put in the request is replaced by ``key``."""
    headers = {k: v for k, v in (case.headers or {}).items() if k.lower() not in ("x-api-key", "authorization")}
    if key is not None:
        headers["X-API-Key"] = key
    case.headers = headers


CONFORMANCE_CHECKS = [
    schemathesis.checks.not_a_server_error,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


@pytest.mark.parametrize(("method", "path"), ENDPOINTS, ids=[f"{m} {p}" for m, p in ENDPOINTS])
def test_a_thousand_generated_requests_get_no_5xx_and_responses_that_match_the_schema(schema, fuzz_env, method, path):
    operation = schema[path][method]
    statuses: Counter[int] = Counter()
    modes: Counter[str] = Counter()
    by_mode: Counter[tuple[str, int]] = Counter()
    documented = documented_statuses(operation)

    @_fuzz_settings(EXAMPLES_PER_ENDPOINT)
    @given(case=any_case(operation), noise=NOISE)
    def run(case, noise):
        use_key(case, API_KEY)
        headers = noisy_headers(noise)
        response = case.call(headers=headers, params=noise["params"])
        mode = str(case.meta.generation.mode) if case.meta else "?"
        statuses[response.status_code] += 1
        modes[mode] += 1
        by_mode[(mode, response.status_code)] += 1
        case.validate_response(response, checks=CONFORMANCE_CHECKS, headers=headers)
        assert response.status_code in documented, f"undocumented status {response.status_code}"
        request_id = response_header(response, "X-Request-ID")
        assert request_id, "every response carries X-Request-ID"
        if request_id != noise["request_id"]:
            assert re.fullmatch(r"[0-9a-f]{32}", request_id), "an unusable caller id is replaced, never echoed"

    run()
    print(
        f"fuzz[{method} {path}]: cases={sum(statuses.values())} modes={dict(modes)} "
        f"statuses={dict(sorted(statuses.items()))} by_mode={dict(sorted(by_mode.items()))} "
    )
    assert sum(statuses.values()) >= EXAMPLES_PER_ENDPOINT, "Hypothesis ran fewer cases than asked"
    assert not [status for status in statuses if status >= 500]


@pytest.mark.parametrize("body", ['""', "[]", "1", "null", '"audio"'], ids=["string", "list", "number", "null", "text"])
def test_a_json_body_that_is_not_an_object_is_a_400_at_transcribe_audio(api_client, settings, body):
    settings.BOT_API_KEY = API_KEY
    response = api_client.post("/transcribe-audio", data=body, content_type="application/json", HTTP_X_API_KEY=API_KEY)
    assert response.status_code == 400, response.content[:300]
    assert response.json()["error"]


# Every status each endpoint can answer (CONTRACT §3 and the code): 413 for
# a body over the upload limit, 415 for a media type it does not parse, 429
# when throttled, 503 when a backing service is down.
ANSWERED = {
    ("POST", "/chat/"): {200, 400, 401, 413, 415, 429, 503},
    ("POST", "/whatsapp/"): {200, 202, 400, 401, 413, 415, 429, 503},
    ("POST", "/transcribe-audio/"): {200, 400, 401, 413, 415, 429, 503},
    ("GET", "/health"): {200, 503},
}


@pytest.mark.parametrize(("method", "path"), ENDPOINTS, ids=[f"{m} {p}" for m, p in ENDPOINTS])
def test_the_schema_documents_every_status_the_endpoint_answers(schema, method, path):
    missing = ANSWERED[(method, path)] - documented_statuses(schema[path][method])
    assert not missing, f"not in the schema: {sorted(missing)}"


WRONG_KEYS = st.one_of(
    st.none(),  # no key at all
    # Anything a client can put in a header value: visible ASCII, inner spaces.
    VISIBLE_ASCII.filter(lambda key: key != API_KEY),
    st.just(API_KEY[:-1]),
    st.just(API_KEY + "x"),
    st.just(API_KEY.upper()),
)
KEY_HEADERS = st.sampled_from(["X-API-Key", "x-api-key", "X-API-KEY", "Authorization"])


@pytest.mark.parametrize(("method", "path"), PROTECTED, ids=[f"{m} {p}" for m, p in PROTECTED])
def test_requests_without_the_api_key_or_with_a_wrong_one_are_always_refused(schema, fuzz_env, method, path):
    operation = schema[path][method]
    statuses: Counter[int] = Counter()

    @_fuzz_settings(EXAMPLES_PER_ENDPOINT // 4)
    @given(case=any_case(operation), key=WRONG_KEYS, header=KEY_HEADERS)
    def run(case, key, header):
        use_key(case, None)  # this test chooses the key, below
        headers = {}
        if key is not None:
            headers[header] = f"Bearer {key}" if header == "Authorization" else key
        response = case.call(headers=headers)
        statuses[response.status_code] += 1
        assert response.status_code in (401, 403), (response.status_code, response.content[:300])
        assert json.loads(response.content).get("error"), "a JSON body that says what is wrong"

    run()
    print(f"fuzz-auth[{method} {path}]: cases={sum(statuses.values())} statuses={dict(statuses)}")
