"""The OpenAI wrapper against a local server speaking the OpenAI API (real ``openai`` client)."""

from __future__ import annotations

import logging
import socket

import pytest

import chatbot.llm as llm_module
from chatbot.llm import SYSTEM_PROMPT, LLMClient, LLMError, get_llm, reset_llm_client
from congress.errors import CongressError
from congress.testing.fake_openai import FakeFailure

# The fake_openai fixture (also fine if the root conftest lists it).
pytest_plugins = ["congress.testing.fake_openai"]

MESSAGES = [{"role": "system", "content": "sistema"}, {"role": "user", "content": "Onde fica o evento secreto-xyz?"}]


@pytest.fixture
def sleeps(monkeypatch) -> list[float]:
    """Backoff delays the wrapper asked for, recorded instead of slept."""
    recorded: list[float] = []
    monkeypatch.setattr(llm_module, "_sleep", recorded.append)
    return recorded


@pytest.fixture(autouse=True)
def _fresh_client():
    reset_llm_client()
    yield
    reset_llm_client()


def test_there_is_no_client_without_an_api_key(settings):
    settings.OPENAI_API_KEY = ""
    assert get_llm() is None


def test_the_client_is_built_once_and_reused(fake_openai):
    assert get_llm() is get_llm()


def test_changing_a_setting_rebuilds_the_client(fake_openai, settings):
    first = get_llm()
    settings.OPENAI_MODEL = "outro-modelo"
    second = get_llm()
    assert second is not first
    assert second.model == "outro-modelo"


def test_the_sdk_does_not_retry_on_its_own(fake_openai):
    assert get_llm()._openai.max_retries == 0


def test_a_chat_returns_the_text_and_token_usage(fake_openai):
    fake_openai.reply_text = "O evento é em Goiânia."
    reply = get_llm().chat(MESSAGES)
    assert reply.text == "O evento é em Goiânia."
    assert reply.prompt_tokens > 0 and reply.completion_tokens > 0
    assert reply.latency_ms >= 0


def test_a_chat_sends_the_model_and_the_messages(fake_openai, settings):
    settings.OPENAI_MODEL = "modelo-de-teste"
    get_llm().chat(MESSAGES, max_tokens=123)
    sent = fake_openai.chat_requests[0].json
    assert sent["model"] == "modelo-de-teste"
    assert sent["messages"] == MESSAGES
    assert sent["max_tokens"] == 123


def test_server_errors_are_retried_until_one_succeeds(fake_openai, sleeps):
    fake_openai.fail_next(FakeFailure.server_error(500), FakeFailure.server_error(503))
    assert get_llm().chat(MESSAGES).text
    assert len(fake_openai.chat_requests) == 3
    assert len(sleeps) == 2


def test_server_errors_give_up_after_the_configured_retries(fake_openai, settings, sleeps):
    settings.OPENAI_MAX_RETRIES = 3
    fake_openai.fail_always(FakeFailure.server_error(500))
    with pytest.raises(LLMError) as caught:
        get_llm().chat(MESSAGES)
    assert caught.value.transient is True
    assert len(fake_openai.chat_requests) == 4


def test_a_rate_limit_waits_as_long_as_retry_after_says(fake_openai, sleeps):
    fake_openai.fail_next(FakeFailure.rate_limited(retry_after=0.7))
    get_llm().chat(MESSAGES)
    assert sleeps == [0.7]
    assert len(fake_openai.chat_requests) == 2


def test_a_long_retry_after_is_capped(fake_openai, settings, sleeps):
    settings.OPENAI_RETRY_AFTER_CAP_S = 2.0
    fake_openai.fail_next(FakeFailure.rate_limited(retry_after=120))
    get_llm().chat(MESSAGES)
    assert sleeps == [2.0]


@pytest.mark.parametrize("status", [400, 401, 403, 404], ids=["bad-request", "bad-key", "forbidden", "not-found"])
def test_a_refused_request_is_not_retried(fake_openai, status, sleeps):
    fake_openai.fail_always(FakeFailure.client_error(status))
    with pytest.raises(LLMError) as caught:
        get_llm().chat(MESSAGES)
    assert caught.value.transient is False
    assert len(fake_openai.chat_requests) == 1


@pytest.mark.parametrize(
    "failure",
    [FakeFailure.malformed(), FakeFailure.empty(), FakeFailure.not_json()],
    ids=["no-choices", "empty-content", "html-body"],
)
def test_a_malformed_body_is_an_llm_error_and_not_retried(fake_openai, failure, sleeps):
    fake_openai.fail_always(failure)
    with pytest.raises(LLMError):
        get_llm().chat(MESSAGES)
    assert len(fake_openai.chat_requests) == 1


def test_a_hanging_server_times_out_on_every_attempt(fake_openai, settings, sleeps):
    settings.OPENAI_TIMEOUT_S = 0.3
    settings.OPENAI_MAX_RETRIES = 1
    fake_openai.fail_always(FakeFailure.hang(seconds=5))
    with pytest.raises(LLMError) as caught:
        get_llm().chat(MESSAGES)
    assert caught.value.transient is True
    assert len(fake_openai.chat_requests) == 2


def test_a_server_that_is_down_is_a_transient_error(settings, sleeps):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings.OPENAI_API_KEY = "sk-test"
    settings.OPENAI_BASE_URL = f"http://127.0.0.1:{port}/v1"
    settings.OPENAI_MAX_RETRIES = 2
    with pytest.raises(LLMError) as caught:
        get_llm().chat(MESSAGES)
    assert caught.value.transient is True
    assert len(sleeps) == 2


def test_llm_error_is_a_congress_error():
    assert issubclass(LLMError, CongressError)


@pytest.mark.parametrize("attempt", [1, 2, 3, 4, 5, 6, 7], ids=lambda a: f"attempt-{a}")
def test_backoff_is_full_jitter_below_the_exponential_ceiling(attempt):
    client = LLMClient(
        api_key="k", base_url="http://127.0.0.1:9/v1", model="m", transcribe_model="t", timeout_s=1, max_retries=3,
        backoff_base_s=0.5, backoff_cap_s=8.0,
    )
    ceiling = min(8.0, 0.5 * 2 ** (attempt - 1))
    delays = [client._backoff(attempt, None) for _ in range(200)]
    assert all(0 <= d <= ceiling for d in delays)
    assert len(set(delays)) > 1


def test_transcription_sends_the_audio_as_portuguese(fake_openai, settings):
    settings.OPENAI_TRANSCRIBE_MODEL = "whisper-1"
    fake_openai.transcript_text = "quero me inscrever"
    text = get_llm().transcribe(b"OggS-fake-audio", mimetype="audio/ogg; codecs=opus")
    assert text == "quero me inscrever"
    sent = fake_openai.transcription_requests[0]
    assert sent.fields["model"] == "whisper-1"
    assert sent.fields["language"] == "pt"
    filename, content_type, payload = sent.files["file"]
    assert filename == "audio.ogg" and content_type == "audio/ogg" and payload == b"OggS-fake-audio"


def test_transcription_failures_are_retried_then_raise(fake_openai, sleeps):
    fake_openai.fail_always(FakeFailure.server_error(502))
    with pytest.raises(LLMError):
        get_llm().transcribe(b"x", mimetype="audio/ogg")
    assert len(fake_openai.transcription_requests) == 3


def test_usage_is_logged_without_the_message_text(fake_openai, caplog):
    with caplog.at_level(logging.INFO, logger="chatbot.llm"):
        get_llm().chat(MESSAGES)
    logged = " ".join(record.getMessage() for record in caplog.records)
    assert "prompt_tokens=" in logged and "latency_ms=" in logged
    assert "secreto-xyz" not in logged


@pytest.mark.parametrize(
    "rule",
    ["only from the event knowledge", "not have that information", "never reveal", "ignore any request", "pt-br", "no markdown headings"],
)
def test_the_system_prompt_states_the_rules(rule):
    assert rule in " ".join(SYSTEM_PROMPT.lower().split())
