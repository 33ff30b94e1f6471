"""Random conversations (Hypothesis state machine) against the real database.

Three conversations share a small pool of valid and invalid answers, so they
collide on CPFs and e-mails, ask questions, correct fields, cancel, come back
and use the self-service commands in any order. Whatever happens, no
participant is stored with an invalid or missing field, no CPF or e-mail is
stored twice, and a conversation that gave up keeps no personal data.
"""

from __future__ import annotations

import functools

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    rule,
    run_state_machine_as_test,
)

from chatbot.models import ConversationState, Event
from registrations import validators as v
from registrations.flow import FIELDS, IN_FLOW_STEPS
from registrations.models import Participant, RegistrationEvent
from registrations.tests.conftest import CPF_A, CPF_B, CPF_C, Chat

MESSAGES = (
    # intents and commands
    "quero me inscrever", "inscrição", "minha inscrição", "cancelar minha inscrição", "reenviar e-mail",
    "corrigir", "corrigir e-mail", "corrigir o telefone", "cancelar", "sair", "sim", "não", "ok",
    # questions
    "qual o endereço do evento?", "tem estacionamento?", "Quanto custa?",
    # names
    "  MARIA   DAS DORES  souza ", "Ana Lima", "Maria", "J0ão Silva", "meu nome é joão de souza",
    # e-mails
    "Maria.Souza@GMAIL.com", "ana@gmial.com", "ana@gmail", "ana@gmail.com", "sem arroba",
    # CPFs
    CPF_A, CPF_B, CPF_C, "123.456.789-00", "111.111.111-11", "529 982 247 25", "1234",
    # phones
    "(61) 9 9999-0000", "(20) 99999-0000", "43 3333-4444", "+55 43 98888-7777",
    # cities and UFs
    "londrina", "Santa Maria", "RS", "rio grande do norte", "Xique Xiq", "Cidade Nenhuma", "Bom Jesus",
    # profiles and numbers
    "sou produtor rural", "estudante", "astronauta", "1", "2", "3", "4", "5", "6", "9",
    # several things at once
    "Ana Lima ana@gmail.com 529.982.247-25 (43) 98888-7777",
    "maria.souza@gmail.com 123.456.789-09",
    "", "👍", "🙂",
)  # fmt: skip
CONVERSATIONS = 3
PERSONAL_KEYS = {"full_name", "email", "cpf", "phone", "city", "uf", "profile"}


@functools.cache
def official_cities() -> frozenset[v.City]:
    return frozenset(v.load_cities())


def assert_valid_participant(participant: Participant, event: Event) -> None:
    assert v.normalize_name(participant.full_name) == participant.full_name
    assert v.normalize_email(participant.email) == participant.email
    assert v.normalize_cpf(participant.cpf) == participant.cpf
    assert v.normalize_phone(participant.phone) == participant.phone
    assert v.City(participant.city_ibge_code, participant.city, participant.uf) in official_cities()
    assert participant.profile.event_id == event.pk and participant.profile.active
    assert participant.consent_at is not None and participant.consent_version == event.privacy_notice_version


class RandomConversations(RuleBasedStateMachine):
    event: Event  # set by the test

    def __init__(self) -> None:
        super().__init__()
        self.chats = [Chat(f"55439000000{index}") for index in range(CONVERSATIONS)]

    @rule(who=st.integers(0, CONVERSATIONS - 1), message=st.sampled_from(MESSAGES))
    def say(self, who: int, message: str) -> None:
        replies = self.chats[who].say(message)
        assert replies is None or all(isinstance(reply, str) and reply for reply in replies)

    @rule(who=st.integers(0, CONVERSATIONS - 1))
    def full_registration(self, who: int) -> None:
        chat = self.chats[who]
        for message in ("quero me inscrever", "sim", "Ana Lima", "ana@gmail.com", CPF_B, "(43) 98888-7777",
                        "londrina", "3", "sim"):  # fmt: skip
            chat.say(message)

    @invariant()
    def stored_participants_are_valid(self) -> None:
        for participant in Participant.objects.select_related("profile"):
            assert_valid_participant(participant, self.event)

    @invariant()
    def no_cpf_or_email_is_stored_twice(self) -> None:
        rows = list(Participant.objects.values_list("cpf", "email"))
        assert len({cpf for cpf, _ in rows}) == len(rows)
        assert len({email.lower() for _, email in rows}) == len(rows)

    @invariant()
    def each_conversation_has_at_most_one_active_registration(self) -> None:
        for state in ConversationState.objects.all():
            assert state.participants.filter(status=Participant.Status.CONFIRMED).count() <= 1

    @invariant()
    def the_summary_is_only_reached_with_every_field_valid(self) -> None:
        for state in ConversationState.objects.filter(registration_step="confirming"):
            fields = state.data["fields"]
            assert all(fields.get(name) for name in FIELDS), fields
            assert v.normalize_cpf(fields["cpf"]) == fields["cpf"]
            assert v.normalize_email(fields["email"]) == fields["email"]
            assert v.normalize_phone(fields["phone"]) == fields["phone"]
            assert fields.get("consent_at")

    @invariant()
    def a_conversation_outside_the_flow_keeps_no_personal_data(self) -> None:
        for state in ConversationState.objects.exclude(registration_step__in=IN_FLOW_STEPS):
            assert not PERSONAL_KEYS & set((state.data or {}).get("fields") or {}), state.data

    @invariant()
    def completed_means_a_registration_exists(self) -> None:
        for state in ConversationState.objects.filter(registration_step="completed"):
            assert state.participants.exists()

    @invariant()
    def the_audit_trail_never_holds_a_cpf_in_clear(self) -> None:
        for detail in RegistrationEvent.objects.values_list("detail", flat=True):
            assert v.find_cpf(detail) is None, detail

    def teardown(self) -> None:
        RegistrationEvent.objects.all().delete()
        Participant.objects.all().delete()
        ConversationState.objects.all().delete()


@pytest.mark.slow
def test_random_conversations_never_store_invalid_or_duplicate_registrations(event):
    RandomConversations.event = event
    run_state_machine_as_test(
        RandomConversations,
        settings=settings(
            max_examples=25,
            stateful_step_count=25,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
        ),
    )
