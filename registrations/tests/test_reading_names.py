"""Tests for ``registrations.reading.names`` (pure: no database, no network).

Today every sentence at the name step becomes the name ("oi tudo bem" ->
"Prazer, Oi!"); these tests pin what a reader must refuse, what it must
extract, and when it must ask before storing.
"""

from __future__ import annotations

import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from registrations.reading.names import GREETING_WORDS, NEGATION_WORDS, NameReading, read_name
from registrations.validators import fold


def prop(**options: int) -> settings:
    """Hypothesis settings: the project's autouse fixtures run once per test."""
    return settings(suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None, **options)


# --------------------------------------------------------------------------
# Messages that hold no name
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        pytest.param("", "empty", id="empty"),
        pytest.param("  ...  ", "empty", id="punctuation-only"),
        pytest.param("oi tudo bem", "greeting", id="oi-tudo-bem"),
        pytest.param("bom dia", "greeting", id="bom-dia"),
        pytest.param("olá boa tarde", "greeting", id="ola-boa-tarde"),
        pytest.param("Oi!! Tudo bom?", "greeting", id="greeting-with-question-mark"),
        pytest.param("obrigado", "greeting", id="thanks"),
        pytest.param("não quero informar", "negation", id="nao-quero-informar"),
        pytest.param("prefiro não dizer", "negation", id="prefiro-nao-dizer"),
        pytest.param("nao vou passar", "negation", id="nao-vou-passar"),
        pytest.param("não sei, Maria Souza", "negation", id="negation-before-a-later-name"),
        pytest.param("pra que vc precisa do meu nome", "question", id="pra-que-precisa"),
        pytest.param("por que?", "question", id="por-que"),
        pytest.param("qual nome?", "question", id="qual-nome"),
        pytest.param("precisa ser o nome completo?", "question", id="precisa-ser-completo"),
        pytest.param("tô no trator agora depois eu mando", "sentence", id="trator-depois-mando"),
        pytest.param("já te mandei", "sentence", id="ja-te-mandei"),
        pytest.param("espera aí", "sentence", id="espera-ai"),
        pytest.param("estou dirigindo agora", "sentence", id="dirigindo"),
        pytest.param("sou produtor rural", "sentence", id="profile-instead-of-name"),
        pytest.param("caralho", "profanity", id="caralho"),
        pytest.param("vai se foder", "profanity", id="vai-se-foder"),
        pytest.param("PORRA", "profanity", id="porra-upper-case"),
        pytest.param("seu idiota", "profanity", id="idiota"),
        pytest.param("vsf", "profanity", id="vsf"),
        pytest.param("Otário", "profanity", id="otario-with-accent"),
        pytest.param("Maria Puta Souza", "profanity", id="profanity-inside-a-name"),
        pytest.param("sim", "yes_no", id="sim"),
        pytest.param("ok", "yes_no", id="ok"),
        pytest.param("Certo!", "yes_no", id="certo"),
        pytest.param("123456", "digits", id="digits"),
        pytest.param("186.091.390-34", "digits", id="cpf-only"),
        pytest.param("maria@gmail.com", "data", id="email-only"),
        pytest.param("Maria", "single_word", id="one-word"),
        pytest.param("meu nome é Maria", "single_word", id="one-word-after-lead-in"),
        pytest.param("oi, Maria", "single_word", id="one-word-after-greeting"),
        pytest.param("é pro meu filho", "other_person", id="pro-meu-filho"),
    ],
)
def test_a_message_without_a_name_names_the_problem(text: str, problem: str) -> None:
    reading = read_name(text)
    assert reading.value is None
    assert reading.problem == problem


def test_the_first_word_of_a_sentence_is_never_taken_for_a_name() -> None:
    assert read_name("oi tudo bem").value is None


# --------------------------------------------------------------------------
# Names
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("Maria da Silva", "Maria da Silva", id="plain"),
        pytest.param("MARIA DAS DORES souza", "Maria das Dores Souza", id="casing-rules"),
        pytest.param("joão batista pereira", "João Batista Pereira", id="lower-case-keeps-accents"),
        pytest.param("Ana d'Ávila", "Ana d'Ávila", id="apostrophe"),
        pytest.param("Maria-Clara O'Neil", "Maria-Clara O'Neil", id="hyphen"),
        pytest.param("Maria A. Souza", "Maria A. Souza", id="initial"),
        pytest.param("*Maria Souza*", "Maria Souza", id="whatsapp-bold"),
        pytest.param("meu nome é João da Silva", "João da Silva", id="meu-nome-e"),
        pytest.param("meu nome e joao batista pereira", "Joao Batista Pereira", id="meu-nome-e-without-accent"),
        pytest.param("Meu nome completo é Ana Lúcia Ferreira", "Ana Lúcia Ferreira", id="meu-nome-completo"),
        pytest.param("me chamo Ana Paula", "Ana Paula", id="me-chamo"),
        pytest.param("eu me chamo Pedro Alves", "Pedro Alves", id="eu-me-chamo"),
        pytest.param("eu sou o Carlos Eduardo", "Carlos Eduardo", id="eu-sou-o"),
        pytest.param("sou a Fernanda Lima", "Fernanda Lima", id="sou-a"),
        pytest.param("aqui é o José Ribeiro", "José Ribeiro", id="aqui-e-o"),
        pytest.param("é joão batista pereira", "João Batista Pereira", id="e-with-accent"),
        pytest.param("e o Marcos Paulo", "Marcos Paulo", id="e-o"),
        pytest.param("nome: Luiz Fernando Costa", "Luiz Fernando Costa", id="nome-colon"),
        pytest.param("Nome completo: Ana Beatriz Rocha", "Ana Beatriz Rocha", id="nome-completo-colon"),
        pytest.param("o nome é Rafael Moura", "Rafael Moura", id="o-nome-e"),
        pytest.param("pode colocar Juliana Mendes", "Juliana Mendes", id="pode-colocar"),
        pytest.param("coloca Tiago Nunes", "Tiago Nunes", id="coloca"),
        pytest.param("ok, é Ana Lima", "Ana Lima", id="ok-then-lead-in"),
        pytest.param(
            "oi, bom dia! meu nome é Carlos Alberto Nogueira", "Carlos Alberto Nogueira", id="greeting-then-lead-in"
        ),
        pytest.param("Dr. Antônio Carlos Ribeiro", "Antônio Carlos Ribeiro", id="dr"),
        pytest.param("Dra Mariana Costa", "Mariana Costa", id="dra-without-dot"),
        pytest.param("Prof. Dr. José Almeida", "José Almeida", id="two-titles"),
        pytest.param("Profa. Helena Duarte", "Helena Duarte", id="profa"),
        pytest.param("Engº Paulo Roberto Dias", "Paulo Roberto Dias", id="engenheiro"),
        pytest.param("Pe. Marcelo Rossi", "Marcelo Rossi", id="padre"),
        pytest.param("meu nome é Sr. Jorge Amado", "Jorge Amado", id="title-after-lead-in"),
        pytest.param("Carlos Alberto Nogueira, obrigado", "Carlos Alberto Nogueira", id="thanks-after"),
    ],
)
def test_a_name_is_read_surely(text: str, expected: str) -> None:
    reading = read_name(text)
    assert reading.value == expected
    assert reading.unsure is False
    assert reading.problem == ""


@pytest.mark.parametrize(
    ("text", "expected", "rest"),
    [
        pytest.param(
            "Maria Aparecida Souza moro em Uberlândia MG sou produtora rural",
            "Maria Aparecida Souza",
            "moro em Uberlândia MG sou produtora rural",
            id="name-city-profile",
        ),
        pytest.param("João Silva 61 99999-0000", "João Silva", "61 99999-0000", id="name-then-phone"),
        pytest.param("João Silva maria@gmail.com", "João Silva", "maria@gmail.com", id="name-then-email"),
        pytest.param("joão silva maria@gmail.com", "João Silva", "maria@gmail.com", id="name-then-email-lower-case"),
        pytest.param(
            "boa tarde, Carlos Nogueira de Rio Verde",
            "Carlos Nogueira de Rio Verde",
            "",
            id="city-after-de-cannot-be-told",
        ),
        pytest.param("desculpa a demora, Maria Souza", "Maria Souza", "a demora", id="name-in-a-later-clause"),
        pytest.param("Pedro Henrique, sou de Goiânia", "Pedro Henrique", "sou de Goiânia", id="sou-de"),
        pytest.param("José Pereira da fazenda Boa Vista", "José Pereira", "da fazenda Boa Vista", id="fazenda"),
    ],
)
def test_a_name_guessed_out_of_a_longer_message_is_unsure(text: str, expected: str, rest: str) -> None:
    reading = read_name(text)
    assert reading.value == expected
    assert reading.rest == rest
    assert reading.unsure is (rest != "")


def test_a_voice_transcript_stops_the_name_at_the_cpf() -> None:
    reading = read_name(
        "meu nome e joao batista pereira meu cpf e 186 091 390 34 e o email e joaobatista arroba gmail ponto com"
    )
    assert reading.value == "Joao Batista Pereira"
    assert reading.unsure is False
    assert reading.rest.startswith("meu cpf e 186")


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("joão trator", id="rare-word"),
        pytest.param("Pedro Agora", id="adverb"),
        pytest.param("Maria das Graças de Jesus Pereira Lima Souza Alves", id="more-than-six-words"),
    ],
)
def test_an_odd_name_is_unsure(text: str) -> None:
    reading = read_name(text)
    assert reading.value is not None
    assert reading.unsure is True


def test_extra_fragments_are_kept_out_of_the_name_and_stay_in_the_rest() -> None:
    reading = read_name("Maria Souza Produtor Rural", extra_fragments=["Produtor rural", "Estudante"])
    assert reading.value == "Maria Souza"
    assert reading.rest == "Produtor Rural"


def test_extra_fragments_match_without_accents_or_case() -> None:
    reading = read_name("Ana Lima pesquisadora", extra_fragments=["Pesquisadorá"])
    assert reading.value == "Ana Lima"


# --------------------------------------------------------------------------
# Someone else
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "relation", "expected"),
    [
        pytest.param("quero inscrever minha esposa Sandra Regina Lopes", "esposa", "Sandra Regina Lopes", id="esposa"),
        pytest.param("é pro meu filho", "filho", None, id="filho-without-name"),
        pytest.param(
            "meu funcionário, o nome dele é Paulo Cesar Lima", "funcionário", "Paulo Cesar Lima", id="funcionario"
        ),
        pytest.param(
            "quero cadastrar minha mãe que se chama Rosa Maria Teixeira", "mãe", "Rosa Maria Teixeira", id="mae"
        ),
        pytest.param("vou inscrever outra pessoa", "outra pessoa", None, id="outra-pessoa"),
    ],
)
def test_a_message_about_someone_else_says_who(text: str, relation: str, expected: str | None) -> None:
    reading = read_name(text)
    assert reading.other_person == relation
    assert reading.value == expected


def test_a_relation_after_the_name_is_not_someone_else() -> None:
    reading = read_name("Maria Souza, vou com meu marido")
    assert reading.value == "Maria Souza"
    assert reading.other_person == ""


# --------------------------------------------------------------------------
# Robustness and properties
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("a " * 2000, id="4000-characters"),
        pytest.param("🎉" * 4000, id="emoji"),
        pytest.param("Maria " * 700, id="many-name-words"),
        pytest.param("'; DROP TABLE participants; --", id="sql-ish"),
        pytest.param("@" * 4000, id="ats"),
    ],
)
def test_hostile_input_never_raises_and_stays_fast(text: str) -> None:
    started = time.perf_counter()
    reading = read_name(text)
    assert time.perf_counter() - started < 0.5
    assert isinstance(reading, NameReading)


_FORBIDDEN = GREETING_WORDS | NEGATION_WORDS


@prop(max_examples=400)
@given(text=st.text(max_size=200))
def test_a_name_never_holds_an_at_a_digit_a_greeting_or_a_negation(text: str) -> None:
    reading = read_name(text)
    if reading.value is None:
        assert reading.problem
        return
    assert "@" not in reading.value
    assert not any(ch.isdigit() for ch in reading.value)
    assert not set(fold(reading.value).split()) & _FORBIDDEN


_WORDS = st.sampled_from(
    ["oi", "bom", "dia", "não", "nao", "meu", "nome", "é", "e", "Maria", "Souza", "joão", "da", "Silva", "cpf",
     "123", "maria@gmail.com", "arroba", "gmail", "ponto", "com", "tudo", "bem", "?", ",", "moro", "em", "Dr.",
     "sim", "ok", "obrigado", "trator", "agora", "Pereira", "das", "Dores"]
)  # fmt: skip


@prop(max_examples=400)
@given(words=st.lists(_WORDS, max_size=14))
def test_a_name_read_from_mixed_words_never_holds_data_greetings_or_negations(words: list[str]) -> None:
    reading = read_name(" ".join(words))
    if reading.value is not None:
        assert "@" not in reading.value
        assert not any(ch.isdigit() for ch in reading.value)
        assert not set(fold(reading.value).split()) & (_FORBIDDEN | {"cpf", "arroba", "gmail", "ponto", "com"})
        assert len(reading.value.split()) >= 2


_FIRST = st.sampled_from(["Maria", "João", "Ana", "Pedro", "Francisca", "Antônio", "Luiz", "Raimunda"])
_LAST = st.sampled_from(["Silva", "Souza", "Oliveira", "Pereira", "Rodrigues", "Ferreira", "Alves", "Lima", "d'Ávila"])
_LEADS = st.sampled_from(["", "meu nome é ", "me chamo ", "nome: ", "oi, meu nome é ", "é ", "sou a "])
_TAILS = st.sampled_from(
    ["", " meu cpf é 186.091.390-34", ", moro em Uberlândia", " maria@gmail.com", " sou produtora rural"]
)


@prop(max_examples=300)
@given(first=_FIRST, lasts=st.lists(_LAST, min_size=1, max_size=3), lead=_LEADS, tail=_TAILS)
def test_a_full_name_between_a_lead_in_and_other_data_is_read_exactly(
    first: str, lasts: list[str], lead: str, tail: str
) -> None:
    name = " ".join([first, *lasts])
    reading = read_name(f"{lead}{name}{tail}")
    assert reading.value == name
    assert reading.unsure is (lead == "" and tail != "")
