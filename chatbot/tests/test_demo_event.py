"""The load_demo_event command."""

from __future__ import annotations

import datetime as dt
import io
import re

import pytest
from django.core.management import call_command
from django.utils import timezone

from chatbot.knowledge import format_price
from chatbot.management.commands.load_demo_event import second_lot_from
from chatbot.models import Event, FAQEntry, Profile, ProgrammeSession, TicketCategory, TicketLot
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
        for model in (Event, TicketCategory, TicketLot, TicketCategory.profiles.through, Profile, FAQEntry, ProgrammeSession)
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


def _rows(queryset) -> list:
    return sorted((tuple(sorted(row.items())) for row in queryset.values()), key=repr)


def snapshot(event: Event) -> dict:
    """Every stored value of an event and its knowledge, to compare before and after."""
    event.refresh_from_db()
    fields = {field.attname: getattr(event, field.attname) for field in Event._meta.concrete_fields}
    related = {
        model.__name__: _rows(model.objects.filter(event=event))
        for model in (TicketCategory, Profile, FAQEntry, ProgrammeSession)
    }
    related["TicketLot"] = _rows(TicketLot.objects.filter(category__event=event))
    related["ticket profiles"] = _rows(TicketCategory.profiles.through.objects.filter(ticketcategory__event=event))
    return {"event": fields, **related}


@pytest.fixture
def organizer_event() -> Event:
    """An organizer's own event, with knowledge edited in the admin."""
    event = make_event(name="Congresso Mineiro do Café", edition="2026", registration_open=False)
    Profile.objects.create(event=event, name="Cafeicultor", keywords="café, cafeicultor", order=0)
    FAQEntry.objects.create(
        event=event, question="Tem estacionamento no local?", answer="Sim, gratuito.", keywords="estacionamento"
    )
    ticket = TicketCategory.objects.create(event=event, name="Inteira", price="150.00")
    TicketLot.objects.create(category=ticket, name="Lote único", price="120.00")
    ticket.profiles.add(event.profiles.get())
    return event


def test_an_organizers_event_is_left_untouched(organizer_event):
    before = snapshot(organizer_event)
    load()
    assert snapshot(organizer_event) == before
    assert Event.objects.count() == 1
    assert counts() == {
        "Event": 1,
        "TicketCategory": 1,
        "TicketLot": 1,
        "TicketCategory_profiles": 1,
        "Profile": 1,
        "FAQEntry": 1,
        "ProgrammeSession": 0,
    }


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
    # Payment happens in the chat (Pix "copia e cola"); no payment link is
    # e-mailed, and no card, boleto or instalments exist.
    load()
    for faq in FAQEntry.objects.all():
        answer = faq.answer.lower()
        assert "link de pagamento chega" not in answer
        assert "com o link de pagamento" not in answer
        assert "não recebo pagamentos" not in answer
        promise = r"(?<!não )\b(envia|enviamos|manda|mandamos|recebe|receber[áa]?) (o |um )?link de pagamento"
        assert not re.search(promise, answer), faq.question


def test_the_payment_entry_describes_pix_in_the_chat_its_deadline_and_the_receipt():
    load()
    answer = FAQEntry.objects.get(question="Quais são as formas de pagamento?").answer
    assert "*Pix*, aqui mesmo no chat" in answer
    assert "Pix copia e cola" in answer and "QR code" in answer
    assert "não mandamos link de pagamento por e-mail" in answer
    assert "*72h*" in answer and "24h antes" in answer
    assert "já paguei" in answer and "comprovante" in answer
    assert "código de inscrição" in answer


def test_the_faq_quotes_this_installations_deadlines(settings):
    settings.PAYMENT_EXPIRY_HOURS = 48
    settings.PAYMENT_REMINDER_HOURS = 12
    settings.WAITLIST_CLAIM_HOURS = 6
    settings.REGISTRATION_CODE_PREFIX = "CMC"
    load()
    answers = {faq.question: faq.answer for faq in FAQEntry.objects.all()}
    assert "*48h*" in answers["Quais são as formas de pagamento?"]
    assert "12h antes" in answers["Quais são as formas de pagamento?"]
    assert "prazo de 48h" in answers["Como faço minha inscrição?"]
    assert "6h para responder *sim*" in answers["Ainda tem vagas?"]
    assert "CMC-7F3K2" in answers["Como funciona o credenciamento?"]
    assert "72h" not in " ".join(answers.values())


@pytest.mark.parametrize(
    ("question", "fragments"),
    [
        ("Como faço minha inscrição?", ["quero me inscrever", "Pix copia e cola", "gratuita é confirmada na hora"]),
        ("Ainda tem vagas?", ["*lista de espera*", "responder *sim*", "estudante, passe de um dia e visitante da feira"]),
        ("Estudante paga meia-entrada?", ["aqui no chat", "*foto ou o PDF*", "lista de espera"]),
        ("Como funciona o credenciamento?", ["*QR code* do e-mail de confirmação", "código de inscrição"]),
        ("Posso cancelar a inscrição e pedir reembolso?", ["a vaga é liberada", "lista de espera"]),
    ],
    ids=["registration", "waitlist", "student-proof", "credentialing-qr", "cancellation"],
)
def test_the_registration_entries_describe_what_the_chat_does(question, fragments):
    load()
    answer = FAQEntry.objects.get(question=question).answer
    for fragment in fragments:
        assert fragment in answer, (question, fragment)


def test_faq_answers_stay_whatsapp_sized():
    load()
    for faq in FAQEntry.objects.all():
        assert len(faq.answer) <= 600, (faq.question, len(faq.answer))


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
    # The FAQ quotes prices; they must be the categories' or their lots' own.
    load()
    amounts = [*TicketCategory.objects.values_list("price", flat=True), *TicketLot.objects.values_list("price", flat=True)]
    prices = {format_price(p) for p in amounts if p}
    for faq in FAQEntry.objects.all():
        for quoted in re.findall(r"R\$ \d+,\d{2}", faq.answer):
            if "estacionamento" not in faq.answer and "refeições" not in faq.answer:
                assert quoted in prices, (faq.question, quoted)


# --- ticket categories, their profiles, lots and seats -----------------------------


def test_every_profile_can_choose_a_category_and_some_choose_among_several():
    load()
    per_profile = {profile.name: list(profile.tickets.filter(active=True)) for profile in Profile.objects.all()}
    assert all(per_profile.values()), {name: len(tickets) for name, tickets in per_profile.items()}
    # One category fits: derived from the profile; several: the `asking_ticket` step.
    assert any(len(tickets) == 1 for tickets in per_profile.values())
    assert any(len(tickets) >= 2 for tickets in per_profile.values())
    assert [t.name for t in per_profile["Estudante"]] == ["Estudante (meia-entrada)"]


def test_every_category_lists_the_profiles_that_may_choose_it():
    load()
    for ticket in TicketCategory.objects.all():
        assert ticket.profiles.exists(), ticket.name


def test_the_student_category_asks_for_a_student_proof_and_has_a_seat_limit():
    load()
    student = TicketCategory.objects.get(name="Estudante (meia-entrada)")
    assert student.proof == TicketCategory.Proof.STUDENT
    assert student.capacity
    assert list(student.profiles.values_list("name", flat=True)) == ["Estudante"]


def test_some_categories_have_seat_limits_under_a_generous_event_capacity():
    load()
    event = Event.objects.get()
    limited = TicketCategory.objects.exclude(capacity=None)
    assert limited.exists() and TicketCategory.objects.filter(capacity=None).exists()
    assert event.capacity is not None and event.capacity > max(limited.values_list("capacity", flat=True))


def test_one_category_is_free_and_confirms_without_payment():
    load()
    free = TicketCategory.objects.filter(price=0)
    assert list(free.values_list("name", flat=True)) == ["Visitante da feira"]
    assert not TicketLot.objects.filter(category__in=free).exists()


def test_paid_categories_have_a_first_lot_until_a_date_before_the_event_and_a_second_after():
    load()
    event = Event.objects.get()
    switch = timezone.make_aware(dt.datetime.combine(dt.date(2027, 4, 1), dt.time.min))
    with_lots = TicketCategory.objects.filter(lots__isnull=False).distinct()
    assert with_lots.count() >= 3
    for ticket in with_lots:
        first, second = ticket.lots.all()
        assert (first.name, second.name) == ("1º lote", "2º lote")
        assert first.starts_at is None and first.ends_at == switch
        assert second.starts_at == switch and second.ends_at is None
        assert first.price < second.price == ticket.price
    assert timezone.localtime(switch).date() < event.starts_on


def test_the_lot_dates_and_the_faq_follow_the_event_start(monkeypatch):
    from chatbot.management.commands import load_demo_event as command

    monkeypatch.setitem(command.EVENT, "starts_on", dt.date(2028, 9, 20))
    monkeypatch.setitem(command.EVENT, "ends_on", dt.date(2028, 9, 22))
    load()
    lot = TicketLot.objects.get(category__name="Profissional", name="1º lote")
    assert timezone.localtime(lot.ends_at) == timezone.make_aware(dt.datetime(2028, 8, 11))
    answer = FAQEntry.objects.get(question="Até quando posso me inscrever?").answer
    assert "*10/08/2028*" in answer and "*11/08/2028*" in answer
    assert "(13/09/2028)" in FAQEntry.objects.get(question="Posso cancelar a inscrição e pedir reembolso?").answer


def test_the_deadline_entry_quotes_the_first_lots_last_day_and_price():
    load()
    answer = FAQEntry.objects.get(question="Até quando posso me inscrever?").answer
    first, second = TicketCategory.objects.get(name="Profissional").lots.all()
    last_day = timezone.localtime(first.ends_at).date() - dt.timedelta(days=1)
    assert f"*{last_day:%d/%m/%Y}*" in answer and f"*{second_lot_from(Event.objects.get().starts_on):%d/%m/%Y}*" in answer
    assert format_price(first.price) in answer and format_price(second.price) in answer


def test_the_parking_entry_does_not_claim_a_bare_vaga():
    # "tem vaga?" at an event asks about registration.
    load()
    keywords = [k.strip() for k in FAQEntry.objects.get(question="Tem estacionamento no local?").keywords.split(",")]
    assert "vaga" not in keywords


def test_the_demo_knowledge_quotes_the_current_lot_and_moves_to_the_second_after_its_day():
    from chatbot.knowledge import knowledge_documents

    load()
    event = Event.objects.get()
    march = {d.id: d.text for d in knowledge_documents(event, now=timezone.make_aware(dt.datetime(2027, 3, 31, 23)))}
    april = {d.id: d.text for d in knowledge_documents(event, now=timezone.make_aware(dt.datetime(2027, 4, 1, 0, 1)))}
    assert "• Profissional: R$ 480,00 (1º lote, inscrições até 31/03/2027); a partir de 01/04/2027, R$ 580,00" in march["event:tickets"]
    assert "• Profissional: R$ 580,00 (2º lote)" in april["event:tickets"]
    assert "R$ 480,00" not in april["event:tickets"]
    assert "• Visitante da feira: gratuito" in april["event:tickets"]
