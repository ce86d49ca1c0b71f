"""Included under /api/v1/ by config/urls.py, inside the "api" namespace."""

from django.urls import path

from social import api

urlpatterns = [
    path("people/", api.DirectoryView.as_view(), name="social-directory"),
    path("people/suggestions/", api.SuggestionsView.as_view(), name="social-suggestions"),
    path("friend-requests/", api.FriendRequestListCreateView.as_view(), name="social-friend-requests"),
    path("friend-requests/<id:pk>/cancel/", api.FriendRequestCancelView.as_view(), name="social-friend-request-cancel"),
    path("friend-requests/<id:pk>/accept/", api.FriendRequestAcceptView.as_view(), name="social-friend-request-accept"),
    path(
        "friend-requests/<id:pk>/decline/",
        api.FriendRequestDeclineView.as_view(),
        name="social-friend-request-decline",
    ),
    path("friends/", api.FriendListView.as_view(), name="social-friends"),
    path("friends/<uuid:public_id>/", api.FriendDetailView.as_view(), name="social-friend"),
    path("blocks/", api.BlockListCreateView.as_view(), name="social-blocks"),
    path("blocks/<uuid:public_id>/", api.BlockDetailView.as_view(), name="social-block"),
    path("reports/", api.ReportCreateView.as_view(), name="social-reports"),
]
