from django.urls import path

from helpdesk import views

app_name = "helpdesk"

urlpatterns = [
    path("", views.my_requests, name="mine"),
    path("new/", views.new_request, name="new"),
    path("ask/<id:pk>/", views.ask_expert, name="ask_expert"),
    path("queue/", views.queue, name="queue"),
    path("queue/<uuid:public_id>/row/", views.queue_row, name="queue_row"),
    path("assigned/", views.assigned, name="assigned"),
    path("r/<uuid:public_id>/", views.request_detail, name="detail"),
    path("r/<uuid:public_id>/accept/", views.accept, name="accept"),
    path("r/<uuid:public_id>/decline/", views.decline, name="decline"),
    path("r/<uuid:public_id>/again/", views.submit_again, name="submit_again"),
    path("r/<uuid:public_id>/card/", views.chat_card, name="chat_card"),
    path("r/<uuid:public_id>/release/", views.release, name="release"),
    path("r/<uuid:public_id>/schedule/", views.schedule, name="schedule"),
    path("r/<uuid:public_id>/reschedule/", views.reschedule, name="reschedule"),
    path("r/<uuid:public_id>/meeting-link/", views.meeting_link, name="meeting_link"),
    path("r/<uuid:public_id>/complete/", views.complete, name="complete"),
    path("r/<uuid:public_id>/cancel/", views.cancel, name="cancel"),
    path("r/<uuid:public_id>/rate/", views.rate, name="rate"),
    path("r/<uuid:public_id>/documents/<uuid:document_id>/", views.download_document, name="document"),
    path("meet/<uuid:meeting_id>/", views.meet, name="meet"),
]
