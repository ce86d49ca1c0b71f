"""The back office: lists and filters render, the timeline is read-only, actions use services."""

import pytest
from django.contrib.admin.templatetags.admin_list import result_headers
from django.urls import reverse
from django.utils import timezone

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


def test_the_change_page_shows_the_meeting_failure_the_timeline_and_document_links(client, staff, ada, category, grace):
    help_request = scheduled(ada, category, grace, files=[pdf("sheet.pdf")])
    HelpRequest.objects.filter(pk=help_request.pk).update(
        meeting_state=MeetingState.FAILED, meeting_error="403 Forbidden: no application access policy"
    )
    client.force_login(staff)

    body = client.get(reverse("admin:helpdesk_helprequest_change", args=[help_request.pk])).content.decode()

    assert "no application access policy" in body
    assert "Submitted" in body and "Accepted" in body and "Session scheduled" in body  # timeline inline
    document = help_request.documents.get()
    href = reverse("helpdesk:document", kwargs={"public_id": help_request.public_id, "document_id": document.public_id})
    assert href in body
    download = client.get(href)
    assert download.status_code == 200 and download["Content-Disposition"].startswith("attachment;")


def test_the_list_filters_narrow_to_what_was_asked(client, staff, ada, category, other_category, grace, chemist):
    scheduled(ada, category, grace, title="Algebra held by Grace")
    submit(ada, other_category, title="Chemistry still open")
    client.force_login(staff)
    base = reverse(CHANGELIST)

    by_expert = client.get(base, {"expert": grace.pk}).content.decode()
    assert "Algebra held by Grace" in by_expert and "Chemistry still open" not in by_expert
    by_category = client.get(base, {"category__id__exact": other_category.pk}).content.decode()
    assert "Chemistry still open" in by_category and "Algebra held by Grace" not in by_category
    by_status = client.get(base, {"status": "scheduled"}).content.decode()
    assert "Algebra held by Grace" in by_status and "Chemistry still open" not in by_status
    long_ago = client.get(base, {"created_at__year": 2000}).content.decode()
    assert "Algebra held by Grace" not in long_ago and "Chemistry still open" not in long_ago
    this_year = client.get(base, {"created_at__year": timezone.now().year}).content.decode()
    assert "Algebra held by Grace" in this_year and "Chemistry still open" in this_year


def test_refused_back_office_actions_say_why_and_change_nothing(client, staff, ada, category, grace, chemist):
    from helpdesk.tests.factories import completed

    done = completed(ada, category, grace, title="Already done")
    held = accepted(ada, category, grace, title="Held by Grace")
    client.force_login(staff)

    response = client.post(
        reverse(CHANGELIST), {"action": "cancel_requests", "_selected_action": [done.pk]}, follow=True
    )
    assert "cannot be cancelled" in response.content.decode()
    assert HelpRequest.objects.get(pk=done.pk).status == HelpRequestStatus.COMPLETED

    # An expert of another category, and no expert at all.
    response = client.post(
        reverse(CHANGELIST),
        {"action": "reassign_requests", "_selected_action": [held.pk], "apply": "1", "expert": chemist.pk},
        follow=True,
    )
    assert "is not a verified expert in" in response.content.decode()
    response = client.post(
        reverse(CHANGELIST), {"action": "reassign_requests", "_selected_action": [held.pk], "apply": "1", "expert": ""}
    )
    assert response.status_code == 200 and "This field is required" in response.content.decode()
    assert HelpRequest.objects.get(pk=held.pk).expert_id == grace.pk


def test_reassigning_tells_the_requester_and_both_experts(client, staff, ada, category, grace, alan):
    from notifications.models import Notification

    held = accepted(ada, category, grace)
    client.force_login(staff)
    client.post(
        reverse(CHANGELIST),
        {"action": "reassign_requests", "_selected_action": [held.pk], "apply": "1", "expert": alan.pk},
    )
    assert Notification.objects.filter(recipient=ada, title__contains="is now the expert").count() == 1
    assert Notification.objects.filter(recipient=alan, title__startswith="Staff assigned").count() == 1
    assert Notification.objects.filter(recipient=grace, title__contains="reassigned").count() == 1
    assert held.events.filter(action="reassigned", actor=staff).count() == 1


def test_students_and_anonymous_users_cannot_open_the_back_office(client, ada, category):
    help_request = submit(ada, category)
    change = reverse("admin:helpdesk_helprequest_change", args=[help_request.pk])
    assert client.get(change).status_code == 302
    client.force_login(ada)
    assert client.get(change).status_code == 302


def test_the_list_keeps_its_key_columns_and_a_long_title_whole_on_hover(client, staff, ada, category, grace):
    long_title = "Why does my proof that every symmetric matrix is diagonalisable fall apart for complex entries"
    held = accepted(ada, category, grace, title=long_title)
    client.force_login(staff)

    response = client.get(reverse(CHANGELIST))

    content = response.content.decode()
    headers = [column["text"] for column in _headers(response)]
    assert headers == ["title", "status", "category", "requester", "expert", "meeting", "created"]
    assert f'<span class="cell-truncate" title="{long_title}">{long_title}</span>' in content
    assert f'title="{grace.email}">Grace Expert</span>' in content
    assert reverse("admin:helpdesk_helprequest_change", args=[held.pk]) in content


def _headers(response):
    """The list's column headers as the admin renders them (without the selection box)."""
    return [
        h for h in result_headers(response.context["cl"]) if h["text"] and "action-checkbox" not in h["class_attrib"]
    ]
