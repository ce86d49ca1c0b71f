"""The requester gets one e-mail per event of their request, and each subject names it.

Scheduling is one event: its e-mail is the invitation (join link + .ics), sent once the meeting
exists; the in-app notification says the time at once but sends no e-mail of its own. Every
after-commit callback runs, as a worker would run it.
"""

from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from helpdesk import services
from helpdesk.tests.factories import started, submit

pytestmark = pytest.mark.django_db

TITLE = "Diagonalising a 3x3 matrix"


def mails_to(user):
    return [message for message in mail.outbox if user.email in message.to]


def _at(hours: float, minutes: int = 60):
    start = (timezone.now() + timedelta(hours=hours)).replace(second=0, microsecond=0)
    return start, start + timedelta(minutes=minutes)


def test_accept_and_schedule_in_one_step_sends_the_requester_one_e_mail_the_invitation(
    client, ada, category, grace, provider, django_capture_on_commit_callbacks
):
    help_request = submit(ada, category, title=TITLE)
    mail.outbox.clear()
    client.force_login(grace)

    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            reverse("helpdesk:accept", args=[help_request.public_id]),
            {"accept-choice": "other", "accept-start": "2099-03-01T10:00", "accept-duration": "60"},
        )

    [invitation] = mails_to(ada)
    assert TITLE in invitation.subject
    assert "help-session.ics" in [name for name, _content, _type in invitation.attachments]
    help_request.refresh_from_db()
    assert help_request.meeting_join_url in invitation.body


def test_each_event_sends_one_e_mail_whose_subject_names_the_request(
    ada, category, grace, provider, django_capture_on_commit_callbacks
):
    help_request = submit(ada, category, title=TITLE)
    events = []

    def event(name, action):
        mail.outbox.clear()
        with django_capture_on_commit_callbacks(execute=True):
            action()
        events.append((name, [message.subject for message in mails_to(ada)]))

    start, end = _at(26)
    event("accepted", lambda: services.accept_help_request(expert=grace, request_id=help_request.public_id))
    event(
        "scheduled",
        lambda: services.schedule_session(expert=grace, request_id=help_request.public_id, start=start, end=end),
    )
    moved_start, moved_end = _at(50, minutes=45)
    event(
        "moved",
        lambda: services.reschedule_session(
            expert=grace, request_id=help_request.public_id, start=moved_start, end=moved_end
        ),
    )
    event("reminded", lambda: services.send_due_reminders(now=moved_start - timedelta(minutes=30)))
    help_request.refresh_from_db()
    started(help_request)  # completion waits for the session's start
    event("completed", lambda: services.complete_help_request(expert=grace, request_id=help_request.public_id))

    for name, subjects in events:
        assert len(subjects) == 1, f"{name}: {subjects}"
        assert TITLE in subjects[0], f"{name}: {subjects[0]}"


def test_the_invitation_subject_says_when_in_the_requesters_zone(
    ada, category, grace, provider, django_capture_on_commit_callbacks
):
    ada.time_zone = "Europe/Rome"
    ada.save(update_fields=["time_zone"])
    help_request = submit(ada, category, title=TITLE)
    start, end = _at(30)
    mail.outbox.clear()

    with django_capture_on_commit_callbacks(execute=True):
        services.accept_help_request(expert=grace, request_id=help_request.public_id, start=start, end=end)

    [invitation] = mails_to(ada)
    local = timezone.localtime(start, timezone=ZoneInfo("Europe/Rome"))
    assert f"{local:%H:%M}" in invitation.subject and local.tzname() in invitation.subject
