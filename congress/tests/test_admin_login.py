"""Admin login attempts are rate-limited (django-axes)."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User

pytestmark = pytest.mark.django_db


def login(client, password):
    return client.post("/admin/login/?next=/admin/", {"username": "organizadora", "password": password})


def test_after_too_many_wrong_passwords_even_the_right_one_is_refused(client, settings):
    User.objects.create_user("organizadora", password="Senha-Correta-123", is_staff=True)
    codes = [login(client, "errada").status_code for _ in range(settings.AXES_FAILURE_LIMIT)]
    assert codes == [200] * (settings.AXES_FAILURE_LIMIT - 1) + [429]  # the form again, then locked
    response = login(client, "Senha-Correta-123")
    assert response.status_code == 429
    assert "bloqueado" in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_a_right_password_before_the_limit_logs_in(client):
    User.objects.create_user("organizadora", password="Senha-Correta-123", is_staff=True)
    login(client, "errada")
    assert login(client, "Senha-Correta-123").status_code == 302
