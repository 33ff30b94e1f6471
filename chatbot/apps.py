from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ChatbotConfig(AppConfig):
    name = "chatbot"
    verbose_name = _("Chatbot e informações do evento")

    def ready(self) -> None:
        # Connect the knowledge-cache invalidation signals and the LLM client
        # reset on settings changes.
        from chatbot import knowledge, llm  # noqa: F401
