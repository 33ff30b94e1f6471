from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from congress.health import HealthView
from congress.legal import privacy_notice

admin.site.site_header = "Congress Bot · Administração"
admin.site.site_title = "Congress Bot"
admin.site.index_title = "Back-office do congresso"

urlpatterns = [
    path("admin/", admin.site.urls),
    path("health", HealthView.as_view(), name="health"),
    path("", include("chatbot.urls")),
    path("privacidade/", privacy_notice, name="privacy-notice"),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
]
