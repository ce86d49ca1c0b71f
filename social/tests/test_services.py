import contextlib
import threading

import pytest
from django.db import IntegrityError, close_old_connections, connection, transaction
from django.urls import reverse

from notifications.models import Notification
from social import services
from social.models import Block, FriendRequest, Friendship, Report
from social.tests.factories import (
    BlockFactory,
    FriendRequestFactory,
    ReportFactory,
    UserFactory,
    make_friends,
)

pytestmark = pytest.mark.django_db

Status = FriendRequest.Status


def are_friends(a, b) -> bool:
    low, high = Friendship.ordered_ids(a.pk, b.pk)
    return Friendship.objects.filter(user_low_id=low, user_high_id=high).exists()


def refused(code: str):
    """pytest.raises for a domain refusal with this code."""

    class _Refused:
        def __enter__(self):
            self._ctx = pytest.raises(services.SocialRefusal)
            self.info = self._ctx.__enter__()
            return self.info

        def __exit__(self, *exc):
            result = self._ctx.__exit__(*exc)
            assert self.info.value.code == code, self.info.value
            return result

    return _Refused()


# --- Sending ------------------------------------------------------------------------------------


def test_sending_creates_a_pending_request_and_notifies_the_recipient(ada, bob, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        result = services.send_friend_request(from_user=ada, to_user=bob, note="  Hi from the robotics lab!  ")

    assert not result.became_friends
    request = result.friend_request
    assert (request.from_user, request.to_user, request.status) == (ada, bob, Status.PENDING)
    assert request.note == "Hi from the robotics lab!"
    assert request.responded_at is None
    notification = Notification.objects.get(recipient=bob)
    assert notification.kind == services.FRIEND_REQUEST_KIND
    assert notification.title == "Ada Lovelace sent you a friend request"
    assert notification.body == "Hi from the robotics lab!"
    assert notification.url == reverse("social:requests_incoming")
    assert not Notification.objects.filter(recipient=ada).exists()


def test_sending_to_oneself_is_refused(ada):
    with refused("self") as info:
        services.send_friend_request(from_user=ada, to_user=ada)
    assert "yourself" in info.value.message
    assert not FriendRequest.objects.exists()


def test_sending_twice_is_refused_with_a_clear_message(ada, bob):
    services.send_friend_request(from_user=ada, to_user=bob)

    with refused("duplicate") as info:
        services.send_friend_request(from_user=ada, to_user=bob)

    assert "already sent Bob Babbage a friend request" in info.value.message
    assert FriendRequest.objects.count() == 1
    assert Notification.objects.filter(recipient=bob).count() == 1


def test_sending_to_a_friend_is_refused(ada, bob):
    make_friends(ada, bob)

    with refused("already_friends") as info:
        services.send_friend_request(from_user=ada, to_user=bob)

    assert "already friends" in info.value.message
    assert not FriendRequest.objects.exists()


@pytest.mark.parametrize("blocker_is_sender", [True, False], ids=["sender-blocked", "recipient-blocked"])
def test_sending_across_a_block_in_either_direction_is_refused(ada, bob, blocker_is_sender):
    if blocker_is_sender:
        BlockFactory(blocker=ada, blocked=bob)
    else:
        BlockFactory(blocker=bob, blocked=ada)

    with refused("blocked") as info:
        services.send_friend_request(from_user=ada, to_user=bob)

    # The same words either way: a blocked student does not learn who blocked whom.
    assert info.value.message == "You cannot send a friend request to this student."
    assert not FriendRequest.objects.exists()
    assert not Notification.objects.exists()


def test_sending_to_an_inactive_account_is_refused(ada):
    gone = UserFactory(is_active=False)

    with refused("inactive"):
        services.send_friend_request(from_user=ada, to_user=gone)

    assert not FriendRequest.objects.exists()


def test_a_note_over_200_characters_is_refused(ada, bob):
    with refused("note_too_long") as info:
        services.send_friend_request(from_user=ada, to_user=bob, note="x" * 201)

    assert "200 characters" in info.value.message
    assert not FriendRequest.objects.exists()


def test_sending_to_someone_who_already_asked_accepts_their_request(ada, bob, django_capture_on_commit_callbacks):
    theirs = services.send_friend_request(from_user=bob, to_user=ada).friend_request

    with django_capture_on_commit_callbacks(execute=True):
        result = services.send_friend_request(from_user=ada, to_user=bob, note="ignored")

    assert result.became_friends
    assert result.friend_request.pk == theirs.pk
    theirs.refresh_from_db()
    assert theirs.status == Status.ACCEPTED
    assert theirs.responded_at is not None
    assert are_friends(ada, bob)
    assert FriendRequest.objects.count() == 1  # no second request was made
    accepted = Notification.objects.get(recipient=bob)
    assert accepted.kind == services.FRIEND_ACCEPTED_KIND
    assert accepted.title == "Ada Lovelace accepted your friend request"
    assert accepted.url == reverse("social:friends")


def test_after_a_declined_request_a_new_one_can_be_sent(ada, bob):
    first = services.send_friend_request(from_user=ada, to_user=bob).friend_request
    services.decline_friend_request(user=bob, request_id=first.pk)

    second = services.send_friend_request(from_user=ada, to_user=bob).friend_request

    assert second.pk != first.pk
    assert second.status == Status.PENDING


# --- Answering ----------------------------------------------------------------------------------


def test_the_recipient_accepts_and_the_two_become_friends_once(ada, bob):
    request = FriendRequestFactory(from_user=bob, to_user=ada)

    accepted = services.accept_friend_request(user=ada, request_id=request.pk)

    assert accepted.status == Status.ACCEPTED
    assert accepted.responded_at is not None
    friendship = Friendship.objects.get()
    assert (friendship.user_low_id, friendship.user_high_id) == tuple(sorted([ada.pk, bob.pk]))
    assert Notification.objects.get(recipient=bob).kind == services.FRIEND_ACCEPTED_KIND


def test_accepting_twice_is_refused(ada, bob):
    request = FriendRequestFactory(from_user=bob, to_user=ada)
    services.accept_friend_request(user=ada, request_id=request.pk)

    with refused("not_pending") as info:
        services.accept_friend_request(user=ada, request_id=request.pk)

    assert info.value.message == "This friend request was already accepted."
    assert Friendship.objects.count() == 1


def test_declining_tells_the_sender_nothing(ada, bob):
    request = FriendRequestFactory(from_user=bob, to_user=ada)

    declined = services.decline_friend_request(user=ada, request_id=request.pk)

    assert declined.status == Status.DECLINED
    assert not Friendship.objects.exists()
    assert not Notification.objects.filter(recipient=bob).exists()


def test_the_sender_cancels_their_request(ada, bob):
    request = FriendRequestFactory(from_user=ada, to_user=bob)

    cancelled = services.cancel_friend_request(user=ada, request_id=request.pk)

    assert cancelled.status == Status.CANCELLED
    with refused("not_pending"):
        services.cancel_friend_request(user=ada, request_id=request.pk)


@pytest.mark.parametrize(
    ("action", "actor"),
    [
        ("cancel", "recipient"),
        ("cancel", "stranger"),
        ("accept", "sender"),
        ("accept", "stranger"),
        ("decline", "sender"),
        ("decline", "stranger"),
    ],
)
def test_only_the_right_side_can_answer_a_request(ada, bob, eve, action, actor):
    request = FriendRequestFactory(from_user=ada, to_user=bob)
    user = {"sender": ada, "recipient": bob, "stranger": eve}[actor]
    act = {
        "cancel": services.cancel_friend_request,
        "accept": services.accept_friend_request,
        "decline": services.decline_friend_request,
    }[action]

    with pytest.raises(FriendRequest.DoesNotExist):
        act(user=user, request_id=request.pk)

    request.refresh_from_db()
    assert request.status == Status.PENDING
    assert not Friendship.objects.exists()


def test_an_unknown_request_id_does_not_exist(ada):
    with pytest.raises(FriendRequest.DoesNotExist):
        services.accept_friend_request(user=ada, request_id=987654)


def test_accepting_a_request_from_a_deactivated_account_is_refused(ada, bob):
    request = FriendRequestFactory(from_user=bob, to_user=ada)
    bob.is_active = False
    bob.save(update_fields=["is_active"])

    with refused("inactive"):
        services.accept_friend_request(user=ada, request_id=request.pk)

    assert not Friendship.objects.exists()


# --- Friends ------------------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["low", "high"])
def test_either_friend_can_unfriend(ada, bob, who):
    make_friends(ada, bob)
    user, other = (ada, bob) if who == "low" else (bob, ada)

    services.unfriend(user=user, other=other)

    assert not are_friends(ada, bob)


def test_unfriending_a_stranger_does_not_exist(ada, bob, eve):
    make_friends(ada, bob)

    with pytest.raises(Friendship.DoesNotExist):
        services.unfriend(user=eve, other=bob)

    assert are_friends(ada, bob)


# --- Blocks -------------------------------------------------------------------------------------


def test_blocking_ends_the_friendship_and_pending_requests_both_ways(ada, bob, eve):
    make_friends(ada, bob)
    mine = FriendRequestFactory(from_user=ada, to_user=eve)
    carol = UserFactory()
    from_carol = FriendRequestFactory(from_user=carol, to_user=ada)

    services.block_user(blocker=ada, blocked=bob)
    services.block_user(blocker=ada, blocked=eve)
    services.block_user(blocker=ada, blocked=carol)

    assert not are_friends(ada, bob)
    mine.refresh_from_db()
    from_carol.refresh_from_db()
    assert mine.status == Status.CANCELLED
    assert from_carol.status == Status.DECLINED
    assert Block.objects.filter(blocker=ada).count() == 3


def test_a_blocked_student_cannot_ask_and_neither_can_the_blocker(ada, bob):
    services.block_user(blocker=ada, blocked=bob)

    with refused("blocked"):
        services.send_friend_request(from_user=bob, to_user=ada)
    with refused("blocked"):
        services.send_friend_request(from_user=ada, to_user=bob)


def test_blocking_oneself_or_twice_is_refused(ada, bob):
    with refused("self"):
        services.block_user(blocker=ada, blocked=ada)
    services.block_user(blocker=ada, blocked=bob)
    with refused("already_blocked"):
        services.block_user(blocker=ada, blocked=bob)
    assert Block.objects.count() == 1


def test_unblocking_lifts_the_block_but_not_the_old_friendship(ada, bob):
    make_friends(ada, bob)
    services.block_user(blocker=ada, blocked=bob)

    services.unblock_user(blocker=ada, blocked=bob)

    assert not Block.objects.exists()
    assert not are_friends(ada, bob)
    assert services.send_friend_request(from_user=bob, to_user=ada).friend_request.is_pending


def test_only_the_blocker_can_unblock(ada, bob):
    services.block_user(blocker=ada, blocked=bob)

    with pytest.raises(Block.DoesNotExist):
        services.unblock_user(blocker=bob, blocked=ada)

    assert Block.objects.filter(blocker=ada, blocked=bob).exists()


# --- Reports ------------------------------------------------------------------------------------


def test_reporting_files_an_open_report(ada, bob):
    report = services.report_user(reporter=ada, reported=bob, reason=Report.Reason.HARASSMENT, details=" rude ")

    assert (report.reporter, report.reported, report.reason, report.details) == (ada, bob, "harassment", "rude")
    assert not report.handled


@pytest.mark.parametrize(
    ("kwargs", "code"),
    [
        ({"reason": "spam", "details": "x" * 2001}, "details_too_long"),
        ({"reason": "not-a-reason"}, "reason"),
        ({"reason": ""}, "reason"),
    ],
)
def test_bad_reports_are_refused(ada, bob, kwargs, code):
    with refused(code):
        services.report_user(reporter=ada, reported=bob, **kwargs)
    assert not Report.objects.exists()


def test_reporting_oneself_is_refused(ada):
    with refused("self"):
        services.report_user(reporter=ada, reported=ada, reason="spam")


def test_a_second_open_report_about_the_same_student_is_refused(ada, bob):
    services.report_user(reporter=ada, reported=bob, reason="spam")

    with refused("duplicate"):
        services.report_user(reporter=ada, reported=bob, reason="harassment")

    Report.objects.update(handled=True, handled_at="2026-01-01T00:00:00Z")
    assert services.report_user(reporter=ada, reported=bob, reason="harassment").pk


def test_staff_mark_reports_handled(ada):
    staff = UserFactory(is_staff=True)
    open_report, done = ReportFactory(), ReportFactory(handled=True, handled_at="2026-01-01T00:00:00Z")

    changed = services.mark_reports_handled(staff=staff, report_ids=[open_report.pk, done.pk], note="warned")

    assert changed == 1
    open_report.refresh_from_db()
    assert open_report.handled and open_report.handled_by == staff and open_report.staff_note == "warned"


def test_deactivating_reported_accounts_closes_their_reports_and_spares_staff(ada):
    staff = UserFactory(is_staff=True)
    spammer = UserFactory()
    report = ReportFactory(reported=spammer)
    about_staff = ReportFactory(reported=UserFactory(is_staff=True))

    users = services.deactivate_reported_accounts(staff=staff, report_ids=[report.pk, about_staff.pk])

    assert users == [spammer]
    spammer.refresh_from_db()
    about_staff.reported.refresh_from_db()
    assert not spammer.is_active
    assert about_staff.reported.is_active
    report.refresh_from_db()
    assert report.handled and report.handled_by == staff


# --- Notifications seen ------------------------------------------------------------------------


def test_seeing_the_requests_marks_only_friend_request_notifications_read(ada, bob, eve):
    services.send_friend_request(from_user=bob, to_user=ada)
    services.send_friend_request(from_user=eve, to_user=ada)
    other = Notification.objects.create(recipient=ada, kind="system", title="Maintenance tonight", url="/")

    marked = services.mark_request_notifications_seen(user=ada)

    assert marked == 2
    assert not Notification.objects.filter(recipient=ada, url=reverse("social:requests_incoming"), read_at=None)
    other.refresh_from_db()
    assert other.read_at is None


# --- The database keeps the invariants on its own -----------------------------------------------


def test_the_database_allows_one_pending_request_per_pair_in_either_order(ada, bob):
    FriendRequestFactory(from_user=ada, to_user=bob)
    with pytest.raises(IntegrityError), transaction.atomic():
        FriendRequestFactory(from_user=ada, to_user=bob)
    with pytest.raises(IntegrityError), transaction.atomic():
        FriendRequestFactory(from_user=bob, to_user=ada)


def test_the_database_keeps_any_number_of_answered_requests(ada, bob):
    for status in [Status.DECLINED, Status.CANCELLED, Status.DECLINED, Status.ACCEPTED]:
        FriendRequestFactory(from_user=ada, to_user=bob, status=status)
    FriendRequestFactory(from_user=bob, to_user=ada)
    assert FriendRequest.objects.count() == 5


@pytest.mark.parametrize(
    "make",
    [
        lambda a, b: FriendRequestFactory(from_user=a, to_user=a),
        lambda a, b: FriendRequestFactory(from_user=a, to_user=b, status="maybe"),
        lambda a, b: FriendRequest.objects.create(from_user=a, to_user=b, status="declined", responded_at=None),
        lambda a, b: Friendship.objects.create(user_low_id=max(a.pk, b.pk), user_high_id=min(a.pk, b.pk)),
        lambda a, b: Friendship.objects.create(user_low_id=a.pk, user_high_id=a.pk),
        lambda a, b: Block.objects.create(blocker=a, blocked=a),
        lambda a, b: ReportFactory(reporter=a, reported=a),
        lambda a, b: ReportFactory(reporter=a, reported=b, reason="boring"),
        lambda a, b: ReportFactory(reporter=a, reported=b, handled=True, handled_at=None),
    ],
    ids=[
        "request-to-self",
        "unknown-status",
        "answered-without-time",
        "friendship-unordered",
        "friendship-with-self",
        "block-self",
        "report-self",
        "report-unknown-reason",
        "report-handled-without-time",
    ],
)
def test_the_database_refuses_broken_rows(ada, bob, make):
    with pytest.raises(IntegrityError), transaction.atomic():
        make(ada, bob)


def test_the_database_allows_one_friendship_and_one_block_per_pair(ada, bob):
    make_friends(ada, bob)
    with pytest.raises(IntegrityError), transaction.atomic():
        make_friends(bob, ada)
    BlockFactory(blocker=ada, blocked=bob)
    with pytest.raises(IntegrityError), transaction.atomic():
        BlockFactory(blocker=ada, blocked=bob)
    BlockFactory(blocker=bob, blocked=ada)  # the other direction is another block


# --- Races: two real threads, two connections, at the same moment -----------------------------


def _race(*calls):
    """Run the calls in threads released together; return each one's result or exception."""
    barrier = threading.Barrier(len(calls))
    outcomes: list = [None] * len(calls)

    def run(index, call):
        try:
            barrier.wait(timeout=10)
            outcomes[index] = call()
        except Exception as exc:
            outcomes[index] = exc
        finally:
            close_old_connections()
            connection.close()

    threads = [threading.Thread(target=run, args=(i, call)) for i, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads), "a racing call hung"
    return outcomes


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("attempt", range(3))
def test_two_identical_sends_at_once_make_one_request(attempt):
    ada, bob = UserFactory(), UserFactory()

    outcomes = _race(
        lambda: services.send_friend_request(from_user=ada, to_user=bob),
        lambda: services.send_friend_request(from_user=ada, to_user=bob),
    )

    errors = [o for o in outcomes if isinstance(o, Exception)]
    assert len(errors) == 1, outcomes
    assert isinstance(errors[0], services.SocialRefusal) and errors[0].code == "duplicate"
    assert FriendRequest.objects.filter(status=Status.PENDING).count() == 1
    assert Notification.objects.filter(recipient=bob).count() == 1


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("attempt", range(3))
def test_crossed_sends_at_once_make_one_friendship_and_no_pending_request(attempt):
    ada, bob = UserFactory(), UserFactory()

    outcomes = _race(
        lambda: services.send_friend_request(from_user=ada, to_user=bob),
        lambda: services.send_friend_request(from_user=bob, to_user=ada),
    )

    assert not [o for o in outcomes if isinstance(o, Exception)], outcomes
    assert sorted(o.became_friends for o in outcomes) == [False, True]
    assert Friendship.objects.count() == 1
    assert FriendRequest.objects.count() == 1
    assert FriendRequest.objects.get().status == Status.ACCEPTED


@pytest.mark.django_db(transaction=True)
def test_accept_and_cancel_at_once_leave_one_consistent_outcome():
    ada, bob = UserFactory(), UserFactory()
    request = services.send_friend_request(from_user=ada, to_user=bob).friend_request

    outcomes = _race(
        lambda: services.accept_friend_request(user=bob, request_id=request.pk),
        lambda: services.cancel_friend_request(user=ada, request_id=request.pk),
    )

    errors = [o for o in outcomes if isinstance(o, Exception)]
    assert len(errors) == 1 and errors[0].code == "not_pending", outcomes
    request.refresh_from_db()
    assert Friendship.objects.count() == (1 if request.status == Status.ACCEPTED else 0)


@pytest.mark.django_db(transaction=True)
def test_the_constraint_alone_stops_a_duplicate_when_the_checks_are_raced(monkeypatch):
    """Even if both transactions pass the "already pending?" check (row locks removed), the unique
    constraint refuses the second insert and the loser answers with the crossed-request rule."""
    ada, bob = UserFactory(), UserFactory()
    checked = threading.Barrier(2)
    real_pending_between = services._pending_between
    calls = {"n": 0}

    def no_lock(a, b):
        return {a.pk: True, b.pk: True}

    def pending_between_then_wait(a, b):
        found = real_pending_between(a, b)
        calls["n"] += 1
        if calls["n"] <= 2:  # both first checks see nothing, then race to insert
            with contextlib.suppress(threading.BrokenBarrierError):
                checked.wait(timeout=5)
        return found

    monkeypatch.setattr(services, "_lock_pair", no_lock)
    monkeypatch.setattr(services, "_pending_between", pending_between_then_wait)
    if connection.vendor == "sqlite":
        pytest.skip("SQLite serialises whole write transactions (IMMEDIATE): the checks cannot be raced")

    outcomes = _race(
        lambda: services.send_friend_request(from_user=ada, to_user=bob),
        lambda: services.send_friend_request(from_user=bob, to_user=ada),
    )

    assert not [o for o in outcomes if isinstance(o, Exception)], outcomes
    assert calls["n"] == 3, "the loser re-read the winner after the constraint refused its insert"
    assert Friendship.objects.count() == 1
    assert FriendRequest.objects.filter(status=Status.PENDING).count() == 0
