"""Every write of the social app: friend requests, friendships, blocks, reports.

Each function is keyword-only and runs in one transaction. Operations on a pair of students
first lock both user rows in id order (`_lock_pair`), so a send, an accept, a block and an
unfriend on the same pair run one after another on MySQL/MariaDB (on SQLite the IMMEDIATE
transaction mode serialises writers anyway). The database constraints are the last word: if
two requests still race past the checks, the unique constraints refuse the duplicate and the
loser re-reads what won.

Notifications go through `notifications.services.notify`, which stores the notification in
this transaction and pushes it and queues its e-mail after commit.
"""

from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from accounts import selectors as account_selectors
from accounts import services as account_services
from accounts.models import User
from config.refusals import Refusal
from notifications import services as notification_services
from notifications.models import NotificationKind
from social import selectors
from social.models import NOTE_MAX_LENGTH, REPORT_DETAILS_MAX_LENGTH, Block, FriendRequest, Friendship, Report

# The notification kinds this app sends.
FRIEND_REQUEST_KIND = NotificationKind.FRIEND_REQUEST
FRIEND_ACCEPTED_KIND = NotificationKind.FRIEND_ACCEPTED

Status = FriendRequest.Status


class SocialRefusal(Refusal):
    """A social rule refused the action (config.refusals.Refusal): what the current state
    refuses is 409, an unconfirmed address 403, a refused input 400."""

    status_by_code = {
        "duplicate": 409,
        "already_friends": 409,
        "not_pending": 409,
        "already_blocked": 409,
        "blocked": 409,
        "inactive": 409,
        "unverified": 403,
    }


@dataclass(frozen=True)
class SendResult:
    """What sending a request did: a new pending request, or (when the other student had
    already asked) their request accepted and a friendship made."""

    friend_request: FriendRequest
    friendship: Friendship | None = None

    @property
    def became_friends(self) -> bool:
        return self.friendship is not None


def _name(user: User) -> str:
    return user.get_full_name() or "this student"


def _lock_pair(a: User, b: User) -> dict[int, bool]:
    """Lock both user rows, always in id order so two opposite calls cannot deadlock.
    Returns whether each is active, as of now."""
    rows = User.objects.select_for_update().filter(pk__in=[a.pk, b.pk]).order_by("pk").values_list("pk", "is_active")
    return dict(rows)


def _pending_between(a: User, b: User) -> FriendRequest | None:
    return (
        FriendRequest.objects.select_for_update()
        .filter(Q(from_user=a, to_user=b) | Q(from_user=b, to_user=a), status=Status.PENDING)
        .select_related("from_user", "to_user")
        .first()
    )


def _friendship_between(a: User, b: User) -> Friendship | None:
    low, high = Friendship.ordered_ids(a.pk, b.pk)
    return Friendship.objects.filter(user_low_id=low, user_high_id=high).first()


def _make_friends(a: User, b: User) -> Friendship:
    low, high = Friendship.ordered_ids(a.pk, b.pk)
    friendship, _ = Friendship.objects.get_or_create(user_low_id=low, user_high_id=high)
    return friendship


def _incoming_url() -> str:
    return reverse("social:requests_incoming")


def _friends_url() -> str:
    return reverse("social:friends")


def _answer(friend_request: FriendRequest, status: str) -> None:
    friend_request.status = status
    friend_request.responded_at = timezone.now()
    friend_request.save(update_fields=["status", "responded_at"])


def _accept(friend_request: FriendRequest) -> Friendship:
    _answer(friend_request, Status.ACCEPTED)
    friendship = _make_friends(friend_request.from_user, friend_request.to_user)
    accepter = friend_request.to_user
    notification_services.notify(
        recipient=friend_request.from_user,
        kind=FRIEND_ACCEPTED_KIND,
        title=f"{_name(accepter)} accepted your friend request",
        body="You are now friends on Lyceum.",
        url=_friends_url(),
    )
    return friendship


def _refuse_if_unreachable(*, sender: User, recipient: User, recipient_active: bool) -> None:
    if not recipient_active:
        raise SocialRefusal("This account is no longer active.", code="inactive")
    if selectors.blocked_either_way(sender.pk, recipient.pk):
        # The same words whichever side blocked: a blocked student does not learn who did.
        raise SocialRefusal("You cannot send a friend request to this student.", code="blocked")


@transaction.atomic
def send_friend_request(*, from_user: User, to_user: User, note: str = "") -> SendResult:
    """Ask `to_user` to be friends. If they already asked `from_user`, this accepts theirs.

    Refused with a SocialRefusal (and nothing changed): to oneself, to an inactive account,
    across a block in either direction, to a friend, when a request is already pending, and
    (code "unverified") from an account whose address is not confirmed yet.
    """
    if not account_selectors.can_act(from_user):
        raise SocialRefusal(account_selectors.UNVERIFIED_MESSAGE, code="unverified")
    note = note.strip()
    if len(note) > NOTE_MAX_LENGTH:
        raise SocialRefusal(
            f"Keep the note to {NOTE_MAX_LENGTH} characters or fewer.", code="note_too_long", field="note"
        )
    if from_user.pk == to_user.pk:
        raise SocialRefusal("You cannot send a friend request to yourself.", code="self")
    active = _lock_pair(from_user, to_user)
    _refuse_if_unreachable(sender=from_user, recipient=to_user, recipient_active=active.get(to_user.pk, False))
    if _friendship_between(from_user, to_user) is not None:
        raise SocialRefusal(f"You and {_name(to_user)} are already friends.", code="already_friends")
    pending = _pending_between(from_user, to_user)
    if pending is not None:
        if pending.from_user_id == from_user.pk:
            raise SocialRefusal(
                f"You have already sent {_name(to_user)} a friend request; it is waiting for an answer.",
                code="duplicate",
            )
        # They asked first: sending back is a yes.
        return SendResult(friend_request=pending, friendship=_accept(pending))
    try:
        with transaction.atomic():
            friend_request = FriendRequest.objects.create(from_user=from_user, to_user=to_user, note=note)
    except IntegrityError:
        # Another request for this pair committed between our check and our insert (possible
        # only where the row locks do not serialise us). The constraint kept the invariant;
        # act on what won, as if we had come second.
        winner = _pending_between(from_user, to_user)
        if winner is not None and winner.from_user_id == to_user.pk:
            return SendResult(friend_request=winner, friendship=_accept(winner))
        raise SocialRefusal(
            f"A friend request between you and {_name(to_user)} is already pending.", code="duplicate"
        ) from None
    notification_services.notify(
        recipient=to_user,
        kind=FRIEND_REQUEST_KIND,
        title=f"{_name(from_user)} sent you a friend request",
        body=note,
        url=_incoming_url(),
    )
    return SendResult(friend_request=friend_request)


def _own_request(*, request_id: int, **ownership) -> FriendRequest:
    """The request with this id if it belongs to the caller the way asked, locked together with
    its pair (users first, then the request: the same order as every other write here).

    Anything else — someone else's request, a made-up id — is FriendRequest.DoesNotExist, so
    callers answer 404 and nobody learns whether the id exists.
    """
    found = FriendRequest.objects.select_related("from_user", "to_user").get(pk=request_id, **ownership)
    _lock_pair(found.from_user, found.to_user)
    return FriendRequest.objects.select_for_update().select_related("from_user", "to_user").get(pk=found.pk)


def _refuse_unless_pending(friend_request: FriendRequest) -> None:
    if not friend_request.is_pending:
        raise SocialRefusal(
            f"This friend request was already {friend_request.get_status_display().lower()}.", code="not_pending"
        )


@transaction.atomic
def cancel_friend_request(*, user: User, request_id: int) -> FriendRequest:
    """Withdraw a request the user sent. Only its sender can."""
    friend_request = _own_request(request_id=request_id, from_user=user)
    _refuse_unless_pending(friend_request)
    _answer(friend_request, Status.CANCELLED)
    return friend_request


@transaction.atomic
def accept_friend_request(*, user: User, request_id: int) -> FriendRequest:
    """Say yes to a request the user received (only its recipient can): they become friends."""
    friend_request = _own_request(request_id=request_id, to_user=user)
    _refuse_unless_pending(friend_request)
    if not friend_request.from_user.is_active:
        raise SocialRefusal("This account is no longer active.", code="inactive")
    _accept(friend_request)
    return friend_request


@transaction.atomic
def decline_friend_request(*, user: User, request_id: int) -> FriendRequest:
    """Say no to a request the user received. The sender is not told."""
    friend_request = _own_request(request_id=request_id, to_user=user)
    _refuse_unless_pending(friend_request)
    _answer(friend_request, Status.DECLINED)
    return friend_request


@transaction.atomic
def unfriend(*, user: User, other: User) -> None:
    """End a friendship. Not being friends is Friendship.DoesNotExist."""
    _lock_pair(user, other)
    low, high = Friendship.ordered_ids(user.pk, other.pk)
    deleted, _ = Friendship.objects.filter(user_low_id=low, user_high_id=high).delete()
    if not deleted:
        raise Friendship.DoesNotExist(f"You and {_name(other)} are not friends.")


@transaction.atomic
def block_user(*, blocker: User, blocked: User) -> Block:
    """Block a student: they no longer find the blocker, nor can they send requests (or,
    once chat exists, messages). A friendship and pending requests either way end."""
    if blocker.pk == blocked.pk:
        raise SocialRefusal("You cannot block yourself.", code="self")
    _lock_pair(blocker, blocked)
    if Block.objects.filter(blocker=blocker, blocked=blocked).exists():
        raise SocialRefusal(f"You have already blocked {_name(blocked)}.", code="already_blocked")
    low, high = Friendship.ordered_ids(blocker.pk, blocked.pk)
    Friendship.objects.filter(user_low_id=low, user_high_id=high).delete()
    now = timezone.now()
    FriendRequest.objects.filter(from_user=blocker, to_user=blocked, status=Status.PENDING).update(
        status=Status.CANCELLED, responded_at=now
    )
    FriendRequest.objects.filter(from_user=blocked, to_user=blocker, status=Status.PENDING).update(
        status=Status.DECLINED, responded_at=now
    )
    try:
        with transaction.atomic():
            return Block.objects.create(blocker=blocker, blocked=blocked)
    except IntegrityError:
        raise SocialRefusal(f"You have already blocked {_name(blocked)}.", code="already_blocked") from None


@transaction.atomic
def unblock_user(*, blocker: User, blocked: User) -> None:
    """Lift a block. Friendship and requests do not come back. Not blocked is Block.DoesNotExist."""
    deleted, _ = Block.objects.filter(blocker=blocker, blocked=blocked).delete()
    if not deleted:
        raise Block.DoesNotExist(f"You have not blocked {_name(blocked)}.")


@transaction.atomic
def report_user(*, reporter: User, reported: User, reason: str, details: str = "") -> Report:
    """File a report for the moderation queue. One open report per reporter and student."""
    if reporter.pk == reported.pk:
        raise SocialRefusal("You cannot report yourself.", code="self")
    if reason not in Report.Reason.values:
        raise SocialRefusal("Choose a reason for the report.", code="reason", field="reason")
    details = details.strip()
    if len(details) > REPORT_DETAILS_MAX_LENGTH:
        raise SocialRefusal(
            f"Keep the details to {REPORT_DETAILS_MAX_LENGTH} characters or fewer.",
            code="details_too_long",
            field="details",
        )
    _lock_pair(reporter, reported)
    if Report.objects.filter(reporter=reporter, reported=reported, handled=False).exists():
        raise SocialRefusal(
            f"You have already reported {_name(reported)}; our team is looking at it.", code="duplicate"
        )
    return Report.objects.create(reporter=reporter, reported=reported, reason=reason, details=details)


@transaction.atomic
def mark_reports_handled(*, staff: User, report_ids: list[int], note: str = "") -> int:
    """Close reports in the moderation queue. Returns how many were open and are now handled."""
    fields: dict = {"handled": True, "handled_at": timezone.now(), "handled_by": staff}
    if note:
        fields["staff_note"] = note
    return Report.objects.filter(pk__in=report_ids, handled=False).update(**fields)


@transaction.atomic
def deactivate_reported_accounts(*, staff: User, report_ids: list[int]) -> list[User]:
    """Deactivate the accounts these reports are about and close the reports.

    An inactive account cannot log in, its sessions stop authenticating, its API tokens are
    revoked and its live sockets closed (accounts.services.deactivate_account). Staff accounts
    are never deactivated this way. Returns the deactivated users.
    """
    reported_ids = set(Report.objects.filter(pk__in=report_ids).values_list("reported_id", flat=True))
    users = list(
        User.objects.select_for_update().filter(pk__in=reported_ids, is_active=True, is_staff=False).order_by("pk")
    )
    for user in users:
        account_services.deactivate_account(user=user)
    Report.objects.filter(pk__in=report_ids, handled=False).update(
        handled=True, handled_at=timezone.now(), handled_by=staff
    )
    return users


@transaction.atomic
def mark_request_notifications_seen(*, user: User) -> int:
    """The student has seen their incoming requests: the friend-request notifications that
    point there count as read. Returns how many were marked."""
    return notification_services.mark_read_for_subject(user=user, subject=_incoming_url())
