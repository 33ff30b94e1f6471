"""The registration's steps and every list derived from them, in one place.

The engine, the flow, the dashboard and the metrics read these; nothing else
spells a step or a field list. ``RegistrationStep`` values are CONTRACT §3
(``registration_step`` of ``/chat``): they only grow.
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class RegistrationStep(models.TextChoices):
    """Where a conversation stands in the registration (CONTRACT §3 values)."""

    IDLE = "idle", _("Sem inscrição em andamento")
    ASKING_CONSENT = "asking_consent", _("Pedindo consentimento")
    ASKING_NAME = "asking_name", _("Pedindo nome")
    ASKING_EMAIL = "asking_email", _("Pedindo e-mail")
    ASKING_CPF = "asking_cpf", _("Pedindo CPF")
    ASKING_PHONE = "asking_phone", _("Pedindo telefone")
    ASKING_CITY = "asking_city", _("Pedindo cidade")
    ASKING_STATE = "asking_state", _("Pedindo UF")
    ASKING_PROFILE = "asking_profile", _("Pedindo perfil")
    # Asked only when more than one ticket category fits the profile (CONTRACT §4).
    ASKING_TICKET = "asking_ticket", _("Pedindo categoria")
    CONFIRMING = "confirming", _("Confirmando")
    COMPLETED = "completed", _("Concluída")


Step = RegistrationStep

# The six things a participant gives us, in the order they are asked and
# numbered in the summary. "city" stands for city + UF + IBGE code (+ district),
# "profile" for profile id + name.
FIELDS: tuple[str, ...] = ("full_name", "email", "cpf", "phone", "city", "profile")
FIELD_STEP: dict[str, str] = {
    "full_name": Step.ASKING_NAME,
    "email": Step.ASKING_EMAIL,
    "cpf": Step.ASKING_CPF,
    "phone": Step.ASKING_PHONE,
    "city": Step.ASKING_CITY,
    "profile": Step.ASKING_PROFILE,
}
STEP_FIELD: dict[str, str] = {step: name for name, step in FIELD_STEP.items()} | {Step.ASKING_STATE: "city"}
# Steps during which a registration is being collected (a message belongs to the flow).
IN_FLOW_STEPS: frozenset[str] = frozenset({Step.ASKING_CONSENT, *STEP_FIELD, Step.ASKING_TICKET, Step.CONFIRMING})
# The funnel, in order, as the dashboard shows it. ASKING_STATE is left out:
# it is asked only when the city does not settle the UF, so its bar would
# read as a drop that is not one.
FUNNEL_STEPS: tuple[RegistrationStep, ...] = (
    Step.ASKING_CONSENT,
    Step.ASKING_NAME,
    Step.ASKING_EMAIL,
    Step.ASKING_CPF,
    Step.ASKING_PHONE,
    Step.ASKING_CITY,
    Step.ASKING_PROFILE,
    Step.CONFIRMING,
    Step.COMPLETED,
)
