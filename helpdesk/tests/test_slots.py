"""Preferred times are slots: the requester gives a few ranges in their zone (page and API),
checked the same way everywhere; the expert picks one or proposes another time; what was the
free text stays as a note."""

import importlib
from datetime import UTC, datetime, timedelta

import pytest
from django.apps import apps
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from helpdesk.models import HelpRequest, HelpRequestEvent, PreferredSlot
from helpdesk.slots import MAX_SLOTS
from helpdesk.tests.factories import submit

pytestmark = pytest.mark.django_db

MANAGEMENT = {
    "slots-TOTAL_FORMS": "5",
    "slots-INITIAL_FORMS": "0",
    "slots-MIN_NUM_FORMS": "0",
    "slots-MAX_NUM_FORMS": "5",
}


def hours(n: float) -> datetime:
    return (timezone.now() + timedelta(hours=n)).replace(second=0, microsecond=0)


def slot(start_hours: float, length_hours: float = 2):
    return (hours(start_hours), hours(start_hours + length_hours))


# --- The rules, in the service -------------------------------------------------------------------


def test_slots_are_stored_earliest_first_with_the_note(ada, category):
    later, sooner = slot(48), slot(24)

    help_request = submit(ada, category, slots=[later, sooner], times_note="Evenings are best")

    assert [(s.start, s.end) for s in help_request.slots.all()] == [sooner, later]
    assert help_request.times_note == "Evenings are best"


@pytest.mark.parametrize(
    ("slots", "message"),
    [
        ([slot(-3)], "Time 1: This time is in the past"),
        ([slot(24), (hours(30), hours(29))], "Time 2: The end must be after the start"),
        ([slot(24, 0.25)], "Time 1: Give at least 30 minutes"),
        ([slot(24, 13)], "Time 1: One time may span at most 12 hours"),
        ([slot(24 * 100)], "Time 1: Choose a time within the next 90 days"),
        ([slot(24 + 3 * i) for i in range(MAX_SLOTS + 1)], f"Give at most {MAX_SLOTS} times"),
        ([slot(24, 3), slot(26)], "Two of your times overlap"),
        ([("tomorrow", "later")], "Time 1: Enter a date and time"),
        ([(hours(24),)], "Time 1: give a start and an end"),
    ],
    ids=["past", "end-before-start", "too-short", "too-long", "too-far", "too-many", "overlap", "not-a-time", "half"],
)
def test_a_bad_slot_is_refused_by_name_and_nothing_is_stored(ada, category, slots, message):
    with pytest.raises(ValidationError) as refused:
        submit(ada, category, slots=slots)

    assert any(text.startswith(message) for text in refused.value.message_dict["slots"]), refused.value
    assert not HelpRequest.objects.exists() and not PreferredSlot.objects.exists()


# --- The request form ---------------------------------------------------------------------------


def test_the_form_shows_each_slot_error_on_its_row_and_stores_nothing(client_of, ada, category):
    client = client_of(ada)
    day = (timezone.localdate() + timedelta(days=2)).isoformat()
    data = {
        "category": category.pk,
        "title": "t",
        "description": "d",
        **MANAGEMENT,
        "slots-0-day": day,
        "slots-0-start_time": "10:00",
        "slots-0-end_time": "12:00",
        "slots-1-day": day,
        "slots-1-start_time": "15:00",
        "slots-1-end_time": "14:00",
        "slots-2-day": day,  # a row half filled in
    }

    response = client.post(reverse("helpdesk:new"), data)

    html = response.content.decode()
    assert response.status_code == 400
    assert "The end must be after the start" in html and "Give the day, and from when to when" in html
    assert not HelpRequest.objects.exists()


def test_the_form_page_offers_slot_rows_in_the_requesters_zone(client_of, ada, category):
    ada.time_zone = "Asia/Tokyo"
    ada.save(update_fields=["time_zone"])

    html = client_of(ada).get(reverse("helpdesk:new")).content.decode()

    assert html.count('type="date"') == MAX_SLOTS and "Asia/Tokyo" in html
    assert 'name="times_note"' in html and 'name="preferred_times"' not in html


# --- The API ----------------------------------------------------------------------------------


def test_the_api_takes_slots_as_json_and_as_multipart_fields(api_of, ada, category):
    first, second = slot(24), slot(48)
    api = api_of(ada)
    iso = lambda moment: moment.isoformat()  # noqa: E731

    as_json = api.post(
        "/api/v1/help/requests/",
        {
            "category": category.pk,
            "title": "JSON",
            "description": "d",
            "slots": [{"start": iso(first[0]), "end": iso(first[1])}],
            "times_note": "or any evening",
        },
        format="json",
    )
    as_multipart = api.post(
        "/api/v1/help/requests/",
        {
            "category": category.pk,
            "title": "Multipart",
            "description": "d",
            "slots[0]start": iso(first[0]),
            "slots[0]end": iso(first[1]),
            "slots[1]start": iso(second[0]),
            "slots[1]end": iso(second[1]),
        },
        format="multipart",
    )

    assert as_json.status_code == 201, as_json.content
    assert as_multipart.status_code == 201, as_multipart.content
    assert len(as_json.json()["slots"]) == 1 and as_json.json()["times_note"] == "or any evening"
    assert [s["start"] for s in as_multipart.json()["slots"]] == [
        first[0].astimezone(UTC).isoformat().replace("+00:00", "Z"),
        second[0].astimezone(UTC).isoformat().replace("+00:00", "Z"),
    ]


def test_the_api_refuses_a_bad_slot_with_a_400_naming_it(api_of, ada, category):
    past = slot(-5)
    response = api_of(ada).post(
        "/api/v1/help/requests/",
        {
            "category": category.pk,
            "title": "t",
            "description": "d",
            "slots": [{"start": past[0].isoformat(), "end": past[1].isoformat()}],
        },
        format="json",
    )

    assert response.status_code == 400
    assert response.json()["errors"]["slots"] == ["Time 1: This time is in the past: choose one still to come."]
    assert not HelpRequest.objects.exists()


# --- The expert picks or proposes --------------------------------------------------------------


def test_the_expert_picks_a_slot_and_the_session_starts_with_it(client, ada, category, grace, provider):
    chosen = slot(24, 2)
    help_request = submit(ada, category, slots=[slot(48), chosen])
    picked = help_request.slots.get(start=chosen[0])
    client.force_login(grace)
    page = client.get(help_request.get_absolute_url()).content.decode()
    assert f'value="{picked.pk}"' in page and 'value="other"' in page

    response = client.post(
        reverse("helpdesk:accept", args=[help_request.public_id]),
        {"accept-choice": str(picked.pk), "accept-duration": "90"},
        follow=True,
    )

    help_request.refresh_from_db()
    assert help_request.expert == grace and help_request.status == "scheduled"
    assert (help_request.scheduled_start, help_request.scheduled_end) == (chosen[0], chosen[0] + timedelta(minutes=90))
    assert "One of Ada's times" in response.content.decode()
    client.force_login(ada)
    assert "One of the times you offered" in client.get(help_request.get_absolute_url()).content.decode()


def test_a_session_longer_than_the_slot_is_refused_with_the_reason(client, ada, category, grace):
    short = slot(24, 0.5)
    help_request = submit(ada, category, slots=[short])
    picked = help_request.slots.get()
    client.force_login(grace)

    response = client.post(
        reverse("helpdesk:accept", args=[help_request.public_id]),
        {"accept-choice": str(picked.pk), "accept-duration": "60"},
        follow=True,
    )

    assert "That time is 30 minutes long" in response.content.decode()
    help_request.refresh_from_db()
    assert help_request.status == "open" and help_request.expert is None


def test_the_expert_may_propose_another_time_and_the_requester_sees_it_is_the_experts(
    client, ada, category, grace, provider
):
    help_request = submit(ada, category, slots=[slot(24)])
    client.force_login(grace)

    client.post(
        reverse("helpdesk:accept", args=[help_request.public_id]),
        {"accept-choice": "other", "accept-start": "2099-04-01T09:30", "accept-duration": "45"},
    )

    help_request.refresh_from_db()
    assert help_request.scheduled_start == datetime(2099, 4, 1, 9, 30, tzinfo=UTC)
    assert help_request.scheduled_end - help_request.scheduled_start == timedelta(minutes=45)
    client.force_login(ada)
    assert "A time your expert proposed" in client.get(help_request.get_absolute_url()).content.decode()


def test_a_slot_that_has_begun_is_shown_as_passed_and_not_offered(client, ada, category, grace):
    help_request = submit(ada, category, slots=[slot(24)])
    begun = help_request.slots.get()
    PreferredSlot.objects.filter(pk=begun.pk).update(start=hours(-3), end=hours(-1))
    client.force_login(grace)

    page = client.get(help_request.get_absolute_url()).content.decode()

    assert "(passed)" in page and f'value="{begun.pk}"' not in page


# --- Data from before slots -----------------------------------------------------------------------


def test_old_timeline_notes_become_session_times_each_reader_sees_in_their_zone(ada, category):
    migration = importlib.import_module("helpdesk.migrations.0003_preferred_slots_and_event_times")
    help_request = submit(ada, category)

    def old(action, note):
        return HelpRequestEvent.objects.create(request=help_request, action=action, to_status="scheduled", note=note)

    scheduled = old("scheduled", "Session on Thu 03 Dec 2026, 00:00 UTC")
    moved = old("rescheduled", "Moved from Thu 03 Dec 2026, 00:00 UTC to Fri 04 Dec 2026, 13:30 UTC")
    created = old("meeting_created", "local meeting")
    odd = old("scheduled", "Session on some day")

    migration.session_times_out_of_notes(apps, None)

    for event in (scheduled, moved, created, odd):
        event.refresh_from_db()
    assert (scheduled.note, scheduled.session_start) == ("", datetime(2026, 12, 3, 0, 0, tzinfo=UTC))
    assert (moved.previous_start, moved.session_start) == (
        datetime(2026, 12, 3, 0, 0, tzinfo=UTC),
        datetime(2026, 12, 4, 13, 30, tzinfo=UTC),
    )
    assert created.note == ""
    assert (odd.note, odd.session_start) == ("Session on some day", None)
