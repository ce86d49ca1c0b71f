"""Included under /api/v1/ by config/urls.py, inside the "api" namespace."""

from django.urls import path

from experts import api

urlpatterns = [
    path("categories/", api.CategoryListView.as_view(), name="experts-categories"),
    path("experts/", api.ExpertListView.as_view(), name="experts-list"),
    path("experts/me/", api.MyExpertProfileView.as_view(), name="experts-me"),
    path("experts/me/area-requests/", api.MyAreaRequestsView.as_view(), name="experts-me-area-requests"),
    path("experts/<id:pk>/", api.ExpertDetailView.as_view(), name="experts-detail"),
]
