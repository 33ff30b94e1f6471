"""Bad voice notes (empty, over the limit, the wrong MIME type, not audio,
a corrupt OGG) through /transcribe-audio and the queued /whatsapp shape, on
a real gunicorn + Celery worker: a clear 4xx JSON body, or for a message
already accepted a polite pt-BR reply; never a 5xx."""

from __future__ import annotations

import base64
import random

import pytest
import requests
from django.conf import settings
from django.db import connection

from congress.testing.fake_openai import FakeFailure, FakeOpenAI
from congress.testing.procs import wait_until
from tests.resilience.harness import DEADLINE_S, build_stack, queued_body
from whatsapp.models import InboundMessage, OutboundMessage

pytestmark = [pytest.mark.resilience, pytest.mark.django_db(transaction=True)]

LIMIT = settings.MAX_AUDIO_BYTES  # the production default: 8 MiB
OGG_HEAD = b"OggS\x00\x02" + bytes(20)
CORRUPT_OGG = b"OggS" + random.Random(6).randbytes(4000)  # the signature, then garbage
PNG = b"\x89PNG\r\n\x1a\n" + bytes(200)
POLITE = "não consegui ouvir seu áudio"
# What the real speech-to-text API answers for a file it cannot decode.
UNDECODABLE = FakeFailure.client_error(400)


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


@pytest.fixture(scope="module")
def audio_stack(django_db_setup):
    fake = FakeOpenAI(transcript_text="qual o endereço do evento?").start()
    stack = build_stack(
        OPENAI_API_KEY="sk-test-fake-openai", OPENAI_BASE_URL=fake.base_url, OPENAI_TIMEOUT_S=2, OPENAI_MAX_RETRIES=0
    )
    try:
        stack.start_web()
        stack.start_worker(concurrency=1)
        yield stack, fake
    finally:
        stack.stop()
        fake.stop()


@pytest.fixture
def web(audio_stack):
    stack, fake = audio_stack
    fake.reset()
    return stack.web.url


@pytest.fixture
def fake(audio_stack):
    return audio_stack[1]


def assert_clear_4xx(response: requests.Response, status: int) -> None:
    assert response.status_code == status, response.text[:500]
    assert response.headers["Content-Type"].startswith("application/json")
    body = response.json()
    assert body.get("error") and body.get("detail"), body


TRANSCRIBE_JSON = {
    "empty": ({"audio_base64": "", "mimetype": "audio/ogg"}, 400),
    "over-the-limit": ({"audio_base64": b64(OGG_HEAD + bytes(LIMIT)), "mimetype": "audio/ogg"}, 413),
    "body-over-the-upload-limit": (
        {"audio_base64": b64(OGG_HEAD + bytes(LIMIT * 3 // 2)), "mimetype": "audio/ogg"},
        413,
    ),
    "wrong-mime-type": ({"audio_base64": b64(OGG_HEAD + bytes(100)), "mimetype": "text/plain"}, 400),
    "not-audio-bytes": ({"audio_base64": b64(PNG), "mimetype": "audio/ogg"}, 400),
    "not-base64": ({"audio_base64": "isto não é base64!", "mimetype": "audio/ogg"}, 400),
}


@pytest.mark.parametrize("case", list(TRANSCRIBE_JSON), ids=list(TRANSCRIBE_JSON))
def test_bad_base64_audio_to_transcribe_is_a_clear_4xx(web, fake, case):
    payload, status = TRANSCRIBE_JSON[case]
    assert_clear_4xx(requests.post(f"{web}/transcribe-audio", json=payload, timeout=60), status)
    assert fake.transcription_requests == [], "refused before reaching the speech-to-text API"


TRANSCRIBE_FILE = {
    "empty": (b"", "audio/ogg", 400),
    "over-the-limit": (OGG_HEAD + bytes(LIMIT), "audio/ogg", 413),
    "wrong-mime-type": (OGG_HEAD + bytes(100), "application/pdf", 400),
    "not-audio-bytes": (PNG, "audio/ogg", 400),
}


@pytest.mark.parametrize("case", list(TRANSCRIBE_FILE), ids=list(TRANSCRIBE_FILE))
def test_a_bad_uploaded_audio_file_to_transcribe_is_a_clear_4xx(web, fake, case):
    data, mimetype, status = TRANSCRIBE_FILE[case]
    response = requests.post(f"{web}/transcribe-audio", files={"file": ("voz.ogg", data, mimetype)}, timeout=60)
    assert_clear_4xx(response, status)
    assert fake.transcription_requests == []


@pytest.mark.parametrize("shape", ["base64", "file"])
def test_a_corrupt_ogg_to_transcribe_is_a_clear_400(web, fake, shape):
    fake.fail_next(UNDECODABLE)
    if shape == "base64":
        response = requests.post(
            f"{web}/transcribe-audio", json={"audio_base64": b64(CORRUPT_OGG), "mimetype": "audio/ogg"}, timeout=60
        )
    else:
        response = requests.post(
            f"{web}/transcribe-audio", files={"file": ("voz.ogg", CORRUPT_OGG, "audio/ogg")}, timeout=60
        )
    assert response.status_code < 500, "never a 5xx for bad input"
    assert_clear_4xx(response, 400)


def voice_note(number: str, *, audio_base64: str | None, mimetype: str | None = "audio/ogg; codecs=opus") -> dict:
    body = queued_body(chat=number, message_id=f"{number}-voice", text="")
    body.update(audio_base64=audio_base64, mimetype=mimetype)
    return body


QUEUED_REFUSED = {
    "empty": (voice_note("5543966660001", audio_base64=""), 400),
    "over-the-limit": (voice_note("5543966660002", audio_base64=b64(OGG_HEAD + bytes(LIMIT))), 413),
    "body-over-the-upload-limit": (
        voice_note("5543966660003", audio_base64=b64(OGG_HEAD + bytes(LIMIT * 3 // 2))),
        413,
    ),
    "wrong-mime-type": (
        voice_note("5543966660004", audio_base64=b64(OGG_HEAD + bytes(100)), mimetype="image/png"),
        400,
    ),
    "not-audio-bytes": (voice_note("5543966660005", audio_base64=b64(PNG)), 400),
    "not-base64": (voice_note("5543966660006", audio_base64="isto não é base64!"), 400),
}


@pytest.mark.parametrize("case", list(QUEUED_REFUSED), ids=list(QUEUED_REFUSED))
def test_a_bad_voice_note_from_the_gateway_is_a_clear_4xx_and_not_queued(web, case):
    body, status = QUEUED_REFUSED[case]
    assert_clear_4xx(requests.post(f"{web}/whatsapp", json=body, timeout=60), status)
    assert not InboundMessage.objects.filter(message_id=body["message_id"]).exists()


def reply_to(message_id: str) -> str | None:
    connection.close()  # read what the worker committed
    return OutboundMessage.objects.filter(inbound__message_id=message_id).values_list("text", flat=True).first()


@pytest.mark.parametrize(
    "failure",
    [UNDECODABLE, FakeFailure.server_error(500), FakeFailure.empty()],
    ids=["corrupt-ogg-refused-as-undecodable", "speech-to-text-down", "empty-transcript"],
)
def test_a_corrupt_voice_note_accepted_from_the_gateway_gets_a_polite_reply(web, fake, audio_stack, failure):
    stack = audio_stack[0]
    fake.fail_always(failure, times=10)
    body = voice_note("5543966660100", audio_base64=b64(CORRUPT_OGG))
    response = requests.post(f"{web}/whatsapp", json=body, timeout=60)
    assert response.status_code == 202, response.text

    assert wait_until(lambda: reply_to(body["message_id"]) is not None, timeout=DEADLINE_S, interval=0.1)
    assert POLITE in reply_to(body["message_id"]).lower()
    assert InboundMessage.objects.get(message_id=body["message_id"]).status == InboundMessage.Status.DONE
    assert wait_until(
        lambda: any(r.body and r.body.get("number") == body["number"] for r in stack.gateway.delivered()),
        timeout=DEADLINE_S,
    ), "the polite reply reaches the participant"
