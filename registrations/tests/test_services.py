"""Race-safe persistence: the database's unique constraints decide."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from django.db import connection, transaction
from django.utils import timezone

from chatbot.models import ConversationState, Profile
from registrations.flow import RegistrationData
from registrations.models import Participant, RegistrationEvent
from registrations.services import (
    participant_cancel,
    participant_register,
    participant_resend_confirmation,
    participant_update,
    registration_event_record,
)
from registrations.tests.conftest import CPF_A, CPF_B, answers_for, make_event, register

Kind = RegistrationEvent.Kind


def data(profile: Profile, *, cpf: str = "12345678909", email: str = "ana@gmail.com", name: str = "Ana Lima") -> RegistrationData:
    return RegistrationData(
        full_name=name,
        email=email,
        cpf=cpf,
        phone="+5543988887777",
        city="Londrina",
        city_ibge_code=4113700,
        uf="PR",
        profile_id=profile.pk,
        consent_at=timezone.now(),
        consent_version="2026-11",
    )


@pytest.fixture
def profile(event) -> Profile:
    return event.profiles.get(name="Estudante")


@pytest.fixture
def conv(db) -> ConversationState:
    return ConversationState.objects.create(conversation_id="5543988887777")


@pytest.fixture
def other_conv(db) -> ConversationState:
    return ConversationState.objects.create(conversation_id="5543977776666")


# --- participant_register ------------------------------------------------------------------


def test_register_creates_the_participant_and_enqueues_the_email_on_commit(
    profile, conv, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as callbacks:
        result = participant_register(data=data(profile), conversation=conv)
    assert result.outcome == "created"
    participant = Participant.objects.get(pk=result.participant_id)
    assert participant.conversation == conv
    assert len(callbacks) == 1
    created = RegistrationEvent.objects.get(kind=Kind.CREATED)
    assert "12345678909" not in created.detail and "***.456.789-**" in created.detail


def test_register_stores_the_email_lower_cased(profile, conv):
    result = participant_register(data=data(profile, email="Ana.Lima@Gmail.COM"), conversation=conv)
    assert Participant.objects.get(pk=result.participant_id).email == "ana.lima@gmail.com"


@pytest.mark.parametrize(
    ("cpf", "email", "field"),
    [("12345678909", "outra@gmail.com", "cpf"), ("52998224725", "ANA@gmail.com", "email")],
    ids=["same-cpf", "same-email-other-case"],
)
def test_register_refuses_a_cpf_or_email_of_another_active_registration(profile, conv, other_conv, cpf, email, field):
    participant_register(data=data(profile), conversation=conv)
    result = participant_register(data=data(profile, cpf=cpf, email=email), conversation=other_conv)
    assert (result.outcome, result.field, result.participant_id) == ("duplicate", field, None)
    assert Participant.objects.count() == 1
    assert RegistrationEvent.objects.filter(kind=Kind.DUPLICATE_REFUSED, conversation_id=other_conv.conversation_id).exists()


def test_register_again_from_the_same_conversation_is_idempotent(profile, conv, django_capture_on_commit_callbacks):
    first = participant_register(data=data(profile), conversation=conv)
    with django_capture_on_commit_callbacks() as callbacks:
        again = participant_register(data=data(profile), conversation=conv)
    assert (again.outcome, again.participant_id) == ("already_registered", first.participant_id)
    assert callbacks == []  # no second e-mail
    assert Participant.objects.count() == 1


def test_register_with_a_cancelled_cpf_reactivates_the_same_row_with_the_new_data(profile, conv):
    first = participant_register(data=data(profile), conversation=conv)
    participant = Participant.objects.get(pk=first.participant_id)
    participant_cancel(participant=participant)
    Participant.objects.filter(pk=participant.pk).update(confirmation_email_status=Participant.EmailStatus.SENT)
    again = participant_register(data=data(profile, email="nova@gmail.com", name="Ana L. Lima"), conversation=conv)
    assert (again.outcome, again.participant_id) == ("reactivated", participant.pk)
    participant.refresh_from_db()
    assert participant.status == Participant.Status.CONFIRMED
    assert (participant.email, participant.full_name, participant.conversation) == ("nova@gmail.com", "Ana L. Lima", conv)
    assert participant.confirmation_email_status == Participant.EmailStatus.PENDING


def test_a_cancelled_registration_is_not_reactivated_from_another_conversation(profile, conv, other_conv):
    first = participant_register(data=data(profile), conversation=conv)
    participant = Participant.objects.get(pk=first.participant_id)
    participant_cancel(participant=participant)
    again = participant_register(data=data(profile, email="intruso@gmail.com", name="Outra Pessoa"), conversation=other_conv)
    assert (again.outcome, again.field) == ("duplicate", "cpf")
    participant.refresh_from_db()
    assert participant.status == Participant.Status.CANCELLED
    assert (participant.email, participant.conversation) == ("ana@gmail.com", conv)


def test_register_refuses_to_merge_two_cancelled_registrations(profile, conv):
    a = participant_register(data=data(profile), conversation=conv)
    b = participant_register(data=data(profile, cpf="52998224725", email="b@gmail.com"), conversation=None)
    for pk in (a.participant_id, b.participant_id):
        participant_cancel(participant=Participant.objects.get(pk=pk))
    result = participant_register(data=data(profile, email="b@gmail.com"), conversation=conv)
    assert (result.outcome, result.field) == ("duplicate", "email")


def test_a_rolled_back_registration_enqueues_no_email(profile, conv, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks, pytest.raises(RuntimeError), transaction.atomic():
        participant_register(data=data(profile), conversation=conv)
        raise RuntimeError("the engine's state save failed")
    assert callbacks == []
    assert Participant.objects.count() == 0


# --- participant_update / cancel / resend ------------------------------------------------------------


@pytest.fixture
def ana(profile, conv) -> Participant:
    return Participant.objects.get(pk=participant_register(data=data(profile), conversation=conv).participant_id)


def test_update_changes_the_fields_and_audits_their_names_only(ana):
    result = participant_update(participant=ana, changes={"cpf": "52998224725", "phone": "+554333334444"})
    assert result.outcome == "updated"
    ana.refresh_from_db()
    assert (ana.cpf, ana.phone) == ("52998224725", "+554333334444")
    assert RegistrationEvent.objects.get(kind=Kind.UPDATED).detail == "cpf, phone"


def test_update_to_an_email_of_another_registration_is_refused(ana, profile):
    participant_register(data=data(profile, cpf="52998224725", email="outra@gmail.com"), conversation=None)
    result = participant_update(participant=ana, changes={"email": "OUTRA@gmail.com"})
    assert (result.outcome, result.field) == ("duplicate", "email")
    ana.refresh_from_db()
    assert ana.email == "ana@gmail.com"


def test_update_with_the_same_value_is_unchanged(ana):
    assert participant_update(participant=ana, changes={"email": "ANA@gmail.com"}).outcome == "unchanged"


def test_update_of_a_cancelled_registration_is_not_found(ana):
    participant_cancel(participant=ana)
    assert participant_update(participant=ana, changes={"phone": "+554333334444"}).outcome == "not_found"


def test_update_refuses_fields_outside_the_registration_data(ana):
    with pytest.raises(ValueError, match="status"):
        participant_update(participant=ana, changes={"status": "cancelled"})


def test_cancel_twice_cancels_once(ana):
    assert participant_cancel(participant=ana, actor="admin", reason="admin") is True
    assert participant_cancel(participant=ana, actor="admin") is False
    assert ana.status == Participant.Status.CANCELLED
    assert RegistrationEvent.objects.filter(kind=Kind.CANCELLED).count() == 1


def test_resend_of_a_cancelled_registration_does_nothing(ana, django_capture_on_commit_callbacks):
    participant_cancel(participant=ana)
    with django_capture_on_commit_callbacks() as callbacks:
        assert participant_resend_confirmation(participant=ana) is False
    assert callbacks == []


def test_registration_event_record_truncates_long_details(db):
    assert len(registration_event_record(kind=Kind.STEP, detail="x" * 900).detail) == 500


# --- eight conversations confirming at the same moment ------------------------------------------------


def confirm_all_at_once(chats) -> list[str]:
    barrier = threading.Barrier(len(chats))
    replies: dict[int, str] = {}
    errors: list[Exception] = []

    def confirm(index: int) -> None:
        try:
            barrier.wait(timeout=30)
            replies[index] = "\n".join(chats[index].say("sim") or [])
        except Exception as error:
            errors.append(error)
        finally:
            connection.close()  # each thread had its own connection

    threads = [threading.Thread(target=confirm, args=(i,)) for i in range(len(chats))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    return [replies[i] for i in range(len(chats))]


NAMES = ("Ana", "Bruno", "Carla", "Diego", "Elisa", "Fábio", "Gabriela", "Heitor")


@pytest.mark.django_db(transaction=True)
def test_eight_conversations_confirming_the_same_cpf_at_once_make_exactly_one_participant(chat):
    chats = [chat() for _ in range(8)]
    for index, c in enumerate(chats):
        c.say("quero me inscrever")
        for text in answers_for(name=f"{NAMES[index]} Souza", email=f"p{index}@gmail.com", cpf=CPF_A):
            c.say(text)
        assert c.step == "confirming"

    replies = confirm_all_at_once(chats)

    assert Participant.objects.filter(cpf="12345678909").count() == 1
    winner = Participant.objects.get()
    confirmed = [r for r in replies if "Inscrição confirmada" in r]
    refused = [r for r in replies if "já está em outra inscrição" in r]
    assert (len(confirmed), len(refused)) == (1, 7)
    for reply in refused:  # nothing about the winner leaks
        assert winner.email not in reply and winner.full_name not in reply and "99999-1234" in reply
    assert RegistrationEvent.objects.filter(kind=Kind.DUPLICATE_REFUSED).count() == 7


@pytest.mark.django_db(transaction=True)
def test_eight_conversations_confirming_the_same_email_at_once_make_exactly_one_participant(chat):
    cpfs = ["12345678909", "52998224725", "11144477735", "93541134780", "71428793860", "34167211017",
            "45317828791", "28625587887"]  # fmt: skip
    chats = [chat() for _ in range(8)]
    for c, cpf in zip(chats, cpfs, strict=True):
        c.say("quero me inscrever")
        for text in answers_for(email="mesmo@gmail.com", cpf=cpf):
            c.say(text)
        assert c.step == "confirming", c.state.data

    replies = confirm_all_at_once(chats)

    assert Participant.objects.count() == 1
    assert sum("Inscrição confirmada" in r for r in replies) == 1
    assert sum("já está sendo usado" in r for r in replies) == 7


def test_demo_event_factory_has_the_six_profiles(db):
    event = make_event(is_active=False, name="Outro evento")
    assert event.profiles.count() == 6
    assert dt and CPF_B and register
