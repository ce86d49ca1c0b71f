"""The help-request lifecycle through its services: the transition map, who may do what,
the cap, notifications and live pushes exactly once, ratings."""

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from experts.models import ExpertProfile
from helpdesk import services
from helpdesk.models import ALLOWED_TRANSITIONS, HelpRequest, HelpRequestEvent, HelpRequestStatus, MeetingState, Rating
from helpdesk.services import HelpdeskRefusal
from helpdesk.tests.factories import accepted, completed, scheduled, session_times, started, submit
from notifications.models import Notification, NotificationKind

S = HelpRequestStatus
pytestmark = pytest.mark.django_db


def snapshot(help_request):
    help_request = HelpRequest.objects.get(pk=help_request.pk)
    return (
        help_request.status,
        help_request.expert_id,
        help_request.scheduled_start,
        help_request.meeting_state,
        HelpRequestEvent.objects.filter(request=help_request).count(),
        Rating.objects.filter(request=help_request).count(),
    )


# --- the map ---------------------------------------------------------------------------------


def test_the_transition_map_is_the_documented_lifecycle():
    assert {
        S.OPEN: {S.ACCEPTED, S.CANCELLED, S.EXPIRED},
        S.ACCEPTED: {S.SCHEDULED, S.OPEN, S.CANCELLED},
        S.SCHEDULED: {S.COMPLETED, S.OPEN, S.CANCELLED},
        S.COMPLETED: set(),
        S.CANCELLED: set(),
        S.EXPIRED: set(),
    } == ALLOWED_TRANSITIONS


def test_every_illegal_transition_is_refused_and_changes_nothing(ada, category, grace):
    # Given a request in each status (many of them held by one expert)
    ExpertProfile.objects.filter(user=grace).update(max_active_requests=100)
    start, end = session_times()
    builders = {
        S.OPEN: lambda: submit(ada, category),
        S.ACCEPTED: lambda: accepted(ada, category, grace),
        S.SCHEDULED: lambda: scheduled(ada, category, grace),
        S.COMPLETED: lambda: completed(ada, category, grace),
    }

    def cancelled():
        help_request = submit(ada, category)
        return services.cancel_help_request(requester=ada, request_id=help_request.public_id)

    def expired():
        help_request = submit(ada, category)
        services.expire_stale_requests(older_than=timedelta(0), now=timezone.now() + timedelta(seconds=1))
        return HelpRequest.objects.get(pk=help_request.pk)

    builders[S.CANCELLED] = cancelled
    builders[S.EXPIRED] = expired
    actions = {
        S.ACCEPTED: lambda r: services.accept_help_request(expert=grace, request_id=r.public_id),
        S.SCHEDULED: lambda r: services.schedule_session(expert=grace, request_id=r.public_id, start=start, end=end),
        S.COMPLETED: lambda r: services.complete_help_request(expert=grace, request_id=started(r).public_id),
        S.CANCELLED: lambda r: services.cancel_help_request(requester=ada, request_id=r.public_id),
        S.OPEN: lambda r: services.release_help_request(expert=grace, request_id=r.public_id, note="sorry"),
        S.EXPIRED: None,  # only the beat expires, and only open requests (tested below)
    }
    refused = 0
    for status, build in builders.items():
        for target, action in actions.items():
            if action is None or target in ALLOWED_TRANSITIONS[status]:
                continue
            help_request = build()
            assert help_request.status == status
            before = snapshot(help_request)
            # When the illegal action is attempted
            with pytest.raises((ValidationError, HelpdeskRefusal, HelpRequest.DoesNotExist)):
                action(help_request)
            # Then nothing changed
            assert snapshot(help_request) == before, (status, target)
            refused += 1
    assert refused >= 20


def test_expiry_touches_only_old_open_requests(ada, category, grace):
    old_open = submit(ada, category)
    old_accepted = accepted(ada, category, grace)
    HelpRequest.objects.filter(pk__in=[old_open.pk, old_accepted.pk]).update(
        created_at=timezone.now() - timedelta(days=4)
    )
    fresh = submit(ada, category)

    assert services.expire_stale_requests(older_than=timedelta(days=3)) == 1

    assert HelpRequest.objects.get(pk=old_open.pk).status == S.EXPIRED
    assert HelpRequest.objects.get(pk=old_accepted.pk).status == S.ACCEPTED
    assert HelpRequest.objects.get(pk=fresh.pk).status == S.OPEN
    assert Notification.objects.filter(recipient=ada, kind=NotificationKind.HELP_REQUEST_EXPIRED).count() == 1


def test_every_transition_is_a_timeline_entry(ada, category, grace):
    help_request = completed(ada, category, grace)

    events = list(help_request.events.values_list("action", "from_status", "to_status", "actor_id"))

    assert events == [
        ("submitted", "", "open", ada.pk),
        ("accepted", "open", "accepted", grace.pk),
        ("scheduled", "accepted", "scheduled", grace.pk),
        ("completed", "scheduled", "completed", grace.pk),
    ]


# --- submit ----------------------------------------------------------------------------------


def test_submitting_pushes_the_request_to_every_eligible_expert_once(
    ada, category, grace, alan, chemist, monkeypatch, django_capture_on_commit_callbacks
):
    pushed = []
    monkeypatch.setattr(
        "live.push.publish",
        lambda user_ids, event: pushed.extend((user_id, event) for user_id in user_ids),
    )

    with django_capture_on_commit_callbacks(execute=True):
        help_request = submit(ada, category)

    added = [(uid, e) for uid, e in pushed if e["type"] == "helpdesk.queue.added"]
    assert sorted(uid for uid, _ in added) == sorted([grace.pk, alan.pk])
    assert added[0][1]["request"] == str(help_request.public_id)


@pytest.mark.parametrize(
    ("field", "kwargs"),
    [
        ("title", {"title": "   "}),
        ("title", {"title": "x" * 151}),
        ("description", {"description": ""}),
        ("times_note", {"times_note": "y" * 1001}),
    ],
)
def test_bad_fields_are_refused_and_nothing_is_stored(ada, category, field, kwargs):
    with pytest.raises(ValidationError) as caught:
        submit(ada, category, **kwargs)
    assert field in caught.value.message_dict
    assert not HelpRequest.objects.exists()


def test_an_unknown_or_inactive_category_is_refused(ada, category):
    category.is_active = False
    category.save()
    for category_id in (category.pk, 999999, "abc", None):
        with pytest.raises(ValidationError) as caught:
            services.submit_help_request(
                requester=ada, category_id=category_id, title="t", description="d", times_note="", files=[]
            )
        assert "category" in caught.value.message_dict
    assert not HelpRequest.objects.exists()


# --- accept ----------------------------------------------------------------------------------


def test_accepting_notifies_the_requester_once_and_removes_it_from_every_queue(
    ada, category, grace, alan, monkeypatch, django_capture_on_commit_callbacks
):
    help_request = submit(ada, category)
    pushed = []
    monkeypatch.setattr(
        "live.push.publish",
        lambda user_ids, event: pushed.extend((user_id, event) for user_id in user_ids),
    )

    with django_capture_on_commit_callbacks(execute=True):
        services.accept_help_request(expert=grace, request_id=help_request.public_id)

    assert Notification.objects.filter(recipient=ada, kind=NotificationKind.HELP_REQUEST_ACCEPTED).count() == 1
    removed = sorted(uid for uid, e in pushed if e["type"] == "helpdesk.queue.removed")
    assert removed == sorted([grace.pk, alan.pk])
    help_request.refresh_from_db()
    assert (help_request.status, help_request.expert_id) == (S.ACCEPTED, grace.pk)
    assert help_request.accepted_at is not None


def test_accepting_opens_a_conversation_both_sides_can_use(ada, category, grace):
    from chat.models import Membership

    help_request = submit(ada, category)
    services.accept_help_request(expert=grace, request_id=help_request.public_id)

    memberships = Membership.objects.filter(user__in=[ada, grace], conversation__kind="direct")
    assert sorted(memberships.values_list("user_id", "accepted")) == sorted([(ada.pk, True), (grace.pk, True)])


def test_the_second_expert_is_told_it_was_taken(ada, category, grace, alan):
    help_request = submit(ada, category)
    services.accept_help_request(expert=grace, request_id=help_request.public_id)

    with pytest.raises(HelpdeskRefusal) as caught:
        services.accept_help_request(expert=alan, request_id=help_request.public_id)

    assert caught.value.code == "not_open"
    assert "already accepted" in caught.value.message
    assert HelpRequest.objects.get(pk=help_request.pk).expert_id == grace.pk


def test_experts_of_another_category_pending_experts_and_students_cannot_accept(
    ada, category, chemist, eve, make_expert
):
    pending = make_expert("Pat", status=ExpertProfile.Status.PENDING)
    help_request = submit(ada, category)
    for outsider in (chemist, eve, pending):
        with pytest.raises(HelpRequest.DoesNotExist):
            services.accept_help_request(expert=outsider, request_id=help_request.public_id)
    assert HelpRequest.objects.get(pk=help_request.pk).status == S.OPEN


def test_an_expert_cannot_accept_their_own_request(grace, category):
    help_request = submit(grace, category)
    with pytest.raises(HelpdeskRefusal) as caught:
        services.accept_help_request(expert=grace, request_id=help_request.public_id)
    assert caught.value.code == "own_request"


def test_the_cap_counts_accepted_and_scheduled_requests(ada, category, make_expert):
    expert = make_expert("Capped", max_active_requests=2)
    accepted(ada, category, expert)
    scheduled(ada, category, expert)
    third = submit(ada, category)

    with pytest.raises(HelpdeskRefusal) as caught:
        services.accept_help_request(expert=expert, request_id=third.public_id)
    assert caught.value.code == "cap_reached"
    assert HelpRequest.objects.get(pk=third.pk).status == S.OPEN

    # Completing one frees a place.
    held = HelpRequest.objects.filter(expert=expert, status=S.SCHEDULED).get()
    services.complete_help_request(expert=expert, request_id=started(held).public_id)
    services.accept_help_request(expert=expert, request_id=third.public_id)


def test_unknown_and_malformed_ids_are_does_not_exist(grace):
    for bad in ("not-a-uuid", "00000000-0000-0000-0000-000000000000", None, 12):
        with pytest.raises(HelpRequest.DoesNotExist):
            services.accept_help_request(expert=grace, request_id=bad)


# --- release, schedule, cancel, complete -------------------------------------------------------


def test_release_puts_the_request_back_in_the_queue_with_the_note(ada, category, grace, alan):
    help_request = scheduled(ada, category, grace)

    services.release_help_request(expert=grace, request_id=help_request.public_id, note="I fell ill")

    help_request.refresh_from_db()
    assert (help_request.status, help_request.expert_id, help_request.scheduled_start) == (S.OPEN, None, None)
    assert help_request.meeting_state == MeetingState.NONE
    last = help_request.events.last()
    assert (last.action, last.from_status, last.to_status, last.note) == ("released", "scheduled", "open", "I fell ill")
    assert Notification.objects.filter(recipient=ada, kind=NotificationKind.HELP_REQUEST_RELEASED).count() == 1
    # Another expert can take it now.
    services.accept_help_request(expert=alan, request_id=help_request.public_id)


def test_release_needs_a_note_and_only_the_holding_expert_may(ada, category, grace, alan):
    help_request = accepted(ada, category, grace)
    with pytest.raises(ValidationError):
        services.release_help_request(expert=grace, request_id=help_request.public_id, note="  ")
    with pytest.raises(HelpRequest.DoesNotExist):
        services.release_help_request(expert=alan, request_id=help_request.public_id, note="mine now")
    assert HelpRequest.objects.get(pk=help_request.pk).status == S.ACCEPTED


def test_schedule_sets_the_meeting_pending_and_refuses_bad_times(ada, category, grace):
    help_request = accepted(ada, category, grace)
    now = timezone.now()
    for start, end in [
        (now - timedelta(hours=1), now + timedelta(hours=1)),  # in the past
        (now + timedelta(hours=2), now + timedelta(hours=1)),  # ends before it starts
        (now + timedelta(hours=1), now + timedelta(hours=9)),  # too long
        ("tomorrow", now + timedelta(hours=9)),  # not a date
    ]:
        with pytest.raises(ValidationError):
            services.schedule_session(expert=grace, request_id=help_request.public_id, start=start, end=end)
    assert HelpRequest.objects.get(pk=help_request.pk).status == S.ACCEPTED

    start, end = session_times()
    services.schedule_session(expert=grace, request_id=help_request.public_id, start=start, end=end)
    help_request.refresh_from_db()
    assert (help_request.status, help_request.meeting_state) == (S.SCHEDULED, MeetingState.PENDING)
    assert Notification.objects.filter(recipient=ada, kind=NotificationKind.HELP_REQUEST_SCHEDULED).count() == 1


def test_only_the_requester_cancels_and_the_expert_is_told(ada, category, grace, eve):
    help_request = scheduled(ada, category, grace)
    with pytest.raises(HelpRequest.DoesNotExist):
        services.cancel_help_request(requester=eve, request_id=help_request.public_id)
    with pytest.raises(HelpRequest.DoesNotExist):
        services.cancel_help_request(requester=grace, request_id=help_request.public_id)

    services.cancel_help_request(requester=ada, request_id=help_request.public_id, note="Solved it myself")

    assert HelpRequest.objects.get(pk=help_request.pk).status == S.CANCELLED
    assert Notification.objects.filter(recipient=grace, kind=NotificationKind.HELP_REQUEST_CANCELLED).count() == 1


def test_completing_counts_the_session_for_the_expert(ada, category, grace):
    completed(ada, category, grace)
    assert ExpertProfile.objects.get(user=grace).sessions_completed == 1
    assert Notification.objects.filter(recipient=ada, kind=NotificationKind.HELP_REQUEST_COMPLETED).count() == 1


def test_manual_link_is_https_only_and_only_after_scheduling(ada, category, grace):
    help_request = accepted(ada, category, grace)
    with pytest.raises(HelpdeskRefusal):
        services.set_manual_meeting_link(expert=grace, request_id=help_request.public_id, url="https://meet.example/x")
    start, end = session_times()
    services.schedule_session(expert=grace, request_id=help_request.public_id, start=start, end=end)
    for bad in ("http://meet.example/x", "javascript:alert(1)", "meet.example", ""):
        with pytest.raises(ValidationError):
            services.set_manual_meeting_link(expert=grace, request_id=help_request.public_id, url=bad)

    services.set_manual_meeting_link(expert=grace, request_id=help_request.public_id, url="https://meet.example/x")

    help_request.refresh_from_db()
    assert (help_request.meeting_state, help_request.meeting_join_url) == (
        MeetingState.MANUAL,
        "https://meet.example/x",
    )


# --- rating ----------------------------------------------------------------------------------


def test_rating_updates_the_expert_aggregate_once(ada, category, grace):
    help_request = completed(ada, category, grace)

    services.rate_help_request(requester=ada, request_id=help_request.public_id, stars=4, feedback="Clear and kind")

    profile = ExpertProfile.objects.get(user=grace)
    assert (profile.rating_count, profile.rating_sum) == (1, 4)
    assert Notification.objects.filter(recipient=grace, kind=NotificationKind.HELP_RATING_RECEIVED).count() == 1
    with pytest.raises(HelpdeskRefusal) as caught:
        services.rate_help_request(requester=ada, request_id=help_request.public_id, stars=5)
    assert caught.value.code == "already_rated"
    profile.refresh_from_db()
    assert (profile.rating_count, profile.rating_sum) == (1, 4)


def test_rating_refuses_what_is_not_yours_not_completed_or_out_of_range(ada, category, grace, eve):
    done = completed(ada, category, grace)
    not_done = scheduled(ada, category, grace)

    with pytest.raises(HelpRequest.DoesNotExist):
        services.rate_help_request(requester=eve, request_id=done.public_id, stars=5)
    with pytest.raises(HelpRequest.DoesNotExist):
        services.rate_help_request(requester=grace, request_id=done.public_id, stars=5)
    with pytest.raises(HelpdeskRefusal) as caught:
        services.rate_help_request(requester=ada, request_id=not_done.public_id, stars=5)
    assert caught.value.code == "not_completed"
    for stars in (0, 6, -1, "5.5", None, True, "five"):
        with pytest.raises(ValidationError):
            services.rate_help_request(requester=ada, request_id=done.public_id, stars=stars)
    assert not Rating.objects.exists()
    assert ExpertProfile.objects.get(user=grace).rating_count == 0


# --- staff ------------------------------------------------------------------------------------


def test_staff_reassign_to_a_verified_expert_respects_category_and_cap(ada, category, grace, alan, chemist, staff):
    help_request = accepted(ada, category, grace)
    with pytest.raises(HelpdeskRefusal):
        services.reassign_help_request(staff=staff, request_id=help_request.public_id, expert=chemist)

    services.reassign_help_request(staff=staff, request_id=help_request.public_id, expert=alan)

    help_request.refresh_from_db()
    assert (help_request.status, help_request.expert_id) == (S.ACCEPTED, alan.pk)
    assert help_request.events.last().action == "reassigned"
