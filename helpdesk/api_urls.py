from django.urls import path

from helpdesk import api

urlpatterns = [
    path("help/requests/", api.MyRequestsView.as_view(), name="helpdesk-requests"),
    path("help/requests/<uuid:public_id>/", api.RequestDetailView.as_view(), name="helpdesk-request"),
    path("help/requests/<uuid:public_id>/accept/", api.AcceptView.as_view(), name="helpdesk-accept"),
    path("help/requests/<uuid:public_id>/decline/", api.DeclineView.as_view(), name="helpdesk-decline"),
    path("help/requests/<uuid:public_id>/release/", api.ReleaseView.as_view(), name="helpdesk-release"),
    path("help/requests/<uuid:public_id>/schedule/", api.ScheduleView.as_view(), name="helpdesk-schedule"),
    path("help/requests/<uuid:public_id>/reschedule/", api.RescheduleView.as_view(), name="helpdesk-reschedule"),
    path("help/requests/<uuid:public_id>/meeting-link/", api.MeetingLinkView.as_view(), name="helpdesk-meeting-link"),
    path("help/requests/<uuid:public_id>/complete/", api.CompleteView.as_view(), name="helpdesk-complete"),
    path("help/requests/<uuid:public_id>/cancel/", api.CancelView.as_view(), name="helpdesk-cancel"),
    path("help/requests/<uuid:public_id>/rate/", api.RateView.as_view(), name="helpdesk-rate"),
    path(
        "help/requests/<uuid:public_id>/documents/<uuid:document_id>/",
        api.DocumentDownloadView.as_view(),
        name="helpdesk-document",
    ),
    path("help/queue/", api.QueueView.as_view(), name="helpdesk-queue"),
    path("help/assigned/", api.AssignedView.as_view(), name="helpdesk-assigned"),
]
