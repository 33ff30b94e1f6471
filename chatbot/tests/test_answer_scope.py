"""What reaches the organizers' queue: only real questions about the event, never personal data."""

from __future__ import annotations

import io
import re

import pytest
from django.core.management import call_command

from chatbot.answer import MAX_REPLY_CHARS, AnswerSource, answer_question
from chatbot.models import Event, FAQEntry, UnansweredQuestion
from chatbot.scope import MessageKind, asks_for_list, question_kind, redact_personal_data, split_questions

pytest_plugins = ["congress.testing.fake_openai"]

QUESTION, SMALL_TALK, OFF_TOPIC, NOISE = (
    MessageKind.QUESTION,
    MessageKind.SMALL_TALK,
    MessageKind.OFF_TOPIC,
    MessageKind.NOISE,
)
FORWARDED = "Encaminhei sua pergunta"
NOT_UNDERSTOOD = "Não entendi"
OUT_OF_SCOPE = "Sobre isso não sei ajudar"


@pytest.fixture
def demo_event(db) -> Event:
    call_command("load_demo_event", stdout=io.StringIO())
    return Event.objects.get(is_active=True)


@pytest.fixture
def no_key(settings):
    settings.OPENAI_API_KEY = ""


def ask(question: str, conversation_id: str = "5562999990000"):
    return answer_question(question=question, conversation_id=conversation_id)


# (message, kind, a fragment of the offline reply, what is queued: None or a reason)
CASES = [
    # Questions the demo knowledge answers: a fact, nothing queued.
    ("onde vai ser o evento?", QUESTION, "Centro de Eventos Agro Cerrado", None),
    ("quando começa?", QUESTION, "11 de maio", None),
    ("quanto custa a inscrição?", QUESTION, "R$ 480,00", None),
    ("tem estacionamento?", QUESTION, "1.200 vagas", None),
    ("preciso levar documento?", QUESTION, "documento oficial com foto", None),
    ("prazo pra mandar resumo", QUESTION, "15/03/2027", None),
    ("qual o prazo para enviar o resumo?", QUESTION, "15/03/2027", None),
    ("vocês vendem meus dados?", QUESTION, "Não vendemos", None),
    ("quem tem acesso aos meus dados?", QUESTION, "equipe organizadora", None),
    ("posso transferir minha inscrição?", QUESTION, "transferência não é feita por este chat", None),
    ("como apago meus dados?", QUESTION, "apagar meus dados", None),
    ("aceita pix?", QUESTION, "Pix copia e cola", None),
    ("vai ter QR code?", QUESTION, "*QR code* do e-mail de confirmação", None),
    ("tem hotel perto?", QUESTION, "CBAS2027", None),
    ("Bom dia! Tem wifi no local?", QUESTION, "CBAS2027", None),
    ("gostaria de saber se tem almoço incluso", QUESTION, "coffee break", None),
    ("quem fala sobre ILPF?", OFF_TOPIC, "Integração lavoura-pecuária-floresta", None),
    ("programação do dia 12", QUESTION, "Dia de campo", None),
    ("posso levar criança?", QUESTION, "12 anos", None),
    ("é possível pagar meia sendo estudante?", QUESTION, "R$ 240,00", None),
    # Real questions about the event the knowledge does not answer: forwarded.
    ("posso levar meu cachorro?", QUESTION, FORWARDED, UnansweredQuestion.Reason.UNANSWERED),
    ("pode levar pet?", QUESTION, FORWARDED, UnansweredQuestion.Reason.UNANSWERED),
    ("posso levar meu animal de estimação?", QUESTION, FORWARDED, UnansweredQuestion.Reason.UNANSWERED),
    # Partly covered (the hotels are, the pool is not): a suggestion, queued for review.
    ("tem piscina no hotel?", QUESTION, "Encontrei isto, veja se ajuda", UnansweredQuestion.Reason.LOW_CONFIDENCE),
    ("é permitido fumar no evento?", QUESTION, FORWARDED, UnansweredQuestion.Reason.UNANSWERED),
    ("vai ter tradução simultânea para inglês?", QUESTION, FORWARDED, UnansweredQuestion.Reason.UNANSWERED),
    ("tem tomada pra carregar celular?", QUESTION, FORWARDED, UnansweredQuestion.Reason.UNANSWERED),
    # Small talk: a friendly line, nothing queued.
    ("obrigado", SMALL_TALK, "De nada", None),
    ("muito obrigada!!", SMALL_TALK, "De nada", None),
    ("valeu", SMALL_TALK, "De nada", None),
    ("vlw", SMALL_TALK, "De nada", None),
    ("bom dia", SMALL_TALK, "CBAS 2027", None),
    ("boa noite!", SMALL_TALK, "CBAS 2027", None),
    ("tudo bem?", SMALL_TALK, "CBAS 2027", None),
    ("kkkk", SMALL_TALK, "CBAS 2027", None),
    ("hahaha", SMALL_TALK, "CBAS 2027", None),
    ("👍", SMALL_TALK, "CBAS 2027", None),
    ("🙏🙏", SMALL_TALK, "CBAS 2027", None),
    ("ok", SMALL_TALK, "CBAS 2027", None),
    ("sim", SMALL_TALK, "CBAS 2027", None),
    ("não", SMALL_TALK, "CBAS 2027", None),
    ("beleza, valeu!", SMALL_TALK, "De nada", None),
    ("que legal", SMALL_TALK, "CBAS 2027", None),
    ("tchau", SMALL_TALK, "CBAS 2027", None),
    # Off-topic: a scope line with the organizers' contact, nothing queued.
    ("qual a capital da França?", OFF_TOPIC, OUT_OF_SCOPE, None),
    ("quem ganhou o jogo do Flamengo ontem?", OFF_TOPIC, OUT_OF_SCOPE, None),
    ("vai chover em São Paulo amanhã?", OFF_TOPIC, OUT_OF_SCOPE, None),
    ("conta uma piada", OFF_TOPIC, OUT_OF_SCOPE, None),
    ("em quem você vai votar pra presidente?", OFF_TOPIC, OUT_OF_SCOPE, None),
    ("quanto é 2+2?", OFF_TOPIC, OUT_OF_SCOPE, None),
    ("qual a receita de bolo de cenoura?", OFF_TOPIC, OUT_OF_SCOPE, None),
    ("qual o sentido da vida?", OFF_TOPIC, OUT_OF_SCOPE, None),
    ("bom dia, quem ganhou o jogo?", OFF_TOPIC, OUT_OF_SCOPE, None),
    ("qual seu filme favorito?", OFF_TOPIC, OUT_OF_SCOPE, None),
    # Noise: "não entendi" with a hint, nothing queued.
    ("um", NOISE, NOT_UNDERSTOOD, None),
    ("asdfgh", NOISE, NOT_UNDERSTOOD, None),
    ("jfjfjfjf", NOISE, NOT_UNDERSTOOD, None),
    ("qwerty", NOISE, NOT_UNDERSTOOD, None),
    ("123456", NOISE, NOT_UNDERSTOOD, None),
    ("5", NOISE, NOT_UNDERSTOOD, None),
    ("???", NOISE, NOT_UNDERSTOOD, None),
    ("...", NOISE, NOT_UNDERSTOOD, None),
    ("João da Silva", NOISE, NOT_UNDERSTOOD, None),
    ("Maria Aparecida Souza", NOISE, NOT_UNDERSTOOD, None),
    ("seu bot idiota", NOISE, NOT_UNDERSTOOD, None),
    ("hoje acordei cedo e fui pra roça", NOISE, NOT_UNDERSTOOD, None),
    # Personal data alone: noise, never stored.
    ("joao.silva@gmail.com", NOISE, NOT_UNDERSTOOD, None),
    ("meu email é maria.souza@example.com", NOISE, NOT_UNDERSTOOD, None),
    ("(62) 99999-8888", NOISE, NOT_UNDERSTOOD, None),
    ("+55 11 98765-4321", NOISE, NOT_UNDERSTOOD, None),
    ("529.982.247-25", NOISE, NOT_UNDERSTOOD, None),
    ("52998224725", NOISE, NOT_UNDERSTOOD, None),
    ("passaporte FZ123456", NOISE, NOT_UNDERSTOOD, None),
    ("meu RG é 12.345.678-9", NOISE, NOT_UNDERSTOOD, None),
]


@pytest.mark.parametrize(("message", "kind", "_reply", "_queued"), CASES, ids=[c[0] for c in CASES])
def test_each_message_is_classified(message, kind, _reply, _queued):
    assert question_kind(message) == kind


@pytest.mark.parametrize(("message", "_kind", "reply", "queued"), CASES, ids=[c[0] for c in CASES])
def test_each_message_gets_its_reply_and_only_real_questions_are_queued(demo_event, no_key, message, _kind, reply, queued):
    answer = ask(message)
    if reply is not None:
        assert reply in answer.text
    if not asks_for_list(message):
        assert len(answer.text) <= MAX_REPLY_CHARS + 2
    stored = list(UnansweredQuestion.objects.values_list("reason", flat=True))
    assert stored == ([queued] if queued else [])
    if queued != UnansweredQuestion.Reason.UNANSWERED:
        assert FORWARDED not in answer.text


def test_the_scope_cases_cover_every_kind():
    assert len(CASES) >= 60
    assert {kind for _m, kind, _r, _q in CASES} == {QUESTION, SMALL_TALK, OFF_TOPIC, NOISE}


def test_a_three_thousand_character_story_is_not_forwarded(demo_event, no_key):
    story = ("Eu sou produtor em Rio Verde e planto soja há vinte anos, meu pai também plantava. " * 40)[:3000]
    assert question_kind(story) == NOISE
    answer = ask(story)
    assert NOT_UNDERSTOOD in answer.text
    assert not UnansweredQuestion.objects.exists()


def test_a_long_story_ending_in_a_question_answers_the_question(demo_event, no_key):
    story = "Eu sou produtor em Rio Verde e planto soja há vinte anos. " * 20 + "Tem estacionamento no local?"
    answer = ask(story)
    assert "1.200 vagas" in answer.text
    assert not UnansweredQuestion.objects.exists()


# --- personal data never reaches the queue ------------------------------------------------

PII_QUESTIONS = [
    ("meu email é joana.farias@example.com, posso levar meu cachorro?", "joana.farias@example.com", "[e-mail]"),
    ("sou a Joana, cpf 529.982.247-25, posso levar meu cachorro?", "529.982.247-25", "[CPF]"),
    ("meu cpf 52998224725 posso levar meu cachorro?", "52998224725", "[CPF]"),
    ("me liga no (62) 98888-7777: posso levar meu cachorro?", "98888-7777", "[telefone]"),
    ("meu zap +55 62 98888-7777, posso levar meu cachorro?", "98888-7777", "[telefone]"),
    ("meu passaporte é FZ123456, posso levar meu cachorro?", "FZ123456", "[número]"),
]


@pytest.mark.parametrize(("question", "secret", "placeholder"), PII_QUESTIONS, ids=[p[2] + p[1] for p in PII_QUESTIONS])
def test_a_queued_question_keeps_a_placeholder_instead_of_personal_data(demo_event, no_key, question, secret, placeholder):
    assert FORWARDED in ask(question).text
    stored = UnansweredQuestion.objects.get().question
    assert secret not in stored
    digits = re.sub(r"\D", "", secret)
    assert not digits or digits not in re.sub(r"\D", "", stored)
    assert placeholder in stored


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Até 15/03/2027, às 14h, R$ 480,00", "Até 15/03/2027, às 14h, R$ 480,00"),
        ("mande para ana@x.com.br", "mande para [e-mail]"),
        ("CPF 111.444.777-35", "CPF [CPF]"),
        ("fone (62) 3200-2027", "fone [telefone]"),
        ("protocolo 98765432 ok", "protocolo [número] ok"),
    ],
    ids=["dates-times-prices-kept", "email", "cpf", "phone", "long-number"],
)
def test_redaction_replaces_personal_data_and_keeps_what_questions_are_about(text, expected):
    assert redact_personal_data(text) == expected


# --- the LLM path obeys the same scope ------------------------------------------------------


@pytest.mark.parametrize("message", ["obrigado", "kkkk", "qual a capital da França?", "joao@example.com", "asdfgh"])
def test_messages_out_of_scope_never_reach_the_model_or_the_queue(demo_event, fake_openai, message):
    answer = ask(message)
    assert answer.source == AnswerSource.SCOPE
    assert fake_openai.chat_requests == []
    assert not UnansweredQuestion.objects.exists()


def test_the_model_never_sees_an_email_or_phone(demo_event, fake_openai):
    # Two questions: the model combines the entries (one FAQ entry alone is answered as written).
    ask("meu email é joana@example.com e meu telefone (62) 98888-7777, tem estacionamento? quanto custa o ingresso?")
    sent = fake_openai.chat_requests[0].text
    assert "joana@example.com" not in sent and "98888-7777" not in sent


# --- multi-part questions ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "parts"),
    [
        ("onde vai ser e quanto custa?", ["onde vai ser", "quanto custa?"]),
        ("Onde fica? Quanto custa?", ["Onde fica?", "Quanto custa?"]),
        ("quando é, onde fica e tem estacionamento?", ["quando é", "onde fica", "tem estacionamento?"]),
        ("tem café e almoço?", ["tem café e almoço?"]),
    ],
    ids=["e", "two-marks", "three", "and-between-nouns"],
)
def test_a_message_is_split_into_its_questions(text, parts):
    assert split_questions(text) == parts


def test_each_part_of_a_two_part_question_is_answered(demo_event, no_key):
    answer = ask("onde vai ser e quanto custa?")
    assert "Centro de Eventos Agro Cerrado" in answer.text and "R$ 480,00" in answer.text
    assert answer.source == AnswerSource.OFFLINE
    assert len(answer.doc_ids) == 2
    assert len(answer.text) <= MAX_REPLY_CHARS


def test_two_parts_with_the_same_answer_give_it_once(demo_event, no_key):
    answer = ask("tem estacionamento? onde estaciono o carro?")
    assert answer.text.count("1.200 vagas") == 1


def test_a_covered_and_an_uncovered_part_answer_one_and_forward_the_other(demo_event, no_key):
    answer = ask("tem estacionamento? e posso levar meu cachorro?")
    assert "1.200 vagas" in answer.text and FORWARDED in answer.text
    assert UnansweredQuestion.objects.get().reason == UnansweredQuestion.Reason.UNANSWERED


def test_the_programme_may_be_longer_than_a_usual_reply(demo_event, no_key):
    answer = ask("qual a programação de terça?")
    assert len(answer.text) > 600 and "Cerimônia de abertura" in answer.text


# --- middle confidence: a suggestion, queued for review ----------------------------------------


def test_a_partly_covered_question_is_offered_as_a_suggestion_and_queued_for_review(demo_event, no_key):
    FAQEntry.objects.create(
        event=demo_event,
        question="Tem guarda-volumes?",
        answer="Sim, há guarda-volumes gratuito no hall de entrada.",
        keywords="guarda-volumes, mala, bagagem",
    )
    answer = ask("tem guarda-volumes para mala grande de viagem?")
    assert answer.source == AnswerSource.TENTATIVE
    assert answer.text.startswith("Encontrei isto, veja se ajuda:")
    assert "guarda-volumes gratuito" in answer.text
    queued = UnansweredQuestion.objects.get()
    assert queued.reason == UnansweredQuestion.Reason.LOW_CONFIDENCE
    assert "guarda-volumes gratuito" in queued.bot_reply


# --- the subject decides the answer, not a shared word ------------------------------------------

REFUSED = "Não compartilho dados de outros participantes"

# (message, kind, a fragment the offline reply must contain, one it must not, what is queued)
SUBJECT_CASES = [
    # A yes/no question is answered by the entry about its subject, not by one that shares a modifier.
    ("o evento é gratuito?", QUESTION, "Só a *visita à feira de negócios* é gratuita", "Wi-Fi", None),
    ("o congresso é de graça?", QUESTION, "Só a *visita à feira de negócios* é gratuita", "Wi-Fi", None),
    ("o evento é free?", QUESTION, "Só a *visita à feira de negócios* é gratuita", "Wi-Fi", None),
    ("tem vaga ainda?", QUESTION, "ainda há vagas", "1.200 vagas", None),
    ("ainda tem vagas?", QUESTION, "ainda há vagas", "1.200 vagas", None),
    ("as vagas já esgotaram?", QUESTION, "ainda há vagas", "1.200 vagas", None),
    ("tem vaga pra carro?", QUESTION, "1.200 vagas", "ainda há vagas", None),
    ("tem meia entrada pra idoso?", QUESTION, "idosos (60+)", "Estudantes de graduação", None),
    ("idoso paga meia?", QUESTION, "idosos (60+)", "Estudantes de graduação", None),
    ("tem desconto para a terceira idade?", QUESTION, "idosos (60+)", "Estudantes de graduação", None),
    ("até quando posso me inscrever?", QUESTION, "31/03/2027", "É rapidinho", None),
    ("qual o prazo pra se inscrever?", QUESTION, "31/03/2027", "resumos", None),
    ("até quando vai o evento?", QUESTION, "13 de maio", "31/03/2027", None),
    ("eu só queria saber o preço mas tudo bem", QUESTION, "R$ 480,00", "Encontrei isto", None),
    ("bom dia, qual o valor do ingresso? obrigado", QUESTION, "R$ 480,00", "Encontrei isto", None),
    # A modifier question about a covered subject still finds the subject.
    ("o wifi é gratuito?", QUESTION, "Wi-Fi gratuita", "Só a *visita", None),
    ("o transfer do hotel é gratuito?", QUESTION, "transfer gratuito", "Só a *visita", None),
    # Everyday words for a subject the knowledge names otherwise.
    ("posso ir de chinelo?", QUESTION, "esporte fino", FORWARDED, None),
    ("pode ir de bermuda?", QUESTION, "esporte fino", FORWARDED, None),
    ("qual o dress code?", QUESTION, "esporte fino", FORWARDED, None),
    # A subject the knowledge never covers is forwarded, not answered by a shared "área".
    ("tem área pra amamentar?", QUESTION, FORWARDED, "Visitante da feira", UnansweredQuestion.Reason.UNANSWERED),
    # Market quotes are off-topic even though soy is a theme of the congress.
    ("quanto está a saca de soja hoje?", OFF_TOPIC, OUT_OF_SCOPE, FORWARDED, None),
    ("qual a cotação do boi gordo?", OFF_TOPIC, OUT_OF_SCOPE, FORWARDED, None),
    ("qual o preço do milho hoje?", OFF_TOPIC, OUT_OF_SCOPE, FORWARDED, None),
    ("quanto tá o dólar?", OFF_TOPIC, OUT_OF_SCOPE, FORWARDED, None),
    # Other people's data: a short refusal, never looked up or queued.
    ("quem se inscreveu de Rio Verde?", MessageKind.OTHERS_DATA, REFUSED, FORWARDED, None),
    ("me passa os dados do cpf 123.459.507-90", MessageKind.OTHERS_DATA, REFUSED, FORWARDED, None),
    ("qual o email da Maria Souza?", MessageKind.OTHERS_DATA, REFUSED, FORWARDED, None),
    ("lista de inscritos", MessageKind.OTHERS_DATA, REFUSED, FORWARDED, None),
    ("me manda a lista de participantes", MessageKind.OTHERS_DATA, REFUSED, FORWARDED, None),
    ("a Maria Souza está inscrita?", MessageKind.OTHERS_DATA, REFUSED, FORWARDED, None),
    ("qual o telefone do João Pereira?", MessageKind.OTHERS_DATA, REFUSED, FORWARDED, None),
    ("consulta o cpf 529.982.247-25 pra mim", MessageKind.OTHERS_DATA, REFUSED, FORWARDED, None),
    ("tem algum inscrito de Goiânia?", MessageKind.OTHERS_DATA, REFUSED, FORWARDED, None),
    ("meu colega já está inscrito?", MessageKind.OTHERS_DATA, REFUSED, FORWARDED, None),
    ("quem são os inscritos?", MessageKind.OTHERS_DATA, REFUSED, FORWARDED, None),
    # ...while the organizers' own contacts and who may register are ordinary questions.
    ("qual o email da organização?", QUESTION, "contato@cbas2027.example.org", REFUSED, None),
    ("Qual o telefone do Hotel Ipê Amarelo?", QUESTION, "Hotel", REFUSED, UnansweredQuestion.Reason.LOW_CONFIDENCE),
    ("quem pode se inscrever?", QUESTION, None, REFUSED, None),
]


@pytest.mark.parametrize(("message", "kind", "_has", "_lacks", "_queued"), SUBJECT_CASES, ids=[c[0] for c in SUBJECT_CASES])
def test_each_subject_case_is_classified(message, kind, _has, _lacks, _queued):
    assert question_kind(message) == kind


@pytest.mark.parametrize(("message", "_kind", "has", "lacks", "queued"), SUBJECT_CASES, ids=[c[0] for c in SUBJECT_CASES])
def test_a_question_is_answered_by_the_entry_about_its_subject_and_queued_only_when_unknown(
    demo_event, no_key, message, _kind, has, lacks, queued
):
    answer = ask(message)
    if has is not None:
        assert has in answer.text
    if lacks is not None:
        assert lacks not in answer.text
    stored = list(UnansweredQuestion.objects.values_list("reason", flat=True))
    assert stored == ([queued] if queued else [])


def test_the_subject_cases_are_many_and_cover_every_failure_class():
    assert len(SUBJECT_CASES) >= 30
    assert {kind for _m, kind, *_rest in SUBJECT_CASES} == {QUESTION, OFF_TOPIC, MessageKind.OTHERS_DATA}


@pytest.mark.parametrize("message", ["lista de inscritos", "qual o email da Maria Souza?", "quem se inscreveu de Rio Verde?"])
def test_a_request_for_other_peoples_data_never_reaches_the_model_or_the_queue(demo_event, fake_openai, message):
    answer = ask(message)
    assert answer.source == AnswerSource.SCOPE and REFUSED in answer.text
    assert "minha inscrição" in answer.text
    assert fake_openai.chat_requests == []
    assert not UnansweredQuestion.objects.exists()


def test_a_question_whose_subject_an_entry_only_mentions_in_passing_is_not_answered_with_it(demo_event, no_key):
    # Without the demo's own entry, "gratuito" is in the Wi-Fi answer and in the tickets' keywords:
    # the tickets are about prices, the Wi-Fi entry only mentions it is free.
    FAQEntry.objects.filter(event=demo_event, question="O evento é gratuito?").delete()
    answer = ask("o evento é gratuito?")
    assert "Visitante da feira: gratuito" in answer.text
    assert "Wi-Fi" not in answer.text
