"""The load_demo_event command."""

from __future__ import annotations

import io
import re

import pytest
from django.core.management import call_command

from chatbot.models import Event, FAQEntry, Profile, ProgrammeSession, TicketCategory
from congress.testing.factories import make_event

pytestmark = pytest.mark.django_db

PROFILE_NAMES = [
    "Produtor rural",
    "Pesquisador(a)/Professor(a)",
    "Estudante",
    "Empresa/Expositor",
    "Consultor(a)/Técnico(a)",
    "Outro",
]


def load() -> str:
    out = io.StringIO()
    call_command("load_demo_event", stdout=out)
    return out.getvalue()


def counts() -> dict[str, int]:
    return {
        model.__name__: model.objects.count()
        for model in (Event, TicketCategory, Profile, FAQEntry, ProgrammeSession)
    }


def test_the_demo_event_is_created_active_with_registration_open():
    load()
    event = Event.objects.get()
    assert event.is_active and event.registration_open
    assert event.edition == "CBAS 2027"
    assert (event.ends_on - event.starts_on).days == 2
    assert event.city == "Goiânia" and event.uf == "GO"
    assert event.contact_email and event.contact_whatsapp and event.website


def test_running_it_twice_changes_nothing():
    load()
    first = counts()
    load()
    assert counts() == first


def test_it_has_at_least_forty_sessions_across_three_days_and_several_rooms():
    load()
    sessions = ProgrammeSession.objects.all()
    assert sessions.count() >= 40
    assert sessions.values("day").distinct().count() == 3
    assert sessions.values("room").distinct().count() >= 4


def test_it_has_at_least_fifteen_faq_entries_with_keywords():
    load()
    faqs = FAQEntry.objects.filter(active=True)
    assert faqs.count() >= 15
    assert not faqs.filter(keywords="").exists()


def test_it_has_the_six_profiles_with_keywords_in_order():
    load()
    assert list(Profile.objects.values_list("name", flat=True)) == PROFILE_NAMES
    assert not Profile.objects.filter(keywords="").exists()


def test_it_has_ticket_categories_with_prices():
    load()
    assert TicketCategory.objects.count() >= 4
    assert TicketCategory.objects.filter(name__icontains="Estudante").exists()


def test_it_becomes_the_active_event_and_deactivates_another():
    other = make_event(name="Outro Congresso")
    output = load()
    other.refresh_from_db()
    assert not other.is_active
    assert Event.objects.get(is_active=True).edition == "CBAS 2027"
    assert "Deactivated 1" in output


def test_an_organizer_edit_is_restored_by_running_it_again():
    load()
    faq = FAQEntry.objects.get(question="Tem estacionamento no local?")
    faq.answer = "editado"
    faq.save()
    load()
    faq.refresh_from_db()
    assert faq.answer != "editado"


def test_the_faq_promises_nothing_the_product_does_not_do():
    # Registration happens in the chat and sends a confirmation e-mail; no
    # payment, payment link or QR code exists.
    load()
    for faq in FAQEntry.objects.all():
        answer = faq.answer.lower()
        assert "link de pagamento chega" not in answer
        assert "com o link de pagamento" not in answer
        assert "qr code do e-mail" not in answer


@pytest.mark.parametrize(
    "question",
    [
        "O que vocês fazem com os meus dados? Vocês vendem meus dados?",
        "Quem tem acesso aos meus dados?",
        "Como vejo, corrijo ou apago os meus dados?",
        "Posso transferir minha inscrição para outra pessoa?",
    ],
)
def test_it_answers_privacy_and_transfer_questions(question):
    load()
    assert FAQEntry.objects.get(question=question).keywords


def test_running_it_again_updates_an_entry_an_older_version_wrote():
    load()
    faq = FAQEntry.objects.get(question="Quais são as formas de pagamento?")
    faq.answer = "O link de pagamento chega por e-mail logo depois da inscrição."
    faq.save()
    load()
    faq.refresh_from_db()
    assert "não recebo pagamentos" in faq.answer


@pytest.mark.parametrize(
    ("question", "fragment"),
    [
        ("O evento é gratuito?", "Não."),
        ("Ainda tem vagas?", "quero me inscrever"),
        ("Tem meia-entrada ou desconto para idosos?", "fale com a organização"),
        ("Até quando posso me inscrever?", "31/03/2027"),
    ],
)
def test_it_answers_the_common_yes_no_questions_honestly(question, fragment):
    load()
    assert fragment in FAQEntry.objects.get(question=question).answer


def test_its_answers_agree_with_its_ticket_prices():
    # The FAQ quotes prices; they must be the ticket categories' own.
    load()
    prices = {f"R$ {p:.2f}".replace(".", ",") for p in TicketCategory.objects.values_list("price", flat=True) if p}
    for faq in FAQEntry.objects.all():
        for quoted in re.findall(r"R\$ \d+,\d{2}", faq.answer):
            if "estacionamento" not in faq.answer and "refeições" not in faq.answer:
                assert quoted in prices, (faq.question, quoted)


def test_the_parking_entry_does_not_claim_a_bare_vaga():
    # "tem vaga?" at an event asks about registration.
    load()
    keywords = [k.strip() for k in FAQEntry.objects.get(question="Tem estacionamento no local?").keywords.split(",")]
    assert "vaga" not in keywords
