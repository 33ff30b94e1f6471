from django.apps import AppConfig
from django.db.models.signals import post_migrate


class CongressConfig(AppConfig):
    name = "congress"
    verbose_name = "Congress"

    def ready(self) -> None:
        from congress.roles import _after_migrate

        post_migrate.connect(_after_migrate, dispatch_uid="congress.roles")
