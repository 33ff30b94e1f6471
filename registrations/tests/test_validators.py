"""Tests for ``registrations.validators`` (pure functions: no database).

CPF check digits are recomputed here with the textbook "11 minus remainder"
rule, independently of the implementation, and cross-checked against
validate-docbr.
"""

from __future__ import annotations

import csv
import time
from collections.abc import Callable

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from validate_docbr import CPF as DocbrCPF

from congress.errors import InvalidValue
from registrations.validators import (
    CITIES_CSV,
    UF_NAMES,
    City,
    find_cpf,
    find_email,
    find_phone,
    fold,
    format_cpf,
    format_phone,
    is_valid_cpf,
    load_cities,
    mask_cpf,
    mask_email,
    mask_phone,
    mask_pii,
    match_city,
    normalize_cpf,
    normalize_email,
    normalize_name,
    normalize_phone,
    normalize_uf,
    strip_cpfs,
    suggest_email,
)


def prop(**options: int) -> settings:
    """Hypothesis settings for these tests.

    Function-scoped fixtures (the project's autouse Redis/cache cleaner) run
    once per test, not per example; these tests do not touch them.
    """
    return settings(
        suppress_health_check=[HealthCheck.function_scoped_fixture], **options
    )


# --------------------------------------------------------------------------
# Helpers computed independently of the implementation
# --------------------------------------------------------------------------


def cpf_check_digits(nine: str) -> str:
    """Textbook rule: remainder r of the weighted sum; digit 0 if r < 2 else 11 - r."""

    def digit(numbers: str) -> str:
        weights = range(len(numbers) + 1, 1, -1)
        remainder = sum(int(n) * w for n, w in zip(numbers, weights, strict=True)) % 11
        return "0" if remainder < 2 else str(11 - remainder)

    first = digit(nine)
    return first + digit(nine + first)


def make_cpf(nine: str) -> str:
    return nine + cpf_check_digits(nine)


def has_valid_check_digits(cpf: str) -> bool:
    return len(set(cpf)) > 1 and cpf_check_digits(cpf[:9]) == cpf[9:]


nine_digits = st.text(alphabet="0123456789", min_size=9, max_size=9).filter(
    lambda digits: len(set(digits)) > 1
)
valid_cpfs = nine_digits.map(make_cpf)

# From docs FACTS.md ("Valid DDDs"), typed out again on purpose.
VALID_DDDS = sorted(
    {*range(11, 20), 21, 22, 24, 27, 28, *range(31, 36), 37, 38, *range(41, 50)}
    | {51, 53, 54, 55, *range(61, 70), 71, 73, 74, 75, 77, 79}
    | {*range(81, 90), *range(91, 100)}
)
INVALID_DDDS = [0, 20, 23, 25, 26, 29, 30, 36, 39, 40, 50, 52, 56, 57, 58, 59, 60]
INVALID_DDDS += [70, 72, 76, 78, 80, 90]

ddds = st.sampled_from(VALID_DDDS).map(lambda ddd: f"{ddd:02d}")
mobiles = st.text(alphabet="0123456789", min_size=8, max_size=8).map(lambda d: "9" + d)
landlines = st.tuples(
    st.sampled_from("2345"), st.text(alphabet="0123456789", min_size=7, max_size=7)
).map("".join)

PhoneFormat = Callable[[str, str], str]
PHONE_FORMATS: dict[str, PhoneFormat] = {
    "parentheses and dash": lambda ddd, n: f"({ddd}) {n[:-4]}-{n[-4:]}",
    "digits only": lambda ddd, n: f"{ddd}{n}",
    "e164": lambda ddd, n: f"+55{ddd}{n}",
    "plus 55 spaced": lambda ddd, n: f"+55 {ddd} {n[:-4]} {n[-4:]}",
    "55 without plus": lambda ddd, n: f"55 ({ddd}) {n[:-4]}-{n[-4:]}",
    "55 glued": lambda ddd, n: f"55{ddd}{n}",
    "trunk zero": lambda ddd, n: f"0{ddd} {n}",
    "trunk zero in parentheses": lambda ddd, n: f"(0{ddd}) {n[:-4]}-{n[-4:]}",
    "carrier code": lambda ddd, n: f"0 21 {ddd} {n[:-4]}-{n[-4:]}",
    "carrier xx": lambda ddd, n: f"(0xx{ddd}) {n[:-4]}-{n[-4:]}",
    "international 0055": lambda ddd, n: f"0055 {ddd} {n}",
    "dots": lambda ddd, n: f"{ddd}.{n[:-4]}.{n[-4:]}",
    "surrounding spaces": lambda ddd, n: f"   +55 ({ddd}) {n[:-4]}-{n[-4:]}  ",
    "dashes everywhere": lambda ddd, n: f"{ddd}-{n[:-4]}-{n[-4:]}",
}
phone_formats = st.sampled_from(sorted(PHONE_FORMATS))


# --------------------------------------------------------------------------
# fold
# --------------------------------------------------------------------------


def test_fold_lowercases_strips_accents_and_collapses_whitespace():
    assert fold("  São   PAULO\tÇÃO ") == "sao paulo cao"


@pytest.mark.parametrize(
    "text",
    ["Ma\u200bria", "Ma\u200cria", "Ma\u200dria", "Ma\u2060ria", "\ufeffMaria", "Ma\u00adria", "\u200eMaria\u200f"],
    ids=["zero-width-space", "zwnj", "zwj", "word-joiner", "bom", "soft-hyphen", "bidi-marks"],
)
def test_fold_drops_invisible_format_characters(text):
    assert fold(text) == "maria"


# --------------------------------------------------------------------------
# Names
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("  MARIA   DAS DORES  souza ", "Maria das Dores Souza"),
        ("joão da silva", "João da Silva"),
        ("McDonald Silva", "McDonald Silva"),
        ("Maria da Silva", "Maria da Silva"),
        ("JOSÉ E SILVA", "José e Silva"),
        ("JOANA D'ARC DOS SANTOS", "Joana d'Arc dos Santos"),
        ("joana d\u2019arc santos", "Joana d'Arc Santos"),
        ("ana-maria o'neil", "Ana-Maria O'Neil"),
        ("de souza maria", "De Souza Maria"),
        ("giuseppe di pietro", "Giuseppe di Pietro"),
        ("J. R. SANTOS", "J. R. Santos"),
    ],
    ids=[
        "all caps with extra spaces",
        "lowercase with accent",
        "mixed case kept",
        "already title case",
        "particle e",
        "elided d-apostrophe",
        "curly apostrophe",
        "hyphen and apostrophe",
        "particle first is capitalized",
        "italian particle",
        "initials with dots",
    ],
)
def test_name_is_normalized(typed, stored):
    assert normalize_name(typed) == stored


@pytest.mark.parametrize(
    "typed",
    [
        "Maria",
        "   ",
        "Maria 2 Silva",
        "Maria Silva 3",
        "Maria 😀 Silva",
        "Maria @ Silva",
        "Maria_Silva Souza",
        "Maria -",
        "Maria " + "a" * 120,
    ],
    ids=[
        "single word",
        "blank",
        "digit word",
        "trailing digit",
        "emoji",
        "at sign",
        "underscore",
        "word without letters",
        "too long",
    ],
)
def test_name_is_rejected_with_a_message_that_gives_an_example(typed):
    with pytest.raises(InvalidValue) as caught:
        normalize_name(typed)
    assert "exemplo" in caught.value.message.lower()


# --------------------------------------------------------------------------
# E-mail
# --------------------------------------------------------------------------


def test_email_is_stripped_and_stored_lower_case():
    assert normalize_email("  Maria.Souza@GMAIL.com ") == "maria.souza@gmail.com"


def test_email_with_a_domain_typo_is_accepted_and_a_correction_is_suggested():
    assert normalize_email("maria@gmial.com") == "maria@gmial.com"
    assert suggest_email("maria@gmial.com") == "maria@gmail.com"


@pytest.mark.parametrize(
    ("typed", "suggested"),
    [
        ("maria@gmal.com", "maria@gmail.com"),
        ("maria@gmail.con", "maria@gmail.com"),
        ("maria@gmail.cm", "maria@gmail.com"),
        ("Maria@Hotmial.com", "maria@hotmail.com"),
        ("maria@hotmal.com", "maria@hotmail.com"),
        ("maria@yaho.com.br", "maria@yahoo.com.br"),
        ("maria@yahoo.com.bt", "maria@yahoo.com.br"),
        ("maria@outlok.com", "maria@outlook.com"),
        ("maria@iclod.com", "maria@icloud.com"),
        ("maria@uol.com", "maria@uol.com.br"),
        ("maria@gmail.com.br", "maria@gmail.com"),
        ("maria@gmail", "maria@gmail.com"),
        ("maria@gmail,com", "maria@gmail.com"),
    ],
    ids=lambda value: value,
)
def test_email_domain_typo_gets_a_suggestion(typed, suggested):
    assert suggest_email(typed) == suggested


@pytest.mark.parametrize(
    "typed",
    [
        "maria@gmail.com",
        "MARIA@GMAIL.COM",
        "maria@mail.com",
        "maria@ig.com.br",
        "maria@pop.com.br",
        "maria@ufpr.br",
        "maria@empresa.com.br",
        "sem arroba",
    ],
    ids=lambda value: value,
)
def test_email_without_a_likely_typo_gets_no_suggestion(typed):
    assert suggest_email(typed) is None


@pytest.mark.parametrize(
    "typed",
    ["maria", "maria@", "@gmail.com", "maria@@gmail.com", "maria souza@gmail.com", ""],
    ids=["no at sign", "no domain", "no local part", "two at signs", "space", "empty"],
)
def test_email_with_invalid_syntax_is_rejected_with_an_example(typed):
    with pytest.raises(InvalidValue) as caught:
        normalize_email(typed)
    assert "maria.souza@gmail.com" in caught.value.message


def test_invalid_email_with_an_obvious_fix_carries_the_suggestion():
    with pytest.raises(InvalidValue) as caught:
        normalize_email("maria@gmail")
    assert caught.value.suggestion == "maria@gmail.com"


# --------------------------------------------------------------------------
# CPF
# --------------------------------------------------------------------------


@prop(max_examples=3000)
@given(nine=nine_digits)
@example(nine="123456789")
def test_every_generated_valid_cpf_is_accepted(nine):
    cpf = make_cpf(nine)
    assert normalize_cpf(cpf) == cpf
    assert is_valid_cpf(cpf)
    assert DocbrCPF().validate(cpf)  # a second, external oracle


@prop(max_examples=300)
@given(cpf=valid_cpfs)
def test_valid_cpf_is_accepted_formatted_unformatted_or_spaced(cpf):
    for typed in (
        cpf,
        format_cpf(cpf),
        f"  {cpf[:3]} {cpf[3:6]} {cpf[6:9]} {cpf[9:]} ",
        f"{cpf[:3]}.{cpf[3:6]}.{cpf[6:9]}/{cpf[9:]}",
        f"CPF: {format_cpf(cpf)}",
    ):
        assert normalize_cpf(typed) == cpf


@prop(max_examples=300)
@given(cpf=valid_cpfs)
def test_single_digit_mutation_is_rejected_exactly_when_check_digits_break(cpf):
    for position in range(11):
        for digit in "0123456789":
            if digit == cpf[position]:
                continue
            mutated = cpf[:position] + digit + cpf[position + 1 :]
            assert is_valid_cpf(mutated) == has_valid_check_digits(mutated), mutated


@prop(max_examples=300)
@given(cpf=valid_cpfs)
def test_single_digit_mutation_outside_the_first_and_sixth_digit_is_always_rejected(
    cpf,
):
    for position in (1, 2, 3, 4, 6, 7, 8, 9, 10):
        for digit in "0123456789":
            if digit != cpf[position]:
                assert not is_valid_cpf(cpf[:position] + digit + cpf[position + 1 :])


def test_cpf_check_digits_miss_some_first_digit_mutations():
    # The first digit weighs 11 (= 0 mod 11) in the second sum and the first
    # check digit maps remainders 0 and 10 both to 0: both numbers are valid.
    assert is_valid_cpf("66048764707")
    assert is_valid_cpf("56048764707")


@pytest.mark.parametrize("digit", "0123456789", ids=lambda d: f"all {d}s")
def test_repeated_digit_cpf_is_rejected(digit):
    with pytest.raises(InvalidValue) as caught:
        normalize_cpf(f"{digit * 3}.{digit * 3}.{digit * 3}-{digit * 2}")
    assert "123.456.789-09" in caught.value.message
    assert not is_valid_cpf(digit * 11)


@pytest.mark.parametrize(
    "typed",
    ["123.456.789-00", "1234567890", "123456789091", "123.456.789-0x", "", "abc"],
    ids=[
        "wrong check digits",
        "ten digits",
        "twelve digits",
        "letter",
        "empty",
        "text",
    ],
)
def test_invalid_cpf_is_rejected_with_an_example(typed):
    with pytest.raises(InvalidValue) as caught:
        normalize_cpf(typed)
    assert "123.456.789-09" in caught.value.message


def test_cpf_is_formatted_with_dots_and_dash():
    assert format_cpf("12345678909") == "123.456.789-09"


# --------------------------------------------------------------------------
# Phones
# --------------------------------------------------------------------------


@prop(max_examples=1500)
@given(ddd=ddds, number=mobiles, surface=phone_formats)
def test_mobile_in_any_surface_format_normalizes_to_the_same_e164(ddd, number, surface):
    assert normalize_phone(PHONE_FORMATS[surface](ddd, number)) == f"+55{ddd}{number}"


@prop(max_examples=800)
@given(ddd=ddds, number=landlines, surface=phone_formats)
def test_landline_in_any_surface_format_normalizes_to_the_same_e164(
    ddd, number, surface
):
    assert normalize_phone(PHONE_FORMATS[surface](ddd, number)) == f"+55{ddd}{number}"


@pytest.mark.parametrize("ddd", VALID_DDDS, ids=lambda ddd: f"DDD {ddd}")
def test_every_real_ddd_is_accepted(ddd):
    assert normalize_phone(f"({ddd}) 99876-5432") == f"+55{ddd}998765432"


@pytest.mark.parametrize("ddd", INVALID_DDDS, ids=lambda ddd: f"DDD {ddd:02d}")
def test_phone_with_a_ddd_that_does_not_exist_is_rejected(ddd):
    for typed in (f"({ddd:02d}) 99999-0000", f"+55 {ddd:02d} 3333-0000"):
        with pytest.raises(InvalidValue) as caught:
            normalize_phone(typed)
        assert "(61) 99999-0000" in caught.value.message


@prop()
@given(
    ddd=st.integers(min_value=10, max_value=99).filter(lambda d: d not in VALID_DDDS)
)
def test_any_number_outside_the_ddd_list_is_rejected(ddd):
    with pytest.raises(InvalidValue) as caught:
        normalize_phone(f"({ddd}) 99999-0000")
    assert f"DDD {ddd}" in caught.value.message


@pytest.mark.parametrize(
    "typed",
    [
        "99999-0000",
        "(61) 8999-0000",
        "(61) 1999-0000",
        "(61) 99999-000",
        "+1 202 555 0100",
        "(61) 9999-0000a",
        "",
        "+55 61 99999-00000",
    ],
    ids=[
        "no ddd",
        "old eight-digit mobile",
        "landline starting with 1",
        "too short",
        "foreign",
        "letter",
        "empty",
        "too long",
    ],
)
def test_malformed_phone_is_rejected_with_an_example(typed):
    with pytest.raises(InvalidValue) as caught:
        normalize_phone(typed)
    assert "(61) 99999-0000" in caught.value.message


@pytest.mark.parametrize(
    ("e164", "shown"),
    [("+5561999990000", "(61) 99999-0000"), ("+556133330000", "(61) 3333-0000")],
    ids=["mobile", "landline"],
)
def test_phone_is_formatted_for_people(e164, shown):
    assert format_phone(e164) == shown


# --------------------------------------------------------------------------
# UFs
# --------------------------------------------------------------------------


def test_there_are_27_ufs():
    assert len(UF_NAMES) == 27
    assert UF_NAMES["SP"] == "São Paulo"


@pytest.mark.parametrize("uf", sorted(UF_NAMES), ids=lambda uf: uf)
def test_uf_is_recognized_by_code_or_name_in_any_case_with_or_without_accents(uf):
    name = UF_NAMES[uf]
    for typed in (uf, uf.lower(), name, name.upper(), name.lower(), fold(name)):
        assert normalize_uf(typed) == uf, typed
    assert normalize_uf(f"  {fold(name).upper()} ") == uf


@pytest.mark.parametrize("typed", ["XX", "", "Brasil", "São Paolo"], ids=lambda t: t)
def test_unknown_uf_is_rejected_with_an_example(typed):
    with pytest.raises(InvalidValue) as caught:
        normalize_uf(typed)
    assert "SP" in caught.value.message


def test_misspelled_state_name_gets_the_uf_as_suggestion():
    with pytest.raises(InvalidValue) as caught:
        normalize_uf("Sao Paolo")
    assert caught.value.suggestion == "SP"


# --------------------------------------------------------------------------
# Municipalities
# --------------------------------------------------------------------------


def test_the_city_file_has_every_municipality_once():
    cities = load_cities()
    assert len(cities) == 5570
    assert len({city.ibge_code for city in cities}) == 5570
    assert len({city.uf for city in cities}) == 27
    with CITIES_CSV.open(encoding="utf-8") as handle:
        assert next(csv.reader(handle)) == ["ibge_code", "name", "uf"]


@pytest.mark.parametrize(
    ("typed", "name", "uf"),
    [
        ("londrina", "Londrina", "PR"),
        ("SAO PAULO", "São Paulo", "SP"),
        ("sao paulo - sp", "São Paulo", "SP"),
        ("Santa Maria/RS", "Santa Maria", "RS"),
        ("Mojui dos Campos", "Mojuí dos Campos", "PA"),
        ("Londrina/PR", "Londrina", "PR"),
        ("Londrina - PR", "Londrina", "PR"),
        ("Londrina PR", "Londrina", "PR"),
        ("Londrina, PR", "Londrina", "PR"),
        ("Londrina (PR)", "Londrina", "PR"),
        ("Londrina-PR", "Londrina", "PR"),
        ("Londrina, Paraná", "Londrina", "PR"),
        ("santa maria, rio grande do norte", "Santa Maria", "RN"),
        ("Campo Grande ms", "Campo Grande", "MS"),
        ("grao para", "Grão-Pará", "SC"),
        ("Goiás, Goiás", "Goiás", "GO"),
        ("parati", "Paraty", "RJ"),
        ("Moji Mirim", "Mogi Mirim", "SP"),
        ("sao joao del rey", "São João del Rei", "MG"),
    ],
    ids=lambda value: value if isinstance(value, str) else None,
)
def test_city_is_settled(typed, name, uf):
    found = match_city(typed)
    assert found.city is not None, found
    assert (found.city.name, found.city.uf) == (name, uf)
    assert found.candidates == ()
    assert found.suggestion is None


def test_city_name_in_several_ufs_lists_every_candidate():
    found = match_city("Santa Maria")
    assert found.city is None
    assert {"RS", "RN"} <= {city.uf for city in found.candidates}
    assert all(city.name == "Santa Maria" for city in found.candidates)


def test_uf_argument_restricts_the_search():
    assert match_city("Santa Maria", uf="RS").city == City(4316907, "Santa Maria", "RS")
    assert match_city("santa maria", uf="Rio Grande do Norte").city.uf == "RN"
    assert match_city("Londrina", uf="SP").city is None


def test_city_with_a_small_typo_settles_or_suggests_the_right_one():
    found = match_city("londirna")
    assert (found.city or found.suggestion) == City(4113700, "Londrina", "PR")


def test_city_with_a_typo_in_an_ambiguous_name_lists_the_candidates():
    assert {city.uf for city in match_city("santa mria").candidates} >= {"RS", "RN"}


@pytest.mark.parametrize("typed", ["Xyzabc", "", "   ", "sp", "123"], ids=repr)
def test_unknown_city_is_not_found(typed):
    found = match_city(typed)
    assert (found.city, found.candidates, found.suggestion) == (None, (), None)


def test_every_city_round_trips_through_name_and_uf():
    misses = [
        city
        for city in load_cities()
        if match_city(f"{city.name}/{city.uf}").city != city
    ]
    assert misses == []


def test_city_lookup_is_fast():
    match_city("aquecimento")  # build the index outside the measurement
    started = time.perf_counter()
    for _ in range(1000):
        match_city("Santa Maria/RS")
    exact = (time.perf_counter() - started) / 1000
    started = time.perf_counter()
    for _ in range(100):
        match_city("londirna")
    fuzzy = (time.perf_counter() - started) / 100
    # Typical: ~25 µs exact, ~0.2 ms fuzzy; loose bounds for slow CI machines.
    assert exact < 0.001
    assert fuzzy < 0.01


# --------------------------------------------------------------------------
# Finding values in free text
# --------------------------------------------------------------------------

SENTENCE = (
    "Oi! Sou a Maria, meu e-mail é Maria.Souza@Gmail.com, CPF 123.456.789-09 "
    "e o whats (61) 99999-0000."
)


def test_values_are_found_inside_a_sentence():
    assert find_email(SENTENCE) == "maria.souza@gmail.com"
    assert find_cpf(SENTENCE) == "12345678909"
    assert find_phone(SENTENCE) == "+5561999990000"


def test_nothing_is_found_in_a_sentence_without_values():
    text = "Quero me inscrever no congresso de 2026, sala 12."
    assert (find_email(text), find_cpf(text), find_phone(text)) == (None, None, None)


def test_cpf_is_found_unformatted_and_invalid_cpf_is_ignored():
    assert find_cpf("meu cpf 12345678909 ok") == "12345678909"
    assert find_cpf("meu cpf 123.456.789-00") is None
    assert find_cpf("protocolo 1234567890912") is None


# A valid CPF whose digits also read as DDD 11 + a mobile number.
PHONE_SHAPED_CPF = make_cpf("119876543")


@pytest.mark.parametrize(
    "text",
    [f"cpf {PHONE_SHAPED_CPF}", f"cpf {format_cpf(PHONE_SHAPED_CPF)}"],
    ids=["unformatted", "formatted"],
)
def test_a_cpf_is_not_returned_as_a_phone(text):
    assert find_phone(text) is None
    assert find_cpf(text) == PHONE_SHAPED_CPF


@prop(max_examples=500)
@given(cpf=valid_cpfs)
def test_no_valid_cpf_is_ever_read_as_a_phone(cpf):
    assert find_phone(f"meu cpf é {cpf}") is None
    assert find_phone(f"meu cpf é {format_cpf(cpf)}") is None


def test_phone_next_to_a_cpf_is_found():
    text = f"{format_cpf(PHONE_SHAPED_CPF)} (61) 99999-0000"
    assert find_phone(text) == "+5561999990000"
    assert find_phone("ligue +55 11 98765-4321 amanhã") == "+5511987654321"


# --------------------------------------------------------------------------
# Removing and masking personal data
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "cpf",
    [
        "123.456.789-09",
        "12345678909",
        "123.456.789-00",
        "111 111 111 11",
        "123456789-00",
    ],
    ids=["formatted", "unformatted", "invalid", "spaced", "half formatted"],
)
def test_cpf_like_numbers_are_stripped_before_text_leaves(cpf):
    assert (
        strip_cpfs(f"meu cpf é {cpf}, obrigado") == "meu cpf é [CPF removido], obrigado"
    )


def test_strip_cpfs_leaves_phones_and_longer_numbers_alone():
    text = "fone (61) 99999-0000, +5561999990000, protocolo 123456789012"
    assert strip_cpfs(text) == text


def test_mask_helpers_keep_only_what_helps_debugging():
    assert mask_cpf("12345678909") == "***.456.789-**"
    assert mask_cpf("123.456.789-09") == "***.456.789-**"
    assert mask_email("maria.souza@gmail.com") == "m***@gmail.com"
    assert mask_phone("+5561999990000") == "+55 61 *****-0000"
    assert mask_phone("+556133330000") == "+55 61 ****-0000"


def test_mask_pii_masks_every_cpf_email_and_phone():
    masked = mask_pii(SENTENCE + " Outro: 61988887777 e +55 11 3333-4444.")
    for secret in ("Souza", "123.456.789", "99999", "988887777", "3333"):
        assert secret not in masked
    assert "M***@Gmail.com" in masked
    assert "***.456.789-**" in masked
    assert "+55 61 *****-0000" in masked
    assert "+55 61 *****-7777" in masked
    assert "+55 11 ****-4444" in masked


@prop()
@given(text=st.text(max_size=300))
def test_mask_pii_never_raises(text):
    assert isinstance(mask_pii(text), str)


def test_a_city_settled_through_a_typo_is_marked_fuzzy_and_an_exact_one_is_not():
    from registrations.validators import match_city

    assert match_city("londirna").fuzzy is True
    assert match_city("londrina").fuzzy is False
    floripa = match_city("Floripa")
    assert floripa.fuzzy or floripa.city is None
