from django.conf import settings
from django.contrib import admin
from django.urls import include, path, register_converter
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

from config import views
from config.converters import DatabaseIdConverter

# Before the includes below: every app's urls.py names its database ids `<id:…>`.
register_converter(DatabaseIdConverter, "id")

api_v1 = [
    path("", include("accounts.api_urls")),
    path("", include("notifications.api_urls")),
    path("", include("social.api_urls")),
    path("", include("experts.api_urls")),
    path("", include("chat.api_urls")),
    path("", include("helpdesk.api_urls")),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="api:schema"), name="docs"),
    path("redoc/", SpectacularRedocView.as_view(url_name="api:schema"), name="redoc"),
]

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    # Browsers ask for /favicon.ico whatever the page's <link rel="icon"> says.
    path("favicon.ico", views.favicon),
    path("readyz", views.readyz, name="readyz"),
    path("nav/badges/", views.nav_badges, name="nav_badges"),
    path("accounts/", include("accounts.urls")),
    path("notifications/", include("notifications.urls")),
    path("people/", include("social.urls")),
    path("experts/", include("experts.urls")),
    path("chat/", include("chat.urls")),
    path("help/", include("helpdesk.urls")),
    path("api/v1/", include((api_v1, "api"), namespace="api")),
    path("admin/status/", include("config.status_urls")),  # staff-only site status
    path("admin/", admin.site.urls),
]

if not settings.AWS_STORAGE_BUCKET_NAME:
    # Local storage: uploads are served by Django (nginx may serve MEDIA_ROOT instead).
    # Only re-encoded images with random names live there; nosniff is set globally.
    from django.urls import re_path
    from django.views.static import serve

    urlpatterns += [re_path(r"^media/(?P<path>.*)$", serve, {"document_root": settings.MEDIA_ROOT})]
