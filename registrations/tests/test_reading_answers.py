"""Tests for ``registrations.reading.answers`` (pure functions: no database)."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from registrations.reading.answers import read_yes_no, split_yes_prefix, yes_with_reservation


def prop(**options: int) -> settings:
    """Hypothesis settings: the project's autouse Redis fixture runs once per test."""
    return settings(suppress_health_check=[HealthCheck.function_scoped_fixture], **options)


PLAIN_YES = [
    "sim", "Sim", "SIM", "s", "S", "ss", "si", "simm", "sss", "simmmm", "yes", "y", "ok", "OK", "okay", "oks",
    "okk", "certo", "correto", "isso", "isso mesmo", "issoooo", "exato", "exatamente", "confirmo", "confirma",
    "confirmar", "confirmado", "concordo", "aceito", "autorizo", "pode", "pode ser", "pode sim",
    "pode confirmar", "claro", "claro que sim", "beleza", "blz", "tudo certo", "tá", "ta", "tá bom", "ta bom",
    "tá certo", "aham", "uhum", "hum hum", "é", "É isso", "é isso mesmo", "eh isso", "positivo",
    "com certeza", "perfeito", "bora", "vamos", "de acordo", "estou de acordo", "quero", "fechado",
    "combinado", "👍", "👍🏽", "✅", "✔️", "👌", "🆗", "🤝",
]  # fmt: skip

PLAIN_NO = [
    "não", "Não", "NÃO", "nao", "naum", "n", "N", "nn", "no", "nops", "nope", "negativo", "não concordo",
    "Não aceito", "recuso", "discordo", "não quero", "não autorizo", "n concordo", "de jeito nenhum",
    "nem pensar", "claro que não", "não pode", "não pode ser", "não é isso", "não tá certo", "quero não",
    "está errado", "incorreto", "👎", "❌", "🚫",
]  # fmt: skip


@pytest.mark.parametrize("text", PLAIN_YES)
def test_every_yes_word_reads_as_yes(text):
    assert read_yes_no(text) == "yes"


@pytest.mark.parametrize("text", PLAIN_NO)
def test_every_no_word_reads_as_no(text):
    assert read_yes_no(text) == "no"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("sim!!!", "yes", id="exclamations"),
        pytest.param("Sim, concordo.", "yes", id="two-yes-words-with-punctuation"),
        pytest.param("sim por favor", "yes", id="por-favor"),
        pytest.param("Sim, por favor 🙏", "yes", id="por-favor-and-praying-hands"),
        pytest.param("ok 😊", "yes", id="other-emoji-ignored"),
        pytest.param("Sim sim", "yes", id="repeated"),
        pytest.param("ah sim", "yes", id="interjection-before"),
        pytest.param("opa, pode ser", "yes", id="opa"),
        pytest.param("sim senhora", "yes", id="sim-senhora"),
        pytest.param("isso mesmo, pode confirmar 👍", "yes", id="long-yes"),
        pytest.param("  sim  \n", "yes", id="whitespace"),
        pytest.param("Não, obrigado.", "no", id="no-thanks"),
        pytest.param("NÃO!!", "no", id="shouted-no"),
        pytest.param("não não", "no", id="repeated-no"),
        pytest.param("🙅‍♂️", "no", id="person-gesturing-no"),
    ],
)
def test_answers_with_punctuation_emoji_and_politeness(text, expected):
    assert read_yes_no(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("", id="empty"),
        pytest.param("🙏", id="praying-hands-alone-is-politeness"),
        pytest.param("por favor", id="politeness-alone"),
        pytest.param("e", id="bare-e-is-and-not-is"),
        pytest.param("não sei", id="nao-sei"),
        pytest.param("não entendi", id="nao-entendi"),
        pytest.param("sei lá", id="sei-la"),
        pytest.param("oi, tudo bem?", id="greeting"),
        pytest.param("pode ser no sábado", id="loose-yes-starting-a-sentence"),
        pytest.param("é o meu cpf", id="e-starting-a-sentence"),
        pytest.param("no sábado", id="no-as-preposition"),
        pytest.param("ok vou pensar", id="ok-starting-a-sentence"),
        pytest.param("sim, não", id="contradiction"),
        pytest.param("sim ou não?", id="asking-back"),
        pytest.param("Maria da Silva", id="data"),
        pytest.param("2", id="a-number"),
    ],
)
def test_messages_that_are_not_answers_read_as_none(text):
    assert read_yes_no(text) is None


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("sim?", id="sim"),
        pytest.param("é isso?", id="e-isso"),
        pytest.param("pode ser?", id="pode-ser"),
        pytest.param("ok??", id="ok"),
        pytest.param("não?", id="nao"),
        pytest.param("sim, né?", id="tag-question"),
        pytest.param("👍?", id="emoji"),
    ],
)
def test_an_answer_word_asked_as_a_question_is_no_answer(text):
    assert read_yes_no(text) is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("Sim, concordo.", ("yes", ""), id="only-the-answer"),
        pytest.param(
            "sim, concordo. meu nome é Pedro Henrique Alves, email pedro@x.com",
            ("yes", "meu nome é Pedro Henrique Alves, email pedro@x.com"),
            id="consent-then-data",
        ),
        pytest.param("sim meu nome é Pedro", ("yes", "meu nome é Pedro"), id="firm-yes-without-comma"),
        pytest.param("ok, pode seguir. Ana Souza", ("yes", "Ana Souza"), id="loose-yes-with-period"),
        pytest.param("Sim. Qual o endereço?", ("yes", "Qual o endereço?"), id="question-after-the-answer"),
        pytest.param("não, o email é ana@x.com", ("no", "o email é ana@x.com"), id="no-then-the-right-value"),
        pytest.param("não concordo com os termos", ("no", "com os termos"), id="negated-verb-is-firm"),
        pytest.param("👍 Pedro Alves", ("yes", "Pedro Alves"), id="emoji-then-data"),
        pytest.param("pode ser no sábado", (None, "pode ser no sábado"), id="loose-yes-needs-a-separator"),
        pytest.param("não sei", (None, "não sei"), id="bare-no-needs-a-separator"),
        pytest.param("  sim?  ", (None, "sim?"), id="question-gives-the-whole-text-stripped"),
        pytest.param("sim qual o preço?", (None, "sim qual o preço?"), id="one-clause-ending-in-a-question"),
        pytest.param("sim ou não", (None, "sim ou não"), id="alternatives"),
        pytest.param("não, tudo certo", (None, "não, tudo certo"), id="opposite-answers-cancel-out"),
        pytest.param(
            "não, quero corrigir o email", ("no", "quero corrigir o email"), id="a-correction-after-no-agrees-with-it"
        ),
        pytest.param("Não!! Meu email é outro", ("no", "Meu email é outro"), id="no-then-data"),
    ],
)
def test_split_yes_prefix_returns_the_answer_and_the_rest(text, expected):
    assert split_yes_prefix(text) == expected


RESERVATIONS = [
    pytest.param("sim, mas o e-mail está errado", id="sim-mas"),
    pytest.param("sim mas", id="sim-mas-alone"),
    pytest.param("ok porém quero mudar o nome", id="ok-porem-without-comma"),
    pytest.param("sim, só que o email ta errado", id="so-que"),
    pytest.param("isso, menos o cpf", id="menos"),
    pytest.param("tudo certo, exceto a cidade", id="exceto"),
    pytest.param("Sim. No entanto, o telefone mudou", id="no-entanto"),
    pytest.param("sim, o e-mail está errado", id="correction-without-a-but"),
    pytest.param("sim, preciso corrigir o nome", id="corrigir"),
    pytest.param("ok, mas é pago?", id="but-with-a-question"),
    pytest.param("sim e não", id="yes-and-no"),
    pytest.param("sim, tá errado o cpf", id="yes-then-a-no-phrase-starting-a-sentence"),
    pytest.param("sim, tá errado", id="yes-then-errado"),
]


@pytest.mark.parametrize("text", RESERVATIONS)
def test_a_yes_with_a_but_is_a_reservation(text):
    assert yes_with_reservation(text) is True


@pytest.mark.parametrize("text", RESERVATIONS)
def test_a_yes_with_a_but_is_never_a_plain_yes(text):
    assert read_yes_no(text) is None
    assert split_yes_prefix(text)[0] is None


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("sim", id="plain-yes"),
        pytest.param("sim, concordo. meu nome é Pedro Alves", id="yes-then-data"),
        pytest.param("não, mas obrigado", id="no-but"),
        pytest.param("não", id="plain-no"),
        pytest.param("mas por quê?", id="but-without-yes"),
        pytest.param("Sim. Moro em Alterosa", id="city-that-starts-like-alterar"),
        pytest.param("", id="empty"),
    ],
)
def test_other_messages_are_not_a_yes_with_reservation(text):
    assert yes_with_reservation(text) is False


def test_a_no_followed_by_a_but_is_no_plain_answer():
    assert read_yes_no("não, mas quero saber mais") is None


def test_consent_and_erasure_read_ss_the_same_way():
    # "ss" used to be yes at consent and no at erasure.
    assert read_yes_no("ss") == "yes"


# --------------------------------------------------------------------------
# Properties
# --------------------------------------------------------------------------

yes_words = st.sampled_from(PLAIN_YES)
politeness = st.sampled_from(["", "!", "!!!", ".", " por favor", ", obrigado", " 🙏", " 😀", "  "])


@prop(max_examples=200)
@given(word=yes_words, tail=politeness)
def test_any_yes_word_with_politeness_is_yes(word, tail):
    assert read_yes_no(word + tail) == "yes"


@prop(max_examples=200)
@given(word=st.sampled_from(PLAIN_YES + PLAIN_NO), tail=politeness)
def test_any_answer_word_followed_by_a_question_mark_is_no_answer(word, tail):
    assert read_yes_no(word + tail + "?") is None


@prop(max_examples=300)
@given(text=st.text(max_size=60))
def test_a_reservation_is_never_a_plain_yes(text):
    if yes_with_reservation(text):
        assert read_yes_no(text) is None


@prop(max_examples=300)
@given(text=st.text(max_size=60))
def test_split_yes_prefix_agrees_with_read_yes_no_and_keeps_text(text):
    answer, rest = split_yes_prefix(text)
    assert answer == read_yes_no(text)
    assert answer in ("yes", "no", None)
    assert rest in text
    if answer is None:
        assert rest == text.strip()


@prop(max_examples=200)
@given(
    word=yes_words,
    rest=st.sampled_from(["Pedro Alves", "Maria da Silva", "pedro@x.com", "Brasília/DF", "186.091.390-34"]),
)
def test_a_yes_then_data_after_a_comma_keeps_the_data_as_rest(word, rest):
    answer, remainder = split_yes_prefix(f"{word}, {rest}")
    assert answer == "yes"
    assert remainder == rest
