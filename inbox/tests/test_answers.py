"""Answers go back: an organizer's answer to a question the bot could not
answer reaches every conversation that asked it, in the chat, once.

Questions are asked through the engine (``conversation_turn``) with the demo
event and no LLM, so the rows are the ones the bot really queues. Sends are
delivered in-process (``outbox_deliver``, what the send task runs) to the
fake gateway; the real-worker path is the last test (marked ``resilience``).
"""

from __future__ import annotations

import io
import threading

import pytest
from django.contrib.auth import get_user_model
from django.contrib.messages import get_messages
from django.core.management import call_command
from django.db import connections
from django.test import Client
from django.urls import reverse

from chatbot.engine import conversation_turn
from chatbot.models import ConversationState, Event, FAQEntry, UnansweredQuestion
from inbox.answers import (
    DeliveryState,
    answers_deliver,
    askers_counts,
    delivery_state,
    question_key,
)
from inbox.models import HandoffMessage
from inbox.services import handoff_assign
from registrations.privacy import conversation_anonymize
from whatsapp.models import OutboundMessage
from whatsapp.services import outbox_deliver

pytestmark = pytest.mark.django_db

ANA, BRUNO, CARLA = "5561999990001", "5561999990002", "5561999990003"
DOG = "posso levar meu cachorro?"  # the demo knowledge has no answer: queued as "unanswered"
PET = "posso levar meu animal de estimação?"  # another wording, also unanswered
POOL = "tem piscina no hotel?"  # a tentative answer: queued as "low_confidence"
FORWARDED = "Encaminhei sua pergunta"
ANSWER = "Só cães-guia podem entrar no centro de eventos."

Status = UnansweredQuestion.Status


@pytest.fixture
def demo_event(db, settings) -> Event:
    settings.OPENAI_API_KEY = ""  # offline answers: what is queued does not depend on an LLM
    call_command("load_demo_event", stdout=io.StringIO())
    return Event.objects.get(is_active=True)


@pytest.fixture
def organizer():
    return get_user_model().objects.create_superuser("organizadora", "org@example.com", "senha-forte-123")


@pytest.fixture
def admin_client(client, organizer):
    client.force_login(organizer)
    return client


def ask(conversation_id: str, text: str) -> UnansweredQuestion:
    """``text`` asked in ``conversation_id`` through the engine; the row it queued."""
    conversation_turn(conversation_id=conversation_id, text=text)
    return UnansweredQuestion.objects.filter(conversation_id=conversation_id).latest("created_at")


def deliver_all() -> None:
    """Run the send task for every pending message (what the worker does)."""
    for pk in OutboundMessage.objects.filter(status=OutboundMessage.Status.PENDING).values_list("pk", flat=True):
        outbox_deliver(outbound_id=pk)


def answers_at(gateway) -> list[tuple[str, str]]:
    """(number, text) of the organizers' answers the gateway received."""
    return [(r.number, r.text) for r in gateway.delivered() if r.text.startswith("📣")]


def change_url(question: UnansweredQuestion) -> str:
    return reverse("admin:chatbot_unansweredquestion_change", args=[question.pk])


CHANGELIST = reverse("admin:chatbot_unansweredquestion_changelist")


def answer_in_form(client, question: UnansweredQuestion, answer: str = ANSWER, status: str = "open"):
    return client.post(change_url(question), {"answer": answer, "status": status}, follow=True)


def action(client, name: str, *questions: UnansweredQuestion, **extra):
    return client.post(
        CHANGELIST, {"action": name, "_selected_action": [q.pk for q in questions], **extra}, follow=True
    )


def texts(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


# --- the engine queues what the tests rely on --------------------------------------------


def test_the_questions_used_here_are_queued_by_the_bot_with_the_expected_reason(demo_event):
    assert ask(ANA, DOG).reason == UnansweredQuestion.Reason.UNANSWERED
    assert ask(BRUNO, PET).reason == UnansweredQuestion.Reason.UNANSWERED
    low = ask(CARLA, POOL)
    assert low.reason == UnansweredQuestion.Reason.LOW_CONFIDENCE
    assert low.bot_reply


# --- answering -------------------------------------------------------------------


def test_an_answer_saved_in_the_admin_reaches_each_conversation_that_asked_once(demo_event, admin_client, fake_gateway):
    first = ask(ANA, DOG)
    second = ask(BRUNO, "Posso levar  meu CACHORRO??")  # the same question once folded
    assert first.question != second.question and question_key(first.question) == question_key(second.question)
    response = answer_in_form(admin_client, first)
    assert response.status_code == 200
    assert "Resposta enviada a 2 conversas." in texts(response)
    deliver_all()
    received = answers_at(fake_gateway)
    assert sorted(number for number, _text in received) == [ANA, BRUNO]
    assert all(ANSWER in text and "Sobre sua pergunta" in text for _n, text in received)
    for row in (first, second):
        row.refresh_from_db()
        assert row.status == Status.ANSWERED and row.answer == ANSWER
        assert row.answer_sent_at is not None and row.answered_by == "organizadora"


def test_the_answer_still_becomes_an_faq_the_bot_uses(demo_event, admin_client, fake_gateway):
    first = ask(ANA, DOG)
    answer_in_form(admin_client, first)
    first.refresh_from_db()
    assert first.faq is not None and first.faq.answer == ANSWER
    assert FAQEntry.objects.filter(answer=ANSWER).count() == 1


def test_saving_again_and_clicking_the_send_action_twice_send_nothing_more(demo_event, admin_client, fake_gateway):
    first, second = ask(ANA, DOG), ask(BRUNO, DOG)
    answer_in_form(admin_client, first)
    answer_in_form(admin_client, first, status="answered")
    answer_in_form(admin_client, first, answer=ANSWER + " Obrigado!", status="answered")
    for _click in range(2):
        response = action(admin_client, "answer_and_send", first, second)
        assert any("Nenhuma mensagem enviada" in text for text in texts(response))
    action(admin_client, "answer_and_create_faq", first)
    deliver_all()
    assert sorted(number for number, _text in answers_at(fake_gateway)) == [ANA, BRUNO]
    assert OutboundMessage.objects.filter(kind=OutboundMessage.Kind.ANSWER).count() == 2


def test_a_question_marked_the_same_receives_the_answer_too(demo_event, admin_client, fake_gateway):
    dog, pet, other = ask(ANA, DOG), ask(BRUNO, PET), ask(CARLA, "é permitido fumar no evento?")
    page = action(admin_client, "mark_same", dog, pet)
    assert "Escolha a pergunta principal" in page.content.decode()
    action(admin_client, "mark_same", dog, pet, confirm="yes", main=dog.pk)
    pet.refresh_from_db()
    assert pet.same_as_id == dog.pk
    assert askers_counts([dog, pet, other]) == {dog.pk: 2, pet.pk: 2, other.pk: 1}
    answer_in_form(admin_client, dog)
    deliver_all()
    assert sorted(number for number, _text in answers_at(fake_gateway)) == [ANA, BRUNO]
    other.refresh_from_db()
    assert other.status == Status.OPEN


def test_answering_the_question_marked_the_same_answers_the_main_one_too(demo_event, admin_client, fake_gateway):
    dog, pet = ask(ANA, DOG), ask(BRUNO, PET)
    action(admin_client, "mark_same", dog, pet, confirm="yes", main=dog.pk)
    answer_in_form(admin_client, pet)
    deliver_all()
    assert sorted(number for number, _text in answers_at(fake_gateway)) == [ANA, BRUNO]


def test_marking_the_same_as_an_answered_question_sends_its_answer_at_once(demo_event, admin_client, fake_gateway):
    dog = ask(ANA, DOG)
    answer_in_form(admin_client, dog)
    pet = ask(BRUNO, PET)
    response = action(admin_client, "mark_same", dog, pet, confirm="yes", main=dog.pk)
    assert "Resposta enviada a 1 conversa." in texts(response)
    deliver_all()
    assert sorted(number for number, _text in answers_at(fake_gateway)) == [ANA, BRUNO]


def test_the_same_conversation_asking_twice_gets_one_message(demo_event, admin_client, fake_gateway):
    first = ask(ANA, DOG)
    # The engine queues an open question once per conversation; a second
    # wording of it reaches the queue as its own row.
    again = UnansweredQuestion.objects.create(conversation_id=ANA, question="Posso levar meu cachorro")
    response = answer_in_form(admin_client, first)
    assert "Resposta enviada a 1 conversa." in texts(response)
    deliver_all()
    assert [number for number, _text in answers_at(fake_gateway)] == [ANA]
    again.refresh_from_db()
    assert again.status == Status.ANSWERED and again.answer_sent_at is not None


def test_a_conversation_with_an_open_handoff_still_gets_the_answer(demo_event, admin_client, organizer, fake_gateway):
    question = ask(ANA, DOG)
    handoff = handoff_assign(conversation=ConversationState.objects.get(conversation_id=ANA), user=organizer)
    answer_in_form(admin_client, question)
    deliver_all()
    assert [number for number, _text in answers_at(fake_gateway)] == [ANA]
    line = HandoffMessage.objects.get(handoff=handoff, role=HandoffMessage.Role.STAFF)
    assert ANSWER in line.text and line.author == organizer


# --- low-confidence answers ------------------------------------------------------------


def test_confirming_the_bots_tentative_answer_sends_nothing(demo_event, admin_client, fake_gateway):
    low = ask(CARLA, POOL)
    response = action(admin_client, "confirm_bot_reply", low)
    assert any("confirmada" in text for text in texts(response))
    low.refresh_from_db()
    assert low.status == Status.ANSWERED and low.answer == low.bot_reply
    assert not OutboundMessage.objects.filter(kind=OutboundMessage.Kind.ANSWER).exists()
    assert delivery_state(low, conversation_exists=True) == DeliveryState.CONFIRMED


def test_confirming_ignores_questions_that_were_not_answered_by_the_bot(demo_event, admin_client):
    dog = ask(ANA, DOG)
    response = action(admin_client, "confirm_bot_reply", dog)
    assert any("ignorada" in text for text in texts(response))
    dog.refresh_from_db()
    assert dog.status == Status.OPEN


def test_correcting_the_bots_tentative_answer_sends_the_correction_once(demo_event, admin_client, fake_gateway):
    low = ask(CARLA, POOL)
    correction = "O hotel parceiro não tem piscina."
    answer_in_form(admin_client, low, answer=correction)
    answer_in_form(admin_client, low, answer=correction, status="answered")
    action(admin_client, "answer_and_send", low)
    deliver_all()
    received = answers_at(fake_gateway)
    assert len(received) == 1
    number, text = received[0]
    assert number == CARLA and "Correção da organização" in text and correction in text


def test_a_correction_after_a_confirmation_is_sent(demo_event, admin_client, fake_gateway):
    low = ask(CARLA, POOL)
    action(admin_client, "confirm_bot_reply", low)
    answer_in_form(admin_client, low, answer="Não há piscina.", status="answered")
    deliver_all()
    assert [number for number, _text in answers_at(fake_gateway)] == [CARLA]


# --- what is never sent ------------------------------------------------------------------


def test_a_dismissed_question_never_sends_anything(demo_event, admin_client, organizer, fake_gateway):
    dismissed, sibling = ask(ANA, DOG), ask(BRUNO, DOG)
    answer_in_form(admin_client, dismissed, status="dismissed")
    action(admin_client, "answer_and_send", dismissed)
    action(admin_client, "answer_and_create_faq", dismissed)
    assert answers_deliver(dismissed, user=organizer).sent == 0
    dismissed.refresh_from_db()
    assert dismissed.status == Status.DISMISSED
    sibling.refresh_from_db()
    assert sibling.status == Status.OPEN
    assert not OutboundMessage.objects.filter(kind=OutboundMessage.Kind.ANSWER).exists()


def test_a_dismissed_question_is_left_out_when_the_same_question_is_answered(demo_event, admin_client, fake_gateway):
    dismissed, answered = ask(ANA, DOG), ask(BRUNO, DOG)
    action(admin_client, "dismiss", dismissed)
    answer_in_form(admin_client, answered)
    deliver_all()
    assert [number for number, _text in answers_at(fake_gateway)] == [BRUNO]
    dismissed.refresh_from_db()
    assert dismissed.status == Status.DISMISSED


def test_an_erased_conversation_is_skipped(demo_event, admin_client, fake_gateway):
    kept, erased = ask(ANA, DOG), ask(BRUNO, PET)
    # Marked the same before the erasure (which also wipes the question's text).
    action(admin_client, "mark_same", kept, erased, confirm="yes", main=kept.pk)
    conversation_anonymize(conversation_id=BRUNO, actor="test")
    response = answer_in_form(admin_client, kept)
    assert "Resposta enviada a 1 conversa. 1 conversa apagada (LGPD): não enviada." in texts(response)
    deliver_all()
    assert [number for number, _text in answers_at(fake_gateway)] == [ANA]
    erased.refresh_from_db()
    assert erased.answer_sent_at is None
    assert delivery_state(erased, conversation_exists=True) == DeliveryState.ERASED


def test_a_conversation_without_whatsapp_is_answered_and_shown_as_not_sent(demo_event, admin_client, fake_gateway):
    site = ask("visitante-do-site", DOG)
    phone = ask(ANA, DOG)
    response = answer_in_form(admin_client, phone)
    assert "Resposta enviada a 1 conversa. 1 conversa sem WhatsApp: não enviada." in texts(response)
    site.refresh_from_db()
    assert site.status == Status.ANSWERED and site.answer_sent_at is None
    page = admin_client.get(CHANGELIST).content.decode()
    assert "sem WhatsApp: não enviada" in page
    assert "enviada em" in page


# --- the admin pages ---------------------------------------------------------------------


def test_the_list_shows_how_many_conversations_asked(demo_event, admin_client):
    ask(ANA, DOG), ask(BRUNO, DOG), ask(CARLA, PET)
    response = admin_client.get(CHANGELIST)
    assert response.status_code == 200
    counts = {q.conversation_id: q._askers for q in response.context["cl"].result_list}
    assert counts == {ANA: 2, BRUNO: 2, CARLA: 1}
    assert "Perguntaram" in response.content.decode()


def test_the_change_form_lists_the_other_conversations_that_asked(demo_event, admin_client):
    first, _second = ask(ANA, DOG), ask(BRUNO, DOG)
    page = admin_client.get(change_url(first)).content.decode()
    assert BRUNO in page


def test_marking_the_same_needs_two_questions(demo_event, admin_client):
    response = action(admin_client, "mark_same", ask(ANA, DOG))
    assert any("ao menos duas" in text for text in texts(response))


def test_marking_without_choosing_the_main_question_asks_again(demo_event, admin_client):
    dog, pet = ask(ANA, DOG), ask(BRUNO, PET)
    response = action(admin_client, "mark_same", dog, pet, confirm="yes", main="999999")
    assert response.status_code == 200
    assert "Escolha a pergunta principal." in response.content.decode()
    pet.refresh_from_db()
    assert pet.same_as_id is None


def test_undoing_the_same_question_stops_the_answer_from_going_there(demo_event, admin_client, fake_gateway):
    dog, pet = ask(ANA, DOG), ask(BRUNO, PET)
    action(admin_client, "mark_same", dog, pet, confirm="yes", main=dog.pk)
    action(admin_client, "unmark_same", pet)
    answer_in_form(admin_client, dog)
    deliver_all()
    assert [number for number, _text in answers_at(fake_gateway)] == [ANA]


@pytest.mark.parametrize(
    ("answer", "status", "error"),
    [
        ("", "answered", "Escreva a resposta antes de marcar a pergunta como respondida."),
        ("x" * 4000, "open", "máximo para enviar pelo WhatsApp"),
    ],
    ids=["answered-without-answer", "too-long"],
)
def test_a_bad_answer_is_refused_with_a_clear_message(demo_event, admin_client, answer, status, error):
    question = ask(ANA, DOG)
    response = admin_client.post(change_url(question), {"answer": answer, "status": status})
    assert response.status_code == 200
    assert error in response.content.decode()
    question.refresh_from_db()
    assert question.status == Status.OPEN
    assert not OutboundMessage.objects.filter(kind=OutboundMessage.Kind.ANSWER).exists()


# --- at the same moment ----------------------------------------------------------------


def _together(*calls) -> None:
    """Run ``calls`` in threads released at the same moment."""
    barrier = threading.Barrier(len(calls))
    errors: list[BaseException] = []

    def run(call) -> None:
        try:
            barrier.wait()
            call()
        except BaseException as exc:  # reported below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(call,)) for call in calls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors


@pytest.mark.django_db(transaction=True)
def test_two_deliveries_of_the_same_question_at_once_send_one_message_per_conversation(demo_event, organizer, fake_gateway):
    first, _second, _third = ask(ANA, DOG), ask(BRUNO, DOG), ask(CARLA, PET)
    UnansweredQuestion.objects.filter(conversation_id=CARLA).update(same_as=first)
    UnansweredQuestion.objects.filter(pk=first.pk).update(answer=ANSWER)
    _together(*[lambda: answers_deliver(first, user=organizer)] * 2)
    deliver_all()
    assert sorted(number for number, _text in answers_at(fake_gateway)) == [ANA, BRUNO, CARLA]


@pytest.mark.django_db(transaction=True)
def test_two_organizers_saving_the_same_answer_at_once_send_one_message_per_conversation(
    demo_event, organizer, fake_gateway
):
    first, _second = ask(ANA, DOG), ask(BRUNO, DOG)
    other = get_user_model().objects.create_superuser("outra", "outra@example.com", "senha-forte-456")
    clients = []
    for user in (organizer, other):
        client = Client()
        client.force_login(user)
        clients.append(client)
    _together(
        lambda: clients[0].post(change_url(first), {"answer": ANSWER, "status": "open"}),
        lambda: clients[1].post(change_url(first), {"answer": ANSWER, "status": "open"}),
    )
    deliver_all()
    assert sorted(number for number, _text in answers_at(fake_gateway)) == [ANA, BRUNO]


# --- through the real pipeline ------------------------------------------------------------


@pytest.mark.resilience
@pytest.mark.django_db(transaction=True)
def test_through_a_real_worker_two_conversations_that_asked_each_get_the_answer_exactly_once(
    demo_event, organizer, fake_gateway, settings
):
    """Both questions arrive on /whatsapp and are answered by a Celery
    worker (the "forwarded" reply); the organizer's answer, saved in the
    admin twice, then leaves through the same worker: one message each."""
    from rest_framework.test import APIClient

    from congress.testing.procs import child_env, database_url_for_children, start_celery_worker, wait_until
    from whatsapp.tests.conftest import GATEWAY_KEY, queued_body

    settings.THROTTLE_CONVERSATION_RATE = None
    env = child_env(
        database_url=database_url_for_children(), redis_url=settings.REDIS_URL,
        GATEWAY_URL=fake_gateway.url, GATEWAY_API_KEY=GATEWAY_KEY, BOT_API_KEY="", OPENAI_API_KEY="",
        THROTTLE_CONVERSATION_RATE="", LOCK_TTL_SECONDS=3, WA_SWEEP_INTERVAL_S=0.5, WA_SWEEP_AGE_S=1,
        WA_RETRY_BACKOFF_S=0.1, WA_RETRY_BACKOFF_MAX_S=0.5,
    )
    worker = start_celery_worker(env=env, concurrency=2)
    try:
        for number in (ANA, BRUNO):
            body = queued_body(number=number, jid=f"{number}@s.whatsapp.net", text=DOG)
            assert APIClient().post("/whatsapp", body, format="json").status_code == 202
        assert fake_gateway.wait_for(2, timeout=90)
        assert all(FORWARDED in r.text for r in fake_gateway.delivered())
        assert wait_until(lambda: UnansweredQuestion.objects.count() == 2, timeout=30)

        client = Client()
        client.force_login(organizer)
        first = UnansweredQuestion.objects.get(conversation_id=ANA)
        client.post(change_url(first), {"answer": ANSWER, "status": "open"})
        client.post(change_url(first), {"answer": ANSWER, "status": "answered"})
        assert fake_gateway.wait_for(4, timeout=90)
        # Time for a stray duplicate (a second send, a sweep) to show up.
        assert not wait_until(lambda: len(fake_gateway.delivered()) > 4, timeout=3)
        assert sorted(number for number, _text in answers_at(fake_gateway)) == [ANA, BRUNO]
    finally:
        worker.stop(timeout=10)
