"""The organizers' back-office: search, filters, export, audit trail."""

from __future__ import annotations

import csv
import io

import pytest
from django.urls import reverse

from congress.testing.factories import make_cpf, make_participant
from registrations.models import ExportRecord, Participant, RegistrationEvent

pytestmark = pytest.mark.django_db
CHANGELIST = "/admin/registrations/participant/"


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
    assert record.row_count == 1 and "uf=SP" in record.filters


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
    data.update({"events-TOTAL_FORMS": "0", "events-INITIAL_FORMS": "0"})
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
    admin_client.post(CHANGELIST, {"action": "erase_personal_data", "_selected_action": [participant.pk]})
    participant.refresh_from_db()
    assert participant.anonymized_at is not None
    assert participant.cpf is None and participant.email is None
    assert "Apagável" not in participant.full_name
