"""Tests for ``registrations.places`` (pure functions: no database).

Inputs are written the way participants answer "Em qual cidade você mora?".
The demo event is in Goiânia/GO, so most readings use ``region_ufs("GO")``.
"""

from __future__ import annotations

import time

import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from registrations.places import (
    DF_REGIONS,
    NICKNAMES,
    UF_NEIGHBOURS,
    Place,
    PlaceReading,
    read_place,
    region_ufs,
)
from registrations.validators import UF_NAMES, City, load_cities, match_city

GO = region_ufs("GO")


def city(name: str, uf: str) -> City:
    return next(c for c in load_cities() if c.name == name and c.uf == uf)


def df(district: str = "") -> Place:
    return Place(city("Brasília", "DF"), district)


def at(name: str, uf: str) -> Place:
    return Place(city(name, uf))


def labels(reading: PlaceReading) -> list[str]:
    return [place.label() for place in reading.options]


def found(reading: PlaceReading) -> list[Place]:
    """Every place a reading mentions: settled, options, suggestion."""
    return [p for p in (reading.place, *reading.options, reading.suggestion) if p is not None]


def prop(**options: int) -> settings:
    # The project's autouse Redis/cache fixture runs once per test, not per
    # example; these tests do not touch it.
    return settings(suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None, **options)


# --------------------------------------------------------------------------
# Place and regions
# --------------------------------------------------------------------------


def test_place_label_shows_the_df_region_in_parentheses():
    assert df("Ceilândia").label() == "Brasília/DF (Ceilândia)"
    assert at("Goiânia", "GO").label() == "Goiânia/GO"


def test_region_of_goias_is_goias_then_its_neighbours():
    assert region_ufs("GO") == ("GO", "DF", "MG", "MT", "MS", "TO", "BA")


def test_region_of_the_federal_district_is_df_goias_and_minas():
    assert region_ufs("DF") == ("DF", "GO", "MG")


def test_region_accepts_a_state_name_and_ignores_garbage():
    assert region_ufs("goiás") == GO
    assert region_ufs("") == ()
    assert region_ufs("XX") == ()


def test_every_uf_has_neighbours_and_borders_are_symmetric():
    assert set(UF_NEIGHBOURS) == set(UF_NAMES)
    for uf, neighbours in UF_NEIGHBOURS.items():
        assert uf not in neighbours
        for other in neighbours:
            assert uf in UF_NEIGHBOURS[other], f"{uf} borders {other} but not the reverse"


# --------------------------------------------------------------------------
# The Federal District's administrative regions
# --------------------------------------------------------------------------


def test_there_are_35_df_regions_the_33_of_2019_plus_arapoanga_and_agua_quente():
    assert len(DF_REGIONS) == 35
    assert {"Arniqueira", "Sol Nascente/Pôr do Sol", "Arapoanga", "Água Quente"} <= set(DF_REGIONS)


@pytest.mark.parametrize("region_name", sorted(DF_REGIONS), ids=lambda name: name)
def test_every_df_region_is_read_as_brasilia_first_for_an_event_in_goias(region_name):
    reading = read_place(region_name, region=GO)
    first = reading.place or reading.options[0]
    assert first == df(region_name)


@pytest.mark.parametrize(
    ("typed", "district"),
    [
        ("Ceilândia", "Ceilândia"),
        ("ceilandia", "Ceilândia"),
        ("CEILÂNDIA", "Ceilândia"),
        ("Ceilãndia", "Ceilândia"),
        ("ceilândia norte", "Ceilândia"),
        ("aguas claras", "Águas Claras"),
        ("sobradinho 2", "Sobradinho II"),
        ("Sobradinho II", "Sobradinho II"),
        ("sobradinho dois", "Sobradinho II"),
        ("Riacho fundo 2", "Riacho Fundo II"),
        ("Riacho Fundo 1", "Riacho Fundo"),
        ("Guara 2", "Guará"),
        ("Taguatinga Norte", "Taguatinga"),
        ("Samambaia Sul", "Samambaia"),
        ("Estrutural", "SCIA/Estrutural"),
        ("Octogonal", "Sudoeste/Octogonal"),
        ("Pôr do Sol", "Sol Nascente/Pôr do Sol"),
        ("Asa Sul", "Plano Piloto"),
        ("Gama", "Gama"),
        ("Recanto", "Recanto das Emas"),
        ("park way", "Park Way"),
        ("Itapoã", "Itapoã"),
    ],
    ids=lambda value: value,
)
def test_df_region_is_settled_as_brasilia_with_the_region_as_district(typed, district):
    assert read_place(typed, region=GO) == PlaceReading(
        place=df(district), query=typed, source="district"
    )


@pytest.mark.parametrize(
    ("typed", "others"),
    [
        ("Taguatinga", ["Taguatinga/TO"]),
        ("Santa Maria", ["Santa Maria do Tocantins/TO", "Santa Maria/RN", "Santa Maria/RS"]),
        ("Sobradinho", ["Sobradinho/BA", "Sobradinho/RS"]),
        ("Planaltina", ["Planaltina/GO"]),
        ("Guará", ["Guará/SP"]),
        ("Cruzeiro", ["Cruzeiro/SP"]),
        ("São Sebastião", ["São Sebastião do Tocantins/TO", "São Sebastião/AL", "São Sebastião/SP"]),
        ("Varjão", ["Varjão/GO", "Varjão de Minas/MG"]),
    ],
    ids=lambda value: value if isinstance(value, str) else "",
)
def test_df_region_that_is_also_a_town_elsewhere_gives_options_with_the_df_first(typed, others):
    reading = read_place(typed, region=GO)
    assert reading.place is None
    assert labels(reading) == [f"Brasília/DF ({typed})", *others]


@pytest.mark.parametrize(
    "typed", ["Ceilândia", "ceilandia", "Ceilandia DF", "Seilandia", "Ceilandya", "ceilandiaa"], ids=str
)
def test_ceilandia_is_never_read_as_acailandia(typed):
    for region in (GO, (), region_ufs("MA")):
        reading = read_place(typed, region=region)
        assert [p.city.uf for p in found(reading)] == ["DF"]


def test_ceilandia_typo_is_settled_but_marked_unsure():
    reading = read_place("Seilandia", region=GO)
    assert reading.place == df("Ceilândia")
    assert reading.unsure


@pytest.mark.parametrize(
    "typed",
    [
        "Ceilândia, Brasília - DF",
        "QNM 10 conjunto A casa 5, Ceilândia Norte, Brasília DF",
        "Eu sou de Brasília, Ceilândia",
        "moro no DF, em Ceilândia",
        "Ceilandia - Brasilia/DF",
    ],
    ids=str,
)
def test_brasilia_with_a_region_named_elsewhere_in_the_text_keeps_the_region(typed):
    assert read_place(typed, region=GO).place == df("Ceilândia")


def test_address_in_the_plano_piloto_keeps_the_region():
    reading = read_place("SQS 308 Bloco A, Asa Sul, Brasília-DF, 70355-010", region=GO)
    assert reading.place == df("Plano Piloto")
    assert not reading.unsure


# --------------------------------------------------------------------------
# An explicit UF is always respected
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("Taguatinga TO", at("Taguatinga", "TO")),
        ("Taguatinga (TO)", at("Taguatinga", "TO")),
        ("Taguatinga - Tocantins", at("Taguatinga", "TO")),
        ("Taguatinga/DF", df("Taguatinga")),
        ("Taguatinga, DF", df("Taguatinga")),
        ("Santa Maria DF", df("Santa Maria")),
        ("santa maria - df", df("Santa Maria")),
        ("Santa Maria RS", at("Santa Maria", "RS")),
        ("Santa Maria, Rio Grande do Sul", at("Santa Maria", "RS")),
        ("Planaltina GO", at("Planaltina", "GO")),
        ("Planaltina DF", df("Planaltina")),
        ("Sobradinho BA", at("Sobradinho", "BA")),
        ("Cruzeiro SP", at("Cruzeiro", "SP")),
        ("Valparaíso GO", at("Valparaíso de Goiás", "GO")),
        ("Valparaiso SP", at("Valparaíso", "SP")),
        ("Goiânia/GO", at("Goiânia", "GO")),
        ("Goiânia - GO", at("Goiânia", "GO")),
        ("Goiânia, GO", at("Goiânia", "GO")),
        ("Goiânia (GO)", at("Goiânia", "GO")),
        ("goiânia-go", at("Goiânia", "GO")),
        ("Anápolis, Goiás", at("Anápolis", "GO")),
        ("Goiânia em Goiás", at("Goiânia", "GO")),
        ("cidade de Anápolis no estado de Goiás", at("Anápolis", "GO")),
        ("Campo Grande MS", at("Campo Grande", "MS")),
        ("Uberlândia, Minas", at("Uberlândia", "MG")),
        ("Bom Jesus GO", at("Bom Jesus de Goiás", "GO")),
        ("São Sebastião SP", at("São Sebastião", "SP")),
    ],
    ids=lambda value: value if isinstance(value, str) else "",
)
def test_explicit_uf_settles_the_place_in_that_uf(typed, expected):
    reading = read_place(typed, region=GO)
    assert reading.place == expected
    assert not reading.unsure


@pytest.mark.parametrize("typed", ["Goiânia TO", "Valparaíso DF", "Gama GO", "Ceilândia SP"], ids=str)
def test_typed_uf_without_that_name_never_yields_a_place_elsewhere(typed):
    uf = typed.split()[-1]
    assert all(p.city.uf == uf for p in found(read_place(typed, region=GO)))


def test_a_name_that_merely_ends_like_a_uf_is_still_the_name():
    # "Sé" is also the code of Sergipe.
    assert read_place("Sento Sé").place == at("Sento Sé", "BA")


@pytest.mark.parametrize("typed", ["Tocantins", "Mato Grosso", "Paraná", "interior de Goiás", "interior de São Paulo"])
def test_a_state_is_not_read_as_a_town_of_another_state(typed):
    reading = read_place(typed, region=GO)
    assert found(reading) == []


def test_goias_alone_is_the_old_capital_but_confirmed_first():
    reading = read_place("Goiás", region=GO)
    assert reading.place == at("Goiás", "GO")
    assert reading.unsure


# --------------------------------------------------------------------------
# Nicknames and short names
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("BH", at("Belo Horizonte", "MG")),
        ("Beagá", at("Belo Horizonte", "MG")),
        ("eu moro em bh", at("Belo Horizonte", "MG")),
        ("Floripa", at("Florianópolis", "SC")),
        ("sou de floripa", at("Florianópolis", "SC")),
        ("Sampa", at("São Paulo", "SP")),
        ("LEM", at("Luís Eduardo Magalhães", "BA")),
        ("moro em LEM, na Bahia", at("Luís Eduardo Magalhães", "BA")),
        ("BSB", at("Brasília", "DF")),
        ("Gyn", at("Goiânia", "GO")),
        ("Jampa", at("João Pessoa", "PB")),
        ("Udi", at("Uberlândia", "MG")),
        ("Valpa", at("Valparaíso de Goiás", "GO")),
        ("CG MS", at("Campo Grande", "MS")),
        ("Cidade de Goiás", at("Goiás", "GO")),
    ],
    ids=lambda value: value if isinstance(value, str) else "",
)
def test_clear_nickname_settles_the_city(typed, expected):
    reading = read_place(typed, region=GO)
    assert reading.place == expected
    assert not reading.unsure


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("Rio", at("Rio de Janeiro", "RJ")),
        ("Embu", at("Embu das Artes", "SP")),
        ("JP", at("João Pessoa", "PB")),
        ("SP", at("São Paulo", "SP")),
        ("sou do DF", at("Brasília", "DF")),
        ("Lucas", at("Lucas do Rio Verde", "MT")),
    ],
    ids=lambda value: value if isinstance(value, str) else "",
)
def test_nickname_that_could_be_misread_is_marked_unsure(typed, expected):
    reading = read_place(typed, region=GO)
    assert reading.place == expected
    assert reading.unsure


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("POA", ["Porto Alegre/RS", "Poá/SP"]),
        ("Ribeirão", ["Ribeirão Preto/SP", "Ribeirão/PE"]),
        ("Aparecida", ["Aparecida de Goiânia/GO", "Aparecida/PB", "Aparecida/SP"]),
    ],
    ids=lambda value: value if isinstance(value, str) else "",
)
def test_nickname_that_is_also_an_official_name_gives_options(typed, expected):
    assert labels(read_place(typed, region=GO)) == expected


def test_ambiguous_porto_and_cg_are_not_nicknames():
    assert read_place("Porto").place == at("Porto", "PI")
    assert found(read_place("CG")) == []


@pytest.mark.parametrize(
    ("typed", "expected"),
    [("Poá", at("Poá", "SP")), ("Itapoá", at("Itapoá", "SC")), ("Itapoã", df("Itapoã"))],
    ids=lambda value: value if isinstance(value, str) else "",
)
def test_accent_that_tells_two_places_apart_decides(typed, expected):
    assert read_place(typed, region=GO).place == expected


def test_nicknames_point_to_real_municipalities():
    names = {(c.name, c.uf) for c in load_cities()}
    assert all((nick.name, nick.uf) in names for nick in NICKNAMES.values())


@pytest.mark.parametrize(
    ("typed", "region", "expected"),
    [
        ("Valparaíso", GO, ["Valparaíso de Goiás/GO", "Valparaíso/SP"]),
        ("Valparaíso", region_ufs("DF"), ["Valparaíso de Goiás/GO", "Valparaíso/SP"]),
        ("Alto Paraíso", GO, ["Alto Paraíso de Goiás/GO", "Alto Paraíso/PR", "Alto Paraíso/RO"]),
    ],
    ids=["valparaiso near goias", "valparaiso near the df", "alto paraiso"],
)
def test_short_name_near_the_event_joins_the_options_first(typed, region, expected):
    assert labels(read_place(typed, region=region)) == expected


def test_short_name_far_from_the_event_does_not_crowd_the_options():
    assert read_place("Valparaíso", region=region_ufs("SP")).place == at("Valparaíso", "SP")


def test_short_name_alone_settles_the_town():
    reading = read_place("Águas Lindas", region=GO)
    assert reading.place == at("Águas Lindas de Goiás", "GO")
    assert not reading.unsure


# --------------------------------------------------------------------------
# Lead-ins, noise and addresses
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("moro em Goiânia", at("Goiânia", "GO")),
        ("eu moro no Setor Bueno em Goiânia", at("Goiânia", "GO")),
        ("sou de Goiânia mesmo", at("Goiânia", "GO")),
        ("Goiânia capital", at("Goiânia", "GO")),
        ("Goiânia capital mesmo, obrigada!", at("Goiânia", "GO")),
        ("Goiânia 😊", at("Goiânia", "GO")),
        ("Oi, boa tarde! Moro em Goiânia", at("Goiânia", "GO")),
        ("sou da cidade de Anápolis", at("Anápolis", "GO")),
        ("cidade: Jataí", at("Jataí", "GO")),
        ("minha cidade é Catalão", at("Catalão", "GO")),
        ("zona rural de Sorriso", at("Sorriso", "MT")),
        ("área rural de Cristalina", at("Cristalina", "GO")),
        ("moro na fazenda perto de Rio Verde", at("Rio Verde", "GO")),
        ("Fazenda Santa Fé, Rio Verde", at("Rio Verde", "GO")),
        ("perto de Luziânia", at("Luziânia", "GO")),
        ("próximo a Formosa", at("Formosa", "GO")),
        ("sítio em Pirenópolis", at("Pirenópolis", "GO")),
        ("distrito de Jataí", at("Jataí", "GO")),
        ("município de Mineiros", at("Mineiros", "GO")),
        ("aqui em Goiânia", at("Goiânia", "GO")),
        ("moro em Aparecida de Goiânia", at("Aparecida de Goiânia", "GO")),
        ("moro em Cidade Ocidental", at("Cidade Ocidental", "GO")),
        ("moro em Goiânia mas trabalho em Anápolis", at("Goiânia", "GO")),
        ("Sto Antônio do Descoberto", at("Santo Antônio do Descoberto", "GO")),
        ("Sen. Canedo", at("Senador Canedo", "GO")),
        ("Parati", at("Paraty", "RJ")),
    ],
    ids=lambda value: value if isinstance(value, str) else "",
)
def test_lead_ins_and_noise_are_dropped(typed, expected):
    reading = read_place(typed, region=GO)
    assert reading.place == expected
    assert not reading.unsure


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("Rua 10, nº 200, Setor Oeste, Goiânia - GO, 74000-000", at("Goiânia", "GO")),
        ("Av. Brasil 1000 centro Rio Verde GO", at("Rio Verde", "GO")),
        ("Rua 3 Qd 5 Lt 7 Jardim América Goiânia GO 74000000", at("Goiânia", "GO")),
        ("Rodovia GO-060 km 10, Trindade GO", at("Trindade", "GO")),
        ("Fazenda Boa Esperança, zona rural de Rio Verde - GO", at("Rio Verde", "GO")),
        ("Av. Paulista 1000, São Paulo - SP, 01310-100", at("São Paulo", "SP")),
        ("Rua XV de Novembro, 50, Centro, Curitiba/PR", at("Curitiba", "PR")),
        ("Chácara 12, Núcleo Rural, Sobradinho DF", df("Sobradinho")),
    ],
    ids=lambda value: value if isinstance(value, str) else "",
)
def test_city_followed_by_its_uf_is_found_inside_an_address(typed, expected):
    reading = read_place(typed, region=GO)
    assert reading.place == expected
    assert not reading.unsure


def test_city_named_in_an_address_without_uf_is_confirmed_first():
    reading = read_place("Goiânia setor Bueno", region=GO)
    assert reading.place == at("Goiânia", "GO")
    assert reading.unsure


def test_capital_is_read_as_the_event_states_capital_and_confirmed():
    reading = read_place("moro na capital", region=GO)
    assert reading.place == at("Goiânia", "GO")
    assert reading.unsure
    assert found(read_place("moro na capital")) == []


# --------------------------------------------------------------------------
# Typos, ranked toward the event's region
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "expected"),
    [("anaplis", at("Anápolis", "GO")), ("Rio Verdi", at("Rio Verde", "GO"))],
    ids=lambda value: value if isinstance(value, str) else "",
)
def test_small_typo_settles_the_city_but_marks_it_unsure(typed, expected):
    reading = read_place(typed, region=GO)
    assert reading.place == expected
    assert reading.unsure
    assert reading.source == "typo"


@pytest.mark.parametrize(
    ("typed", "near", "far"),
    [
        ("inapolis", at("Anápolis", "GO"), at("Itápolis", "SP")),
        ("eurilandia", at("Aurilândia", "GO"), at("Turilândia", "MA")),
    ],
    ids=["inapolis", "eurilandia"],
)
def test_equally_close_typo_prefers_the_town_in_the_events_region(typed, near, far):
    assert read_place(typed, region=GO).suggestion == near
    assert read_place(typed).suggestion == far


def test_typo_of_a_name_shared_by_several_places_asks_which():
    assert labels(read_place("Sobradino", region=GO)) == [
        "Brasília/DF (Sobradinho)",
        "Sobradinho/BA",
        "Sobradinho/RS",
    ]


def test_query_holds_the_cleaned_text_for_the_not_found_message():
    reading = read_place("moro em Xyzópolis", region=GO)
    assert found(reading) == []
    assert reading.query == "Xyzópolis"
    assert read_place("moro na fazenda perto de Rio Verd", region=GO).query == "Rio Verd"


# --------------------------------------------------------------------------
# Not a place
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "typed",
    [
        "oi",
        "Olá, tudo bem?",
        "Bom dia, tudo bom?",
        "sim",
        "não",
        "não sei",
        "prefiro não dizer",
        "obrigado",
        "Qual o horário do evento?",
        "Quanto custa a inscrição para estudante?",
        "Gostaria de saber se tem certificado",
        "meu email é joao.silva@hotmail.com",
        "joao.silva@hotmail.com",
        "123.456.789-09",
        "(62) 99999-0000",
        "Maria da Silva",
        "Sou produtor rural",
        "moro em um sítio",
        "eu moro aqui",
        "https://congresso.example/inscricao",
        "🙂🙂",
        "",
        "   ",
        "asdfgh",
    ],
    ids=repr,
)
def test_text_that_is_not_a_place_gives_an_empty_reading(typed):
    reading = read_place(typed, region=GO)
    assert found(reading) == []
    assert not reading.unsure


@pytest.mark.parametrize("typed", ["oi", "não sei", "obrigado", "joao.silva@hotmail.com", ""], ids=repr)
def test_greetings_and_data_leave_nothing_to_search(typed):
    assert read_place(typed, region=GO) == PlaceReading()


def test_long_text_is_read_quickly_and_only_for_city_and_uf():
    read_place("Goiânia", region=GO)  # build the indexes
    chatter = ("Quero saber sobre o congresso e a programação do evento " * 80)[:4000]
    address = chatter[:3980] + " Goiânia - GO"
    start = time.perf_counter()
    for _ in range(10):
        assert read_place(chatter, region=GO) == PlaceReading()
        assert read_place(address, region=GO).place == at("Goiânia", "GO")
    per_call = (time.perf_counter() - start) / 20
    assert per_call < 0.05


# --------------------------------------------------------------------------
# Properties
# --------------------------------------------------------------------------

_NAMES = sorted({c.name for c in load_cities()} | set(DF_REGIONS) | set(NICKNAMES))
_SEPARATORS = ["/", " - ", " ", ", ", "-", " (", ", estado de ", " no estado de ", " em "]
_REGIONS = [(), GO, region_ufs("SP"), region_ufs("DF"), ("xx", "go")]


@prop(max_examples=400)
@given(text=st.text(max_size=300), region=st.sampled_from(_REGIONS))
def test_read_place_never_raises_and_keeps_its_shape(text, region):
    reading = read_place(text, region=region)
    assert sum(bool(x) for x in (reading.place, reading.options, reading.suggestion)) <= 1
    assert len(reading.options) != 1 and len(reading.options) <= 8
    assert not reading.unsure or reading.place is not None


@prop(max_examples=600)
@example(name="JI", separator="/", uf="PR", spelled_out=True, region=())
@example(name="Santa Maria", separator=" ", uf="DF", spelled_out=False, region=GO)
@given(
    name=st.one_of(st.sampled_from(_NAMES), st.text(min_size=1, max_size=30)),
    separator=st.sampled_from(_SEPARATORS),
    uf=st.sampled_from(sorted(UF_NAMES)),
    spelled_out=st.booleans(),
    region=st.sampled_from(_REGIONS),
)
def test_read_place_never_returns_a_place_outside_the_uf_typed(name, separator, uf, spelled_out, region):
    state = UF_NAMES[uf] if spelled_out else uf
    text = f"{name}{separator}{state}{')' if separator == ' (' else ''}"
    if separator in (" ", "-"):
        # Without a separator, a whole official name wins: "Ji-Paraná" is in RO.
        matched = match_city(text)
        assume(not (matched.city or matched.candidates) or matched.fuzzy)
    reading = read_place(text, region=region)
    assert all(place.city.uf == uf for place in found(reading)), (text, reading)


@pytest.mark.parametrize(
    ("typed", "expected"),
    [("Ji-Paraná", at("Ji-Paraná", "RO")), ("Ji/Paraná", None), ("Sento Sé", at("Sento Sé", "BA")), ("Sento, SE", None)],
    ids=["ji-parana", "ji slash parana", "sento se", "sento comma se"],
)
def test_a_separator_tells_a_uf_from_the_end_of_a_name(typed, expected):
    assert read_place(typed).place == expected
