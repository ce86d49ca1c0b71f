"""Scheduling attempts: one e-mail when a meeting is ready, a new externalId per attempt (a new
accept after a release never gets the former expert's meeting), and moving a session.

The e-mail tests run every after-commit callback (notify's outbox task, the meeting task, the
invitation task) the way a worker would, then count what reached the mailbox."""

from datetime import UTC, timedelta

import pytest
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from helpdesk import services
from helpdesk.meetings import reset_graph_clients
from helpdesk.models import HelpRequest, HelpRequestStatus, MeetingState
from helpdesk.services import HelpdeskRefusal
from helpdesk.tasks import create_meeting_task, send_meeting_email_task
from helpdesk.tests.factories import accepted, scheduled, session_times, started
from helpdesk.tests.graph_stub import GraphStub
from notifications.models import EmailDelivery, Notification, NotificationKind

pytestmark = pytest.mark.django_db


def run_task(request_pk):
    return create_meeting_task.apply(args=[request_pk], throw=True).get()


def mails_to(user):
    return [message for message in mail.outbox if user.email in message.to]


def ics_of(message) -> str:
    [(_name, content, mimetype)] = [a for a in message.attachments if a[0].endswith(".ics")]
    assert mimetype.startswith("text/calendar")
    return content.decode() if isinstance(content, bytes) else content


def unfolded(ics: str) -> str:
    return ics.replace("\r\n ", "")


def move(expert, help_request, *, hours_from_now=48, minutes=45):
    start, end = session_times(hours_from_now=hours_from_now, minutes=minutes)
    return services.reschedule_session(expert=expert, request_id=help_request.public_id, start=start, end=end)


# --- 1. One e-mail when the meeting is ready ----------------------------------------------------


def test_the_requester_gets_one_e_mail_the_invitation_and_keeps_the_in_app_notification(
    ada, category, grace, provider, django_capture_on_commit_callbacks
):
    help_request = scheduled(ada, category, grace)
    mail.outbox.clear()

    with django_capture_on_commit_callbacks(execute=True):
        assert run_task(help_request.pk) == "created"
    # Retries and duplicated deliveries of both tasks change nothing.
    with django_capture_on_commit_callbacks(execute=True):
        assert run_task(help_request.pk) == "noop"
        send_meeting_email_task.apply(args=[help_request.pk]).get()

    help_request.refresh_from_db()
    [invitation] = mails_to(ada)
    assert help_request.meeting_join_url in invitation.body
    assert "BEGIN:VCALENDAR" in ics_of(invitation)
    # The in-app notification stays, with no outbox row of its own (no second e-mail).
    [ready] = Notification.objects.filter(recipient=ada, kind=NotificationKind.HELP_MEETING_READY)
    assert not EmailDelivery.objects.filter(notification=ready).exists()
    # The expert gets no invitation; their notification e-mail (per preferences) carries the link.
    [expert_mail] = mails_to(grace)
    assert help_request.meeting_join_url in expert_mail.body
    assert not any(a[0].endswith(".ics") for a in expert_mail.attachments)


def test_the_requester_who_turned_meeting_e_mails_off_gets_none(
    ada, category, grace, provider, django_capture_on_commit_callbacks
):
    from notifications.services import set_email_preferences

    set_email_preferences(user=ada, kinds={NotificationKind.HELP_MEETING_READY: False})
    help_request = scheduled(ada, category, grace)
    mail.outbox.clear()

    with django_capture_on_commit_callbacks(execute=True):
        run_task(help_request.pk)

    assert mails_to(ada) == []
    assert Notification.objects.filter(recipient=ada, kind=NotificationKind.HELP_MEETING_READY).count() == 1


def test_a_manual_link_also_sends_one_invitation_and_no_notification_e_mail(
    ada, category, grace, provider, django_capture_on_commit_callbacks
):
    help_request = scheduled(ada, category, grace)
    provider.fail_next(permanent=True, message="403 no access policy")
    run_task(help_request.pk)
    mail.outbox.clear()

    with django_capture_on_commit_callbacks(execute=True):
        services.set_manual_meeting_link(expert=grace, request_id=help_request.public_id, url="https://meet.example/a")
    with django_capture_on_commit_callbacks(execute=True):  # the same link again: nothing new
        services.set_manual_meeting_link(expert=grace, request_id=help_request.public_id, url="https://meet.example/a")

    [invitation] = mails_to(ada)
    assert "https://meet.example/a" in unfolded(ics_of(invitation))
    assert help_request.events.filter(action="meeting_link_set").count() == 1


# --- 2. A new externalId per scheduling attempt --------------------------------------------------


def test_a_new_accept_after_a_release_gets_a_new_meeting_with_the_memory_provider(ada, category, grace, alan, provider):
    help_request = scheduled(ada, category, grace)
    run_task(help_request.pk)
    help_request.refresh_from_db()
    first_id, first_url = help_request.meeting_external_id, help_request.meeting_join_url

    services.release_help_request(expert=grace, request_id=help_request.public_id, note="Ill")
    help_request.refresh_from_db()
    assert help_request.meeting_external_id is None and help_request.meeting_join_url == ""
    services.accept_help_request(expert=alan, request_id=help_request.public_id)
    start, end = session_times(hours_from_now=30)
    services.schedule_session(expert=alan, request_id=help_request.public_id, start=start, end=end)
    provider.fail_next(1)  # a transient error: the retry must reuse this attempt's id
    with pytest.raises(Exception, match="transient"):
        run_task(help_request.pk)
    run_task(help_request.pk)

    help_request.refresh_from_db()
    assert help_request.meeting_state == MeetingState.CREATED
    assert help_request.meeting_external_id not in (None, first_id, help_request.public_id)
    assert help_request.meeting_join_url != first_url
    assert [call.external_id for call in provider.calls] == [str(first_id)] + [
        str(help_request.meeting_external_id)
    ] * 2
    assert len(provider.meetings) == 2


@pytest.fixture
def graph(settings):
    reset_graph_clients()
    with GraphStub() as stub:
        for name, value in stub.settings().items():
            setattr(settings, name, value)
        settings.MEETING_PROVIDER = "graph"
        yield stub
    reset_graph_clients()


def test_against_graph_a_new_attempt_never_gets_the_former_meeting_and_a_retry_gets_its_own(
    graph, ada, category, grace, alan
):
    # First attempt: Grace schedules; Graph creates meeting A.
    help_request = scheduled(ada, category, grace)
    assert run_task(help_request.pk) == "created"
    help_request.refresh_from_db()
    meeting_a = help_request.meeting_join_url
    assert graph.meetings[str(help_request.meeting_external_id)]["joinWebUrl"] == meeting_a

    # Grace releases; Alan accepts and schedules another time: a second attempt.
    services.release_help_request(expert=grace, request_id=help_request.public_id, note="Travelling")
    services.accept_help_request(expert=alan, request_id=help_request.public_id)
    start, end = session_times(hours_from_now=50)
    services.schedule_session(expert=alan, request_id=help_request.public_id, start=start, end=end)
    assert run_task(help_request.pk) == "created"
    help_request.refresh_from_db()
    attempt_b = str(help_request.meeting_external_id)
    meeting_b = help_request.meeting_join_url

    assert meeting_b != meeting_a
    assert len(graph.meetings) == 2
    assert [call.status for call in graph.graph_calls] == [201, 201]
    assert graph.graph_calls[1].body["externalId"] == attempt_b
    assert graph.graph_calls[1].body["startDateTime"] == start.astimezone(UTC).isoformat()

    # A worker died after Graph answered but before the row was saved: the retried task of the
    # same attempt sends the same externalId and Graph returns the same meeting (200), no third.
    HelpRequest.objects.filter(pk=help_request.pk).update(
        meeting_state=MeetingState.PENDING, meeting_join_url="", meeting_id=""
    )
    assert run_task(help_request.pk) == "created"
    help_request.refresh_from_db()
    assert help_request.meeting_join_url == meeting_b
    assert [call.status for call in graph.graph_calls] == [201, 201, 200]
    assert graph.graph_calls[2].body["externalId"] == attempt_b
    assert len(graph.meetings) == 2


def test_an_outcome_of_a_superseded_attempt_is_ignored(ada, category, grace, provider):
    help_request = scheduled(ada, category, grace)
    old_attempt = help_request.meeting_external_id
    move(grace, help_request)

    stored = services.record_meeting_created(
        request_pk=help_request.pk,
        external_id=old_attempt,
        join_url="https://teams.example.invalid/old",
        meeting_id="old",
        provider="memory",
    )
    failed = services.record_meeting_failed(request_pk=help_request.pk, external_id=old_attempt, error="x")

    help_request.refresh_from_db()
    assert (stored, failed) == (False, False)
    assert help_request.meeting_state == MeetingState.PENDING and help_request.meeting_join_url == ""


# --- 3. Moving a session ---------------------------------------------------------------------------


def test_moving_a_session_makes_a_new_meeting_tells_the_requester_once_and_updates_the_invitation(
    ada, category, grace, provider, django_capture_on_commit_callbacks
):
    help_request = scheduled(ada, category, grace)
    with django_capture_on_commit_callbacks(execute=True):
        run_task(help_request.pk)
    help_request.refresh_from_db()
    first_attempt, first_url, first_sequence = (
        help_request.meeting_external_id,
        help_request.meeting_join_url,
        help_request.schedule_sequence,
    )
    first_start = help_request.scheduled_start
    notifications_before = Notification.objects.filter(recipient=ada).count()
    expert_notifications_before = Notification.objects.filter(recipient=grace).count()
    mail.outbox.clear()

    start, end = session_times(hours_from_now=72, minutes=90)
    with django_capture_on_commit_callbacks(execute=True):
        services.reschedule_session(expert=grace, request_id=help_request.public_id, start=start, end=end)

    help_request.refresh_from_db()
    assert help_request.status == HelpRequestStatus.SCHEDULED
    assert (help_request.scheduled_start, help_request.scheduled_end) == (start, end)
    assert help_request.meeting_state == MeetingState.CREATED
    assert help_request.meeting_external_id != first_attempt
    assert help_request.meeting_join_url != first_url
    assert help_request.schedule_sequence == first_sequence + 1
    # The timeline records it.
    event = help_request.events.get(action="rescheduled")
    assert event.actor == grace and event.from_status == event.to_status == "scheduled"
    assert (event.previous_start, event.session_start, event.session_end) == (first_start, start, end)
    # The requester is told once about the move (then the new link is ready, in the app).
    moved = Notification.objects.filter(recipient=ada, kind=NotificationKind.HELP_REQUEST_SCHEDULED).order_by("pk")
    assert "moved to" in moved.last().title
    new = Notification.objects.filter(recipient=ada).count() - notifications_before
    assert new == 2  # "moved" + "meeting link ready"
    assert Notification.objects.filter(recipient=grace).count() - expert_notifications_before == 1  # link ready
    # One invitation, updating the same calendar event (same UID, higher SEQUENCE, new time).
    [invitation] = [m for m in mails_to(ada) if m.attachments]
    ics = unfolded(ics_of(invitation))
    assert f"UID:help-{help_request.public_id}@" in ics
    assert f"SEQUENCE:{first_sequence + 1}" in ics
    assert f"DTSTART:{start.astimezone(UTC):%Y%m%dT%H%M%SZ}" in ics
    assert help_request.meeting_join_url in ics


def test_reminders_follow_the_new_time(ada, category, grace, provider):
    help_request = scheduled(ada, category, grace)
    soon = timezone.now() + timedelta(minutes=50)
    HelpRequest.objects.filter(pk=help_request.pk).update(scheduled_start=soon, scheduled_end=soon + timedelta(hours=1))
    assert services.send_due_reminders() == 1  # the hour reminder for the old time

    moved = move(grace, help_request, hours_from_now=24)
    assert moved.reminder_hour_sent_at is None
    assert services.send_due_reminders() == 0  # nothing due: the session is tomorrow now
    later = moved.scheduled_start - timedelta(minutes=30)
    assert services.send_due_reminders(now=later) == 1  # the hour reminder, for the new time
    assert services.send_due_reminders(now=later) == 0


def test_moving_keeps_a_pasted_link_and_sends_the_updated_invitation(
    ada, category, grace, provider, django_capture_on_commit_callbacks
):
    help_request = scheduled(ada, category, grace)
    provider.fail_next(permanent=True)
    run_task(help_request.pk)
    services.set_manual_meeting_link(expert=grace, request_id=help_request.public_id, url="https://meet.example/x")
    calls = len(provider.calls)
    mail.outbox.clear()

    with django_capture_on_commit_callbacks(execute=True):
        moved = move(grace, help_request)

    moved.refresh_from_db()
    assert moved.meeting_state == MeetingState.MANUAL and moved.meeting_join_url == "https://meet.example/x"
    assert len(provider.calls) == calls  # no provider meeting for a pasted link
    [invitation] = [m for m in mails_to(ada) if m.attachments]
    assert f"SEQUENCE:{moved.schedule_sequence}" in ics_of(invitation)


def test_what_cannot_be_moved_is_refused_and_nothing_changes(ada, category, grace, alan, eve, provider):
    from django.core.exceptions import ValidationError

    held = accepted(ada, category, grace, title="Only accepted")
    with pytest.raises(HelpdeskRefusal) as refused:
        move(grace, held)
    assert refused.value.code == "illegal_transition"

    help_request = scheduled(ada, category, grace)
    before = HelpRequest.objects.filter(pk=help_request.pk).values().get()
    for user in (alan, eve, ada):  # another expert, a stranger, the requester herself
        with pytest.raises(HelpRequest.DoesNotExist):
            move(user, help_request)
    past = timezone.now() - timedelta(hours=1)
    bad_times = [
        (past, past + timedelta(hours=1), "start"),
        (*session_times(hours_from_now=5, minutes=5), "end"),
        (*session_times(hours_from_now=5, minutes=300), "end"),
        (help_request.scheduled_start, help_request.scheduled_end, "start"),
        ("not a date", "2099-01-01T10:00", "start"),
    ]
    for start, end, field in bad_times:
        with pytest.raises(ValidationError) as refused:
            services.reschedule_session(expert=grace, request_id=help_request.public_id, start=start, end=end)
        assert field in refused.value.message_dict
    assert HelpRequest.objects.filter(pk=help_request.pk).values().get() == before
    assert not help_request.events.filter(action="rescheduled").exists()


def test_moving_through_the_page_and_the_api(client, ada, category, grace, eve, provider, api_of):
    help_request = scheduled(ada, category, grace)
    target = reverse("helpdesk:reschedule", kwargs={"public_id": help_request.public_id})
    client.force_login(grace)
    detail = client.get(help_request.get_absolute_url()).content.decode()
    assert 'id="reschedule-form"' in detail

    response = client.post(target, {"move-start": "2099-05-01T09:00", "move-duration": "90"}, follow=True)
    assert "Session moved" in response.content.decode()
    help_request.refresh_from_db()
    assert help_request.scheduled_end - help_request.scheduled_start == timedelta(minutes=90)

    response = client.post(target, {"move-start": "", "move-duration": "90"}, follow=True)
    assert "Choose the date and time you propose" in response.content.decode()
    client.force_login(ada)
    assert 'id="reschedule-form"' not in client.get(help_request.get_absolute_url()).content.decode()
    assert client.post(target, {"move-start": "2099-05-02T09:00", "move-duration": "60"}).status_code == 404

    api_target = reverse("api:helpdesk-reschedule", kwargs={"public_id": help_request.public_id})
    body = {"start": "2099-06-01T09:00:00Z", "end": "2099-06-01T10:00:00Z"}
    response = api_of(grace).post(api_target, body, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["scheduled_start"].startswith("2099-06-01")
    assert response.json()["timeline"][-1]["action"] == "rescheduled"
    assert api_of(eve).post(api_target, body, format="json").status_code == 404
    missing = api_of(grace).post(api_target, {"start": "2099-06-02T09:00:00Z"}, format="json")
    assert missing.status_code == 400 and "end" in missing.json()["errors"]
    past = api_of(grace).post(
        api_target, {"start": "2000-01-01T09:00:00Z", "end": "2000-01-01T10:00:00Z"}, format="json"
    )
    assert past.status_code == 400 and "start" in past.json()["errors"]
    services.complete_help_request(expert=grace, request_id=started(help_request).public_id)
    late = api_of(grace).post(
        api_target, {"start": "2099-07-01T09:00:00Z", "end": "2099-07-01T10:00:00Z"}, format="json"
    )
    assert late.status_code == 409 and late.json()["code"] == "illegal_transition"
