from django.apps import AppConfig
from django.db.models.signals import post_migrate


class CongressConfig(AppConfig):
    name = "congress"
    verbose_name = "Congress"

    def ready(self) -> None:
        # Define the HTTP metric families at startup in every process, before
        # the apps define theirs (the order /metrics lists them in).
        from congress import metrics  # noqa: F401
        from congress.roles import _after_migrate

        post_migrate.connect(_after_migrate, dispatch_uid="congress.roles")
