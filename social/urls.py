"""HTML pages of the social app, included at /people/ by config/urls.py (namespace "social")."""

from django.urls import path

from social import views

app_name = "social"

urlpatterns = [
    path("", views.directory, name="directory"),
    path("suggestions/", views.suggestions, name="suggestions"),
    path("friends/", views.friends, name="friends"),
    path("requests/", views.requests_incoming, name="requests_incoming"),
    path("requests/sent/", views.requests_outgoing, name="requests_outgoing"),
    path("requests/<id:pk>/cancel/", views.cancel_request, name="cancel_request"),
    path("requests/<id:pk>/accept/", views.accept_request, name="accept_request"),
    path("requests/<id:pk>/decline/", views.decline_request, name="decline_request"),
    path("blocked/", views.blocked, name="blocked"),
    path("<uuid:public_id>/", views.profile, name="profile"),
    path("<uuid:public_id>/request/", views.send_request, name="send_request"),
    path("<uuid:public_id>/unfriend/", views.unfriend, name="unfriend"),
    path("<uuid:public_id>/block/", views.block, name="block"),
    path("<uuid:public_id>/unblock/", views.unblock, name="unblock"),
    path("<uuid:public_id>/report/", views.report, name="report"),
]
