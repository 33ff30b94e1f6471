from django.urls import re_path

from whatsapp.api import WhatsAppView

urlpatterns = [
    re_path(r"^whatsapp/?$", WhatsAppView.as_view(), name="whatsapp"),
]
