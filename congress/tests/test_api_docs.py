"""The OpenAPI schema and its browsable docs page."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db


def test_the_schema_lists_every_endpoint_of_the_contract(client):
    response = client.get("/api/schema/", HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    paths = response.json()["paths"]
    for path in ("/chat", "/transcribe-audio", "/health", "/whatsapp"):
        assert any(p.rstrip("/") == path for p in paths), path


def test_the_docs_page_is_served_without_a_cdn(client):
    page = client.get("/api/docs/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "swagger-ui" in html
    assert "cdn.jsdelivr.net" not in html
