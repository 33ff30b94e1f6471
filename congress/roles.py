"""The organizers' admin roles, kept in sync after every ``migrate``.

- "Organizadores": manage participants, event knowledge and messages; export.
- "Equipe": view and export only.
"""

from __future__ import annotations

from django.contrib.auth.models import Group, Permission

ORGANIZERS = "Organizadores"
STAFF = "Equipe"

MANAGED_MODELS = {
    "registrations": ["participant", "registrationevent", "exportrecord"],
    "chatbot": [
        "event",
        "ticketcategory",
        "profile",
        "faqentry",
        "programmesession",
        "unansweredquestion",
        "conversationstate",
    ],
    "whatsapp": ["inboundmessage", "outboundmessage"],
}
# Audit rows are written by the system only.
READ_ONLY_FOR_EVERYONE = {("registrations", "registrationevent"), ("registrations", "exportrecord")}


def _perms(actions: tuple[str, ...]) -> list[Permission]:
    perms = []
    for app_label, models in MANAGED_MODELS.items():
        for model in models:
            model_actions = ("view",) if (app_label, model) in READ_ONLY_FOR_EVERYONE else actions
            codenames = [f"{action}_{model}" for action in model_actions]
            perms.extend(Permission.objects.filter(content_type__app_label=app_label, codename__in=codenames))
    perms.extend(Permission.objects.filter(content_type__app_label="registrations", codename="export_participant"))
    return perms


def roles_sync() -> None:
    organizers, _ = Group.objects.get_or_create(name=ORGANIZERS)
    organizers.permissions.set(_perms(("add", "change", "delete", "view")))
    staff, _ = Group.objects.get_or_create(name=STAFF)
    staff.permissions.set(_perms(("view",)))


def _after_migrate(sender, app_config=None, **kwargs) -> None:
    # post_migrate fires once per app; permissions of every app exist by the
    # time the last one is done, and syncing is idempotent.
    roles_sync()
