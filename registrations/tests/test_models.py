"""Database-level uniqueness of participants (real PostgreSQL)."""

from __future__ import annotations

import threading

import pytest
from django.db import DataError, IntegrityError, connection, transaction

from congress.testing.factories import make_cpf, make_participant, make_profile
from registrations.models import Participant

pytestmark = pytest.mark.django_db


def test_the_same_email_in_another_case_is_refused_by_the_database():
    make_participant(email="maria@example.com")
    with pytest.raises(IntegrityError), transaction.atomic():
        make_participant(email="MARIA@Example.COM")


def test_the_same_cpf_is_refused_by_the_database():
    cpf = make_cpf()
    make_participant(cpf=cpf)
    with pytest.raises(IntegrityError), transaction.atomic():
        make_participant(cpf=cpf)


@pytest.mark.parametrize("cpf", ["1234567890", "123456789012", "123.456.789", "abcdefghijk"], ids=["10", "12", "punct", "letters"])
def test_a_cpf_that_is_not_eleven_digits_is_refused_by_the_database(cpf):
    with pytest.raises((IntegrityError, DataError)), transaction.atomic():
        make_participant(cpf=cpf)


@pytest.mark.django_db(transaction=True)
def test_concurrent_inserts_of_one_cpf_leave_exactly_one_participant():
    profile = make_profile()
    cpf = make_cpf()
    barrier = threading.Barrier(6)
    outcomes: list[str] = []

    def insert(i: int) -> None:
        try:
            barrier.wait()
            make_participant(cpf=cpf, email=f"racer{i}@example.com", profile=profile)
            outcomes.append("created")
        except IntegrityError:
            outcomes.append("refused")
        finally:
            connection.close()

    threads = [threading.Thread(target=insert, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["created"] + ["refused"] * 5
    assert Participant.objects.filter(cpf=cpf).count() == 1
