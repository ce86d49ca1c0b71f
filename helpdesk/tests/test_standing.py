"""An expert's standing: what they hold goes back to the queue when staff withdraw their approval
(or their account is deactivated), and every action or document of theirs checks their standing
at that moment, through the pages and the API. A session is completed only once it has started."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from experts import services as expert_services
from experts.models import ExpertProfile
from helpdesk import services
from helpdesk.models import HelpRequest, HelpRequestEvent, HelpRequestStatus, MeetingState
from helpdesk.services import HelpdeskRefusal
from helpdesk.tasks import release_requests_without_standing_task
from helpdesk.tests.factories import accepted, pdf, scheduled, session_times, started
from notifications.models import Notification, NotificationKind

pytestmark = pytest.mark.django_db

S = HelpRequestStatus


def page(name, help_request, **kwargs):
    return reverse(f"helpdesk:{name}", kwargs={"public_id": help_request.public_id, **kwargs})


def api(name, help_request, **kwargs):
    return reverse(f"api:helpdesk-{name}", kwargs={"public_id": help_request.public_id, **kwargs})


def withdraw_approval(expert, staff, note="Your references could not be confirmed."):
    profile = ExpertProfile.objects.get(user=expert)
    return expert_services.reject_expert(profile_id=profile.pk, reviewer=staff, note=note)


def reload(help_request):
    return HelpRequest.objects.get(pk=help_request.pk)


@pytest.fixture
def held(ada, category, grace):
    """Grace holds two of Ada's requests: one accepted (with a document), one scheduled."""
    return (
        accepted(ada, category, grace, title="Eigenvalues", files=[pdf()]),
        scheduled(ada, category, grace, title="Determinants"),
    )


@pytest.fixture
def de_approved(held, grace):
    """Grace's approval is withdrawn behind the services' back (as an old admin form or a data
    fix could): she still holds both requests, and must be able to do nothing with them."""
    ExpertProfile.objects.filter(user=grace).update(status=ExpertProfile.Status.REJECTED)
    return held


# --- withdrawing the approval releases what the expert holds ------------------------------------


def test_withdrawing_an_approval_releases_every_held_request_to_the_queue(
    held, grace, alan, staff, monkeypatch, django_capture_on_commit_callbacks
):
    pushed = []
    monkeypatch.setattr(
        "live.push.publish",
        lambda user_ids, event: pushed.extend((user_id, event) for user_id in user_ids),
    )

    with django_capture_on_commit_callbacks(execute=True):
        withdraw_approval(grace, staff)

    for help_request in map(reload, held):
        assert help_request.status == S.OPEN and help_request.expert is None
        assert help_request.scheduled_start is None and help_request.meeting_state == MeetingState.NONE
        assert help_request.meeting_external_id is None and help_request.meeting_join_url == ""
        event = help_request.events.order_by("-created_at", "-id").first()
        assert (event.action, event.from_status, event.to_status, event.actor) == (
            HelpRequestEvent.Action.RELEASED,
            S.ACCEPTED if help_request.title == "Eigenvalues" else S.SCHEDULED,
            S.OPEN,
            staff,
        )
        assert "Your references" not in event.note  # staff's reasons are for the expert only
    told = Notification.objects.filter(recipient=held[0].requester, kind=NotificationKind.HELP_REQUEST_RELEASED)
    assert sorted(n.title for n in told) == [
        "Your request “Determinants” is back in the queue",
        "Your request “Eigenvalues” is back in the queue",
    ]
    reappeared = {e["request"] for uid, e in pushed if uid == alan.pk and e["type"] == "helpdesk.queue.added"}
    assert reappeared == {str(r.public_id) for r in held}


def test_the_admin_reject_action_releases_the_held_requests(held, grace, staff, client):
    client.force_login(staff)
    profile = ExpertProfile.objects.get(user=grace)
    changelist = reverse("admin:experts_expertprofile_changelist")

    response = client.post(
        changelist,
        {
            "action": "reject_selected",
            "_selected_action": [profile.pk],
            "confirm": "yes",
            "review_note": "Suspended after a complaint.",
        },
        follow=True,
    )

    assert response.status_code == 200
    assert [reload(r).status for r in held] == [S.OPEN, S.OPEN]


def test_a_failed_withdrawal_releases_nothing(held, grace, staff):
    # A note is required: the refusal changes nothing, the requests stay with the expert.
    with pytest.raises(expert_services.ExpertRefusal):
        withdraw_approval(grace, staff, note="")

    assert [reload(r).expert for r in held] == [grace, grace]


def test_the_sweep_releases_requests_of_a_deactivated_expert(held, grace, alan, django_capture_on_commit_callbacks):
    type(grace).objects.filter(pk=grace.pk).update(is_active=False)
    untouched = accepted(held[0].requester, held[0].category, alan, title="Alan keeps this one")

    with django_capture_on_commit_callbacks(execute=True):
        released = release_requests_without_standing_task()

    assert released == 2
    assert [reload(r).status for r in held] == [S.OPEN, S.OPEN]
    assert reload(untouched).expert == alan
    assert release_requests_without_standing_task() == 0  # nothing left to do: idempotent


def test_the_admin_cannot_delete_an_expert_profile_or_move_it_to_another_account(grace, staff, client):
    client.force_login(staff)
    profile = ExpertProfile.objects.get(user=grace)

    delete = client.get(reverse("admin:experts_expertprofile_delete", args=[profile.pk]))
    change = client.get(reverse("admin:experts_expertprofile_change", args=[profile.pk]))

    assert delete.status_code == 403
    assert change.status_code == 200 and 'name="user"' not in change.content.decode()


# --- every action of an expert without standing is refused --------------------------------------


def test_a_de_approved_expert_cannot_open_their_requests_or_download_documents(de_approved, grace, client_of, api_of):
    accepted_request, _ = de_approved
    document = accepted_request.documents.get()
    client, rest = client_of(grace), api_of(grace)

    assert client.get(page("detail", accepted_request)).status_code == 404
    assert client.get(page("document", accepted_request, document_id=document.public_id)).status_code == 404
    assert rest.get(api("request", accepted_request)).status_code == 404
    assert rest.get(api("document", accepted_request, document_id=document.public_id)).status_code == 404
    assert rest.get(reverse("api:helpdesk-assigned")).json()["results"] == []


def test_a_de_approved_expert_cannot_schedule_reschedule_complete_or_set_a_link_through_the_pages(
    de_approved, grace, client_of
):
    accepted_request, scheduled_request = de_approved
    client = client_of(grace)
    start, _ = session_times(hours_from_now=48)
    form = {"start": start.strftime("%Y-%m-%dT%H:%M"), "duration": "60"}
    attempts = [
        (page("schedule", accepted_request), form),
        (page("reschedule", scheduled_request), {"move-start": form["start"], "move-duration": "60"}),
        (page("meeting_link", scheduled_request), {"url": "https://teams.example/meet/1"}),
        (page("complete", started(reload(scheduled_request))), {}),
    ]
    before = [(r.status, r.scheduled_start, r.meeting_join_url) for r in map(reload, de_approved)]

    for target, data in attempts:
        response = client.post(target, data, follow=True)
        assert response.status_code == 200
        assert "You are no longer an approved expert" in response.content.decode()

    after = [(r.status, r.scheduled_start, r.meeting_join_url) for r in map(reload, de_approved)]
    assert after == before


def test_a_de_approved_expert_is_refused_403_by_every_api_action(de_approved, grace, api_of):
    accepted_request, scheduled_request = de_approved
    rest = api_of(grace)
    start, end = session_times(hours_from_now=48)
    times = {"start": start.isoformat(), "end": end.isoformat()}
    attempts = [
        (api("schedule", accepted_request), times),
        (api("reschedule", scheduled_request), times),
        (api("meeting-link", scheduled_request), {"url": "https://teams.example/meet/1"}),
        (api("release", accepted_request), {"note": "bye"}),
        (api("complete", started(reload(scheduled_request))), {}),
    ]

    for target, body in attempts:
        response = rest.post(target, body, format="json")
        assert response.status_code == 403, (target, response.content)
        assert response.json()["code"] == "not_verified"

    assert [reload(r).status for r in de_approved] == [S.ACCEPTED, S.SCHEDULED]


def test_a_deactivated_expert_cannot_act_on_what_they_hold(held, grace):
    grace.is_active = False
    grace.save(update_fields=["is_active"])
    _, scheduled_request = held

    with pytest.raises(HelpdeskRefusal) as caught:
        services.complete_help_request(expert=grace, request_id=started(reload(scheduled_request)).public_id)

    assert caught.value.code == "not_verified"
    assert reload(scheduled_request).status == S.SCHEDULED


def test_a_de_approved_expert_cannot_join_the_local_meeting_page(ada, category, grace, client_of, provider):
    help_request = scheduled(ada, category, grace)
    help_request = reload(help_request)
    ExpertProfile.objects.filter(user=grace).update(status=ExpertProfile.Status.REJECTED)

    response = client_of(grace).get(reverse("helpdesk:meet", kwargs={"meeting_id": help_request.meeting_external_id}))

    assert response.status_code == 404


# --- completion waits for the session ------------------------------------------------------------


def test_a_session_cannot_be_completed_before_it_starts(ada, category, grace, client_of, api_of):
    help_request = scheduled(ada, category, grace)

    page_response = client_of(grace).post(page("complete", help_request), follow=True)
    api_response = api_of(grace).post(api("complete", help_request))

    assert "you can mark it completed once it has started" in page_response.content.decode()
    assert api_response.status_code == 409 and api_response.json()["code"] == "not_started"
    assert reload(help_request).status == S.SCHEDULED
    assert ExpertProfile.objects.get(user=grace).sessions_completed == 0


def test_the_page_offers_completion_only_once_the_session_has_started(ada, category, grace, client_of):
    help_request = scheduled(ada, category, grace)
    client = client_of(grace)

    before = client.get(page("detail", help_request)).content.decode()
    started(reload(help_request), minutes_ago=1)
    after = client.get(page("detail", help_request)).content.decode()

    assert 'id="complete"' not in before and 'id="complete-later"' in before
    assert 'id="complete"' in after


def test_a_started_session_can_be_completed(ada, category, grace):
    help_request = started(reload(scheduled(ada, category, grace)), minutes_ago=1)

    done = services.complete_help_request(expert=grace, request_id=help_request.public_id)

    assert done.status == S.COMPLETED
    assert done.scheduled_start <= timezone.now() < done.scheduled_start + timedelta(minutes=2)
