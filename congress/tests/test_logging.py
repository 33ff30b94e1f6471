"""Logs: personal data masked everywhere, request id on every record."""

from __future__ import annotations

import io
import logging

import pytest

from congress.logging import MaskPIIFilter, RequestIDFilter
from congress.request_id import set_request_id


@pytest.fixture
def log_stream():
    """A handler configured like the project's console handler."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RequestIDFilter())
    handler.addFilter(MaskPIIFilter())
    handler.setFormatter(logging.Formatter("%(levelname)s [%(request_id)s] %(message)s"))
    logger = logging.getLogger("test.masking")
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    yield logger, stream
    logger.removeHandler(handler)


def test_cpf_email_and_phone_are_masked_in_messages_and_arguments(log_stream):
    logger, stream = log_stream
    logger.info("registered %s with cpf %s phone %s", "maria.souza@gmail.com", "529.982.247-25", "+5543988776655")
    out = stream.getvalue()
    for secret in ("maria.souza@gmail.com", "529.982.247-25", "52998224725", "988776655"):
        assert secret not in out
    assert "@gmail.com" in out  # masked, not dropped


def test_personal_data_in_exception_text_is_masked(log_stream):
    logger, stream = log_stream
    try:
        raise ValueError("duplicate key (cpf)=(52998224725) for joao@example.com")
    except ValueError:
        logger.exception("insert failed")
    out = stream.getvalue()
    assert "Traceback" in out and "ValueError" in out
    assert "52998224725" not in out and "joao@example.com" not in out


def test_the_request_id_is_on_every_record(log_stream):
    logger, stream = log_stream
    set_request_id("req-42")
    try:
        logger.warning("something")
    finally:
        set_request_id(None)
    logger.warning("outside")
    lines = stream.getvalue().splitlines()
    assert "[req-42]" in lines[0] and "[-]" in lines[1]


def test_a_broken_format_string_does_not_lose_the_record(log_stream):
    logger, stream = log_stream
    logger.info("value %s %s", "only-one")
    assert "value" in stream.getvalue()


@pytest.mark.django_db
def test_the_logs_of_a_full_registration_hold_no_cpf_or_email_in_clear(settings, django_capture_on_commit_callbacks):
    """Drive a whole registration through /chat and read what the project's
    own console handler wrote, at DEBUG level."""
    from rest_framework.test import APIClient

    from congress.testing.factories import make_event, make_profile

    event = make_event()
    make_profile(event, "Produtor rural")
    root = logging.getLogger()
    handler = next(h for h in root.handlers if any(isinstance(f, MaskPIIFilter) for f in h.filters))
    stream = io.StringIO()
    old_stream, old_level = handler.setStream(stream), root.level
    root.setLevel(logging.DEBUG)
    client = APIClient()
    answers = [
        "quero me inscrever", "sim", "Maria das Dores Souza", "maria.dores@gmail.com", "529.982.247-25",
        "(43) 98877-6655", "Londrina", "1", "sim", "minha inscrição", "meus dados",
    ]
    try:
        with django_capture_on_commit_callbacks(execute=True):
            for text in answers:
                response = client.post("/chat", {"user_id": "5543988776655", "message": text}, format="json")
                assert response.status_code == 200
        assert response.json()["registration_step"] == "completed"
        logging.getLogger("congress.test").info("done with %s", "maria.dores@gmail.com")
    finally:
        handler.setStream(old_stream)
        root.setLevel(old_level)
    out = stream.getvalue()
    assert "done with" in out  # the handler really captured
    for secret in ("maria.dores@gmail.com", "52998224725", "529.982.247-25", "988776655"):
        assert secret not in out
