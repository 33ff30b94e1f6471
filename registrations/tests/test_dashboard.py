"""The admin registration dashboard (/admin/dashboard/)."""

from __future__ import annotations

import pytest

from congress.testing.factories import make_participant
from registrations.models import RegistrationEvent

pytestmark = pytest.mark.django_db


def test_the_dashboard_shows_the_funnel_and_counts(admin_client):
    make_participant(uf="SP")
    make_participant(uf="SP")
    RegistrationEvent.objects.create(conversation_id="a", kind=RegistrationEvent.Kind.STEP, step="asking_email")
    page = admin_client.get("/admin/dashboard/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "Pedindo e-mail" in html
    assert page.context["by_uf"] == [{"uf": "SP", "n": 2}]


def test_the_dashboard_needs_a_logged_in_organizer(client):
    assert client.get("/admin/dashboard/").status_code == 302
