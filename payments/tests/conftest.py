"""Fixtures for the payment tests: the registration tests' event, the fake PSP, gateway and SMTP."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from chatbot.models import TicketCategory, TicketLot
from payments.tests.fake_psp import fake_psp  # noqa: F401 - fixture
from registrations.tests.conftest import celery_eager, event, fake_smtp  # noqa: F401 - fixtures
from whatsapp.tests.conftest import fake_gateway, fast_retries  # noqa: F401 - fixtures

STATIC_KEY = "pix@congresso.example"


@pytest.fixture
def static_pix(settings):
    """Static Pix mode: a key, a merchant; no PSP."""
    settings.PIX_API_URL = ""
    settings.PIX_CLIENT_ID = ""
    settings.PIX_KEY = STATIC_KEY
    settings.PIX_MERCHANT_NAME = "Congresso Agro"
    settings.PIX_MERCHANT_CITY = "Londrina"
    settings.PUBLIC_BASE_URL = "https://congresso.example"


@pytest.fixture
def tickets(event):  # noqa: F811 - the imported fixture
    """The demo-like categories: two fit a rural producer (the ticket is asked), one fits an
    exhibitor (free: no ticket step), students need proof."""
    profiles = {profile.name: profile for profile in event.profiles.all()}
    rural = TicketCategory.objects.create(event=event, name="Produtor rural", price=Decimal("320.00"), order=1)
    rural.profiles.set([profiles["Produtor rural"]])
    day = TicketCategory.objects.create(event=event, name="Passe de um dia", price=Decimal("220.00"), order=2)
    day.profiles.set([profiles["Produtor rural"], profiles["Outro"]])
    pro = TicketCategory.objects.create(event=event, name="Profissional", price=Decimal("580.00"), order=3)
    pro.profiles.set([profiles["Pesquisador(a)/Professor(a)"], profiles["Consultor(a)/Técnico(a)"]])
    TicketLot.objects.create(
        category=pro, name="1º lote", price=Decimal("480.00"), order=1,
        ends_at=dt.datetime(2030, 1, 1, tzinfo=dt.UTC),
    )
    student = TicketCategory.objects.create(
        event=event, name="Estudante (meia)", price=Decimal("240.00"), order=4, proof=TicketCategory.Proof.STUDENT
    )
    student.profiles.set([profiles["Estudante"]])
    visitor = TicketCategory.objects.create(event=event, name="Visitante da feira", price=Decimal("0"), order=5)
    visitor.profiles.set([profiles["Empresa/Expositor"]])
    return {"rural": rural, "day": day, "pro": pro, "student": student, "visitor": visitor}
