"""The organizers' admin roles, kept in sync after every ``migrate``.

- "Organizadores": manage participants, event knowledge, ticket categories
  and messages; export; see full CPFs; erase a participant's personal data
  (LGPD); mark charges paid, refund and cancel them; approve and reject
  receipts and category proofs.
- "Equipe": view and export only, with CPFs masked (``***.456.789-**``)
  everywhere, exports included; sees charges but not the review queue (receipts
  and ID documents show full CPFs).
- Both answer conversations in the inbox (``inbox.answer_conversations``)
  and read the handoffs' history.

Nobody deletes a participant: cancelling and the LGPD erasure are the only
ways out, so ``delete_participant`` is granted to no group (and the admin
refuses it to superusers too).

Other apps mask CPFs with::

    from congress.roles import cpf_for, mask_cpf, sees_full_cpf
"""

from __future__ import annotations

from django.contrib.auth.models import Group, Permission
from django.db.models import Q

from registrations.validators import mask_cpf

__all__ = ["ORGANIZERS", "STAFF", "cpf_for", "mask_cpf", "roles_sync", "sees_full_cpf"]

ORGANIZERS = "Organizadores"
STAFF = "Equipe"

FULL_CPF_PERMISSION = "registrations.view_full_cpf"

MANAGED_MODELS = {
    "registrations": ["participant", "registrationevent", "exportrecord"],
    "chatbot": [
        "event",
        "ticketcategory",
        "ticketlot",
        "profile",
        "faqentry",
        "programmesession",
        "unansweredquestion",
        "conversationstate",
    ],
    "whatsapp": ["inboundmessage", "outboundmessage", "messagetemplate", "channelalert"],
    "inbox": ["handoff", "handoffmessage"],
    # Charges and reviews change only through their actions (payments.services);
    # Django creates only "change" and "view" for them.
    "payments": ["payment", "review"],
}
# Audit rows are written by the system only; handoffs change through the inbox's services.
READ_ONLY_FOR_EVERYONE = {
    ("registrations", "registrationevent"),
    ("registrations", "exportrecord"),
    ("inbox", "handoff"),
    ("inbox", "handoffmessage"),
}
# Never granted to any group: a participant is cancelled or anonymized, not deleted.
NEVER_GRANTED = {("registrations", "delete_participant")}
# Custom permissions (the models' Meta.permissions) per group: "app_label.codename",
# or a bare codename of the "registrations" app.
EXTRA_PERMISSIONS = {
    ORGANIZERS: (
        "export_participant",
        "view_full_cpf",
        "erase_participant",
        "inbox.answer_conversations",
        "payments.manage_payment",
        "payments.review_submission",
    ),
    STAFF: ("export_participant", "inbox.answer_conversations"),
}


def sees_full_cpf(user) -> bool:
    """Whether ``user`` may read CPFs in full (superusers and "Organizadores"); others see masks."""
    return bool(user is not None and user.is_active and user.has_perm(FULL_CPF_PERMISSION))


def cpf_for(user, cpf: str | None) -> str:
    """``cpf`` (digits or formatted) as ``user`` may see it: ``123.456.789-09`` or ``***.456.789-**``; "" when empty."""
    if not cpf:
        return ""
    if not sees_full_cpf(user):
        return mask_cpf(cpf)
    digits = "".join(ch for ch in cpf if ch.isdigit())
    return f"{digits[:3]}.{digits[3:6]}.{digits[6:9]}-{digits[9:]}" if len(digits) == 11 else cpf


# Models a group does not see at all: receipts and documents carry full CPFs.
HIDDEN_FROM = {STAFF: {("payments", "review")}}


def _perms(actions: tuple[str, ...], extra: tuple[str, ...], *, hidden: set[tuple[str, str]] | frozenset = frozenset()) -> list[Permission]:
    perms = []
    for app_label, models in MANAGED_MODELS.items():
        for model in models:
            if (app_label, model) in hidden:
                continue
            model_actions = ("view",) if (app_label, model) in READ_ONLY_FOR_EVERYONE else actions
            codenames = [
                codename
                for codename in (f"{action}_{model}" for action in model_actions)
                if (app_label, codename) not in NEVER_GRANTED
            ]
            perms.extend(Permission.objects.filter(content_type__app_label=app_label, codename__in=codenames))
    wanted = Q(pk__in=[])
    for name in extra:
        app_label, _dot, codename = name.rpartition(".")
        wanted |= Q(content_type__app_label=app_label or "registrations", codename=codename)
    perms.extend(Permission.objects.filter(wanted))
    return perms


# Django names the default permissions in English ("Can add participante")
# when it creates them; organizers read them in the group and user forms.
_DEFAULT_PERMISSION_NAMES = {
    "Can add ": "Pode adicionar ",
    "Can change ": "Pode modificar ",
    "Can delete ": "Pode remover ",
    "Can view ": "Pode visualizar ",
}


def permission_names_translate() -> int:
    """Rename Django's default permissions to pt-BR (idempotent); returns how many changed."""
    changed = []
    for permission in Permission.objects.filter(name__startswith="Can "):
        for english, portuguese in _DEFAULT_PERMISSION_NAMES.items():
            if permission.name.startswith(english):
                permission.name = portuguese + permission.name.removeprefix(english)
                changed.append(permission)
                break
    Permission.objects.bulk_update(changed, ["name"])
    return len(changed)


def roles_sync() -> None:
    permission_names_translate()
    organizers, _ = Group.objects.get_or_create(name=ORGANIZERS)
    organizers.permissions.set(_perms(("add", "change", "delete", "view"), EXTRA_PERMISSIONS[ORGANIZERS]))
    staff, _ = Group.objects.get_or_create(name=STAFF)
    staff.permissions.set(_perms(("view",), EXTRA_PERMISSIONS[STAFF], hidden=HIDDEN_FROM[STAFF]))


def _after_migrate(sender, app_config=None, **kwargs) -> None:
    # post_migrate fires once per app; permissions of every app exist by the
    # time the last one is done, and syncing is idempotent.
    roles_sync()
