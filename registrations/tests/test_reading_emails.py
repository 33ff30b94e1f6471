"""Tests for ``registrations.reading.emails`` (pure: no database, no network).

The rule under test: what was typed is never silently dropped. A reading is
the address exactly as typed (``value``), a repaired address to confirm
(``suggestion``), or a ``problem``.
"""

from __future__ import annotations

import time

import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from registrations.reading.emails import (
    _SYMBOL_WORDS,
    _TLDS,
    LEAD_WORDS,
    EmailReading,
    find_email_span,
    find_email_spans,
    read_email,
)
from registrations.validators import POPULAR_EMAIL_DOMAINS


def prop(**options: int) -> settings:
    """Hypothesis settings: the project's autouse fixtures run once per test."""
    return settings(suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None, **options)


# --------------------------------------------------------------------------
# Certain values
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("maria.souza@gmail.com", "maria.souza@gmail.com", id="plain"),
        pytest.param("Maria.Souza@Gmail.COM", "maria.souza@gmail.com", id="upper-case"),
        pytest.param("meu email é Maria.Souza@Gmail.com obrigado", "maria.souza@gmail.com", id="inside-a-sentence"),
        pytest.param("Meu e-mail: maria@gmail.com, obrigado.", "maria@gmail.com", id="label-and-comma"),
        pytest.param("email:maria@gmail.com", "maria@gmail.com", id="glued-label"),
        pytest.param("mailto:maria@gmail.com", "maria@gmail.com", id="mailto"),
        pytest.param("MAILTO:maria@gmail.com", "maria@gmail.com", id="mailto-upper"),
        pytest.param("<maria@gmail.com>", "maria@gmail.com", id="angle-brackets"),
        pytest.param("<maria@gmail.com>.", "maria@gmail.com", id="angle-brackets-and-period"),
        pytest.param("maria@gmail.com.", "maria@gmail.com", id="final-period"),
        pytest.param("maria@gmail.com!!", "maria@gmail.com", id="exclamations"),
        pytest.param("*maria@gmail.com*", "maria@gmail.com", id="whatsapp-bold"),
        pytest.param("_maria@gmail.com_", "maria@gmail.com", id="whatsapp-italic"),
        pytest.param("~maria@gmail.com~", "maria@gmail.com", id="whatsapp-strike"),
        pytest.param("maria_souza@gmail.com", "maria_souza@gmail.com", id="underscore-in-local-part-kept"),
        pytest.param("_maria_souza@gmail.com", "_maria_souza@gmail.com", id="leading-underscore-without-pair-kept"),
        pytest.param("maria+congresso@gmail.com", "maria+congresso@gmail.com", id="plus-tag"),
        pytest.param(
            "joao.silva@fazendaboavista.com.br, pode mandar", "joao.silva@fazendaboavista.com.br", id="company-domain"
        ),
        pytest.param("maria@empresa.agr.br", "maria@empresa.agr.br", id="agr-br-domain"),
        pytest.param("maria@gmail.com maria@gmail.com", "maria@gmail.com", id="same-address-twice"),
        pytest.param("João Silva maria@gmail.com", "maria@gmail.com", id="capitalized-name-before-is-not-joined"),
        pytest.param(
            "Maria Souza maria.souza@gmail.com", "maria.souza@gmail.com", id="name-repeated-in-address-not-joined"
        ),
        pytest.param("maria\u200b@gmail.com", "maria@gmail.com", id="zero-width-space"),
        pytest.param("maria＠gmail.com", "maria@gmail.com", id="full-width-at"),
        pytest.param("\n\n  maria@gmail.com \n", "maria@gmail.com", id="blank-lines"),
    ],
)
def test_an_address_typed_in_one_piece_is_a_certain_value(text: str, expected: str) -> None:
    reading = read_email(text)
    assert reading == EmailReading(value=expected, span=reading.span)
    assert reading.span is not None


# --------------------------------------------------------------------------
# Repairs that must be confirmed
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("maria,souza@gmail.com", "maria.souza@gmail.com", id="comma-for-dot"),
        pytest.param("maria;souza@gmail.com", "maria.souza@gmail.com", id="semicolon-for-dot"),
        pytest.param("maria/souza@gmail.com", "maria.souza@gmail.com", id="slash-for-dot"),
        pytest.param("maria\\souza@gmail.com", "maria.souza@gmail.com", id="backslash-for-dot"),
        pytest.param("maria,,souza@gmail.com", "maria.souza@gmail.com", id="double-comma"),
        pytest.param("maria..souza@gmail.com", "maria.souza@gmail.com", id="double-dot"),
        pytest.param("maria@gmail,com", "maria@gmail.com", id="comma-in-domain"),
        pytest.param("maria souza@gmail.com", "mariasouza@gmail.com", id="space-in-local-part-joins-words"),
        pytest.param("Maria souza@gmail.com", "mariasouza@gmail.com", id="capitalized-first-word-of-message-is-joined"),
        pytest.param("maria. souza@gmail. com", "maria.souza@gmail.com", id="keyboard-auto-spaces-after-dots"),
        pytest.param("maria@gmail. com", "maria@gmail.com", id="auto-space-in-domain"),
        pytest.param("maria@gmail .com", "maria@gmail.com", id="space-before-dot-in-domain"),
        pytest.param("maria@gmail com", "maria@gmail.com", id="space-for-dot-before-tld"),
        pytest.param("maria@ gmail.com", "maria@gmail.com", id="space-after-at"),
        pytest.param("maria @gmail.com", "maria@gmail.com", id="space-before-at"),
        pytest.param("maria @ gmail . com", "maria@gmail.com", id="spaces-around-symbols"),
        pytest.param("joaobatista arroba gmail ponto com", "joaobatista@gmail.com", id="spelled-arroba-ponto"),
        pytest.param(
            "joao ponto batista arroba hotmail ponto com ponto br", "joao.batista@hotmail.com.br", id="spelled-dots"
        ),
        pytest.param("joao underline batista arroba gmail ponto com", "joao_batista@gmail.com", id="spelled-underline"),
        pytest.param(
            "joao underscore batista arroba gmail ponto com", "joao_batista@gmail.com", id="spelled-underscore"
        ),
        pytest.param("maria traço souza arroba gmail ponto com", "maria-souza@gmail.com", id="spelled-traco"),
        pytest.param("maria hífen souza arroba gmail ponto com", "maria-souza@gmail.com", id="spelled-hifen"),
        pytest.param("maria tracinho souza arroba gmail ponto com", "maria-souza@gmail.com", id="spelled-tracinho"),
        pytest.param(
            "o email e joaobatista arroba gmail ponto com", "joaobatista@gmail.com", id="spelled-after-lead-in"
        ),
        pytest.param(
            "meu nome e joao batista pereira meu cpf e 186 091 390 34 e o email e joaobatista arroba gmail ponto com",
            "joaobatista@gmail.com",
            id="voice-transcript-with-everything",
        ),
        pytest.param("mariagmail.com", "maria@gmail.com", id="missing-at-glued"),
        pytest.param("maria.gmail.com", "maria@gmail.com", id="missing-at-dot"),
        pytest.param("maria gmail.com", "maria@gmail.com", id="missing-at-space"),
        pytest.param("maria_hotmail.com", "maria@hotmail.com", id="missing-at-underscore"),
        pytest.param("maria gmail ponto com", "maria@gmail.com", id="missing-at-spelled"),
        pytest.param("mariauol.com.br", "maria@uol.com.br", id="missing-at-br-domain"),
        pytest.param("maria@gmial.com", "maria@gmail.com", id="typo-gmial"),
        pytest.param("maria@hotmal.com", "maria@hotmail.com", id="typo-hotmal"),
        pytest.param("maria@gmail.con", "maria@gmail.com", id="typo-con"),
        pytest.param("maria@gmail", "maria@gmail.com", id="domain-without-tld"),
        pytest.param("maria@uol.com", "maria@uol.com.br", id="uol-without-br"),
        pytest.param("maria@gmail.com.br", "maria@gmail.com", id="gmail-with-br"),
        pytest.param("joão@gmail.com", "joao@gmail.com", id="accent-at-a-popular-provider"),
        pytest.param("maria,souza@gmial.com", "maria.souza@gmail.com", id="separator-and-typo-together"),
    ],
)
def test_a_repaired_address_is_a_suggestion_to_confirm(text: str, expected: str) -> None:
    reading = read_email(text)
    assert reading.value is None
    assert reading.suggestion == expected
    assert reading.problem == ""


def test_a_separator_never_leaves_only_the_end_of_the_local_part() -> None:
    reading = read_email("maria,souza@gmail.com")
    assert reading.value != "souza@gmail.com"
    assert reading.suggestion != "souza@gmail.com"


# --------------------------------------------------------------------------
# Problems
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        pytest.param("", "empty", id="empty"),
        pytest.param("   \n ", "empty", id="blank"),
        pytest.param("oi", "not_found", id="greeting"),
        pytest.param("pra que vocês precisam do meu e-mail?", "not_found", id="question"),
        pytest.param("não tenho email", "refused", id="no-email"),
        pytest.param("nao uso", "refused", id="does-not-use"),
        pytest.param("mariasouza", "missing_at", id="one-word"),
        pytest.param("maria.souza", "missing_at", id="dotted-word"),
        pytest.param("meu email é mariasouza.com.br", "missing_at", id="domain-like-without-at"),
        pytest.param("maria@", "invalid", id="nothing-after-at"),
        pytest.param("@gmail.com", "invalid", id="nothing-before-at"),
        pytest.param("maria@@gmail", "invalid", id="double-at"),
        pytest.param("maria@gmail.com e joao@hotmail.com", "several", id="two-addresses"),
        pytest.param("maria@gmail.com,joao@hotmail.com", "several", id="two-addresses-glued"),
        pytest.param("maria@gmail.com ou maria arroba hotmail ponto com", "several", id="typed-and-spelled"),
    ],
)
def test_a_message_without_an_address_names_the_problem(text: str, problem: str) -> None:
    reading = read_email(text)
    assert reading.problem == problem
    assert reading.value is None
    assert reading.suggestion is None


# --------------------------------------------------------------------------
# Spans
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("meu email é maria@gmail.com obrigado", "maria@gmail.com", id="typed"),
        pytest.param(
            "o email e joaobatista arroba gmail ponto com ok", "joaobatista arroba gmail ponto com", id="spelled"
        ),
        pytest.param("meu email: maria. souza@gmail. com", "maria. souza@gmail. com", id="auto-spaced"),
        pytest.param("nome Ana Lima email analima gmail.com", "analima gmail.com", id="missing-at"),
    ],
)
def test_the_span_covers_the_whole_address_as_typed(text: str, expected: str) -> None:
    span = find_email_span(text)
    assert span is not None
    assert text[span[0] : span[1]] == expected
    assert read_email(text).span == span


def test_the_span_is_in_the_callers_coordinates_after_removed_formatting() -> None:
    text = "\u200b\u200b*maria@gmail.com*"
    span = find_email_span(text)
    assert span is not None
    assert text[span[0] : span[1]] == "maria@gmail.com"


def test_words_joined_across_a_space_can_be_left_out_of_the_span() -> None:
    text = "joão silva maria@gmail.com"
    assert find_email_spans(text) == [(0, len(text))]
    assert find_email_spans(text, join_spaced_words=False) == [(11, len(text))]


def test_no_span_when_there_is_no_address() -> None:
    assert find_email_span("bom dia, tudo bem?") is None
    assert find_email_spans("") == []


# --------------------------------------------------------------------------
# Hostile input
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("a" * 4000, id="4000-letters"),
        pytest.param("@" * 4000, id="4000-ats"),
        pytest.param("a@" * 2000, id="alternating-ats"),
        pytest.param("ponto " * 700, id="700-pontos"),
        pytest.param("arroba ponto " * 300, id="spelled-symbols-only"),
        pytest.param("maria " * 600 + "souza@gmail.com", id="many-words-before-an-address"),
        pytest.param("🎉" * 2000 + "maria@gmail.com", id="emoji"),
        pytest.param("'; DROP TABLE participants; --@gmail.com", id="sql-ish"),
        pytest.param("\x00\x01\x02@\x03", id="control-characters"),
        pytest.param("a." * 2000 + "@gmail.com", id="many-dots"),
    ],
)
def test_hostile_input_never_raises_and_stays_fast(text: str) -> None:
    started = time.perf_counter()
    read_email(text)
    find_email_spans(text)
    assert time.perf_counter() - started < 0.5


# --------------------------------------------------------------------------
# Properties
# --------------------------------------------------------------------------

_PIECE = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789", min_size=1, max_size=8)
_LOCAL_PIECES = st.lists(_PIECE, min_size=1, max_size=3)
_DOMAIN = st.one_of(
    st.sampled_from(POPULAR_EMAIL_DOMAINS),
    st.builds(
        lambda label, tld: f"{label}.{tld}",
        st.text(alphabet="abcdefghijklmnopqrstuvwxyz", min_size=3, max_size=10),
        st.sampled_from(["com", "com.br", "org", "net"]),
    ),
)


@prop(max_examples=300)
@given(pieces=_LOCAL_PIECES, domain=_DOMAIN)
@example(pieces=["maria", "souza"], domain="gmail.com")
def test_an_address_typed_as_is_is_read_back_exactly_or_offered_with_a_corrected_domain(
    pieces: list[str], domain: str
) -> None:
    address = f"{'.'.join(pieces)}@{domain}"
    reading = read_email(address)
    if reading.value is not None:
        assert reading.value == address
    else:
        # Only a domain one or two letters from a popular provider is corrected.
        assert reading.suggestion is not None
        assert reading.suggestion.startswith(f"{'.'.join(pieces)}@")


@prop(max_examples=400)
@given(
    pieces=st.lists(_PIECE, min_size=2, max_size=3),
    domain=_DOMAIN,
    separator=st.sampled_from([",", ";", "/", " ", ". ", " .", ",,", "\\"]),
    position=st.integers(min_value=0),
    lead=st.sampled_from(["", "meu email é ", "email: ", "segue "]),
)
@example(pieces=["maria", "souza"], domain="gmail.com", separator=",", position=0, lead="")
@example(pieces=["maria", "souza"], domain="gmail.com", separator=" ", position=0, lead="")
def test_a_separator_mutation_never_yields_a_suffix_of_the_local_part(
    pieces: list[str], domain: str, separator: str, position: int, lead: str
) -> None:
    # A bare space after a word such as "e" or "meu" reads as the lead-in
    # ("e souza@..." is "é souza@..."): those pieces are not mutated here.
    # Nor are spelled-out symbols ("tracinho 0@…" is "-0@…") and TLD words.
    assume(not ({piece for piece in pieces} & (LEAD_WORDS | set(_SYMBOL_WORDS) | _TLDS)))
    local = ".".join(pieces)
    where = position % (len(pieces) - 1) + 1
    mutated = ".".join(pieces[:where]) + separator + ".".join(pieces[where:])
    reading = read_email(f"{lead}{mutated}@{domain}")
    assert reading.value is None, "a mutated address is never a certain value"
    assert reading.suggestion is not None
    suggested_local = reading.suggestion.rpartition("@")[0]
    for cut in range(1, len(local)):
        assert suggested_local != local[cut:]
    assert suggested_local.replace(".", "") == local.replace(".", "")


@prop(max_examples=300)
@given(text=st.text(max_size=300))
def test_any_text_is_read_without_raising(text: str) -> None:
    reading = read_email(text)
    assert sum(bool(x) for x in (reading.value, reading.suggestion, reading.problem)) == 1
    if reading.value is not None:
        assert reading.value == reading.value.lower()
        assert "@" in reading.value
