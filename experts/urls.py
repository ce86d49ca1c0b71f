"""HTML pages of the experts app, included at /experts/ by config/urls.py (namespace "experts")."""

from django.urls import path

from experts import views

app_name = "experts"

urlpatterns = [
    path("", views.directory, name="directory"),
    path("apply/", views.apply, name="apply"),
    path("me/", views.mine, name="mine"),
    path("me/areas/", views.request_area, name="request_area"),
    path("<id:pk>/", views.detail, name="detail"),
]
