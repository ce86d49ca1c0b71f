"""create_meeting_task with the in-memory provider: idempotent, transient retry, permanent
failure, the .ics invitation exactly once however often the task runs; reminders; expiry."""

from datetime import timedelta

import pytest
from celery.exceptions import Retry
from django.core import mail
from django.utils import timezone

from helpdesk import services
from helpdesk.models import HelpRequest, HelpRequestStatus, MeetingState
from helpdesk.tests.factories import accepted, scheduled, session_times
from notifications.models import Notification, NotificationKind

pytest.importorskip("helpdesk.meetings", reason="helpdesk/meetings.py (InMemoryMeetingProvider) is missing")
from helpdesk.tasks import (
    create_meeting_task,
    expire_requests_task,
    send_session_reminders_task,
    sweep_pending_meetings_task,
)

pytestmark = pytest.mark.django_db


def invitations():
    return [m for m in mail.outbox if any(a[0].endswith(".ics") for a in getattr(m, "attachments", []))]


def run_task(request_pk):
    """The task body as a worker runs it; a transient error surfaces as celery's Retry."""
    return create_meeting_task.apply(args=[request_pk], throw=True).get()


@pytest.fixture
def pending(ada, category, grace, provider):
    return scheduled(ada, category, grace)


def test_the_meeting_is_created_stored_and_announced(pending, provider, ada, grace):
    assert run_task(pending.pk) == "created"

    pending.refresh_from_db()
    assert pending.meeting_state == MeetingState.CREATED
    assert pending.meeting_join_url.startswith("https://teams.example.invalid/")
    assert provider.calls[0].external_id == str(pending.meeting_external_id)
    assert pending.events.last().action == "meeting_created"
    for user in (ada, grace):
        assert Notification.objects.filter(recipient=user, kind=NotificationKind.HELP_MEETING_READY).count() == 1
    [invite] = invitations()
    assert invite.to == [ada.email]
    _name, content, mimetype = invite.attachments[0]
    assert mimetype.startswith("text/calendar")
    assert b"BEGIN:VCALENDAR" in (content if isinstance(content, bytes) else content.encode())
    assert pending.meeting_join_url in invite.body


def test_running_the_task_again_is_a_no_op(pending, provider):
    run_task(pending.pk)
    notifications = Notification.objects.count()

    assert run_task(pending.pk) == "noop"
    assert run_task(pending.pk) == "noop"

    assert len(provider.meetings) == 1
    assert Notification.objects.count() == notifications
    assert len(invitations()) == 1
    assert pending.events.filter(action="meeting_created").count() == 1


def test_a_transient_error_retries_and_the_retry_reuses_the_same_external_id(pending, provider):
    provider.fail_next(1)
    with pytest.raises(Retry):
        create_meeting_task.apply(args=[pending.pk], throw=True).get()
    pending.refresh_from_db()
    assert pending.meeting_state == MeetingState.PENDING

    assert run_task(pending.pk) == "created"

    assert [call.external_id for call in provider.calls] == [str(pending.meeting_external_id)] * 2
    assert len(provider.meetings) == 1
    assert len(invitations()) == 1


def test_a_permanent_error_fails_the_meeting_and_tells_the_expert_and_staff(pending, provider, grace, staff, ada):
    provider.fail_next(1, permanent=True, message="403 Forbidden: no application access policy")

    assert run_task(pending.pk) == "failed"

    pending.refresh_from_db()
    assert pending.meeting_state == MeetingState.FAILED
    assert "403" in pending.meeting_error
    assert Notification.objects.filter(recipient=grace, kind=NotificationKind.HELP_MEETING_FAILED).count() == 1
    assert Notification.objects.filter(recipient=staff, kind=NotificationKind.HELP_MEETING_FAILED).count() == 1
    assert not Notification.objects.filter(recipient=ada, kind=NotificationKind.HELP_MEETING_FAILED).exists()
    assert invitations() == []
    # The expert pastes a link instead.
    services.set_manual_meeting_link(expert=grace, request_id=pending.public_id, url="https://meet.example/abc")
    pending.refresh_from_db()
    assert pending.meeting_state == MeetingState.MANUAL


def test_a_failed_send_gives_the_e_mail_claim_back_for_the_retry(pending, provider, monkeypatch):
    calls = []

    def flaky(help_request):
        calls.append(help_request.pk)
        if len(calls) == 1:
            raise OSError("SMTP down")
        mail.outbox.append(type("M", (), {"attachments": [("help-session.ics", b"", "text/calendar")]})())

    monkeypatch.setattr("helpdesk.emails.send_meeting_invitation", flaky)
    run_task(pending.pk)  # the e-mail task asked for a retry (logged), the meeting stands
    assert HelpRequest.objects.get(pk=pending.pk).meeting_email_sent_at is None

    assert services.send_meeting_email_once(request_pk=pending.pk) is True
    assert services.send_meeting_email_once(request_pk=pending.pk) is False
    assert len(calls) == 2


def test_a_released_or_cancelled_request_gets_no_meeting(ada, category, grace, provider):
    help_request = scheduled(ada, category, grace)
    services.cancel_help_request(requester=ada, request_id=help_request.public_id)

    assert run_task(help_request.pk) == "noop"
    assert provider.calls == []


def test_scheduling_enqueues_the_meeting_after_commit(
    ada, category, grace, provider, django_capture_on_commit_callbacks
):
    help_request = accepted(ada, category, grace)
    start, end = session_times()
    with django_capture_on_commit_callbacks(execute=True):
        services.schedule_session(expert=grace, request_id=help_request.public_id, start=start, end=end)

    help_request.refresh_from_db()
    assert help_request.meeting_state == MeetingState.CREATED
    assert len(invitations()) == 1


def test_the_sweep_requeues_meetings_stuck_pending(pending, provider, django_capture_on_commit_callbacks):
    HelpRequest.objects.filter(pk=pending.pk).update(updated_at=timezone.now() - timedelta(minutes=30))

    with django_capture_on_commit_callbacks(execute=True):
        assert sweep_pending_meetings_task.apply().get() == 1

    assert HelpRequest.objects.get(pk=pending.pk).meeting_state == MeetingState.CREATED


def test_reminders_go_an_hour_and_ten_minutes_before_once_each(ada, category, grace, provider):
    help_request = scheduled(ada, category, grace)
    start = timezone.now() + timedelta(minutes=50)
    HelpRequest.objects.filter(pk=help_request.pk).update(
        scheduled_start=start, scheduled_end=start + timedelta(hours=1)
    )

    assert send_session_reminders_task.apply().get() == 1  # the hour reminder
    assert send_session_reminders_task.apply().get() == 0  # not twice
    reminders = Notification.objects.filter(kind=NotificationKind.HELP_SESSION_REMINDER)
    assert sorted(reminders.values_list("recipient_id", flat=True)) == sorted([ada.pk, grace.pk])

    HelpRequest.objects.filter(pk=help_request.pk).update(scheduled_start=timezone.now() + timedelta(minutes=8))
    assert send_session_reminders_task.apply().get() == 1  # the 10-minute reminder
    assert send_session_reminders_task.apply().get() == 0
    assert reminders.count() == 4


def test_the_expiry_task_expires_old_open_requests(ada, category, settings):
    from helpdesk.tests.factories import submit

    settings.HELPDESK_REQUEST_TTL_HOURS = 1
    help_request = submit(ada, category)
    HelpRequest.objects.filter(pk=help_request.pk).update(created_at=timezone.now() - timedelta(hours=2))

    assert expire_requests_task.apply().get() == 1
    assert HelpRequest.objects.get(pk=help_request.pk).status == HelpRequestStatus.EXPIRED
