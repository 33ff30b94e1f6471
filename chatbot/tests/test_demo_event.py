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


def snapshot(event: Event) -> dict:
    """Every stored value of an event and its knowledge, to compare before and after."""
    event.refresh_from_db()
    fields = {field.attname: getattr(event, field.attname) for field in Event._meta.concrete_fields}
    related = {
        model.__name__: sorted(
            tuple(sorted(row.items())) for row in model.objects.filter(event=event).values()
        )
        for model in (TicketCategory, Profile, FAQEntry, ProgrammeSession)
    }
    return {"event": fields, **related}


@pytest.fixture
def organizer_event() -> Event:
    """An organizer's own event, with knowledge edited in the admin."""
    event = make_event(name="Congresso Mineiro do Café", edition="2026", registration_open=False)
    Profile.objects.create(event=event, name="Cafeicultor", keywords="café, cafeicultor", order=0)
    FAQEntry.objects.create(
        event=event, question="Tem estacionamento no local?", answer="Sim, gratuito.", keywords="estacionamento"
    )
    TicketCategory.objects.create(event=event, name="Inteira", price="150.00")
    return event


def test_an_organizers_event_is_left_untouched(organizer_event):
    before = snapshot(organizer_event)
    load()
    assert snapshot(organizer_event) == before
    assert Event.objects.count() == 1
    assert counts() == {"Event": 1, "TicketCategory": 1, "Profile": 1, "FAQEntry": 1, "ProgrammeSession": 0}


def test_an_inactive_organizers_event_also_keeps_the_demo_out(organizer_event):
    Event.objects.filter(pk=organizer_event.pk).update(is_active=False)
    before = snapshot(organizer_event)
    load()
    assert snapshot(organizer_event) == before
    assert not Event.objects.filter(is_active=True).exists()


def test_it_says_that_nothing_was_changed_when_an_organizers_event_exists(organizer_event):
    output = load()
    assert "An event already exists (Congresso Mineiro do Café 2026); nothing was changed." in output
    assert "Created" not in output


def test_running_it_again_keeps_an_edit_to_the_demo_event():
    # Once loaded, the demo may be the organizers' starting point: their
    # edits are theirs.
    load()
    faq = FAQEntry.objects.get(question="Tem estacionamento no local?")
    faq.answer = "editado"
    faq.save()
    event = Event.objects.get()
    before = snapshot(event)
    output = load()
    assert snapshot(event) == before
    assert "already loaded; nothing was changed" in output


def test_the_first_run_says_what_it_created():
    assert load().startswith("Created Congresso Brasileiro do Agro Sustentável CBAS 2027:")


def test_the_command_exits_zero_on_a_database_with_an_organizers_event(tmp_path):
    # The way `make run` calls it: a real process on a real database file.
    from congress.tests.test_health import run_django

    code = (
        "import datetime as dt\n"
        "from django.core.management import call_command\n"
        "from chatbot.models import Event\n"
        "call_command('migrate', verbosity=0)\n"
        "Event.objects.create(name='Meu Congresso', starts_on=dt.date(2027, 1, 1), ends_on=dt.date(2027, 1, 2),\n"
        "                     venue='V', address='A', city='Goiânia', uf='GO')\n"
        "call_command('load_demo_event')\n"
        "print(Event.objects.count(), Event.objects.get().name)\n"
    )
    result = run_django(code, DATABASE_URL=f"sqlite:///{tmp_path / 'real.sqlite3'}")
    assert result.returncode == 0, result.stderr[-2000:]
    assert "nothing was changed" in result.stdout
    assert result.stdout.strip().splitlines()[-1] == "1 Meu Congresso"


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
