from django.urls import re_path

from whatsapp.api import CloudWebhookView, WhatsAppView

urlpatterns = [
    re_path(r"^whatsapp/?$", WhatsAppView.as_view(), name="whatsapp"),
    re_path(r"^whatsapp/cloud/?$", CloudWebhookView.as_view(), name="whatsapp-cloud"),
]
