"""The organizers' back-office: search, filters, export, audit trail."""

from __future__ import annotations

import csv
import io
import re

import pytest
from django.urls import reverse

from congress.testing.factories import make_cpf, make_participant
from registrations.models import ExportRecord, Participant, RegistrationEvent

pytestmark = pytest.mark.django_db
CHANGELIST = "/admin/registrations/participant/"
# The participant page's read-only inlines (payments, reviews, history) still post their management forms.
INLINE_MANAGEMENT = {
    f"{prefix}-{name}": "0" for prefix in ("payments", "reviews", "events") for name in ("TOTAL_FORMS", "INITIAL_FORMS")
}


@pytest.fixture
def cpf_participant():
    cpf = make_cpf("529982247")
    return make_participant(full_name="Joana Cpf", cpf=cpf)


@pytest.fixture
def other():
    return make_participant(full_name="Outra Pessoa")


@pytest.mark.parametrize("formatted", [True, False], ids=["formatted", "digits"])
def test_admin_finds_a_participant_by_cpf_typed_with_or_without_punctuation(admin_client, cpf_participant, other, formatted):
    term = cpf_participant.cpf_formatted if formatted else cpf_participant.cpf
    response = admin_client.get(CHANGELIST, {"q": term})
    assert response.status_code == 200
    results = list(response.context["cl"].result_list)
    assert results == [cpf_participant]


def test_admin_finds_a_participant_by_formatted_phone(admin_client, other):
    target = make_participant(full_name="Fone Certo", phone="+5543988887777")
    response = admin_client.get(CHANGELIST, {"q": "(43) 98888-7777"})
    assert list(response.context["cl"].result_list) == [target]


def test_admin_search_by_name_ignores_case(admin_client, cpf_participant, other):
    response = admin_client.get(CHANGELIST, {"q": "joana"})
    assert list(response.context["cl"].result_list) == [cpf_participant]


def test_admin_filters_by_uf(admin_client):
    sp = make_participant(uf="SP")
    make_participant(uf="PR")
    response = admin_client.get(CHANGELIST, {"uf": "SP"})
    assert list(response.context["cl"].result_list) == [sp]


def test_export_of_the_current_filters_contains_only_what_the_list_shows(admin_client):
    make_participant(uf="SP", full_name="Paulista")
    make_participant(uf="PR", full_name="Paranaense")
    response = admin_client.get(reverse("admin:registrations_participant_export"), {"uf": "SP"})
    assert response.status_code == 200
    text = b"".join(response.streaming_content).decode("utf-8")
    assert text.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(text[1:]), delimiter=";"))
    assert [r[0] for r in rows[1:]] == ["Paulista"]
    record = ExportRecord.objects.get()
    assert record.row_count == 1 and record.filters == "UF=SP" and record.format == "csv"


def test_export_action_on_the_selection(admin_client):
    chosen = make_participant(full_name="Escolhida")
    make_participant(full_name="Não Escolhida")
    response = admin_client.post(
        CHANGELIST, {"action": "export_selected_csv", "_selected_action": [chosen.pk]}
    )
    text = b"".join(response.streaming_content).decode("utf-8")
    rows = list(csv.reader(io.StringIO(text[1:]), delimiter=";"))
    assert [r[0] for r in rows[1:]] == ["Escolhida"]


def test_the_changelist_links_to_the_filtered_export(admin_client):
    make_participant()
    response = admin_client.get(CHANGELIST, {"uf": "SP"})
    assert "export/?uf=SP" in response.content.decode()


def test_an_admin_edit_is_recorded_without_values(admin_client):
    participant = make_participant(full_name="Nome Antigo")
    url = reverse("admin:registrations_participant_change", args=[participant.pk])
    page = admin_client.get(url)
    assert page.status_code == 200
    form = page.context["adminform"].form
    data = {k: v for k, v in form.initial.items() if v is not None and k in form.fields}
    data.update(full_name="Nome Novo", profile=participant.profile_id, status="confirmed")
    data.update(INLINE_MANAGEMENT)
    response = admin_client.post(url, data)
    assert response.status_code == 302, response.context["adminform"].form.errors if response.context else ""
    participant.refresh_from_db()
    assert participant.full_name == "Nome Novo"
    event = RegistrationEvent.objects.get(participant=participant, kind=RegistrationEvent.Kind.ADMIN_EDIT)
    assert event.detail == "full_name"
    assert participant.cpf not in event.detail


def test_the_audit_trail_is_read_only(admin_client):
    participant = make_participant()
    RegistrationEvent.objects.create(participant=participant, kind=RegistrationEvent.Kind.CREATED, actor="sistema")
    response = admin_client.get(reverse("admin:registrations_registrationevent_changelist"))
    assert response.status_code == 200
    assert admin_client.get(reverse("admin:registrations_registrationevent_add")).status_code == 403
    assert Participant.objects.count() == 1


def test_the_cancel_action_cancels_and_records_the_bulk_action(admin_client):
    participant = make_participant()
    admin_client.post(CHANGELIST, {"action": "cancel_selected", "_selected_action": [participant.pk]})
    participant.refresh_from_db()
    assert participant.status == Participant.Status.CANCELLED
    assert ExportRecord.objects.get(action="cancel_selected").row_count == 1


def test_the_resend_action_queues_the_confirmation_again(admin_client, mailoutbox, django_capture_on_commit_callbacks, celery_eager):
    participant = make_participant()
    Participant.objects.filter(pk=participant.pk).update(confirmation_email_status=Participant.EmailStatus.SENT)
    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(CHANGELIST, {"action": "resend_confirmation", "_selected_action": [participant.pk]})
    participant.refresh_from_db()
    assert participant.confirmation_email_status == Participant.EmailStatus.SENT
    assert len(mailoutbox) == 1 and mailoutbox[0].to == [participant.email]
    assert RegistrationEvent.objects.filter(participant=participant, kind=RegistrationEvent.Kind.EMAIL_RESEND).exists()


def test_the_erase_action_anonymizes_the_participant(admin_client):
    participant = make_participant(full_name="Apagável Silva")
    admin_client.post(CHANGELIST, {"action": "erase_personal_data", "_selected_action": [participant.pk], "confirm": "yes"})
    participant.refresh_from_db()
    assert participant.anonymized_at is not None
    assert participant.cpf is None and participant.email is None
    assert "Apagável" not in participant.full_name


# --------------------------------------------------------------------------
# Roles: a member of a group, logged in
# --------------------------------------------------------------------------


def member(client, group_name: str):
    from django.contrib.auth.models import Group, User

    user = User.objects.create_user(username=f"m-{group_name.lower()}", password="x-Very-long-pass-123", is_staff=True)
    user.groups.add(Group.objects.get(name=group_name))
    client.force_login(user)
    return client


@pytest.fixture
def organizer_client(client):
    from congress.roles import ORGANIZERS

    return member(client, ORGANIZERS)


@pytest.fixture
def staff_client(client):
    from congress.roles import STAFF

    return member(client, STAFF)


@pytest.fixture(params=["organizer", "staff", "superuser"])
def any_role_client(request, client, admin_user):
    from congress.roles import ORGANIZERS, STAFF

    if request.param == "superuser":
        client.force_login(admin_user)
        return client
    return member(client, ORGANIZERS if request.param == "organizer" else STAFF)


# --------------------------------------------------------------------------
# Search ignores accents and case
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("stored", "typed"),
    [
        ("Maria da Conceição", "conceicao"),
        ("José Antônio", "JOSE"),
        ("José da Silva", "jose silva"),
        ("JOÃO PEDRO", "João pedro"),
    ],
    ids=["no-accents", "upper-case", "words-in-any-gap", "accents-typed"],
)
def test_admin_search_ignores_accents_and_case(admin_client, other, stored, typed):
    target = make_participant(full_name=stored)
    response = admin_client.get(CHANGELIST, {"q": typed})
    assert list(response.context["cl"].result_list) == [target]


def test_admin_search_finds_by_city_without_accents(admin_client, other):
    target = make_participant(full_name="Ana Goiana", city="Goiânia", uf="GO")
    response = admin_client.get(CHANGELIST, {"q": "goiania"})
    assert list(response.context["cl"].result_list) == [target]


# --------------------------------------------------------------------------
# No hard delete, for anyone
# --------------------------------------------------------------------------


def test_nobody_has_a_delete_action_or_button_for_participants(any_role_client):
    participant = make_participant()
    listing = any_role_client.get(CHANGELIST)
    assert listing.status_code == 200
    actions = listing.context["action_form"].fields["action"].choices if listing.context.get("action_form") else []
    assert "delete_selected" not in {name for name, _label in actions}
    page = any_role_client.get(reverse("admin:registrations_participant_change", args=[participant.pk]))
    assert page.status_code == 200
    assert 'class="deletelink"' not in page.content.decode()
    assert page.context["has_delete_permission"] is False


def test_a_post_to_the_delete_url_is_refused_for_everyone(any_role_client):
    participant = make_participant()
    response = any_role_client.post(
        reverse("admin:registrations_participant_delete", args=[participant.pk]), {"post": "yes"}
    )
    assert response.status_code == 403
    response = any_role_client.post(CHANGELIST, {"action": "delete_selected", "_selected_action": [participant.pk], "post": "yes"})
    assert Participant.objects.filter(pk=participant.pk).exists()


def test_the_history_survives_even_a_delete_from_the_shell():
    from django.db.models import ProtectedError

    participant = make_participant()
    RegistrationEvent.objects.create(participant=participant, kind=RegistrationEvent.Kind.CREATED, actor="participante")
    with pytest.raises(ProtectedError):
        participant.delete()
    assert RegistrationEvent.objects.filter(participant=participant).count() == 1


def test_organizers_can_erase_personal_data(organizer_client):
    participant = make_participant(full_name="Apagável Organizador")
    organizer_client.post(
        CHANGELIST, {"action": "erase_personal_data", "_selected_action": [participant.pk], "confirm": "yes"}
    )
    participant.refresh_from_db()
    assert participant.anonymized_at is not None and participant.search_text == ""


def test_staff_cannot_erase_personal_data(staff_client):
    participant = make_participant(full_name="Intocável Equipe")
    staff_client.post(CHANGELIST, {"action": "erase_personal_data", "_selected_action": [participant.pk], "confirm": "yes"})
    participant.refresh_from_db()
    assert participant.anonymized_at is None


# --------------------------------------------------------------------------
# Equipe sees CPFs masked
# --------------------------------------------------------------------------


@pytest.fixture
def known_cpf_participant():
    return make_participant(full_name="Cláudia Máscara", cpf=make_cpf("123456789"))


def test_staff_sees_masked_cpfs_in_the_list(staff_client, known_cpf_participant):
    html = staff_client.get(CHANGELIST).content.decode()
    assert "***.456.789-**" in html
    assert known_cpf_participant.cpf_formatted not in html and known_cpf_participant.cpf not in html


def test_organizers_see_full_cpfs_in_the_list(organizer_client, known_cpf_participant):
    html = organizer_client.get(CHANGELIST).content.decode()
    assert known_cpf_participant.cpf_formatted in html


def test_staff_sees_a_masked_cpf_and_no_cpf_field_on_the_change_page(staff_client, known_cpf_participant):
    page = staff_client.get(reverse("admin:registrations_participant_change", args=[known_cpf_participant.pk]))
    html = page.content.decode()
    assert page.status_code == 200
    assert "***.456.789-**" in html
    assert known_cpf_participant.cpf not in html and known_cpf_participant.cpf_formatted not in html
    assert "cpf" not in page.context["adminform"].form.fields


def test_staff_finds_a_participant_by_the_full_cpf_but_sees_it_masked(staff_client, known_cpf_participant, other):
    response = staff_client.get(CHANGELIST, {"q": known_cpf_participant.cpf_formatted})
    assert list(response.context["cl"].result_list) == [known_cpf_participant]
    # The search box repeats what they typed; the rows show the mask.
    html = response.content.decode()
    rows = html[html.index("<tbody>", html.index('id="result_list"')) : html.index("</tbody>")]
    rows = re.sub(r'href="[^"]*"', "", rows)  # links carry the search term back
    assert "***.456.789-**" in rows and known_cpf_participant.cpf_formatted not in rows


def test_staff_cannot_uncover_cpf_digits_with_a_partial_search(staff_client, known_cpf_participant):
    hidden_start = known_cpf_participant.cpf[:5]  # "12345": three hidden digits and two shown
    response = staff_client.get(CHANGELIST, {"q": hidden_start})
    assert list(response.context["cl"].result_list) == []


def test_staff_exports_carry_masked_cpfs(staff_client, known_cpf_participant):
    response = staff_client.get(reverse("admin:registrations_participant_export"))
    text = b"".join(response.streaming_content).decode("utf-8")
    rows = list(csv.reader(io.StringIO(text[1:]), delimiter=";"))
    assert rows[1][2] == "***.456.789-**"
    assert known_cpf_participant.cpf_formatted not in text


def test_staff_xlsx_exports_carry_masked_cpfs(staff_client, known_cpf_participant):
    from openpyxl import load_workbook

    response = staff_client.get(reverse("admin:registrations_participant_export"), {"format": "xlsx"})
    sheet = load_workbook(io.BytesIO(b"".join(response.streaming_content)), read_only=True).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[1][2] == "***.456.789-**"


# --------------------------------------------------------------------------
# The list at laptop width: links to the conversation and the WhatsApp chat
# --------------------------------------------------------------------------


def test_the_list_links_a_participant_to_its_conversation_and_whatsapp_chat(admin_client):
    from chatbot.models import ConversationState
    from whatsapp.models import InboundMessage

    chat = "5561988887777"
    conversation = ConversationState.objects.create(conversation_id=chat)
    make_participant(full_name="Com WhatsApp", conversation=conversation)
    InboundMessage.objects.create(message_id="LINK-1", chat_id=chat, number=chat, text="oi")
    web = ConversationState.objects.create(conversation_id="web-user-1")
    make_participant(full_name="Só Web", conversation=web)
    html = admin_client.get(CHANGELIST).content.decode()
    assert reverse("admin:chatbot_conversationstate_change", args=[conversation.pk]) in html
    assert reverse("admin:whatsapp_chat_transcript", args=[chat]) in html
    assert reverse("admin:chatbot_conversationstate_change", args=[web.pk]) in html
    assert reverse("admin:whatsapp_chat_transcript", args=["web-user-1"]) not in html


def test_the_change_page_links_to_the_whatsapp_transcript(admin_client):
    from chatbot.models import ConversationState
    from whatsapp.models import InboundMessage

    chat = "5561977776666"
    conversation = ConversationState.objects.create(conversation_id=chat)
    participant = make_participant(conversation=conversation)
    InboundMessage.objects.create(message_id="LINK-2", chat_id=chat, number=chat, text="oi")
    page = admin_client.get(reverse("admin:registrations_participant_change", args=[participant.pk]))
    html = page.content.decode()
    assert reverse("admin:whatsapp_chat_transcript", args=[chat]) in html
    assert reverse("admin:chatbot_conversationstate_change", args=[conversation.pk]) in html
    assert [label for _url, label in page.context["participant_links"]] == ["Conversa", "WhatsApp"]


def test_the_list_shows_status_and_confirmation_email_date_in_compact_cells(admin_client):
    from django.utils import timezone

    participant = make_participant()
    sent = timezone.now()
    Participant.objects.filter(pk=participant.pk).update(
        confirmation_email_status=Participant.EmailStatus.SENT, confirmation_email_sent_at=sent
    )
    html = admin_client.get(CHANGELIST).content.decode()
    assert 'class="p-badge p-ok">Confirmada<' in html
    assert 'class="p-badge p-ok">Enviado<' in html
    assert timezone.localtime(sent).strftime("%d/%m %H:%M") in html  # local time, short
    assert timezone.localtime(sent).strftime("%d/%m/%Y %H:%M") in html  # in full on hover


# --------------------------------------------------------------------------
# XLSX from the admin
# --------------------------------------------------------------------------


def test_the_changelist_offers_csv_and_xlsx(admin_client):
    html = admin_client.get(CHANGELIST, {"uf": "SP"}).content.decode()
    assert "export/?uf=SP" in html and "format=xlsx" in html


def test_the_xlsx_export_of_the_current_filters_is_audited(admin_client):
    from openpyxl import load_workbook

    make_participant(uf="GO", full_name="Goiana")
    make_participant(uf="PR", full_name="Paranaense")
    response = admin_client.get(
        reverse("admin:registrations_participant_export"), {"uf": "GO", "status__exact": "confirmed", "format": "xlsx"}
    )
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/vnd.openxmlformats")
    sheet = load_workbook(io.BytesIO(b"".join(response.streaming_content))).active
    assert [row[0] for row in sheet.iter_rows(min_row=2, values_only=True)] == ["Goiana"]
    record = ExportRecord.objects.get()
    assert record.format == "xlsx" and record.row_count == 1
    assert "UF=GO" in record.filters and "situação=Confirmada" in record.filters


def test_the_xlsx_action_exports_the_selection(admin_client):
    from openpyxl import load_workbook

    chosen = make_participant(full_name="Escolhida Xlsx")
    make_participant(full_name="Outra Xlsx")
    response = admin_client.post(CHANGELIST, {"action": "export_selected_xlsx", "_selected_action": [chosen.pk]})
    sheet = load_workbook(io.BytesIO(b"".join(response.streaming_content))).active
    assert [row[0] for row in sheet.iter_rows(min_row=2, values_only=True)] == ["Escolhida Xlsx"]
    record = ExportRecord.objects.get()
    assert record.filters == f"nº {chosen.pk}" and record.format == "xlsx"


# --------------------------------------------------------------------------
# Readable history and export records
# --------------------------------------------------------------------------


def test_the_participant_page_tells_the_history_in_words(admin_client):
    participant = make_participant()
    for kind, step, detail, actor in [
        (RegistrationEvent.Kind.STEP, "asking_cpf", "asking_email -> asking_cpf", "participante"),
        (RegistrationEvent.Kind.STEP, "completed", "confirming -> completed", "participante"),
        (RegistrationEvent.Kind.CREATED, "", "cpf ***.456.789-**, e-mail m***@gmail.com", "participante"),
        (RegistrationEvent.Kind.UPDATED, "", "email", "participante"),
        (RegistrationEvent.Kind.ADMIN_EDIT, "", "email, city", "maria"),
        (RegistrationEvent.Kind.CANCELLED, "", "pedido pelo participante", "participante"),
    ]:
        RegistrationEvent.objects.create(participant=participant, kind=kind, step=step, detail=detail, actor=actor)
    html = admin_client.get(reverse("admin:registrations_participant_change", args=[participant.pk])).content.decode()
    for sentence in (
        "Chegou à etapa: CPF",
        "Confirmou a inscrição (CPF ***.456.789-**, e-mail m***@gmail.com)",
        "Corrigiu o e-mail",
        "Dados alterados no admin por maria: e-mail, cidade",
        "Cancelou a inscrição (pelo participante)",
    ):
        assert sentence in html
    assert "confirming -&gt; completed" not in html and "confirming -> completed" not in html


def test_the_history_admin_tells_events_in_words(admin_client):
    participant = make_participant()
    RegistrationEvent.objects.create(participant=participant, kind=RegistrationEvent.Kind.STEP, step="asking_name", detail="asking_consent -> asking_name")
    html = admin_client.get(reverse("admin:registrations_registrationevent_changelist")).content.decode()
    assert "Chegou à etapa: Nome" in html
    assert "asking_consent -&gt; asking_name" not in html


def test_an_admin_edit_is_recorded_by_field_and_shown_with_labels(admin_client):
    participant = make_participant(full_name="Nome Antigo", city="Londrina")
    url = reverse("admin:registrations_participant_change", args=[participant.pk])
    form = admin_client.get(url).context["adminform"].form
    data = {k: v for k, v in form.initial.items() if v is not None and k in form.fields}
    data.update(full_name="Nome Novo", city="Maringá", profile=participant.profile_id, status="confirmed")
    data.update(INLINE_MANAGEMENT)
    assert admin_client.post(url, data).status_code == 302
    html = admin_client.get(url).content.decode()
    assert "Dados alterados no admin por admin: nome completo, cidade" in html
    assert Participant.objects.get(pk=participant.pk).search_text.startswith("nome novo")


def test_export_records_read_as_sentences_old_and_new(admin_client):
    ExportRecord.objects.create(actor="maria", action="export_filtered", row_count=3, filters="UF=GO, situação=Confirmada", format="csv")
    ExportRecord.objects.create(actor="joao", action="export_selected", row_count=3, filters="ids=[3, 2, 1]")
    ExportRecord.objects.create(actor="ana", action="export_filtered", row_count=2, filters="uf__exact=PR&status__exact=cancelled&q=jos%C3%A9")
    ExportRecord.objects.create(actor="export_participants", action="export_command", row_count=5, filters="uf=SP status=confirmed")
    html = admin_client.get(reverse("admin:registrations_exportrecord_changelist")).content.decode()
    assert "Exportou 3 participantes (filtros: UF=GO, situação=Confirmada)" in html
    assert "Exportou 3 participantes selecionados (nº 1, 2, 3)" in html
    assert "Exportou 2 participantes (filtros: UF=PR, situação=Cancelada, busca=&quot;josé&quot;)" in html
    assert "Exportou 5 participantes pela linha de comando (filtros: UF=SP, situação=Confirmada)" in html
    assert "ids=[" not in html and "uf__exact" not in html


def test_a_cpf_searched_before_an_export_stays_masked_in_the_record(admin_client, known_cpf_participant):
    response = admin_client.get(reverse("admin:registrations_participant_export"), {"q": known_cpf_participant.cpf})
    b"".join(response.streaming_content)
    record = ExportRecord.objects.get()
    assert known_cpf_participant.cpf not in record.filters
    assert "***.456.789-**" in record.filters


def test_an_export_by_date_and_search_is_recorded_in_words(admin_client):
    from django.utils import timezone

    make_participant(full_name="José Datado")
    today = timezone.localdate()
    response = admin_client.get(
        reverse("admin:registrations_participant_export"),
        {"created_at__year": today.year, "created_at__month": today.month, "q": "jose", "delimiter": ","},
    )
    text = b"".join(response.streaming_content).decode("utf-8")
    assert "José Datado" in text and text.splitlines()[0].count(",") >= 10
    record = ExportRecord.objects.get()
    assert record.filters == f'inscritos em {today.month:02d}/{today.year}, busca="jose"'


# --------------------------------------------------------------------------
# Export records name every filter applied, sidebar preset or not
# --------------------------------------------------------------------------


def local_midnight(day):
    import datetime as dt

    from django.utils import timezone

    return dt.datetime.combine(day, dt.time.min, tzinfo=timezone.get_current_timezone())


def exported_filters(client, params) -> ExportRecord:
    response = client.get(reverse("admin:registrations_participant_export"), params)
    assert response.status_code == 200
    b"".join(response.streaming_content)
    return ExportRecord.objects.get()


def test_the_dashboards_per_day_link_is_recorded_as_a_date_range(admin_client):
    import datetime as dt

    day = dt.date(2026, 11, 25)
    record = exported_filters(
        admin_client,
        {"created_at__gte": str(local_midnight(day)), "created_at__lt": str(local_midnight(day + dt.timedelta(days=1)))},
    )
    assert record.filters == "inscritos a partir de 25/11/2026 e antes de 26/11/2026"


def test_a_lower_date_bound_alone_is_recorded(admin_client):
    import datetime as dt

    record = exported_filters(admin_client, {"created_at__gte": str(local_midnight(dt.date(2026, 11, 25)))})
    assert record.filters == "inscritos a partir de 25/11/2026"


def test_a_bound_that_is_not_midnight_is_recorded_with_its_local_time(admin_client):
    record = exported_filters(admin_client, {"created_at__gte": "2026-11-25 17:30:00+00:00"})
    assert record.filters == "inscritos a partir de 25/11/2026 14:30"  # Brasília is UTC-3


def test_a_filter_value_without_a_sidebar_choice_is_recorded_as_asked(admin_client):
    make_participant(uf="GO")
    record = exported_filters(admin_client, {"uf": "ZZ"})
    assert record.filters == "UF=ZZ" and record.row_count == 0
    assert str(record) == "Exportou 0 participantes (filtros: UF=ZZ)"


def test_every_applied_filter_and_the_search_are_recorded_in_order(admin_client, known_cpf_participant):
    import datetime as dt

    record = exported_filters(
        admin_client,
        {
            "status__exact": "confirmed",
            "profile__id__exact": str(known_cpf_participant.profile_id),
            "created_at__gte": str(local_midnight(dt.date(2026, 11, 25))),
            "q": known_cpf_participant.cpf,
            "o": "-6",
        },
    )
    assert record.filters == (
        f"situação=Confirmada, perfil={known_cpf_participant.profile.name}, "
        'inscritos a partir de 25/11/2026, busca="***.456.789-**"'
    )


# --------------------------------------------------------------------------
# A stale or invalid export link goes back to the list, never a 500
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "params",
    [{"zzz": "1"}, {"created_at__gte": "garbage"}, {"created_at__year": "20x6"}, {"status__exact": "confirmed", "zzz": "1"}],
    ids=["unknown-parameter", "bad-date", "bad-hierarchy-year", "valid-and-stale"],
)
def test_an_export_with_invalid_parameters_goes_back_to_the_list_with_a_message(admin_client, params):
    make_participant()
    response = admin_client.get(reverse("admin:registrations_participant_export"), params)
    assert response.status_code == 302
    assert response["Location"] == f"{CHANGELIST}?e=1"
    assert not ExportRecord.objects.exists()
    page = admin_client.get(response["Location"])
    assert page.status_code == 200
    assert "Nada foi exportado" in page.content.decode()


def test_the_export_has_every_page_whatever_page_the_list_was_on(admin_client):
    make_participant(full_name="Primeira")
    make_participant(full_name="Segunda")
    response = admin_client.get(reverse("admin:registrations_participant_export"), {"p": "7"})
    assert response.status_code == 200
    text = b"".join(response.streaming_content).decode("utf-8")
    assert "Primeira" in text and "Segunda" in text


# --------------------------------------------------------------------------
# Bulk actions: the erasure asks first; nothing done is not a success
# --------------------------------------------------------------------------


def erase_post(client, *participants, confirm: bool = False):
    data = {"action": "erase_personal_data", "_selected_action": [p.pk for p in participants]}
    if confirm:
        data["confirm"] = "yes"
    return client.post(CHANGELIST, data)


def test_the_erasure_asks_for_confirmation_first_and_erases_nothing(admin_client, known_cpf_participant):
    other = make_participant(full_name="Bento Segundo")
    page = erase_post(admin_client, known_cpf_participant, other)
    assert page.status_code == 200
    html = page.content.decode()
    assert "Não dá para desfazer" in html
    assert "Cláudia Máscara" in html and "Bento Segundo" in html
    assert known_cpf_participant.cpf_formatted in html  # a superuser sees CPFs in full
    assert 'name="confirm" value="yes"' in html
    assert f'href="{CHANGELIST}"' in html  # "Não, voltar para a lista"
    known_cpf_participant.refresh_from_db()
    assert known_cpf_participant.anonymized_at is None
    assert not ExportRecord.objects.exists()


def test_the_confirmation_masks_cpfs_for_who_may_erase_but_not_see_them(client, known_cpf_participant):
    from django.contrib.auth.models import Permission, User

    user = User.objects.create_user(username="apagador", password="x-Very-long-pass-123", is_staff=True)
    user.user_permissions.add(
        *Permission.objects.filter(
            content_type__app_label="registrations", codename__in=["view_participant", "change_participant", "erase_participant"]
        )
    )
    client.force_login(user)
    html = erase_post(client, known_cpf_participant).content.decode()
    assert "Cláudia Máscara" in html and "***.456.789-**" in html
    assert known_cpf_participant.cpf_formatted not in html and known_cpf_participant.cpf not in html


def test_confirming_erases_and_records_once(admin_client):
    participant = make_participant(full_name="Apagável Confirmado")
    response = erase_post(admin_client, participant, confirm=True)
    assert response.status_code == 302
    participant.refresh_from_db()
    assert participant.anonymized_at is not None
    assert ExportRecord.objects.get(action="erase_personal_data").row_count == 1


def test_the_confirmation_names_relatives_erased_with_the_same_conversation(admin_client):
    from chatbot.models import ConversationState

    conversation = ConversationState.objects.create(conversation_id="5561911112222")
    chosen = make_participant(full_name="Mãe Selecionada", conversation=conversation)
    make_participant(full_name="Filho Mesma Conversa", conversation=conversation)
    html = erase_post(admin_client, chosen).content.decode()
    assert "Mãe Selecionada" in html and "Filho Mesma Conversa" in html
    assert "mesma conversa" in html


def test_erasing_only_already_erased_participants_warns_and_records_nothing(admin_client):
    participant = make_participant()
    erase_post(admin_client, participant, confirm=True)
    ExportRecord.objects.all().delete()
    response = erase_post(admin_client, participant)
    assert response.status_code == 302
    page = admin_client.get(response["Location"])
    assert "já estavam anonimizados" in page.content.decode()
    assert not ExportRecord.objects.exists()


def messages_of(response) -> list[tuple[str, str]]:
    from django.contrib.messages import get_messages

    return [(m.level_tag, str(m)) for m in get_messages(response.wsgi_request)]


def test_cancelling_only_cancelled_participants_warns_and_records_nothing(admin_client):
    participant = make_participant(status=Participant.Status.CANCELLED)
    response = admin_client.post(CHANGELIST, {"action": "cancel_selected", "_selected_action": [participant.pk]})
    assert messages_of(response) == [
        ("warning", "Nenhuma inscrição ativa (confirmada, aguardando pagamento ou na lista de espera) entre as selecionadas.")
    ]
    assert not ExportRecord.objects.exists()


def test_resending_to_only_cancelled_participants_warns_and_records_nothing(admin_client):
    participant = make_participant(status=Participant.Status.CANCELLED)
    response = admin_client.post(CHANGELIST, {"action": "resend_confirmation", "_selected_action": [participant.pk]})
    [(level, text)] = messages_of(response)
    assert level == "warning" and "nenhuma inscrição confirmada" in text
    assert not ExportRecord.objects.exists()


def test_cancelling_confirmed_participants_is_a_success(admin_client):
    participant = make_participant()
    response = admin_client.post(CHANGELIST, {"action": "cancel_selected", "_selected_action": [participant.pk]})
    assert messages_of(response) == [("success", "1 inscrição cancelada.")]


# --------------------------------------------------------------------------
# No "delete participant" permission to grant
# --------------------------------------------------------------------------


def test_there_is_no_delete_permission_for_participants():
    from django.contrib.auth.models import Permission

    codenames = set(
        Permission.objects.filter(content_type__app_label="registrations", content_type__model="participant").values_list(
            "codename", flat=True
        )
    )
    assert "delete_participant" not in codenames
    assert {"add_participant", "change_participant", "view_participant", "erase_participant"} <= codenames


def test_the_migration_removes_a_stale_delete_permission_and_its_grants():
    import importlib

    from django.apps import apps
    from django.contrib.auth.models import Group, Permission
    from django.contrib.contenttypes.models import ContentType
    from django.db import connection

    migration = importlib.import_module("registrations.migrations.0008_participant_no_delete_permission")
    stale = Permission.objects.create(
        codename="delete_participant", name="Can delete participante", content_type=ContentType.objects.get_for_model(Participant)
    )
    group = Group.objects.create(name="Antigo")
    group.permissions.add(stale)
    with connection.schema_editor() as editor:
        migration.delete_stale_permission(apps, editor)
    assert not Permission.objects.filter(codename="delete_participant").exists()
    assert not group.permissions.exists()


# --------------------------------------------------------------------------
# Events and records read as sentences in titles, breadcrumbs and inlines
# --------------------------------------------------------------------------


def utc_event(participant, **fields) -> RegistrationEvent:
    import datetime as dt

    event = RegistrationEvent.objects.create(participant=participant, **fields)
    # 02:30 UTC is 23:30 of the day before in Brasília.
    RegistrationEvent.objects.filter(pk=event.pk).update(created_at=dt.datetime(2026, 11, 25, 2, 30, tzinfo=dt.UTC))
    event.refresh_from_db()
    return event


def test_an_events_page_is_titled_with_the_sentence_and_shows_local_time(admin_client):
    participant = make_participant()
    event = utc_event(participant, kind=RegistrationEvent.Kind.ADMIN_EDIT, detail="email", actor="maria")
    assert str(event) == "Dados alterados no admin por maria: e-mail"
    html = admin_client.get(reverse("admin:registrations_registrationevent_change", args=[event.pk])).content.decode()
    assert "<h2>Dados alterados no admin por maria: e-mail</h2>" in html  # the title
    assert "&rsaquo; Dados alterados no admin por maria: e-mail\n</div>" in html  # the breadcrumb
    assert "24/11/2026 23:30" in html
    assert "02:30" not in html


def test_the_history_inline_shows_local_times_only(admin_client):
    participant = make_participant()
    utc_event(participant, kind=RegistrationEvent.Kind.CANCELLED, detail="admin", actor="maria")
    html = admin_client.get(reverse("admin:registrations_participant_change", args=[participant.pk])).content.decode()
    assert "24/11/2026 23:30" in html and "Inscrição cancelada no admin por maria" in html
    assert "02:30" not in html


def test_an_export_records_page_is_titled_with_the_sentence(admin_client):
    record = ExportRecord.objects.create(
        actor="admin", action="export_filtered", row_count=152, filters="UF=GO", format="csv"
    )
    assert str(record) == "Exportou 152 participantes (filtros: UF=GO)"
    html = admin_client.get(reverse("admin:registrations_exportrecord_change", args=[record.pk])).content.decode()
    assert "Exportou 152 participantes (filtros: UF=GO)" in html
    assert "export_filtered ·" not in html


# --------------------------------------------------------------------------
# Long words wrap inside the list
# --------------------------------------------------------------------------


def test_long_unbroken_words_wrap_inside_the_list_cells(admin_client):
    make_participant(full_name="A" * 120, city="B" * 80)
    html = admin_client.get(CHANGELIST).content.decode()
    # "anywhere" (not "break-word") lowers the columns' minimum width, so the
    # table stays as wide as the page; both body cell kinds (td, and th for the name).
    assert "#result_list td, #result_list tbody th { overflow-wrap: anywhere; }" in html
