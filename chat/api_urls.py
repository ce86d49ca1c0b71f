"""Included under /api/v1/ by config/urls.py, inside the "api" namespace."""

from django.urls import path

from chat import api

urlpatterns = [
    path("chat/conversations/", api.ConversationListView.as_view(), name="chat-conversations"),
    path("chat/conversations/direct/", api.DirectConversationView.as_view(), name="chat-direct"),
    path("chat/conversations/<id:pk>/", api.ConversationDetailView.as_view(), name="chat-conversation"),
    path("chat/conversations/<id:pk>/messages/", api.MessagesView.as_view(), name="chat-messages"),
    path("chat/conversations/<id:pk>/read/", api.ReadView.as_view(), name="chat-read"),
    path("chat/conversations/<id:pk>/picture/", api.GroupPictureView.as_view(), name="chat-picture"),
    path("chat/conversations/<id:pk>/accept/", api.AcceptRequestView.as_view(), name="chat-accept"),
    path("chat/conversations/<id:pk>/leave/", api.LeaveView.as_view(), name="chat-leave"),
    path("chat/conversations/<id:pk>/members/", api.MembersView.as_view(), name="chat-members"),
    path("chat/conversations/<id:pk>/members/<uuid:public_id>/", api.MemberDetailView.as_view(), name="chat-member"),
    path(
        "chat/conversations/<id:pk>/members/<uuid:public_id>/promote/",
        api.PromoteView.as_view(),
        name="chat-member-promote",
    ),
    path("chat/messages/<id:pk>/", api.MessageDetailView.as_view(), name="chat-message"),
    path("chat/messages/<id:pk>/reactions/", api.ReactionsView.as_view(), name="chat-message-reactions"),
    path("chat/attachments/<id:pk>/", api.AttachmentView.as_view(), name="chat-attachment"),
]
