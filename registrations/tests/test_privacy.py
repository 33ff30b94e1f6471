"""LGPD: "meus dados" shows only the asker's data; "apagar meus dados" and the
retention purge leave no personal data of that participant in any table or in Redis."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from django.apps import apps
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from chatbot.engine import conversation_turn
from chatbot.models import ConversationState
from congress.redis import get_redis
from congress.testing.factories import make_event, make_participant
from registrations.models import Participant, RegistrationEvent

pytestmark = pytest.mark.django_db

NUMBER = "5543988776655"


@pytest.fixture
def event():
    return make_event()


@pytest.fixture
def registered(event):
    conversation_turn(conversation_id=NUMBER, text="oi", push_name="Joaquina Pereira")
    state = ConversationState.objects.get(conversation_id=NUMBER)
    participant = make_participant(
        full_name="Joaquina Pereira Lima",
        email="joaquina.lima@example.com",
        cpf="52998224725",
        phone="+5543988776655",
        conversation=state,
    )
    RegistrationEvent.objects.create(participant=participant, conversation_id=NUMBER, kind=RegistrationEvent.Kind.CREATED)
    _store_whatsapp_messages()
    return participant


def _store_whatsapp_messages() -> None:
    from whatsapp.models import InboundMessage, OutboundMessage

    inbound = InboundMessage.objects.create(
        message_id="MSG-PRIV-1",
        chat_id=NUMBER,
        number=NUMBER,
        jid=f"{NUMBER}@s.whatsapp.net",
        push_name="Joaquina Pereira",
        text="meu email é joaquina.lima@example.com e cpf 529.982.247-25",
        status="done",
    )
    OutboundMessage.objects.create(inbound=inbound, chat_id=NUMBER, number=NUMBER, jid=inbound.jid, text="Obrigado, Joaquina Pereira Lima", status="sent")


def personal_values(participant: Participant) -> list[str]:
    return ["Joaquina", "joaquina.lima@example.com", "52998224725", "529.982.247-25", "988776655", NUMBER]


def find_in_database(values: list[str]) -> list[str]:
    """Scan every row of every table for any of ``values``."""
    hits = []
    with connection.cursor() as cursor:
        for model in apps.get_models():
            table = model._meta.db_table
            cursor.execute(f'SELECT * FROM "{table}"')  # noqa: S608 (table names come from the models)
            for row in cursor.fetchall():
                text = " ".join(str(v.tobytes() if isinstance(v, memoryview) else v) for v in row)
                hits += [f"{table}: {v}" for v in values if v.lower() in text.lower()]
    return hits


def find_in_redis(values: list[str]) -> list[str]:
    client = get_redis()
    if client is None:
        return []
    hits = []
    for key in client.scan_iter(count=1000):
        blob = key.decode(errors="replace")
        if client.type(key) == b"string":
            blob += (client.get(key) or b"").decode(errors="replace")
        hits += [f"redis {key!r}: {v}" for v in values if v.lower() in blob.lower()]
    return hits


def test_my_data_returns_the_askers_registration_and_nobody_elses(registered):
    other = make_participant(full_name="Outro Participante", email="outro@example.com")
    reply = conversation_turn(conversation_id=NUMBER, text="meus dados").reply
    assert "Joaquina Pereira Lima" in reply
    assert "joaquina.lima@example.com" in reply
    assert "***.982.247-**" in reply and "529.982.247-25" not in reply
    assert other.full_name not in reply and other.email not in reply


def test_my_data_without_a_registration_says_so(event):
    reply = conversation_turn(conversation_id="5561900001111", text="meus dados").reply
    assert "Nenhuma inscrição" in reply


def test_erasure_asks_for_confirmation_and_a_no_keeps_everything(registered):
    ask = conversation_turn(conversation_id=NUMBER, text="apagar meus dados").reply
    assert "SIM" in ask
    conversation_turn(conversation_id=NUMBER, text="não")
    registered.refresh_from_db()
    assert registered.full_name == "Joaquina Pereira Lima"


def test_after_erasure_no_personal_data_remains_in_any_table_or_in_redis(registered, django_capture_on_commit_callbacks):
    get_redis() and get_redis().set(f"congress:test:{NUMBER}", "cached")
    conversation_turn(conversation_id=NUMBER, text="apagar meus dados")
    with django_capture_on_commit_callbacks(execute=True):
        reply = conversation_turn(conversation_id=NUMBER, text="sim").reply
    assert "apagados" in reply
    assert find_in_database(personal_values(registered)) == []
    assert find_in_redis(personal_values(registered)) == []
    registered.refresh_from_db()
    assert registered.anonymized_at is not None
    assert registered.uf == "PR"  # statistics survive
    assert RegistrationEvent.objects.filter(kind=RegistrationEvent.Kind.ANONYMIZED).exists()


def test_the_purge_command_anonymizes_an_ended_event(registered, event):
    event.starts_on = timezone.localdate() - timedelta(days=100)
    event.ends_on = timezone.localdate() - timedelta(days=95)
    event.save()
    out = io.StringIO()
    call_command("purge_personal_data", "--after-event-days", "90", "--dry-run", stdout=out)
    assert "participants=1" in out.getvalue()
    assert find_in_database(["joaquina.lima@example.com"]) != []  # dry run changed nothing
    call_command("purge_personal_data", "--after-event-days", "90", stdout=io.StringIO())
    assert find_in_database(personal_values(registered)) == []


def test_the_purge_leaves_a_running_event_alone(registered, event):
    call_command("purge_personal_data", "--after-event-days", "90", stdout=io.StringIO())
    registered.refresh_from_db()
    assert registered.anonymized_at is None


def test_old_message_bodies_are_erased_by_the_purge(registered):
    from whatsapp.models import InboundMessage

    InboundMessage.objects.update(created_at=timezone.now() - timedelta(days=40))
    call_command("purge_personal_data", "--messages-older-than-days", "30", stdout=io.StringIO())
    assert InboundMessage.objects.get().text == "[apagado]"
