"""HTML pages of the chat app; config/urls.py includes them at /chat/ (namespace "chat")."""

from django.urls import path

from chat import views

app_name = "chat"

urlpatterns = [
    path("", views.conversation_list, name="list"),
    path("requests/", views.message_requests, name="requests"),
    path("archived/", views.archived, name="archived"),
    path("search/", views.search, name="search"),
    path("new/", views.new_group, name="new_group"),
    path("new-message/", views.new_message, name="new_message"),
    path("with/<uuid:public_id>/", views.direct, name="direct"),
    path("files/<id:attachment_id>/", views.attachment_download, name="attachment"),
    path("files/<id:attachment_id>/thumbnail/", views.attachment_thumbnail, name="attachment_thumbnail"),
    path("<id:pk>/", views.conversation, name="conversation"),
    path("<id:pk>/messages/", views.messages_fragment, name="messages"),
    path("<id:pk>/send/", views.send, name="send"),
    path("<id:pk>/messages/<id:message_id>/edit/", views.edit_message, name="edit_message"),
    path("<id:pk>/messages/<id:message_id>/delete/", views.delete_message, name="delete_message"),
    path("<id:pk>/messages/<id:message_id>/react/", views.react, name="react"),
    path("<id:pk>/settings/", views.group_settings, name="settings"),
    path("<id:pk>/rename/", views.rename, name="rename"),
    path("<id:pk>/picture/", views.group_picture, name="picture"),
    path("<id:pk>/members/add/", views.add_members, name="add_members"),
    path("<id:pk>/members/<uuid:public_id>/remove/", views.remove_member, name="remove_member"),
    path("<id:pk>/members/<uuid:public_id>/promote/", views.promote, name="promote"),
    path("<id:pk>/leave/", views.leave, name="leave"),
    path("<id:pk>/mute/", views.mute, name="mute"),
    path("<id:pk>/archive/", views.archive, name="archive"),
    path("<id:pk>/accept/", views.accept_request, name="accept"),
    path("<id:pk>/decline/", views.decline_request, name="decline"),
    path("<id:pk>/report/", views.report, name="report"),
    path("report/<uuid:public_id>/", views.report_person, name="report_person"),
]
