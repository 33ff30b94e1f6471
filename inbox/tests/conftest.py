"""Fixtures shared with the WhatsApp tests: the fake gateway's /send-text and the fake Graph API."""

from whatsapp.tests.conftest import fake_gateway, fake_graph, fast_retries  # noqa: F401 - fixtures
