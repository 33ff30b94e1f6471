from django.urls import path, re_path

from payments.webhook import pix_webhook, qr_image

app_name = "payments"

urlpatterns = [
    re_path(r"^payments/pix/webhook/(?P<secret>[^/]+)(?:/pix)?/?$", pix_webhook, name="pix-webhook"),
    path("qr/<str:kind>/<str:token>.png", qr_image, name="qr"),
]
