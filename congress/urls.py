from django.contrib import admin
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from chatbot.views import home
from congress.health import HealthView
from congress.metrics import MetricsView
from inbox.views import conversation_view, inbox_view
from registrations.dashboard import dashboard_view
from registrations.views import privacy_notice

admin.site.site_header = "Congress Bot · Administração"
admin.site.site_title = "Congress Bot"
admin.site.index_title = "Back-office do congresso"

urlpatterns = [
    path("admin/dashboard/", admin.site.admin_view(dashboard_view), name="admin-dashboard"),
    # The inbox is also the "Atendimento" app's index; the Handoff list stays the admin's own.
    path("admin/inbox/", admin.site.admin_view(inbox_view), name="admin-inbox"),
    re_path(
        r"^admin/inbox/(?P<key>(?!handoff/|handoffmessage/)[^/]+)/$",
        admin.site.admin_view(conversation_view),
        name="admin-inbox-conversation",
    ),
    path("admin/", admin.site.urls),
    path("", home, name="home"),
    path("health", HealthView.as_view(), name="health"),
    path("", include("chatbot.urls")),
    path("", include("whatsapp.urls")),
    path("", include("payments.urls")),
    path("privacidade/", privacy_notice, name="privacy-notice"),
    path("metrics", MetricsView.as_view(), name="metrics"),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
]
