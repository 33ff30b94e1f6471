"""Registration gauges in GET /metrics."""

from __future__ import annotations

import pytest

from congress.testing.factories import make_participant
from congress.testing.metrics import metric_value
from registrations.models import RegistrationEvent

pytestmark = pytest.mark.django_db


def test_registration_gauges_come_from_the_database(client):
    make_participant()
    RegistrationEvent.objects.create(conversation_id="a", kind=RegistrationEvent.Kind.STEP, step="asking_name")
    RegistrationEvent.objects.create(conversation_id="b", kind=RegistrationEvent.Kind.STEP, step="asking_name")
    RegistrationEvent.objects.create(conversation_id="b", kind=RegistrationEvent.Kind.ABANDONED, step="asking_cpf")
    text = client.get("/metrics").content.decode()
    assert metric_value(text, 'participants{status="confirmed"}') == 1
    assert metric_value(text, 'registration_abandoned_conversations{step="asking_cpf"}') == 1
    assert metric_value(text, 'registration_funnel_conversations{step="asking_name"}') == 2
