"""The admin pages for event knowledge, unanswered questions and conversations."""

from __future__ import annotations

import io

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.urls import reverse

from chatbot.answer import AnswerSource, answer_question
from chatbot.models import ConversationState, Event, FAQEntry, ProgrammeSession, UnansweredQuestion
from congress.testing.factories import make_cpf
from registrations.validators import format_cpf

pytestmark = pytest.mark.django_db


@pytest.fixture
def demo_event() -> Event:
    call_command("load_demo_event", stdout=io.StringIO())
    return Event.objects.get(is_active=True)


@pytest.fixture
def admin_client(client):
    user = get_user_model().objects.create_superuser("organizadora", "org@example.com", "senha-forte-123")
    client.force_login(user)
    return client


@pytest.fixture
def conversation() -> ConversationState:
    cpf = make_cpf()
    return ConversationState.objects.create(
        conversation_id="5562988887777",
        registration_step="asking_phone",
        turns=2,
        data={"full_name": "Joana Farias", "email": "joana@example.com", "cpf": cpf},
        history=[
            {"role": "user", "text": "quero me inscrever", "at": "2026-11-25T13:00:00+00:00"},
            {"role": "assistant", "text": "Qual é o seu nome completo?", "at": "2026-11-25T13:00:01+00:00"},
            {"role": "user", "text": f"<b>Joana</b> cpf {format_cpf(cpf)}", "at": "2026-11-25T13:01:00+00:00"},
        ],
    )


@pytest.fixture
def unanswered(demo_event) -> UnansweredQuestion:
    return UnansweredQuestion.objects.create(conversation_id="c-1", question="Pode levar cachorro?")


def _url(model, view: str, *args) -> str:
    return reverse(f"admin:chatbot_{model._meta.model_name}_{view}", args=args)


@pytest.mark.parametrize(
    "model", [Event, FAQEntry, ProgrammeSession, UnansweredQuestion, ConversationState], ids=lambda m: m.__name__
)
def test_the_changelist_opens_for_an_organizer(admin_client, demo_event, unanswered, conversation, model):
    assert admin_client.get(_url(model, "changelist")).status_code == 200


@pytest.mark.parametrize(
    "model", [Event, FAQEntry, ProgrammeSession, UnansweredQuestion, ConversationState], ids=lambda m: m.__name__
)
def test_the_change_form_opens_for_an_organizer(admin_client, demo_event, unanswered, conversation, model):
    obj = model.objects.first()
    assert admin_client.get(_url(model, "change", obj.pk)).status_code == 200


@pytest.mark.parametrize("model", [Event, FAQEntry, ProgrammeSession], ids=lambda m: m.__name__)
def test_the_add_form_opens_for_knowledge_models(admin_client, demo_event, model):
    assert admin_client.get(_url(model, "add")).status_code == 200


def test_the_programme_can_be_filtered_by_day_and_room(admin_client, demo_event):
    response = admin_client.get(_url(ProgrammeSession, "changelist"), {"day": "2027-05-12", "room": "Sala Cerrado"})
    assert response.status_code == 200
    assert "Café e cacau sustentáveis" in response.content.decode()
    assert "Cerimônia de abertura" not in response.content.decode()


def test_the_faq_list_can_be_searched(admin_client, demo_event):
    response = admin_client.get(_url(FAQEntry, "changelist"), {"q": "estacionamento"})
    assert "Tem estacionamento no local?" in response.content.decode()
    assert "Qual o traje recomendado?" not in response.content.decode()


def test_the_conversation_detail_shows_the_history_as_a_conversation(admin_client, conversation):
    page = admin_client.get(_url(ConversationState, "change", conversation.pk)).content.decode()
    assert "Participante:" in page and "Bot:" in page
    assert "Qual é o seu nome completo?" in page
    assert "25/11/2026 10:00" in page  # 13:00 UTC in America/Sao_Paulo
    assert '{"role"' not in page and "'role'" not in page and "[{" not in page


def test_the_conversation_detail_escapes_what_participants_typed(admin_client, conversation):
    page = admin_client.get(_url(ConversationState, "change", conversation.pk)).content.decode()
    assert "<b>Joana</b>" not in page
    assert "&lt;b&gt;Joana&lt;/b&gt;" in page


def test_the_conversation_detail_masks_the_cpf(admin_client, conversation):
    cpf = conversation.data["cpf"]
    page = admin_client.get(_url(ConversationState, "change", conversation.pk)).content.decode()
    assert cpf not in page and format_cpf(cpf) not in page
    assert f"***.{cpf[3:6]}.{cpf[6:9]}-**" in page
    assert "joana@example.com" in page


def test_conversations_cannot_be_edited_or_added(admin_client, conversation):
    assert admin_client.get(_url(ConversationState, "add")).status_code == 403
    response = admin_client.post(_url(ConversationState, "change", conversation.pk), {"registration_step": "idle"})
    assert response.status_code == 403


def test_conversations_can_be_filtered_by_step(admin_client, conversation):
    response = admin_client.get(_url(ConversationState, "changelist"), {"registration_step__exact": "asking_phone"})
    assert conversation.conversation_id in response.content.decode()


def test_answering_an_unanswered_question_in_its_form_creates_an_faq_the_bot_uses(admin_client, unanswered, settings):
    settings.OPENAI_API_KEY = ""
    response = admin_client.post(
        _url(UnansweredQuestion, "change", unanswered.pk),
        {"answer": "Animais de estimação não podem entrar.", "status": "open"},
    )
    assert response.status_code == 302
    unanswered.refresh_from_db()
    assert unanswered.status == UnansweredQuestion.Status.ANSWERED
    assert unanswered.faq.question == "Pode levar cachorro?"
    assert unanswered.faq.answer == "Animais de estimação não podem entrar."
    answer = answer_question(question="posso levar cachorro?", conversation_id="c-2")
    assert answer.source == AnswerSource.OFFLINE and answer.text == "Animais de estimação não podem entrar."


def test_the_answer_action_creates_faqs_for_answered_rows_only(admin_client, unanswered, demo_event):
    unanswered.answer = "Não, apenas cães-guia."
    unanswered.save()
    empty = UnansweredQuestion.objects.create(conversation_id="c-3", question="Tem piscina?")
    response = admin_client.post(
        _url(UnansweredQuestion, "changelist"),
        {"action": "answer_and_create_faq", "_selected_action": [unanswered.pk, empty.pk]},
        follow=True,
    )
    assert response.status_code == 200
    unanswered.refresh_from_db()
    empty.refresh_from_db()
    assert unanswered.faq is not None and unanswered.status == UnansweredQuestion.Status.ANSWERED
    assert empty.faq is None and empty.status == UnansweredQuestion.Status.OPEN
    assert "ainda sem resposta" in response.content.decode()


def test_the_dismiss_action_closes_open_questions(admin_client, unanswered):
    admin_client.post(
        _url(UnansweredQuestion, "changelist"), {"action": "dismiss", "_selected_action": [unanswered.pk]}
    )
    unanswered.refresh_from_db()
    assert unanswered.status == UnansweredQuestion.Status.DISMISSED


def test_faq_active_and_order_are_editable_from_the_list(admin_client, demo_event):
    faqs = list(FAQEntry.objects.order_by("order", "id"))
    data = {
        "form-TOTAL_FORMS": str(len(faqs)),
        "form-INITIAL_FORMS": str(len(faqs)),
        "form-MIN_NUM_FORMS": "0",
        "form-MAX_NUM_FORMS": "1000",
        "_save": "Salvar",
    }
    for i, faq in enumerate(faqs):
        data[f"form-{i}-id"] = str(faq.pk)
        data[f"form-{i}-order"] = str(faq.order)
        if faq.pk != faqs[0].pk:
            data[f"form-{i}-active"] = "on"
    response = admin_client.post(_url(FAQEntry, "changelist"), data)
    assert response.status_code == 302
    faqs[0].refresh_from_db()
    assert faqs[0].active is False


def test_an_faq_edited_in_the_admin_is_used_by_the_bot_at_once(admin_client, demo_event, settings):
    settings.OPENAI_API_KEY = ""
    faq = FAQEntry.objects.get(question="Tem estacionamento no local?")
    assert "1.200 vagas" in answer_question(question="tem estacionamento?", conversation_id="c-9").text
    response = admin_client.post(
        _url(FAQEntry, "change", faq.pk),
        {
            "event": demo_event.pk,
            "question": faq.question,
            "answer": "Estacionamento gratuito com 3.000 vagas.",
            "keywords": faq.keywords,
            "active": "on",
            "order": faq.order,
        },
    )
    assert response.status_code == 302
    assert answer_question(question="tem estacionamento?", conversation_id="c-9").text == (
        "Estacionamento gratuito com 3.000 vagas."
    )
