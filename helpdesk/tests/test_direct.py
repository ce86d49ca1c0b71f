""" "Ask <name> for help": the expert's page opens the request form addressed to them; the
request waits in their queue alone ("Asked you directly") and they are told; it goes to the
category's queue when they decline or when HELPDESK_DIRECT_WINDOW_MINUTES pass (the beat task).
Only approved experts in good standing can be asked, never by themselves, never across a block."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from experts.models import ExpertProfile
from helpdesk import services
from helpdesk.models import HelpRequest, HelpRequestStatus
from helpdesk.tasks import release_lapsed_direct_requests_task
from notifications.models import Notification, NotificationKind
from social import services as social_services

pytestmark = pytest.mark.django_db

NO_SLOTS = {
    "slots-TOTAL_FORMS": "5",
    "slots-INITIAL_FORMS": "0",
    "slots-MIN_NUM_FORMS": "0",
    "slots-MAX_NUM_FORMS": "5",
}


def profile_of(user) -> ExpertProfile:
    return ExpertProfile.objects.get(user=user)


def ask_url(user):
    return reverse("helpdesk:ask_expert", kwargs={"pk": profile_of(user).pk})


def ask(requester, expert, category, title="Eigenvalues"):
    return services.submit_help_request(
        requester=requester,
        category_id=category.pk,
        title=title,
        description="Stuck.",
        direct_expert_profile_id=profile_of(expert).pk,
    )


def test_the_expert_page_offers_ask_and_the_form_is_addressed(client_of, ada, grace, category):
    client = client_of(ada)
    page = client.get(reverse("experts:detail", args=[profile_of(grace).pk])).content.decode()
    assert f'href="{ask_url(grace)}"' in page and "Ask Grace for help" in page
    form = client.get(ask_url(grace)).content.decode()
    assert "Ask Grace Expert for help" in form and "within 4 hours" in form
    assert f'<option value="{category.pk}" selected>' in form  # her one subject, chosen


def test_the_expert_sees_it_first_marked_and_is_notified(client_of, ada, grace, alan, category):
    client = client_of(ada)
    response = client.post(
        ask_url(grace), {**NO_SLOTS, "category": category.pk, "title": "Eigenvalues", "description": "Stuck."}
    )
    help_request = HelpRequest.objects.get()
    assert response.status_code == 302 and help_request.direct_expert == grace and help_request.is_direct
    note = Notification.objects.get(recipient=grace, kind=NotificationKind.HELP_REQUEST_DIRECT)
    assert "Ada Lovelace asked you directly" in note.title
    requester_page = client.get(help_request.get_absolute_url()).content.decode()
    assert "Waiting for Grace Expert" in requester_page and 'id="direct-state"' in requester_page

    queue = client_of(grace).get(reverse("helpdesk:queue")).content.decode()
    assert "Asked you directly" in queue and help_request.title in queue
    # Alan, in the same subject, neither sees it in his queue nor on its page, nor can accept it
    alan_client = client_of(alan)
    assert help_request.title not in alan_client.get(reverse("helpdesk:queue")).content.decode()
    assert alan_client.get(help_request.get_absolute_url()).status_code == 404
    with pytest.raises(HelpRequest.DoesNotExist):
        services.accept_help_request(expert=alan, request_id=help_request.public_id)


def test_the_live_queue_event_reaches_only_the_expert_asked(
    ada, grace, alan, category, monkeypatch, django_capture_on_commit_callbacks
):
    pushed = []
    monkeypatch.setattr(
        "live.push.publish",
        lambda user_ids, event: pushed.extend((user_id, event) for user_id in user_ids),
    )
    with django_capture_on_commit_callbacks(execute=True):
        ask(ada, grace, category)
    added = [user_id for user_id, event in pushed if event["type"] == "helpdesk.queue.added"]
    assert added == [grace.pk]


def test_declining_sends_it_to_the_queue_at_once(client_of, ada, grace, alan, category):
    help_request = ask(ada, grace, category)
    grace_client = client_of(grace)
    page = grace_client.get(help_request.get_absolute_url()).content.decode()
    assert 'id="decline-form"' in page and 'id="accept-form"' in page
    response = grace_client.post(reverse("helpdesk:decline", args=[help_request.public_id]), {"note": "Away this week"})
    assert response.status_code == 302
    help_request.refresh_from_db()
    assert not help_request.is_direct and help_request.status == HelpRequestStatus.OPEN
    told = Notification.objects.get(recipient=ada, kind=NotificationKind.HELP_REQUEST_TO_QUEUE)
    assert "every expert of Linear Algebra" in told.title and "Away this week" in told.body
    assert help_request.title in client_of(alan).get(reverse("helpdesk:queue")).content.decode()
    requester_page = client_of(ada).get(help_request.get_absolute_url()).content.decode()
    assert "Waiting for an expert" in requester_page and "Declined by the expert asked" in requester_page


def test_the_window_lapses_into_the_queue(ada, grace, alan, category, settings):
    settings.HELPDESK_DIRECT_WINDOW_MINUTES = 30
    help_request = ask(ada, grace, category)
    assert help_request.direct_until - timezone.now() <= timedelta(minutes=30)
    assert release_lapsed_direct_requests_task() == 0  # not yet
    HelpRequest.objects.filter(pk=help_request.pk).update(direct_until=timezone.now() - timedelta(seconds=1))
    assert release_lapsed_direct_requests_task() == 1
    help_request.refresh_from_db()
    assert help_request.direct_until is None and help_request.events.last().action == "sent_to_queue"
    assert "did not accept it within 30 minutes" in help_request.events.last().note
    services.accept_help_request(expert=alan, request_id=help_request.public_id)


def test_an_expert_who_loses_standing_passes_it_on(ada, grace, category):
    help_request = ask(ada, grace, category)
    ExpertProfile.objects.filter(user=grace).update(status=ExpertProfile.Status.REJECTED)
    assert services.release_lapsed_direct_requests() == 1
    help_request.refresh_from_db()
    assert not help_request.is_direct


def test_the_expert_asked_accepts_within_the_window(ada, grace, category):
    help_request = ask(ada, grace, category)
    accepted = services.accept_help_request(expert=grace, request_id=help_request.public_id)
    assert accepted.status == HelpRequestStatus.ACCEPTED and accepted.direct_until is None
    assert services.release_lapsed_direct_requests() == 0


def test_nobody_can_ask_themselves_an_unapproved_expert_or_across_a_block(client_of, ada, grace, make_expert, category):
    # themselves
    response = client_of(grace).get(ask_url(grace))
    assert response.status_code == 302
    page = client_of(grace).get(reverse("experts:detail", args=[profile_of(grace).pk])).content.decode()
    assert 'id="ask-expert"' not in page
    with pytest.raises(Exception) as refused:
        ask(grace, grace, category)
    assert "expert" in refused.value.message_dict
    # not approved
    pending = make_expert("Pat", status=ExpertProfile.Status.PENDING)
    assert client_of(ada).get(ask_url(pending)).status_code == 404
    # a block either way: like an unknown expert
    social_services.block_user(blocker=grace, blocked=ada)
    client = client_of(ada)
    assert client.get(ask_url(grace)).status_code == 404
    unknown = client.get(reverse("helpdesk:ask_expert", kwargs={"pk": 999_999}))
    assert unknown.status_code == 404
    assert HelpRequest.objects.count() == 0


def test_the_api_asks_one_expert_and_the_expert_declines(api_of, ada, eve, grace, chemist, category):
    api = api_of(ada)
    answer = api.post(
        "/api/v1/help/requests/",
        {"category": category.pk, "title": "Eigenvalues", "description": "Stuck.", "expert": profile_of(grace).pk},
        format="multipart",
    )
    assert answer.status_code == 201, answer.json()
    body = answer.json()
    assert body["direct_expert"]["full_name"] == "Grace Expert" and body["direct_until"]
    assert body["stage"] == "submitted"
    # an expert of another subject
    wrong = api.post(
        "/api/v1/help/requests/",
        {"category": category.pk, "title": "x", "description": "y", "expert": profile_of(chemist).pk},
        format="multipart",
    )
    assert wrong.status_code == 400 and "category" in wrong.json()["errors"]
    unknown = api.post(
        "/api/v1/help/requests/",
        {"category": category.pk, "title": "x", "description": "y", "expert": 999_999},
        format="multipart",
    )
    assert unknown.status_code == 404
    # the expert asked sees accept and decline; someone else cannot decline it
    grace_api = api_of(grace)
    detail = grace_api.get(f"/api/v1/help/requests/{body['id']}/").json()
    assert {"accept", "decline"} <= set(detail["actions"])
    assert api_of(eve).post(f"/api/v1/help/requests/{body['id']}/decline/", {}, format="json").status_code == 404
    declined = grace_api.post(f"/api/v1/help/requests/{body['id']}/decline/", {"note": "Busy"}, format="json")
    assert declined.status_code == 200 and declined.json()["direct_until"] is None
    again = grace_api.post(f"/api/v1/help/requests/{body['id']}/decline/", {}, format="json")
    assert again.status_code == 409
