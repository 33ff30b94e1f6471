"""Tests for ``registrations.reading.numbers`` (pure functions: no database).

CPF check digits and valid phones are checked here with rules written
independently of the implementation.
"""

from __future__ import annotations

import phonenumbers
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from registrations.reading.numbers import CpfReading, PhoneReading, means_same_number, read_choice, read_cpf, read_phone


def prop(**options: int) -> settings:
    """Hypothesis settings: the project's autouse Redis fixture runs once per test."""
    return settings(suppress_health_check=[HealthCheck.function_scoped_fixture], **options)


def cpf_check_digits(nine: str) -> str:
    """Textbook rule: remainder r of the weighted sum; digit 0 if r < 2 else 11 - r."""

    def digit(numbers: str) -> str:
        weights = range(len(numbers) + 1, 1, -1)
        remainder = sum(int(n) * w for n, w in zip(numbers, weights, strict=True)) % 11
        return "0" if remainder < 2 else str(11 - remainder)

    first = digit(nine)
    return first + digit(nine + first)


def has_valid_check_digits(cpf: str) -> bool:
    return len(cpf) == 11 and cpf.isdigit() and len(set(cpf)) > 1 and cpf_check_digits(cpf[:9]) == cpf[9:]


CPF = "18609139034"  # valid
CPF_LEADING_ZERO = "01234567890"  # valid; typed without its zero it has 10 digits


def test_the_sample_cpfs_are_valid():
    assert has_valid_check_digits(CPF)
    assert has_valid_check_digits(CPF_LEADING_ZERO)


# --------------------------------------------------------------------------
# read_choice
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("1", 1, id="digit"),
        pytest.param("1.", 1, id="digit-period"),
        pytest.param("1)", 1, id="digit-parenthesis"),
        pytest.param("01", 1, id="leading-zero"),
        pytest.param(" 3 ", 3, id="spaces"),
        pytest.param("um", 1, id="um"),
        pytest.param("uma", 1, id="uma"),
        pytest.param("dois", 2, id="dois"),
        pytest.param("duas", 2, id="duas"),
        pytest.param("três", 3, id="tres-accented"),
        pytest.param("tres", 3, id="tres"),
        pytest.param("quatro", 4, id="quatro"),
        pytest.param("cinco", 5, id="cinco"),
        pytest.param("seis", 6, id="seis"),
        pytest.param("sete", 7, id="sete"),
        pytest.param("oito", 8, id="oito"),
        pytest.param("nove", 9, id="nove"),
        pytest.param("dez", 10, id="dez"),
        pytest.param("onze", 11, id="onze"),
        pytest.param("1️⃣", 1, id="keycap"),
        pytest.param("1\u20e3", 1, id="keycap-without-variation-selector"),
        pytest.param("🔟", 10, id="keycap-ten"),
        pytest.param("1️⃣2️⃣", 12, id="two-keycaps-make-twelve"),
        pytest.param("opção 1", 1, id="opcao"),
        pytest.param("opcao um", 1, id="opcao-word"),
        pytest.param("número 2", 2, id="numero"),
        pytest.param("n° 3", 3, id="n-degree"),
        pytest.param("nº 3", 3, id="n-ordinal-indicator"),
        pytest.param("#2", 2, id="hash"),
        pytest.param("a primeira", 1, id="a-primeira"),
        pytest.param("primeiro", 1, id="primeiro"),
        pytest.param("a segunda opção", 2, id="a-segunda-opcao"),
        pytest.param("1ª", 1, id="feminine-ordinal"),
        pytest.param("1º", 1, id="masculine-ordinal"),
        pytest.param("2a opção", 2, id="ordinal-typed-with-a"),
        pytest.param("o 3", 3, id="o-3"),
        pytest.param("item 4", 4, id="item"),
        pytest.param("quero a 2", 2, id="quero-a"),
        pytest.param("a 2 por favor", 2, id="por-favor"),
        pytest.param("fico com o 3", 3, id="fico-com"),
        pytest.param("escolho a terceira", 3, id="escolho"),
        pytest.param("é a 2", 2, id="e-a"),
        pytest.param("então 5, obrigado", 5, id="entao-obrigado"),
        pytest.param("2, a 2", 2, id="same-number-twice"),
        pytest.param("décimo primeiro", 11, id="compound-ordinal"),
        pytest.param("a última", 12, id="ultima-is-the-count"),
        pytest.param("a penúltima", 11, id="penultima"),
        pytest.param("*2*", 2, id="whatsapp-bold"),
        pytest.param("2?", 2, id="unsure-still-a-choice"),
    ],
)
def test_a_choice_written_any_way_reads_as_its_number(text, expected):
    assert read_choice(text, 12) == expected


def test_compound_number_words_read_within_a_long_list():
    assert read_choice("vinte e sete", 27) == 27
    assert read_choice("vinte sete", 27) == 27
    assert read_choice("vigésima sétima", 27) == 27


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("0", id="zero"),
        pytest.param("7", id="above-count"),
        pytest.param("sete", id="word-above-count"),
        pytest.param("7️⃣", id="keycap-above-count"),
        pytest.param("a sétima", id="ordinal-above-count"),
    ],
)
def test_a_choice_outside_the_list_is_none(text):
    assert read_choice(text, 6) is None


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("1 ou 2", id="either"),
        pytest.param("12 e 3", id="two-numbers"),
        pytest.param("1, 2", id="list"),
        pytest.param("a primeira ou a segunda", id="two-ordinals"),
        pytest.param("2.5", id="decimal"),
        pytest.param("Pitch de startups rodada 1", id="number-inside-a-title"),
        pytest.param("tenho 2 filhos", id="number-inside-a-sentence"),
        pytest.param("opção 2 - Estudante", id="copied-menu-line"),
        pytest.param("um momento", id="um-as-article"),
        pytest.param("segunda feira", id="monday"),
        pytest.param("2026", id="a-year"),
        pytest.param("186.091.390-34", id="a-cpf"),
        pytest.param("", id="empty"),
        pytest.param("por favor", id="only-politeness"),
        pytest.param("2x", id="number-glued-to-a-letter"),
    ],
)
def test_messages_that_are_not_one_choice_are_none(text):
    assert read_choice(text, 12) is None


def test_an_empty_list_has_no_choice():
    assert read_choice("1", 0) is None


@prop(max_examples=400)
@given(text=st.text(max_size=40), count=st.integers(min_value=-3, max_value=40))
def test_read_choice_never_returns_outside_the_list(text, count):
    result = read_choice(text, count)
    assert result is None or 1 <= result <= count


@prop(max_examples=200)
@given(count=st.integers(min_value=1, max_value=30), data=st.data())
def test_every_index_written_as_digits_reads_back(count, data):
    index = data.draw(st.integers(min_value=1, max_value=count))
    template = data.draw(st.sampled_from(["{}", "{}.", "opção {}", "quero a {} por favor", "nº {}", "#{}"]))
    assert read_choice(template.format(index), count) == index


# --------------------------------------------------------------------------
# read_cpf
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("186.091.390-34", id="formatted"),
        pytest.param("18609139034", id="digits"),
        pytest.param("186 091 390 34", id="spaces"),
        pytest.param("186091390-34", id="dash-only"),
        pytest.param("186.091.390 - 34", id="spaced-dash"),
        pytest.param("cpf: 186.091.390-34", id="label"),
        pytest.param("CPF186.091.390-34", id="label-glued"),
        pytest.param("C.P.F. 18609139034", id="dotted-label"),
        pytest.param("meu cpf é 186 091 390 34", id="voice-style"),
        pytest.param("*186.091.390-34*", id="whatsapp-bold"),
        pytest.param("186.091.390-34.", id="trailing-period"),
        pytest.param("meu cpf é 18609139034 e telefone 61999887766", id="cpf-then-phone"),
        pytest.param("61999887766 e o cpf 186.091.390-34", id="phone-then-cpf"),
        pytest.param("nasci em 1990, cpf 186.091.390-34", id="with-a-year"),
    ],
)
def test_a_valid_cpf_is_read_however_it_is_typed(text):
    assert read_cpf(text) == CpfReading(value=CPF, digits=11)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            "1234567890",
            CpfReading(suggestion=CPF_LEADING_ZERO, problem="missing_digits", digits=10),
            id="leading-zero-lost",
        ),
        pytest.param(
            "123.456.789-0",
            CpfReading(suggestion=CPF_LEADING_ZERO, problem="missing_digits", digits=10),
            id="leading-zero-lost-formatted",
        ),
        pytest.param(
            "186.O91.390-34", CpfReading(suggestion=CPF, problem="letters", digits=10), id="letter-o-for-zero"
        ),
        pytest.param("l86.091.390-34", CpfReading(suggestion=CPF, problem="letters", digits=10), id="letter-l-for-one"),
        pytest.param("1860913903", CpfReading(problem="missing_digits", digits=10), id="ten-digits-no-repair"),
        pytest.param("186.091.390", CpfReading(problem="missing_digits", digits=9), id="check-digits-left-out"),
        pytest.param("12345", CpfReading(problem="missing_digits", digits=5), id="short-number-alone"),
        pytest.param("186091390345", CpfReading(problem="extra_digits", digits=12), id="twelve-digits"),
        pytest.param("123.456.789-00", CpfReading(problem="check_digits", digits=11), id="wrong-check-digits"),
        pytest.param("111.111.111-11", CpfReading(problem="repeated", digits=11), id="repeated-digits"),
        pytest.param("18609a39034", CpfReading(problem="letters", digits=10), id="letter-inside"),
        pytest.param("", CpfReading(problem="empty"), id="empty"),
        pytest.param("   ", CpfReading(problem="empty"), id="blank"),
        pytest.param("ainda não tenho", CpfReading(problem="none"), id="no-number"),
        pytest.param("tenho 2 filhos", CpfReading(problem="none", digits=1), id="small-number-in-a-sentence"),
    ],
)
def test_a_cpf_attempt_that_fails_says_why(text, expected):
    assert read_cpf(text) == expected


def test_a_cpf_formatted_number_wins_over_another_valid_one():
    other = "52998224725"
    assert read_cpf(f"{other} ou 186.091.390-34").value == CPF


valid_cpfs = (
    st.text(alphabet="0123456789", min_size=9, max_size=9)
    .filter(lambda nine: len(set(nine)) > 1)
    .map(lambda nine: nine + cpf_check_digits(nine))
)
cpf_like_text = st.text(alphabet="0123456789 .-/oOlIa", max_size=20)


@prop(max_examples=400)
@given(text=st.one_of(st.text(max_size=40), cpf_like_text))
def test_read_cpf_values_and_suggestions_always_have_valid_check_digits(text):
    reading = read_cpf(text)
    for cpf in (reading.value, reading.suggestion):
        assert cpf is None or has_valid_check_digits(cpf)
    assert (reading.value is None) == bool(reading.problem)


@prop(max_examples=200)
@given(
    cpf=valid_cpfs,
    layout=st.sampled_from(["{a}.{b}.{c}-{d}", "{a}{b}{c}{d}", "{a} {b} {c} {d}", "cpf: {a}.{b}.{c}-{d}"]),
)
def test_any_valid_cpf_in_any_layout_reads_back(cpf, layout):
    text = layout.format(a=cpf[:3], b=cpf[3:6], c=cpf[6:9], d=cpf[9:])
    assert read_cpf(text).value == cpf


# --------------------------------------------------------------------------
# read_phone and means_same_number
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("(61) 99988-7766", "+5561999887766", id="formatted-mobile"),
        pytest.param("61999887766", "+5561999887766", id="digits"),
        pytest.param("+55 61 99988-7766", "+5561999887766", id="e164-spaced"),
        pytest.param("+5561999887766", "+5561999887766", id="e164"),
        pytest.param("(0xx61) 99988-7766", "+5561999887766", id="any-carrier"),
        pytest.param("0 21 61 99988-7766", "+5561999887766", id="carrier-code"),
        pytest.param("meu cel é (61) 99988-7766 obrigado", "+5561999887766", id="inside-a-sentence"),
        pytest.param("tel:61999887766", "+5561999887766", id="label-glued"),
        pytest.param("(61) 3333-4444", "+556133334444", id="landline-stays-a-landline"),
        pytest.param("(11) 2345-6789", "+551123456789", id="landline-starting-with-2"),
        pytest.param(
            "meu número +1 415 555 1234, ou 61 99988 7766", "+5561999887766", id="brazilian-wins-over-foreign"
        ),
    ],
)
def test_a_brazilian_phone_is_read_as_e164(text, expected):
    assert read_phone(text) == PhoneReading(value=expected)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("(61) 9988-7766", "+5561999887766", id="old-mobile-starting-with-9"),
        pytest.param("(61) 8988-7766", "+5561989887766", id="old-mobile-starting-with-8"),
        pytest.param("11 7123-4567", "+5511971234567", id="old-mobile-starting-with-7"),
        pytest.param("+55 21 6123-4567", "+5521961234567", id="old-mobile-starting-with-6-in-e164"),
    ],
)
def test_an_old_eight_digit_mobile_gets_a_suggestion_with_the_nine(text, expected):
    assert read_phone(text) == PhoneReading(suggestion=expected, problem="missing_nine")


@pytest.mark.parametrize(
    ("text", "foreign"),
    [
        pytest.param("+1 415 555 1234", "+14155551234", id="usa"),
        pytest.param("001 415 555 1234", "+14155551234", id="usa-dialled-with-00"),
        pytest.param("0021 1 415 555 1234", "+14155551234", id="usa-dialled-with-a-carrier"),
        pytest.param("+351 912 345 678", "+351912345678", id="portugal"),
        pytest.param("+44 20 7946 0958", "+442079460958", id="uk"),
        pytest.param("+1 61 99988 7766", "", id="brazilian-digits-after-a-foreign-code"),
        pytest.param("+1 23", "", id="too-short-to-be-valid"),
    ],
)
def test_a_foreign_number_is_reported_and_never_read_as_brazilian(text, foreign):
    assert read_phone(text) == PhoneReading(problem="foreign", foreign=foreign)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        pytest.param("99988-7766", "no_ddd", id="mobile-without-ddd"),
        pytest.param("9988-7766", "no_ddd", id="eight-digits-without-ddd"),
        pytest.param("(20) 99988-7766", "ddd", id="ddd-that-does-not-exist"),
        pytest.param("(61) 1234-5678", "shape", id="subscriber-starting-with-1"),
        pytest.param("123", "shape", id="too-short"),
        pytest.param("61 9998B-7766", "letters", id="letter-inside"),
        pytest.param("", "empty", id="empty"),
        pytest.param("não tenho", "none", id="no-number"),
        pytest.param("esse mesmo", "same_as_whatsapp", id="this-same-number"),
    ],
)
def test_a_phone_attempt_that_fails_says_why(text, problem):
    assert read_phone(text) == PhoneReading(problem=problem)


@pytest.mark.parametrize(
    "text",
    [
        "esse mesmo", "o mesmo", "este", "o mesmo do whatsapp", "pode ser esse", "é esse daqui",
        "o número que estou usando", "este número", "mesmo número", "Esse mesmo!", "pode usar este",
        "o mesmo do zap", "é o mesmo", "esse aqui mesmo",
    ],
)  # fmt: skip
def test_ways_to_say_use_this_number(text):
    assert means_same_number(text) is True


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("não, outro", id="refusal"),
        pytest.param("não é esse", id="negated"),
        pytest.param("telefone", id="no-pointer"),
        pytest.param("sim", id="plain-yes"),
        pytest.param("esse evento é caro", id="other-sentence"),
        pytest.param("esse: 61999887766", id="with-digits"),
        pytest.param("", id="empty"),
    ],
)
def test_other_messages_do_not_mean_the_same_number(text):
    assert means_same_number(text) is False


# Country calling codes other than Brazil's; they are prefix-free, so the
# digits after "+" can never start with 55.
foreign_codes = st.sampled_from(sorted(code for code in phonenumbers.COUNTRY_CODE_TO_REGION_CODE if code != 55))


@prop(max_examples=400)
@given(
    code=foreign_codes,
    separator=st.sampled_from(["", " ", "-", " (", "."]),
    rest=st.one_of(st.text(alphabet="0123456789 ()-.", max_size=16), st.text(max_size=30)),
)
def test_read_phone_never_returns_a_value_for_a_foreign_country_code(code, separator, rest):
    reading = read_phone(f"+{code}{separator}{rest}")
    assert reading.value is None
    assert reading.suggestion is None
    assert reading.problem == "foreign"


def is_brazilian_phone(e164: str) -> bool:
    number = phonenumbers.parse(e164, None)
    return number.country_code == 55 and phonenumbers.is_valid_number(number)


@prop(max_examples=400)
@given(text=st.one_of(st.text(max_size=40), st.text(alphabet="0123456789 +()-.", max_size=20)))
def test_read_phone_values_and_suggestions_are_valid_brazilian_numbers(text):
    reading = read_phone(text)
    for e164 in (reading.value, reading.suggestion):
        assert e164 is None or is_brazilian_phone(e164)
    assert (reading.value is None) == bool(reading.problem)
    if reading.foreign:
        assert reading.problem == "foreign"
