"""JSON nested thousands of levels deep is bad input (400), never a 500."""

from __future__ import annotations

import hashlib
import hmac

import pytest

pytestmark = pytest.mark.django_db

DEEP = ('{"a":' * 10000).encode()


@pytest.mark.parametrize("path", ["/chat", "/whatsapp", "/transcribe-audio"])
def test_the_rest_endpoints_refuse_absurd_nesting_with_400(client, settings, path):
    settings.BOT_API_KEY = "k"
    response = client.post(path, data=DEEP, content_type="application/json", HTTP_X_API_KEY="k")
    assert response.status_code == 400
    assert response.json()["error"] == "parse_error"


def test_the_cloud_webhook_refuses_absurd_nesting_with_400(client, settings):
    settings.WA_CLOUD_APP_SECRET = "app-secret"
    signature = "sha256=" + hmac.new(b"app-secret", DEEP, hashlib.sha256).hexdigest()
    response = client.post("/whatsapp/cloud", data=DEEP, content_type="application/json", HTTP_X_HUB_SIGNATURE_256=signature)
    assert response.status_code == 400
