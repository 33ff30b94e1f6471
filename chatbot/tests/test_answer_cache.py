"""FAQ entries answered as written and the shared answer cache, with a key
pointed at the fake OpenAI server (every chat completion it receives is an
LLM call)."""

from __future__ import annotations

import io

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.urls import reverse

import chatbot.llm as llm_module
from chatbot.answer import AnswerSource, answer_question
from chatbot.knowledge import get_knowledge_index
from chatbot.models import Event, FAQEntry
from congress.testing.fake_openai import FakeFailure
from congress.testing.metrics import metric_value

pytest_plugins = ["congress.testing.fake_openai"]

pytestmark = pytest.mark.django_db

PARKING = "Tem estacionamento no local?"
# Two wordings of the same question: retrieval sends the model the same
# documents in the same order (the tests check that too).
PRICE = "qual o valor"
PRICE_AGAIN = "valor?"
STUDENT = "Participante inscrito (situação: confirmada; perfil: Estudante)."
NOT_REGISTERED = "Ainda não inscrito."


@pytest.fixture
def demo_event() -> Event:
    call_command("load_demo_event", stdout=io.StringIO())
    return Event.objects.get(is_active=True)


@pytest.fixture
def sleeps(monkeypatch) -> list[float]:
    recorded: list[float] = []
    monkeypatch.setattr(llm_module, "_sleep", recorded.append)
    return recorded


def ask(question: str, conversation_id: str = "5562999990000", **kwargs):
    return answer_question(question=question, conversation_id=conversation_id, **kwargs)


def prompt_text(request) -> str:
    return "\n".join(m["content"] for m in request.json["messages"])


# --- FAQ entries answered as written --------------------------------------------


def test_an_faq_question_is_answered_with_the_organizers_text_without_calling_the_model(demo_event, fake_openai):
    faq = FAQEntry.objects.get(event=demo_event, question=PARKING)
    answer = ask("tem estacionamento?")
    assert answer.source == AnswerSource.FAQ
    assert answer.text == faq.answer.strip()
    assert answer.doc_ids == (f"faq:{faq.pk}",)
    assert fake_openai.chat_requests == []


def test_an_edited_faq_answer_is_the_reply_at_once(demo_event, fake_openai):
    faq = FAQEntry.objects.get(event=demo_event, question=PARKING)
    ask("tem estacionamento?")
    faq.answer = "Estacionamento gratuito com 2.000 vagas."
    faq.save()
    assert ask("tem estacionamento?").text == "Estacionamento gratuito com 2.000 vagas."
    assert fake_openai.chat_requests == []


def test_an_faq_question_that_leans_on_the_conversation_goes_to_the_model(demo_event, fake_openai):
    history = [{"role": "user", "text": "onde vai ser?"}, {"role": "assistant", "text": "No Centro de Eventos."}]
    answer = ask("e tem estacionamento la?", history=history)
    assert answer.source == AnswerSource.LLM
    assert len(fake_openai.chat_requests) == 1
    assert "No Centro de Eventos." in prompt_text(fake_openai.chat_requests[0])


def test_an_faq_question_about_the_participants_own_registration_goes_to_the_model_with_the_status(
    demo_event, fake_openai
):
    answer = ask("posso cancelar minha inscrição e pedir reembolso?", participant_status=STUDENT)
    assert answer.source == AnswerSource.LLM
    assert len(fake_openai.chat_requests) == 1
    assert STUDENT in prompt_text(fake_openai.chat_requests[0])


# --- the answer cache -------------------------------------------------------------


def test_the_same_question_in_other_words_costs_one_model_call(demo_event, fake_openai):
    fake_openai.reply_text = "Os ingressos vão de R$ 240,00 a R$ 480,00."
    first = ask(PRICE, conversation_id="5562911110001")
    second = ask(PRICE_AGAIN, conversation_id="5562922220002")
    assert first.source == second.source == AnswerSource.LLM
    assert first.doc_ids == second.doc_ids
    assert (first.cached, second.cached) == (False, True)
    assert second.text == "Os ingressos vão de R$ 240,00 a R$ 480,00."
    assert len(fake_openai.chat_requests) == 1


def test_a_shared_answer_is_written_without_the_participants_status_or_turns(demo_event, fake_openai):
    history = [{"role": "user", "text": "oi, bom dia"}, {"role": "assistant", "text": "Olá! Como posso ajudar?"}]
    ask(PRICE, history=history, participant_status=STUDENT)
    prompt = prompt_text(fake_openai.chat_requests[0])
    assert STUDENT not in prompt and "Como posso ajudar" not in prompt
    assert "<knowledge>" in prompt


def test_saving_an_faq_entry_makes_the_next_question_call_the_model_again(demo_event, fake_openai):
    ask(PRICE)
    faq = FAQEntry.objects.filter(event=demo_event).first()
    faq.keywords += ", pipoca"
    faq.save()
    answer = ask(PRICE_AGAIN)
    assert answer.cached is False
    assert len(fake_openai.chat_requests) == 2


def test_editing_an_faq_in_the_admin_changes_the_knowledge_version_and_skips_the_cache(client, demo_event, fake_openai):
    organizer = get_user_model().objects.create_superuser("organizadora", "org@example.com", "senha-forte-123")
    client.force_login(organizer)
    ask(PRICE)
    version = get_knowledge_index().version
    faq = FAQEntry.objects.get(event=demo_event, question=PARKING)
    response = client.post(
        reverse("admin:chatbot_faqentry_change", args=[faq.pk]),
        {
            "event": demo_event.pk,
            "question": faq.question,
            "answer": "Estacionamento com 2.000 vagas.",
            "keywords": faq.keywords,
            "active": "on",
            "order": faq.order,
        },
    )
    assert response.status_code == 302
    assert get_knowledge_index().version != version
    assert ask(PRICE_AGAIN).cached is False
    assert len(fake_openai.chat_requests) == 2


def test_a_question_about_the_participants_own_status_is_not_shared_between_conversations(demo_event, fake_openai):
    fake_openai.reply_text = lambda request: "Resposta para: " + request["messages"][2]["content"]
    shared = ask(PRICE, conversation_id="5562900000000")  # the same documents, already cached
    first = ask("qual o valor do meu ingresso?", conversation_id="5562911110001", participant_status=STUDENT)
    second = ask("qual o valor do meu ingresso?", conversation_id="5562922220002", participant_status=NOT_REGISTERED)
    assert first.doc_ids == second.doc_ids == shared.doc_ids
    assert len(fake_openai.chat_requests) == 3
    assert STUDENT in prompt_text(fake_openai.chat_requests[1])
    assert NOT_REGISTERED in prompt_text(fake_openai.chat_requests[2])
    assert first.text != second.text
    assert not first.cached and not second.cached


def test_a_follow_up_on_the_conversation_is_not_shared_between_conversations(demo_event, fake_openai):
    ours = [{"role": "user", "text": "quanto custa?"}, {"role": "assistant", "text": "Profissional: R$ 480,00."}]
    theirs = [{"role": "user", "text": "tem estande?"}, {"role": "assistant", "text": "Fale com a comercial."}]
    ask("e pra estudante?", conversation_id="5562911110001", history=ours)
    answer = ask("e pra estudante?", conversation_id="5562922220002", history=theirs)
    assert answer.cached is False
    assert len(fake_openai.chat_requests) == 2
    assert "Fale com a comercial." in prompt_text(fake_openai.chat_requests[1])


def test_a_question_retrieval_is_unsure_about_is_never_shared(demo_event, fake_openai):
    # Its best documents are the ticket prices, but it is not about them.
    ask("quanto custa um trator novo?", conversation_id="5562911110001")
    ask("quanto custa um trator novo?", conversation_id="5562922220002")
    assert len(fake_openai.chat_requests) == 2


def test_a_failed_model_call_is_not_cached(demo_event, fake_openai, sleeps):
    fake_openai.fail_always(FakeFailure.server_error(500))
    assert ask(PRICE).source == AnswerSource.OFFLINE
    fake_openai.reset()
    fake_openai.reply_text = "Os ingressos vão de R$ 240,00 a R$ 480,00."
    answer = ask(PRICE_AGAIN)
    assert answer.source == AnswerSource.LLM and answer.cached is False
    assert answer.text == "Os ingressos vão de R$ 240,00 a R$ 480,00."
    assert len(fake_openai.chat_requests) == 1


def test_cache_hits_and_misses_are_counted(client, demo_event, fake_openai):
    def count(result: str) -> float:
        return metric_value(client.get("/metrics").content.decode(), f'answer_cache_total{{result="{result}"}}')

    hits, misses = count("hit"), count("miss")
    ask(PRICE)
    ask(PRICE_AGAIN)
    assert (count("hit"), count("miss")) == (hits + 1, misses + 1)
