"""The back office: lists and filters render, the timeline is read-only, actions use services."""

import pytest
from django.urls import reverse

from helpdesk.models import HelpRequest, HelpRequestStatus, MeetingState
from helpdesk.tests.factories import accepted, pdf, scheduled, submit

pytestmark = pytest.mark.django_db

CHANGELIST = "admin:helpdesk_helprequest_changelist"


def test_the_list_filters_by_status_category_expert_meeting_state_and_date(client, staff, ada, category, grace):
    failed = scheduled(ada, category, grace, title="Failed meeting")
    HelpRequest.objects.filter(pk=failed.pk).update(meeting_state=MeetingState.FAILED, meeting_error="403 Forbidden")
    submit(ada, category, title="Still open", files=[pdf()])
    client.force_login(staff)
    base = reverse(CHANGELIST)
    for query in [
        {},
        {"status": "open"},
        {"category__id__exact": category.pk},
        {"expert": grace.pk},
        {"expert": "none"},
        {"meeting_state": "failed"},
        {"created_at__year": 2026},
    ]:
        assert client.get(base, query).status_code == 200, query
    body = client.get(base, {"meeting_state": "failed"}).content.decode()
    assert "Failed meeting" in body and "Still open" not in body and "403 Forbidden" in body
    change = client.get(reverse("admin:helpdesk_helprequest_change", args=[failed.pk]))
    assert change.status_code == 200 and "Session scheduled" in change.content.decode()


def test_the_timeline_cannot_be_changed_or_deleted_in_the_admin(client, staff, ada, category):
    help_request = submit(ada, category)
    event = help_request.events.get()
    client.force_login(staff)
    assert client.get(reverse("admin:helpdesk_helprequestevent_add")).status_code == 403
    assert (
        client.post(reverse("admin:helpdesk_helprequestevent_delete", args=[event.pk]), {"post": "yes"}).status_code
        == 403
    )
    assert help_request.events.count() == 1


def test_cancel_action_goes_through_the_service(client, staff, ada, category):
    help_request = submit(ada, category)
    client.force_login(staff)
    client.post(reverse(CHANGELIST), {"action": "cancel_requests", "_selected_action": [help_request.pk]})
    help_request.refresh_from_db()
    assert help_request.status == HelpRequestStatus.CANCELLED
    assert help_request.events.last().actor_id == staff.pk


def test_reassign_action_asks_for_an_expert_then_reassigns(client, staff, ada, category, grace, alan):
    help_request = accepted(ada, category, grace)
    client.force_login(staff)
    form = client.post(reverse(CHANGELIST), {"action": "reassign_requests", "_selected_action": [help_request.pk]})
    assert form.status_code == 200 and b"Reassign" in form.content
    client.post(
        reverse(CHANGELIST),
        {"action": "reassign_requests", "_selected_action": [help_request.pk], "apply": "1", "expert": alan.pk},
    )
    help_request.refresh_from_db()
    assert help_request.expert_id == alan.pk
