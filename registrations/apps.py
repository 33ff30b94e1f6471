from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class RegistrationsConfig(AppConfig):
    name = "registrations"
    verbose_name = _("Inscrições")

    def ready(self) -> None:
        # Define the registration metric families at startup in every process.
        from registrations import metrics  # noqa: F401
