"""Included by config/urls.py at admin/status/ (before the admin's own catch-all)."""

from django.urls import path

from config.status_view import sentry_check_view, status_view

urlpatterns = [
    path("", status_view, name="admin-status"),
    path("sentry-check/", sentry_check_view, name="admin-sentry-check"),
]
