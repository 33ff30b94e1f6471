"""Small factories for tests (plain functions, no extra library)."""

from __future__ import annotations

import datetime as dt
import itertools
import random

from django.utils import timezone

from chatbot.models import Event, Profile
from registrations.models import Participant

_seq = itertools.count(1)


def cpf_check_digits(nine: str) -> str:
    digits = [int(c) for c in nine]
    for length in (9, 10):
        total = sum(d * w for d, w in zip(digits, range(length + 1, 1, -1), strict=False))
        rest = (total * 10) % 11
        digits.append(0 if rest == 10 else rest)
    return "".join(str(d) for d in digits[9:])


def make_cpf(nine: str | None = None) -> str:
    """A valid CPF (11 digits); random unless the first nine digits are given."""
    while nine is None or len(set(nine)) == 1:
        nine = f"{random.randrange(10**9):09d}"
    return nine + cpf_check_digits(nine)


def make_event(**overrides) -> Event:
    defaults = dict(
        name="Congresso de Teste do Agro",
        edition="2027",
        starts_on=dt.date(2027, 3, 10),
        ends_on=dt.date(2027, 3, 12),
        venue="Centro de Eventos",
        address="Av. Teste, 100",
        city="Londrina",
        uf="PR",
        contact_email="contato@congresso.test",
        contact_whatsapp="(43) 99999-0000",
    )
    defaults.update(overrides)
    Event.objects.filter(is_active=True).update(is_active=False)
    return Event.objects.create(**defaults)


def make_profile(event: Event | None = None, name: str = "Produtor rural", **extra) -> Profile:
    event = event or Event.objects.filter(is_active=True).first() or make_event()
    profile, _ = Profile.objects.get_or_create(event=event, name=name, defaults=extra)
    return profile


def make_participant(**overrides) -> Participant:
    n = next(_seq)
    defaults = dict(
        full_name=f"Participante Teste {n}",
        email=f"participante{n}@example.com",
        cpf=make_cpf(),
        phone=f"+55619{n:08d}"[:14],
        city="Londrina",
        uf="PR",
        consent_at=timezone.now(),
        consent_version="2026-11",
    )
    defaults.update(overrides)
    if "profile" not in defaults:
        defaults["profile"] = make_profile()
    return Participant.objects.create(**defaults)
