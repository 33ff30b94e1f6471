"""Retrieval over the event knowledge, and the knowledge index cache."""

from __future__ import annotations

import io

import pytest
from django.core.cache import cache
from django.core.management import call_command

from chatbot.knowledge import VERSION_CACHE_KEY, DocKind, get_knowledge_index, knowledge_documents
from chatbot.models import Event, FAQEntry
from chatbot.retrieval import Retriever, retrieve, stem, tokenize
from congress.testing.factories import make_event

pytestmark = pytest.mark.django_db


@pytest.fixture
def demo_event() -> Event:
    call_command("load_demo_event", stdout=io.StringIO())
    return Event.objects.get(is_active=True)


def _label(doc) -> str:
    """Event facts and day summaries by id, FAQ entries and sessions by title (their ids are row ids)."""
    return doc.id if doc.kind in (DocKind.EVENT, DocKind.DAY) else doc.title


TYPICAL_QUESTIONS = [
    ("Quando vai ser o congresso?", "event:dates"),
    ("qual a data do evento", "event:dates"),
    ("QUAL O HORÁRIO DO EVENTO?", "event:dates"),
    ("Onde fica o evento?", "event:venue"),
    ("qual o endereço?", "event:venue"),
    ("QUAL O ENDERECO DO LOCAL", "event:venue"),
    ("quanto custa a inscrição?", "event:tickets"),
    ("qual o valor do ingresso", "event:tickets"),
    ("Tem estacionamento?", "Tem estacionamento no local?"),
    ("vou receber certificado?", "Vou receber certificado de participação?"),
    ("tem almoço incluso?", "Tem alimentação no evento? O almoço está incluído?"),
    ("o local tem acessibilidade para cadeirante?", "O local tem acessibilidade?"),
    ("como faço para me inscrever?", "Como faço minha inscrição?"),
    ("posso cancelar minha inscricao e pedir reembolso?", "Posso cancelar a inscrição e pedir reembolso?"),
    ("tem hotel perto?", "Tem hotéis perto do evento? Há desconto de hospedagem?"),
    ("como chego do aeroporto?", "Como chegar ao evento saindo do aeroporto?"),
    ("posso levar meu filho?", "Posso levar crianças?"),
    ("qual o traje?", "Qual o traje recomendado?"),
    ("tem wifi?", "Tem Wi-Fi no evento?"),
    ("quero ser expositor", "Como ser expositor ou patrocinador?"),
    ("quais as formas de pagamento? aceita pix?", "Quais são as formas de pagamento?"),
    ("estudante paga meia?", "Estudante paga meia-entrada?"),
    ("qual a programação de quarta?", "day:2027-05-12"),
    ("programacao do dia 12", "day:2027-05-12"),
    ("o que tem na quinta de manhã?", "day:2027-05-13"),
    ("qual o e-mail de contato?", "event:contacts"),
    ("TELEFONE DA ORGANIZAÇÃO", "event:contacts"),
    ("quando é a palestra sobre mercado de carbono?", "Mercado de carbono para o produtor rural"),
    ("que horas é a cerimonia de abertura", "Cerimônia de abertura"),
    ("palestra da Helena Prado", "Palestra magna: o agro brasileiro rumo a 2030 com baixa emissão de carbono"),
    ("quem fala sobre ILPF?", "Integração lavoura-pecuária-floresta (ILPF) na prática"),
    ("qual o tema do congresso?", "event:about"),
    ("as inscrições estão abertas?", "event:registration"),
    ("quais perfis posso escolher?", "event:profiles"),
    ("tem desconto para grupo?", "Tem desconto para grupos?"),
    ("posso apresentar um poster?", "Posso apresentar trabalho científico?"),
    ("como retiro o crachá?", "Como funciona o credenciamento?"),
]


@pytest.mark.parametrize(("question", "expected"), TYPICAL_QUESTIONS, ids=[q for q, _ in TYPICAL_QUESTIONS])
def test_a_typical_question_ranks_the_right_document_first(demo_event, question, expected):
    hits = retrieve(question)
    assert hits, "nothing retrieved"
    assert _label(hits[0].doc) == expected, [(_label(h.doc), h.score) for h in hits]


@pytest.mark.parametrize(
    "variants",
    [
        ("Onde fica o evento?", "onde fica o evento", "ONDE FICA O EVENTO"),
        ("Tem acessibilidade?", "tem acessibilidade", "TEM ACESSIBILIDADE?"),
        ("Qual a programação?", "qual a programacao", "QUAL A PROGRAMAÇÃO"),
    ],
    ids=["venue", "accessibility", "programme"],
)
def test_accents_and_case_do_not_change_the_ranking(demo_event, variants):
    rankings = {tuple(h.doc.id for h in retrieve(v)) for v in variants}
    assert len(rankings) == 1


@pytest.mark.parametrize(
    "question",
    ["qual a capital da França?", "quem ganhou o jogo ontem?", "me passa o CPF de todos os participantes"],
    ids=["geography", "football", "cpf-of-everyone"],
)
def test_a_question_the_knowledge_does_not_cover_gets_low_confidence(demo_event, question):
    hits = retrieve(question)
    assert not hits or hits[0].confidence < 0.35


def test_a_question_the_knowledge_covers_gets_high_confidence(demo_event):
    assert retrieve("tem estacionamento no local?")[0].confidence >= 0.9


def test_confidence_is_between_zero_and_one(demo_event):
    for question, _expected in TYPICAL_QUESTIONS:
        for hit in retrieve(question):
            assert 0.0 <= hit.confidence <= 1.0


def test_at_most_k_documents_are_returned(demo_event):
    assert len(retrieve("programação palestra evento congresso", k=2)) == 2


def test_tokens_are_folded_stemmed_and_free_of_stop_words():
    assert tokenize("Quais são as INSCRIÇÕES?") == ["inscric"]
    assert tokenize("quais sao as inscricoes") == ["inscric"]


@pytest.mark.parametrize(
    ("word", "expected"),
    [("inscricoes", "inscric"), ("hoteis", "hotel"), ("viagens", "viagem"), ("palestras", "palestr"), ("dia", "dia")],
    ids=["coes", "eis", "ns", "plural-s", "short"],
)
def test_stemming_removes_plural_endings(word, expected):
    assert stem(word) == expected


def test_times_are_normalised_so_14h_and_14_00_match():
    assert tokenize("às 14:00") == tokenize("14h") == ["14h"]
    assert tokenize("9h30") == tokenize("09:30")


def test_a_verb_finds_a_noun_with_the_same_prefix(db):
    event = make_event()
    FAQEntry.objects.create(event=event, question="Prazo das inscrições", answer="Até 30 de abril.")
    hits = retrieve("posso me inscrever?")
    assert "Prazo das inscrições" in [hit.doc.title for hit in hits]


def test_an_faq_keyword_boosts_its_entry_above_a_similar_one(db):
    event = make_event()
    FAQEntry.objects.create(event=event, question="Sobre a feira", answer="A feira tem estandes de máquinas.")
    FAQEntry.objects.create(event=event, question="Sobre a feira", answer="A feira tem estandes de máquinas.", keywords="trator")
    top = retrieve("vai ter trator na feira de máquinas?")[0]
    assert "trator" in top.doc.keywords


def test_nothing_is_retrieved_without_an_active_event(db):
    assert retrieve("onde fica o evento?") == []


def test_an_empty_retriever_returns_nothing():
    assert Retriever([]).search("qualquer coisa") == []


# --- the knowledge index and its cache -----------------------------------------


def test_the_index_is_reused_while_nothing_changes(demo_event):
    assert get_knowledge_index() is get_knowledge_index()


def test_saving_a_knowledge_row_rebuilds_the_index(demo_event):
    before = get_knowledge_index()
    faq = FAQEntry.objects.filter(event=demo_event).first()
    faq.answer = "Resposta nova."
    faq.save()
    after = get_knowledge_index()
    assert after is not before
    assert after.doc(f"faq:{faq.pk}").text == "Resposta nova."


def test_deleting_a_knowledge_row_removes_its_document(demo_event):
    faq = FAQEntry.objects.filter(event=demo_event).first()
    doc_id = f"faq:{faq.pk}"
    assert get_knowledge_index().doc(doc_id) is not None
    faq.delete()
    assert get_knowledge_index().doc(doc_id) is None


def test_another_process_bumping_the_shared_version_rebuilds_this_process_index(demo_event):
    before = get_knowledge_index()
    cache.set(VERSION_CACHE_KEY, "bumped-by-another-worker", timeout=None)
    assert get_knowledge_index() is not before


def test_inactive_faq_entries_are_not_knowledge(demo_event):
    faq = FAQEntry.objects.filter(event=demo_event).first()
    faq.active = False
    faq.save()
    ids = {doc.id for doc in knowledge_documents(demo_event)}
    assert f"faq:{faq.pk}" not in ids


def test_the_demo_event_knowledge_has_every_fact_group(demo_event):
    ids = {doc.id for doc in knowledge_documents(demo_event)}
    assert {
        "event:dates",
        "event:venue",
        "event:contacts",
        "event:about",
        "event:registration",
        "event:tickets",
        "event:profiles",
        "day:2027-05-11",
        "day:2027-05-12",
        "day:2027-05-13",
    } <= ids
    kinds = [doc.kind for doc in knowledge_documents(demo_event)]
    assert kinds.count(DocKind.SESSION) == demo_event.sessions.count()
    assert kinds.count(DocKind.FAQ) == demo_event.faqs.filter(active=True).count()
    assert kinds.count(DocKind.TICKET) == demo_event.tickets.count()


def test_fact_documents_are_written_in_portuguese_for_whatsapp(demo_event):
    docs = {doc.id: doc for doc in knowledge_documents(demo_event)}
    assert "terça-feira, 11 de maio" in docs["event:dates"].text
    assert "R$ 480,00" in docs["event:tickets"].text
    assert "gratuito" in docs["event:tickets"].text
    assert "*Centro de Eventos Agro Cerrado*" in docs["event:venue"].text
    assert not any(doc.text.lstrip().startswith("#") for doc in docs.values())


@pytest.mark.parametrize(
    "question",
    ["posso levar meu cachorro?", "pode levar pet?", "posso levar meu animal?", "tem piscina?", "posso trazer meu gato?"],
    ids=["dog", "pet", "animal-in-a-session-title", "prefix-only-match", "cat"],
)
def test_a_question_whose_subject_the_knowledge_never_mentions_gets_low_confidence(demo_event, question):
    # A shared common verb ("levar") or a programme title sharing a word must not carry the confidence.
    hits = retrieve(question)
    assert not hits or hits[0].confidence < 0.35, [(_label(h.doc), h.confidence) for h in hits]


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("prazo pra mandar resumo", "Posso apresentar trabalho científico?"),
        ("preciso levar documento?", "Como funciona o credenciamento?"),
        ("vocês vendem meus dados?", "O que vocês fazem com os meus dados? Vocês vendem meus dados?"),
        ("quem tem acesso aos meus dados?", "Quem tem acesso aos meus dados?"),
        ("posso transferir minha inscrição?", "Posso transferir minha inscrição para outra pessoa?"),
    ],
    ids=["deadline", "document", "data-sold", "data-access", "transfer"],
)
def test_a_covered_question_with_a_common_verb_is_found_with_confidence(demo_event, question, expected):
    top = retrieve(question)[0]
    assert _label(top.doc) == expected
    assert top.confidence >= 0.6


# --- subjects, modifiers and synonyms ---------------------------------------------------------


def test_a_word_only_in_an_entrys_body_does_not_make_it_a_confident_answer(db):
    event = make_event()
    FAQEntry.objects.create(
        event=event, question="Tem Wi-Fi?", answer="Sim, a rede Wi-Fi gratuita cobre o pavilhão.", keywords="wifi, internet"
    )
    top = retrieve("o evento é gratuito?")[0]
    assert top.confidence < 0.6


def test_an_entry_without_the_questions_most_specific_word_loses_confidence(demo_event):
    # "idoso" is known (the parking entry mentions it): the students' meia-entrada does not answer for idosos.
    FAQEntry.objects.filter(event=demo_event, question__icontains="idosos").delete()
    for hit in retrieve("tem meia entrada pra idoso?"):
        assert hit.confidence < 0.6, (_label(hit.doc), hit.confidence)


@pytest.mark.parametrize(
    "question",
    ["posso ir de chinelo?", "pode ir de bermuda?", "qual o dress code?", "posso ir de camiseta?"],
    ids=["chinelo", "bermuda", "dress-code", "camiseta"],
)
def test_everyday_words_for_clothes_find_the_dress_code_entry(db, question):
    event = make_event()
    FAQEntry.objects.create(event=event, question="Qual o traje?", answer="Esporte fino.", keywords="traje, roupa")
    FAQEntry.objects.create(event=event, question="Tem Wi-Fi?", answer="Sim.", keywords="wifi")
    top = retrieve(question)[0]
    assert top.doc.title == "Qual o traje?" and top.confidence >= 0.6


def test_an_ambiguous_word_prefers_its_event_sense(db):
    # "vaga" alone, at an event, is a place in it; with "carro" it is parking.
    event = make_event()
    FAQEntry.objects.create(event=event, question="Tem estacionamento?", answer="Sim, 300 vagas.", keywords="estacionamento, vaga, carro")
    FAQEntry.objects.create(event=event, question="Como me inscrevo?", answer="Pelo chat.", keywords="inscrição, vaga")
    assert retrieve("tem vaga ainda?")[0].doc.title == "Como me inscrevo?"
    assert retrieve("tem vaga pra carro?")[0].doc.title == "Tem estacionamento?"


def test_pleasantries_inside_a_question_do_not_lower_its_confidence(demo_event):
    plain = retrieve("qual o preço?")[0]
    polite = retrieve("eu só queria saber o preço mas tudo bem, obrigado")[0]
    assert polite.doc.id == plain.doc.id == "event:tickets"
    assert polite.confidence == plain.confidence >= 0.6


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("o evento é gratuito?", "O evento é gratuito?"),
        ("tem vaga ainda?", "Ainda tem vagas?"),
        ("tem meia entrada pra idoso?", "Tem meia-entrada ou desconto para idosos?"),
        ("até quando posso me inscrever?", "Até quando posso me inscrever?"),
        ("posso ir de chinelo?", "Qual o traje recomendado?"),
        ("onde vai ser", "event:venue"),
        ("até quando vai o evento?", "event:dates"),
    ],
    ids=["free", "places-left", "elderly", "deadline", "slippers", "where", "until-when-the-event"],
)
def test_a_yes_no_question_ranks_the_entry_about_its_subject_first(demo_event, question, expected):
    top = retrieve(question)[0]
    assert _label(top.doc) == expected, [(_label(h.doc), h.confidence) for h in retrieve(question)]
    assert top.confidence >= 0.6
