from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class WhatsappConfig(AppConfig):
    name = "whatsapp"
    verbose_name = _("Mensagens do WhatsApp")

    def ready(self) -> None:
        from whatsapp import checks  # noqa: F401 - registers the system checks
