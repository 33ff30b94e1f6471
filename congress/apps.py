from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


class CongressConfig(AppConfig):
    name = "congress"
    verbose_name = "Congress"

    def ready(self) -> None:
        # Define the HTTP metric families at startup in every process, before
        # the apps define theirs (the order /metrics lists them in).
        from congress import checks, metrics  # noqa: F401
        from congress.roles import _after_migrate

        post_migrate.connect(_after_migrate, dispatch_uid="congress.roles")
        # django-axes names its admin section "Axes"; organizers read "Segurança"
        # (its model and field names are translated in locale/pt_BR).
        from django.apps import apps

        if apps.is_installed("axes"):
            apps.get_app_config("axes").verbose_name = _("Segurança")
