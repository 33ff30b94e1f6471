"""The admin search ignores accents and case on PostgreSQL and SQLite alike.

The database-backed tests run on whatever DATABASE_URL points at; run this
file once with ``DATABASE_URL=sqlite:////tmp/search.sqlite3`` to check SQLite.
"""

from __future__ import annotations

import pytest

from congress.testing.factories import make_cpf, make_participant
from registrations.filters import filter_participants, search_q
from registrations.models import Participant, participant_search_text


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"full_name": "Maria da Conceição"}, "maria da conceicao"),
        ({"full_name": "JOSÉ  Antônio"}, "jose antonio"),
        ({"full_name": "Ana", "email": "Ana@Example.com"}, "ana ana@example.com"),
        ({"full_name": "Ana", "city": "São João d'Aliança", "district": ""}, "ana sao joao d'alianca"),
        ({"full_name": "Bia", "city": "Brasília", "district": "Ceilândia"}, "bia brasilia ceilandia"),
        ({"full_name": "[apagado]", "email": None}, "[apagado]"),
    ],
    ids=["cedilla-tilde", "upper-double-space", "email", "apostrophe", "district", "no-email"],
)
def test_search_text_is_lower_case_without_accents(fields, expected):
    assert participant_search_text(**fields) == expected


@pytest.mark.django_db
def test_search_text_never_holds_the_cpf_or_the_phone():
    participant = make_participant(
        full_name="Ana", email="ana@example.com", cpf=make_cpf("123456789"), phone="+5561999990000"
    )
    participant.refresh_from_db()
    assert participant.search_text == "ana ana@example.com londrina"


@pytest.fixture
def people(db):
    return {
        "conceicao": make_participant(full_name="Maria da Conceição", city="Goiânia", uf="GO"),
        "jose": make_participant(full_name="José Antônio Silva"),
        "joao": make_participant(full_name="JOÃO PEDRO", email="Joao.Pedro@Example.com"),
    }


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("typed", "who"),
    [
        ("conceicao", {"conceicao"}),
        ("CONCEIÇÃO", {"conceicao"}),
        ("JOSE", {"jose"}),
        ("josé silva", {"jose"}),
        ("joao pedro", {"joao"}),
        ("joao.pedro@example", {"joao"}),
        ("goiania", {"conceicao"}),
        ("ninguém", set()),
    ],
    ids=["no-accents", "upper-accents", "upper", "two-words", "lower", "email", "city", "nobody"],
)
def test_search_ignores_accents_and_case(people, typed, who):
    found = set(Participant.objects.filter(search_q(typed)).values_list("pk", flat=True))
    assert found == {people[name].pk for name in who}


@pytest.mark.django_db
def test_search_text_follows_a_partial_save(people):
    participant = people["jose"]
    participant.full_name = "Zélia Gonçalves"
    participant.save(update_fields=["full_name"])
    assert set(filter_participants(search="zelia goncalves")) == {participant}


@pytest.mark.django_db
def test_a_cpf_matches_partially_only_for_who_sees_it_in_full():
    participant = make_participant(cpf=make_cpf("123456789"))
    assert set(Participant.objects.filter(search_q("12345"))) == {participant}
    assert set(Participant.objects.filter(search_q("12345", full_cpf=False))) == set()
    assert set(Participant.objects.filter(search_q(participant.cpf_formatted, full_cpf=False))) == {participant}


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("stored", "typed"),
    [("Ma\u200bria Souza", "maria"), ("Maria Souza", "ma\u200bria"), ("Jo\u00adão\u2060 Lima", "joao lima")],
    ids=["stored", "typed", "soft-hyphen-and-word-joiner"],
)
def test_search_ignores_zero_width_characters(stored, typed):
    target = make_participant(full_name=stored)
    make_participant(full_name="Outra Pessoa")
    assert set(Participant.objects.filter(search_q(typed))) == {target}


@pytest.mark.django_db
def test_the_migration_refolds_rows_stored_with_zero_width_characters():
    import importlib

    from django.apps import apps
    from django.db import connection

    migration = importlib.import_module("registrations.migrations.0009_participant_search_text_refold")
    participant = make_participant(full_name="Ma\u200bria Souza")
    untouched = make_participant(full_name="Ana Lima")
    expected = participant.search_text
    assert expected.startswith("maria souza ")
    # As the previous fold stored it.
    Participant.objects.filter(pk=participant.pk).update(search_text="ma\u200b" + expected[2:])
    with connection.schema_editor() as editor:
        migration.refold(apps, editor)
    participant.refresh_from_db()
    assert participant.search_text == expected
    assert Participant.objects.get(pk=untouched.pk).search_text == untouched.search_text
