"""The request page offers only what the request's stage allows, to each viewer, and says it in
the reader's words: every stage (submitted, accepted, scheduled, in session, completed, rated,
expired, cancelled) against every viewer (requester, expert, another expert, staff). The API's
`actions` follow the same rule."""

from datetime import timedelta

import pytest
from django.utils import timezone

from helpdesk import services
from helpdesk.models import HelpRequest
from helpdesk.tasks import create_meeting_task
from helpdesk.tests.factories import started, submit

pytestmark = pytest.mark.django_db

# What the page shows for each action: the element that offers it.
MARKERS = {
    "accept": 'id="accept-form"',
    "schedule": 'id="schedule-form"',
    "reschedule": 'id="reschedule-form"',
    "release": 'id="release"',
    "set_meeting_link": 'id="meeting-link-form"',
    "join_meeting": 'id="join-meeting"',
    "complete": 'id="complete"',
    "cancel": 'id="cancel-request"',
    "rate": 'id="rate-form"',
    "submit_again": 'id="submit-again"',
}

SESSION = {"join_meeting", "cancel"}
# Completing is offered once the session has started (the service refuses it before).
EXPERT_SESSION = {"join_meeting", "reschedule", "release"}
# stage -> viewer -> the actions offered (a viewer missing from a stage cannot see the request).
EXPECTED = {
    "submitted": {"requester": {"cancel"}, "other_expert": {"accept"}, "staff": set()},
    "accepted": {"requester": {"cancel"}, "expert": {"schedule", "release"}, "staff": set()},
    "scheduled": {"requester": SESSION, "expert": EXPERT_SESSION, "staff": set()},
    "in_session": {"requester": SESSION, "expert": EXPERT_SESSION | {"complete"}, "staff": set()},
    "completed": {"requester": {"rate"}, "expert": set(), "staff": set()},
    "rated": {"requester": set(), "expert": set(), "staff": set()},
    "expired": {"requester": {"submit_again"}, "staff": set()},
    "cancelled": {"requester": {"submit_again"}, "expert": set(), "staff": set()},
}


def _at(hours: float):
    start = (timezone.now() + timedelta(hours=hours)).replace(microsecond=0)
    return start, start + timedelta(hours=1)


def build(stage, ada, category, grace) -> HelpRequest:
    """A request in `stage`, made through the services (the meeting through its task)."""
    help_request = submit(ada, category)
    if stage == "submitted":
        return help_request
    if stage == "expired":
        services.expire_stale_requests(older_than=timedelta(0), now=timezone.now() + timedelta(seconds=1))
        return HelpRequest.objects.get(pk=help_request.pk)
    if stage == "accepted":
        return services.accept_help_request(expert=grace, request_id=help_request.public_id)
    start, end = _at(24)
    services.accept_help_request(expert=grace, request_id=help_request.public_id, start=start, end=end)
    create_meeting_task.apply(args=[help_request.pk], throw=True)
    if stage == "in_session":  # the session began ten minutes ago
        start = timezone.now() - timedelta(minutes=10)
        HelpRequest.objects.filter(pk=help_request.pk).update(
            scheduled_start=start, scheduled_end=start + timedelta(hours=1)
        )
    if stage == "cancelled":
        services.cancel_help_request(requester=ada, request_id=help_request.public_id)
    if stage in ("completed", "rated"):
        started(HelpRequest.objects.get(pk=help_request.pk))
        services.complete_help_request(expert=grace, request_id=help_request.public_id)
    if stage == "rated":
        services.rate_help_request(requester=ada, request_id=help_request.public_id, stars=4)
    return HelpRequest.objects.get(pk=help_request.pk)


CASES = [(stage, viewer) for stage, viewers in EXPECTED.items() for viewer in viewers]


@pytest.mark.parametrize(("stage", "viewer"), CASES, ids=[f"{stage}-{viewer}" for stage, viewer in CASES])
def test_each_stage_offers_each_viewer_only_its_valid_actions(
    client, api_of, ada, category, grace, alan, staff, provider, stage, viewer
):
    help_request = build(stage, ada, category, grace)
    user = {"requester": ada, "expert": grace, "other_expert": alan, "staff": staff}[viewer]
    client.force_login(user)

    page = client.get(help_request.get_absolute_url()).content.decode()
    api = api_of(user).get(f"/api/v1/help/requests/{help_request.public_id}/").json()

    offered = {action for action, marker in MARKERS.items() if marker in page}
    assert offered == EXPECTED[stage][viewer]
    assert f'data-stage="{stage}"' in page
    assert api["stage"] == stage and set(api["actions"]) == EXPECTED[stage][viewer]


def test_a_completed_session_no_longer_offers_its_meeting_link(client, ada, category, grace, provider):
    help_request = build("completed", ada, category, grace)
    assert help_request.meeting_join_url
    client.force_login(ada)

    page = client.get(help_request.get_absolute_url()).content.decode()

    assert "Join the meeting" not in page and help_request.meeting_join_url not in page
    assert "The session" in page  # its time is still shown, as something that happened
    # ... and the times the requester offered, which nobody can pick any more, are not.
    assert 'id="preferred-times"' not in page


def test_the_offered_times_show_while_a_session_can_still_be_picked_or_moved(client, ada, category, grace, provider):
    help_request = build("scheduled", ada, category, grace)
    assert help_request.slots.exists() or help_request.times_note
    client.force_login(ada)

    assert 'id="preferred-times"' in client.get(help_request.get_absolute_url()).content.decode()


def test_the_timeline_speaks_the_readers_language(client, ada, category, grace, provider):
    help_request = build("scheduled", ada, category, grace)
    client.force_login(ada)

    timeline = client.get(help_request.get_absolute_url()).content.decode().split('id="timeline"')[1]

    assert "Meeting link ready" in timeline
    assert "local meeting" not in timeline and "memory meeting" not in timeline
    assert "UTC" not in timeline or ada.time_zone == "UTC"


def test_why_a_meeting_failed_is_for_staff_not_the_requester(client, ada, category, grace, staff, provider):
    help_request = submit(ada, category)
    start, end = _at(24)
    services.accept_help_request(expert=grace, request_id=help_request.public_id, start=start, end=end)
    provider.fail_next(permanent=True, message="403 no application access policy")
    create_meeting_task.apply(args=[help_request.pk], throw=True)

    client.force_login(ada)
    assert "application access policy" not in client.get(help_request.get_absolute_url()).content.decode()
    client.force_login(staff)
    assert "application access policy" in client.get(help_request.get_absolute_url()).content.decode()
