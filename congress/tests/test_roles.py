"""Admin roles: Organizadores manage; Equipe only views and exports."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group, User
from django.urls import reverse

from congress.roles import ORGANIZERS, STAFF
from congress.testing.factories import make_participant
from registrations.models import Participant

pytestmark = pytest.mark.django_db


def member_client(client, group_name: str):
    user = User.objects.create_user(username=f"u-{group_name}", password="x-Very-long-pass-123", is_staff=True)
    user.groups.add(Group.objects.get(name=group_name))
    client.force_login(user)
    return client


def test_both_groups_exist_after_migrate():
    assert set(Group.objects.values_list("name", flat=True)) >= {ORGANIZERS, STAFF}


def test_staff_can_view_and_export_participants(client):
    make_participant(full_name="Visível")
    c = member_client(client, STAFF)
    assert c.get("/admin/registrations/participant/").status_code == 200
    response = c.get(reverse("admin:registrations_participant_export"))
    assert response.status_code == 200
    assert "Visível" in b"".join(response.streaming_content).decode()


def test_staff_cannot_change_anything(client):
    participant = make_participant(full_name="Intocável")
    c = member_client(client, STAFF)
    change_url = reverse("admin:registrations_participant_change", args=[participant.pk])
    assert c.post(change_url, {"full_name": "Alterado"}).status_code == 403
    assert c.get(reverse("admin:registrations_participant_add")).status_code == 403
    assert c.post(reverse("admin:registrations_participant_delete", args=[participant.pk]), {"post": "yes"}).status_code == 403
    c.post("/admin/registrations/participant/", {"action": "cancel_selected", "_selected_action": [participant.pk]})
    participant.refresh_from_db()
    assert participant.full_name == "Intocável"
    assert participant.status == Participant.Status.CONFIRMED
    for url in ("/admin/chatbot/faqentry/add/", "/admin/chatbot/event/add/"):
        assert c.get(url).status_code == 403


def test_organizers_can_change_participants_and_knowledge(client):
    c = member_client(client, ORGANIZERS)
    assert c.get(reverse("admin:registrations_participant_add")).status_code == 200
    assert c.get("/admin/chatbot/faqentry/add/").status_code == 200


def test_nobody_in_either_group_can_edit_the_audit_trail(client):
    for name in (ORGANIZERS, STAFF):
        perms = set(Group.objects.get(name=name).permissions.values_list("codename", flat=True))
        assert "change_registrationevent" not in perms and "delete_registrationevent" not in perms


def group_codenames(name: str) -> set[str]:
    return set(Group.objects.get(name=name).permissions.values_list("codename", flat=True))


def test_no_group_may_delete_participants():
    for name in (ORGANIZERS, STAFF):
        assert "delete_participant" not in group_codenames(name)


def test_organizers_see_full_cpfs_and_may_erase_personal_data():
    assert {"view_full_cpf", "erase_participant", "export_participant", "change_participant"} <= group_codenames(ORGANIZERS)


def test_staff_exports_but_sees_cpfs_masked():
    perms = group_codenames(STAFF)
    assert "export_participant" in perms
    assert not {"view_full_cpf", "erase_participant"} & perms


@pytest.mark.parametrize(
    ("who", "full"),
    [("organizer", True), ("staff", False), ("superuser", True), ("nobody", False)],
    ids=["organizer", "staff", "superuser", "no-group"],
)
def test_sees_full_cpf_by_role(who, full):
    from congress.roles import cpf_for, sees_full_cpf

    if who == "superuser":
        user = User.objects.create_superuser(username="root", password="x-Very-long-pass-123")
    else:
        user = User.objects.create_user(username=who, password="x-Very-long-pass-123", is_staff=True)
        if who != "nobody":
            user.groups.add(Group.objects.get(name=ORGANIZERS if who == "organizer" else STAFF))
    user = User.objects.get(pk=user.pk)  # a fresh permission cache
    assert sees_full_cpf(user) is full
    assert cpf_for(user, "01234567890") == ("012.345.678-90" if full else "***.345.678-**")
    assert cpf_for(user, None) == ""


def test_mask_cpf_is_importable_from_roles():
    from congress.roles import mask_cpf

    assert mask_cpf("123.456.789-09") == "***.456.789-**"
    assert mask_cpf("12345678909") == "***.456.789-**"


def test_staff_sees_masked_cpfs_in_the_participant_list(client):
    participant = make_participant(cpf="12345678909")
    html = member_client(client, STAFF).get("/admin/registrations/participant/").content.decode()
    assert "***.456.789-**" in html and participant.cpf_formatted not in html


@pytest.mark.django_db
def test_permission_names_are_in_portuguese_after_migrate():
    from django.contrib.auth.models import Permission

    from congress.roles import permission_names_translate, roles_sync

    assert not Permission.objects.filter(name__startswith="Can ").exists()
    assert Permission.objects.get(codename="view_participant").name == "Pode visualizar participante"
    # A permission Django creates later in English is translated by the next sync.
    Permission.objects.filter(codename="add_faqentry").update(name="Can add pergunta frequente")
    roles_sync()
    assert Permission.objects.get(codename="add_faqentry").name == "Pode adicionar pergunta frequente"
    assert permission_names_translate() == 0


@pytest.mark.django_db
def test_organizers_manage_the_cloud_api_templates_and_staff_only_view_them():
    from django.contrib.auth.models import Group

    from congress.roles import ORGANIZERS, STAFF

    organizers = set(Group.objects.get(name=ORGANIZERS).permissions.values_list("codename", flat=True))
    staff = set(Group.objects.get(name=STAFF).permissions.values_list("codename", flat=True))
    assert {"add_messagetemplate", "change_messagetemplate", "view_messagetemplate"} <= organizers
    assert "view_messagetemplate" in staff and "change_messagetemplate" not in staff


# --------------------------------------------------------------------------
# Paid registration: charges, the review queue, ticket categories
# --------------------------------------------------------------------------


def test_organizers_manage_charges_and_decide_reviews():
    perms = group_codenames(ORGANIZERS)
    assert {
        "view_payment",
        "change_payment",
        "manage_payment",
        "view_review",
        "change_review",
        "review_submission",
        "add_ticketcategory",
        "change_ticketcategory",
        "add_ticketlot",
        "change_ticketlot",
        "view_ticketlot",
    } <= perms


def test_staff_only_view_charges_reviews_and_tickets():
    perms = group_codenames(STAFF)
    assert {"view_payment", "view_ticketcategory", "view_ticketlot"} <= perms
    assert "view_review" not in perms  # receipts and ID documents show full CPFs
    assert not {
        "change_payment",
        "manage_payment",
        "change_review",
        "review_submission",
        "change_ticketcategory",
        "add_ticketlot",
    } & perms


def test_the_payment_permissions_are_in_portuguese():
    from django.contrib.auth.models import Permission

    assert Permission.objects.get(codename="view_payment").name == "Pode visualizar pagamento"
    assert Permission.objects.get(codename="manage_payment").name.startswith("Pode marcar como pago")
