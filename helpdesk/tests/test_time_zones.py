"""One session, two readers, two zones, across a DST change: a requester in Los Angeles and an
expert in Tokyo each see the same instant in their own local time on the request page, in
notifications, in e-mails and in the calendar invitation.

The dates come from the tz database (the next time Los Angeles changes its clocks), so the test
keeps crossing a real change whatever day it runs. Expected texts are built here from zoneinfo
directly, not with the code under test.
"""

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from experts.tests.factories import ExpertProfileFactory, UserFactory
from helpdesk import services
from helpdesk.models import HelpRequest
from helpdesk.tests.factories import submit
from notifications.models import Notification, NotificationKind

pytestmark = pytest.mark.django_db

DASH = "\u2013"  # the en dash between the ends of a range
LA = ZoneInfo("America/Los_Angeles")
TOKYO = ZoneInfo("Asia/Tokyo")


def next_la_clock_change(after: datetime) -> datetime:
    """The first whole UTC hour at which Los Angeles has a different offset than at `after`."""
    offset = after.astimezone(LA).utcoffset()
    moment = after.replace(minute=0, second=0, microsecond=0)
    for _ in range(24 * 400):
        moment += timedelta(hours=1)
        if moment.astimezone(LA).utcoffset() != offset:
            return moment
    raise AssertionError("no DST change in Los Angeles within 400 days")


@pytest.fixture
def sessions():
    """Two one-hour sessions at 17:00 UTC: the day before LA changes its clocks and the day of
    it (after the change). Same UTC clock, a different LA clock, the same Tokyo clock."""
    change = next_la_clock_change(timezone.now() + timedelta(days=2))
    after = datetime.combine(change.date(), time(17), tzinfo=UTC)
    before = after - timedelta(days=1)
    assert before.astimezone(LA).utcoffset() != after.astimezone(LA).utcoffset()
    return {"before": (before, before + timedelta(hours=1)), "after": (after, after + timedelta(hours=1))}


def local(moment: datetime, zone: ZoneInfo) -> str:
    """ "Sun 14 Mar 2027, 10:00" and "PDT", independently of config.timezones."""
    moment = moment.astimezone(zone)
    return f"{moment:%a} {moment.day} {moment:%b %Y, %H:%M}"


def abbreviation(moment: datetime, zone: ZoneInfo) -> str:
    return moment.astimezone(zone).tzname()


def clock(moment: datetime, zone: ZoneInfo) -> str:
    return moment.astimezone(zone).strftime("%H:%M")


@pytest.fixture
def people(category):
    requester = UserFactory(first_name="Lena", last_name="Ortiz", time_zone="America/Los_Angeles")
    expert = ExpertProfileFactory(
        user=UserFactory(first_name="Kenji", last_name="Sato", time_zone="Asia/Tokyo"), categories=[category]
    ).user
    return requester, expert


def page_of(client, user, help_request) -> str:
    client.force_login(user)
    response = client.get(help_request.get_absolute_url())
    assert response.status_code == 200
    return response.content.decode()


def test_the_expert_types_tokyo_time_and_the_requester_reads_los_angeles_time_across_dst(
    client, category, people, sessions, provider, django_capture_on_commit_callbacks
):
    requester, expert = people
    start, end = sessions["after"]
    help_request = submit(requester, category, title="Fourier series")
    mail.outbox.clear()

    # When the expert accepts and schedules through the page, typing the time in Tokyo
    client.force_login(expert)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            reverse("helpdesk:accept", args=[help_request.public_id]),
            {
                "accept-choice": "other",
                "accept-start": start.astimezone(TOKYO).strftime("%Y-%m-%dT%H:%M"),
                "accept-duration": "60",
            },
        )

    # Then the session is that instant
    help_request.refresh_from_db()
    assert (help_request.scheduled_start, help_request.scheduled_end) == (start, end)

    # ... the expert's page shows it in Tokyo time, the requester's in Los Angeles time
    la_text = f"{clock(start, LA)}{DASH}{clock(end, LA)} {abbreviation(end, LA)}"
    tokyo_text = f"{clock(start, TOKYO)}{DASH}{clock(end, TOKYO)} JST"
    expert_page = page_of(client, expert, help_request)
    requester_page = page_of(client, requester, help_request)
    assert tokyo_text in expert_page and la_text not in expert_page
    assert la_text in requester_page and tokyo_text not in requester_page
    assert "Asia/Tokyo" in expert_page and "America/Los_Angeles" in requester_page

    # ... the requester's notification is written in their zone, not the expert's
    scheduled = Notification.objects.get(recipient=requester, kind=NotificationKind.HELP_REQUEST_SCHEDULED)
    assert local(start, LA) in scheduled.title and la_text in scheduled.title

    # ... the requester's one e-mail, the invitation, names the request and says LA time
    [invitation] = [message for message in mail.outbox if requester.email in message.to]
    assert "Fourier series" in invitation.subject and local(start, LA) in invitation.subject
    assert la_text in invitation.body and "America/Los_Angeles" in invitation.body
    html = invitation.alternatives[0].content
    assert la_text in html

    # ... and the .ics carries UTC (every calendar shows its own zone) plus the LA rendering
    [(_name, ics, _type)] = invitation.attachments
    ics = (ics.decode() if isinstance(ics, bytes) else ics).replace("\r\n ", "")
    assert f"DTSTART:{start:%Y%m%dT%H%M%S}Z" in ics and f"DTEND:{end:%Y%m%dT%H%M%S}Z" in ics
    assert la_text.replace(",", "\\,") in ics and "America/Los_Angeles" in ics


def test_the_same_utc_time_on_either_side_of_the_change_reads_differently_only_in_los_angeles(
    client, category, people, sessions
):
    requester, expert = people
    shown = {}
    for name, (start, end) in sessions.items():
        help_request = submit(requester, category, title=f"Session {name}")
        services.accept_help_request(expert=expert, request_id=help_request.public_id, start=start, end=end)
        shown[name] = (page_of(client, requester, help_request), page_of(client, expert, help_request))

    before, after = sessions["before"][0], sessions["after"][0]
    # Los Angeles: the clock moved by an hour and the abbreviation changed (PST <-> PDT)
    assert clock(before, LA) != clock(after, LA)
    assert abbreviation(before, LA) != abbreviation(after, LA)
    for name, start in (("before", before), ("after", after)):
        requester_page, expert_page = shown[name]
        assert f"{clock(start, LA)}{DASH}" in requester_page and abbreviation(start, LA) in requester_page
        # Tokyo has no DST: the same clock on both days
        assert f"{clock(start, TOKYO)}{DASH}" in expert_page
    assert clock(before, TOKYO) == clock(after, TOKYO)


def test_a_move_across_the_change_is_told_and_recorded_in_each_readers_zone(
    client, category, people, sessions, django_capture_on_commit_callbacks
):
    requester, expert = people
    (old_start, old_end), (new_start, new_end) = sessions["before"], sessions["after"]
    help_request = submit(requester, category, title="Moved session")
    services.accept_help_request(expert=expert, request_id=help_request.public_id, start=old_start, end=old_end)

    with django_capture_on_commit_callbacks(execute=True):
        services.reschedule_session(expert=expert, request_id=help_request.public_id, start=new_start, end=new_end)

    moved = Notification.objects.filter(recipient=requester, kind=NotificationKind.HELP_REQUEST_SCHEDULED).latest("pk")
    assert "moved to" in moved.title and local(new_start, LA) in moved.title
    timeline_for_requester = page_of(client, requester, help_request)
    timeline_for_expert = page_of(client, expert, help_request)
    assert f"From {local(old_start, LA)} {abbreviation(old_start, LA)} to {local(new_start, LA)}" in (
        timeline_for_requester
    )
    assert f"From {local(old_start, TOKYO)} JST to {local(new_start, TOKYO)}" in timeline_for_expert


def test_reminders_name_the_start_in_each_recipients_zone(
    category, people, sessions, django_capture_on_commit_callbacks
):
    requester, expert = people
    start, end = sessions["after"]
    help_request = submit(requester, category, title="Reminder check")
    services.accept_help_request(expert=expert, request_id=help_request.public_id, start=start, end=end)
    mail.outbox.clear()

    with django_capture_on_commit_callbacks(execute=True):
        services.send_due_reminders(now=start - timedelta(minutes=50))

    requester_note = Notification.objects.get(recipient=requester, kind=NotificationKind.HELP_SESSION_REMINDER)
    expert_note = Notification.objects.get(recipient=expert, kind=NotificationKind.HELP_SESSION_REMINDER)
    assert f"({clock(start, LA)} {abbreviation(start, LA)})" in requester_note.title
    assert f"({clock(start, TOKYO)} JST)" in expert_note.title
    subjects = {message.to[0]: message.subject for message in mail.outbox}
    assert "Reminder check" in subjects[requester.email] and clock(start, LA) in subjects[requester.email]
    assert clock(start, TOKYO) in subjects[expert.email]


def test_a_slot_the_requester_types_is_read_in_their_zone_and_shown_to_the_expert_in_theirs(client, category, people):
    requester, expert = people
    day = timezone.now().astimezone(LA).date() + timedelta(days=3)
    client.force_login(requester)
    form = {
        "category": category.pk,
        "title": "Slots in LA",
        "description": "d",
        "slots-TOTAL_FORMS": "5",
        "slots-INITIAL_FORMS": "0",
        "slots-MIN_NUM_FORMS": "0",
        "slots-MAX_NUM_FORMS": "5",
        "slots-0-day": day.isoformat(),
        "slots-0-start_time": "18:00",
        "slots-0-end_time": "20:00",
    }

    assert client.post(reverse("helpdesk:new"), form).status_code == 302

    slot = HelpRequest.objects.get(title="Slots in LA").slots.get()
    assert slot.start == datetime.combine(day, time(18), tzinfo=LA)
    assert slot.end - slot.start == timedelta(hours=2)
    expert_page = page_of(client, expert, slot.request)
    assert f"{clock(slot.start, TOKYO)}{DASH}{clock(slot.end, TOKYO)} JST" in expert_page
    requester_page = page_of(client, requester, slot.request)
    assert f"18:00{DASH}20:00" in requester_page


def test_a_local_time_that_does_not_exist_on_the_change_day_is_refused_with_a_clear_error(client, category, people):
    requester, _expert = people
    change = next_la_clock_change(timezone.now() + timedelta(days=1))
    if change.astimezone(LA).dst() == timedelta(0):
        change = next_la_clock_change(change + timedelta(days=2))  # the spring change skips an hour
    skipped_day = change.astimezone(LA).date()
    client.force_login(requester)
    form = {
        "category": category.pk,
        "title": "Impossible time",
        "description": "d",
        "slots-TOTAL_FORMS": "5",
        "slots-INITIAL_FORMS": "0",
        "slots-MIN_NUM_FORMS": "0",
        "slots-MAX_NUM_FORMS": "5",
        "slots-0-day": skipped_day.isoformat(),
        "slots-0-start_time": "02:30",  # clocks jump from 02:00 to 03:00 that night
        "slots-0-end_time": "04:00",
    }

    response = client.post(reverse("helpdesk:new"), form)

    assert response.status_code == 400
    assert "America/Los_Angeles" in response.content.decode() and "may not exist" in response.content.decode()
    assert not HelpRequest.objects.filter(title="Impossible time").exists()
