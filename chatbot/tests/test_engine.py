"""The engine turn: greeting and menu, history pruning, expiry, version check, serialization."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from chatbot.engine import StaleConversation, _save, conversation_turn
from chatbot.models import ConversationState, RegistrationStep
from congress.testing.factories import make_event, make_profile

pytestmark = pytest.mark.django_db


@pytest.fixture
def event():
    return make_event(name="Congresso Agro Teste", venue="Expo Teste", address="Rua das Flores, 10")


@pytest.mark.parametrize("greeting", ["oi", "Olá!", "bom dia", "Boa noite, tudo bem?", "OI"], ids=["oi", "ola", "bom-dia", "boa-noite", "caps"])
def test_a_greeting_gets_a_welcome_with_the_event_name_and_the_menu(event, greeting):
    result = conversation_turn(conversation_id="5561999990001", text=greeting)
    assert "Congresso Agro Teste" in result.reply
    assert "1️⃣" in result.reply and "4️⃣" in result.reply
    assert result.step == RegistrationStep.IDLE
    assert result.turns == 1


def test_the_welcome_uses_the_whatsapp_name(event):
    result = conversation_turn(conversation_id="5561999990002", text="oi", push_name="Ana Souza")
    assert result.reply.startswith("Olá, Ana!")


def test_menu_option_two_gives_event_information(event):
    result = conversation_turn(conversation_id="c-info", text="2")
    assert "Expo Teste" in result.reply and "Rua das Flores, 10" in result.reply


def test_menu_option_four_gives_the_organizers_contact(event):
    result = conversation_turn(conversation_id="c-contact", text="4")
    assert event.contact_email in result.reply


def test_asking_to_talk_to_the_organization_gives_the_contact(event):
    result = conversation_turn(conversation_id="c-human", text="quero falar com a organização")
    assert event.contact_whatsapp in result.reply


def test_cancel_with_nothing_in_progress_says_so(event):
    result = conversation_turn(conversation_id="c-cancel", text="cancelar")
    assert "nada em andamento" in result.reply


def test_history_is_pruned_to_the_configured_number_of_turns(event, settings):
    settings.SESSION_MAX_STORED_TURNS = 3
    for i in range(5):
        conversation_turn(conversation_id="c-prune", text=f"menu {i}" if i else "menu")
    state = ConversationState.objects.get(conversation_id="c-prune")
    assert state.turns == 5
    assert len(state.history) == 6
    assert [h["role"] for h in state.history] == ["user", "assistant"] * 3
    assert state.history[0]["text"] == "menu 2"


def test_an_idle_conversation_starts_fresh_after_the_ttl_but_keeps_nothing_half_done(event, settings):
    settings.SESSION_TTL_SECONDS = 3600
    conversation_turn(conversation_id="c-ttl", text="oi")
    ConversationState.objects.filter(conversation_id="c-ttl").update(
        last_activity_at=timezone.now() - timedelta(seconds=3601),
        registration_step=RegistrationStep.ASKING_EMAIL,
        data={"name": "Fulano de Tal"},
    )
    result = conversation_turn(conversation_id="c-ttl", text="oi")
    state = ConversationState.objects.get(conversation_id="c-ttl")
    assert len(state.history) == 2  # only this turn
    assert result.step == RegistrationStep.IDLE
    assert "name" not in state.data


def test_a_conversation_active_within_the_ttl_keeps_its_history(event, settings):
    settings.SESSION_TTL_SECONDS = 3600
    conversation_turn(conversation_id="c-keep", text="oi")
    ConversationState.objects.filter(conversation_id="c-keep").update(last_activity_at=timezone.now() - timedelta(seconds=3500))
    conversation_turn(conversation_id="c-keep", text="menu")
    assert len(ConversationState.objects.get(conversation_id="c-keep").history) == 4


def test_a_stale_state_cannot_overwrite_a_newer_one(event):
    conversation_turn(conversation_id="c-stale", text="oi")
    stale = ConversationState.objects.get(conversation_id="c-stale")
    conversation_turn(conversation_id="c-stale", text="menu")  # someone else moved it on
    with pytest.raises(StaleConversation):
        _save(stale, "late message", ["late reply"], timezone.now())
    fresh = ConversationState.objects.get(conversation_id="c-stale")
    assert fresh.turns == 2
    assert all(h["text"] != "late message" for h in fresh.history)


@pytest.mark.django_db(transaction=True)
def test_concurrent_turns_of_one_conversation_are_serialized():
    make_event()
    errors: list[BaseException] = []
    barrier = threading.Barrier(8)

    def send(i: int) -> None:
        try:
            barrier.wait()
            conversation_turn(conversation_id="c-race", text=f"menu {i}")
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=send, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    state = ConversationState.objects.get(conversation_id="c-race")
    assert state.turns == 8 and state.version == 8
    assert sorted(h["text"] for h in state.history if h["role"] == "user") == sorted(f"menu {i}" for i in range(8))


def test_an_abandoned_registration_leaves_nothing_typed_for_it_in_the_history(event):
    """"descartei os dados que você tinha enviado" must be true of the conversation's history too."""
    make_profile(event)
    conversation = "5561999990077"
    conversation_turn(conversation_id=conversation, text="qual o endereço?")
    for text in ("quero me inscrever", "sim", "Ana Beatriz Lima", "ana.beatriz@gmail.com", "529.982.247-25"):
        conversation_turn(conversation_id=conversation, text=text)
    assert "descartei" in conversation_turn(conversation_id=conversation, text="cancelar").reply
    history = ConversationState.objects.get(conversation_id=conversation).history
    stored = "\n".join(str(turn.get("text", "")) for turn in history)
    for typed in ("Ana Beatriz Lima", "ana.beatriz@gmail.com", "529.982.247-25", "cancelar"):
        assert typed not in stored
    assert "qual o endereço?" in stored  # what was asked before the registration stays


def test_a_registered_participants_menu_offers_another_person_not_a_new_registration(event):
    make_profile(event)
    conversation = "5561999990078"
    for text in ("quero me inscrever", "sim", "Ana Beatriz Lima", "ana.b@gmail.com", "529.982.247-25",
                 "(61) 99999-0000", "Londrina", "1", "sim"):
        conversation_turn(conversation_id=conversation, text=text)
    menu = conversation_turn(conversation_id=conversation, text="oi").reply
    assert "Inscrever outra pessoa" in menu and "Fazer minha inscrição" not in menu
