"""Included under /api/v1/ in the "api" namespace (config/urls.py)."""

from django.urls import path

from notifications import api

urlpatterns = [
    path("notifications/", api.NotificationListView.as_view(), name="notification-list"),
    path("notifications/read-all/", api.MarkAllReadView.as_view(), name="notification-read-all"),
    path("notifications/unread-count/", api.UnreadCountView.as_view(), name="notification-unread-count"),
    path("notifications/preferences/", api.PreferencesView.as_view(), name="notification-preferences"),
    path("notifications/<id:id>/read/", api.MarkReadView.as_view(), name="notification-read"),
]
