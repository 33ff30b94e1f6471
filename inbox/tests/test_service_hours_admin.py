"""The event's service hours in the admin: days as checkboxes, times validated."""

from __future__ import annotations

import datetime as dt

import pytest
from django.forms.models import model_to_dict

from chatbot.admin import EventAdminForm
from congress.testing.factories import make_event

pytestmark = pytest.mark.django_db


def form_for(event, **changes):
    data = {key: value for key, value in model_to_dict(event).items() if value is not None}
    data.update(changes)
    return EventAdminForm(data=data, instance=event)


def test_the_days_are_checkboxes_stored_in_order(admin_client):
    event = make_event()
    page = admin_client.get(f"/admin/chatbot/event/{event.pk}/change/").content.decode()
    assert 'type="checkbox" name="service_weekdays" value="6"' in page
    form = form_for(event, service_weekdays=["6", "1", "3"], service_starts_at="09:00", service_ends_at="13:00")
    assert form.is_valid(), form.errors
    saved = form.save()
    assert saved.service_weekdays == "1,3,6"
    assert saved.service_starts_at == dt.time(9, 0)


@pytest.mark.parametrize(
    ("starts", "ends", "field"),
    [("18:00", "08:00", "service_ends_at"), ("08:00", "", "service_ends_at"), ("10:00", "10:00", "service_ends_at")],
)
def test_hours_that_make_no_sense_are_refused_in_portuguese(starts, ends, field):
    form = form_for(make_event(), service_weekdays=["1"], service_starts_at=starts, service_ends_at=ends)
    assert not form.is_valid()
    assert field in form.errors
    assert "atendimento" in " ".join(form.errors[field])
