"""Reads of the social app, with their joins and access rules decided here.

Lists of people carry the viewer's relationship to each person as annotations computed in the
same SQL statement (correlated EXISTS / scalar subqueries on indexed columns), so a page of
results costs the same number of queries whatever its length:

- `relationship`: "friend", "request_sent", "request_received" or "none"
- `sent_request_id` / `received_request_id`: the pending request's id, to cancel or answer it
"""

from dataclasses import dataclass
from uuid import UUID

from django.db.models import (
    BigIntegerField,
    Case,
    CharField,
    Count,
    Exists,
    F,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.db.models.functions import Coalesce, Greatest, Least

from accounts import selectors as accounts_selectors
from accounts.models import User, study_name_key
from social.models import Block, FriendRequest, Friendship

FRIEND = "friend"
REQUEST_SENT = "request_sent"
REQUEST_RECEIVED = "request_received"
NONE = "none"
SELF = "self"
BLOCKED = "blocked"  # the viewer blocked this person
BLOCKED_BY = "blocked_by"  # this person blocked the viewer
RELATIONSHIPS = (FRIEND, REQUEST_SENT, REQUEST_RECEIVED, NONE)

Pending = FriendRequest.Status.PENDING


@dataclass(frozen=True)
class Relationship:
    """The viewer's relationship to one person, for a profile page and its action buttons."""

    state: str
    sent_request_id: int | None = None
    received_request_id: int | None = None


def _uuid(value: UUID | str) -> UUID | None:
    if isinstance(value, UUID):
        return value
    try:
        return UUID(str(value))
    except ValueError:
        return None


def _terms(text: str, *, limit: int = 5) -> list[str]:
    return [term for term in text.split()[:limit] if term]


def _friend_ids_subqueries(user_id: int | OuterRef):
    """The two halves of "the friends of user_id", as subqueries usable in `pk__in`."""
    return (
        Friendship.objects.filter(user_low_id=user_id).values("user_high_id"),
        Friendship.objects.filter(user_high_id=user_id).values("user_low_id"),
    )


def friend_ids_of(*, user: User) -> set[int]:
    low_side, high_side = _friend_ids_subqueries(user.pk)
    halves = (
        low_side.order_by().values_list("user_high_id", flat=True),
        high_side.order_by().values_list("user_low_id", flat=True),
    )
    # One query for both halves; the union's own ordering must be cleared too (Meta.ordering).
    both = halves[0].union(halves[1]).order_by()
    return set(both)


def active_friends_with_public_ids(user_id: int) -> QuerySet:
    """The user's active friends as (pk, public_id) rows, in ONE statement: a union of the
    friendship table's two sides, each an index read (the unique (user_low, user_high) index, or
    social_friend_high_idx) joined to the user's primary key. Not friends_of's OR of two IN
    subqueries, which makes MariaDB scan the user table. A block ends the friendship, so a
    blocked user (either way) is never in it."""
    low_side = Friendship.objects.filter(user_low_id=user_id, user_high__is_active=True).values_list(
        "user_high_id", "user_high__public_id"
    )
    high_side = Friendship.objects.filter(user_high_id=user_id, user_low__is_active=True).values_list(
        "user_low_id", "user_low__public_id"
    )
    # The union's own ordering must be cleared too (Meta.ordering).
    return low_side.order_by().union(high_side.order_by(), all=True).order_by()


def _visible_people(*, viewer: User) -> QuerySet[User]:
    """Active students other than the viewer, minus blocks in either direction."""
    return (
        User.objects.filter(is_active=True)
        .exclude(pk=viewer.pk)
        .exclude(pk__in=Block.objects.filter(blocker=viewer).values("blocked_id"))
        .exclude(pk__in=Block.objects.filter(blocked=viewer).values("blocker_id"))
    )


def with_relationship(queryset: QuerySet[User], *, viewer: User) -> QuerySet[User]:
    """Annotate each person with the viewer's relationship to them (see the module docstring).

    Both lookups are point lookups on a unique index, whatever the size of the tables: a
    friendship is stored as (smaller id, larger id), and the pending request of a pair — there
    is at most one — is found through its (pending_low, pending_high) generated columns.
    """
    low = Least(Value(viewer.pk), OuterRef("pk"), output_field=BigIntegerField())
    high = Greatest(Value(viewer.pk), OuterRef("pk"), output_field=BigIntegerField())
    friendship = Friendship.objects.filter(user_low_id=low, user_high_id=high).order_by()
    pending = FriendRequest.objects.filter(pending_low=low, pending_high=high).order_by()
    sent = Q(pending_from=viewer.pk)
    received = Q(pending_from__isnull=False) & ~Q(pending_from=viewer.pk)
    return queryset.alias(
        is_friend=Exists(friendship),
        pending_id=Subquery(pending.values("pk")[:1]),
        pending_from=Subquery(pending.values("from_user_id")[:1]),
    ).annotate(
        relationship=Case(
            When(is_friend=True, then=Value(FRIEND)),
            When(sent, then=Value(REQUEST_SENT)),
            When(received, then=Value(REQUEST_RECEIVED)),
            default=Value(NONE),
            output_field=CharField(),
        ),
        sent_request_id=Case(When(sent, then=F("pending_id")), default=None, output_field=BigIntegerField()),
        received_request_id=Case(When(received, then=F("pending_id")), default=None, output_field=BigIntegerField()),
    )


# How many list entries a partial name may match and still be looked up as a list of names.
NAMES_LIMIT = 200


def _names(entries: QuerySet) -> list[str] | QuerySet:
    """The distinct names of the matching list entries, read first (one small query): an IN list
    of literal names is a range scan of the (university, course) index on MariaDB, where an IN
    subquery is planned as a scan of every user. Past NAMES_LIMIT names, the subquery itself
    (correct whatever the number, slower)."""
    names = list(entries.order_by().values_list("name", flat=True).distinct()[: NAMES_LIMIT + 1])
    if len(names) <= NAMES_LIMIT:
        return names
    return entries.order_by().values("name")


def search_directory(
    *, viewer: User, university: str = "", course: str = "", q: str = "", interests: str = ""
) -> QuerySet[User]:
    """Students matching every filter given, ordered by name, each with its relationship.

    University and course match part of a name, ignoring letter case, accents and punctuation
    ("northbridge" finds "Northbridge University"): the text is matched against the lists'
    normalised keys (accounts.selectors.universities_matching, a small table, one query per filter
    given), and people are then found by the matching entries' names through the (university,
    course) index; `q` matches the start of first or last names,
    every word of it; `interests` (comma-separated) must all appear in the person's interests.
    Excludes the viewer, inactive accounts and blocks either way. With no filter at all it is
    every visible student: callers decide whether an empty search is allowed.
    """
    people = _visible_people(viewer=viewer)
    university, course = university.strip(), course.strip()
    if (university and not study_name_key(university)) or (course and not study_name_key(course)):
        return User.objects.none()  # only punctuation: no name contains that
    if university:
        people = people.filter(university__in=_names(accounts_selectors.universities_matching(university)))
    if course:
        courses = accounts_selectors.courses_matching(course)
        if university:
            courses = courses.filter(university__in=accounts_selectors.universities_matching(university))
        people = people.filter(course__in=_names(courses))
    for term in _terms(q):
        people = people.filter(Q(first_name__istartswith=term) | Q(last_name__istartswith=term))
    for interest in [item.strip() for item in interests.split(",") if item.strip()][:5]:
        people = people.filter(interests__icontains=interest)
    return with_relationship(people, viewer=viewer).order_by("first_name", "last_name", "pk")


def _shared_group_chats(viewer: User):
    """How many group chats each candidate shares with the viewer: a hook for the chat app.

    Returns 0 for everyone until chat exists; then a correlated count over memberships, e.g.
    Subquery(Membership.objects.filter(user=OuterRef("pk"), conversation__in=viewer's groups)…).
    (chat sits above social, so chat will provide this through a selector social may not import;
    the likely shape is a setting-free registry or moving the ranking into chat.)
    """
    return Value(0, output_field=IntegerField())


def people_you_may_know(*, user: User, limit: int = 10) -> list[User]:
    """Suggestions: classmates (same university and course) first, then by mutual friends
    (then shared group chats, later). Never a friend, someone with a pending request either
    way, a block either way, an inactive account or the user.

    Candidates are the user's classmates and friends of friends only, so the cost follows the
    size of the user's circle, not of the whole directory. Each carries `same_course` (0/1)
    and `mutual_friends`.
    """
    limit = max(1, min(limit, 50))
    friends = friend_ids_of(user=user)
    candidates = Q(pk__in=[])
    if user.university and user.course:
        candidates |= Q(university__iexact=user.university, course__iexact=user.course)
    if friends:
        candidates |= Q(pk__in=Friendship.objects.filter(user_low_id__in=friends).values("user_high_id"))
        candidates |= Q(pk__in=Friendship.objects.filter(user_high_id__in=friends).values("user_low_id"))
    people = (
        _visible_people(viewer=user)
        .filter(candidates)
        .exclude(pk__in=friends)
        .exclude(pk__in=FriendRequest.objects.filter(from_user=user, status=Pending).values("to_user_id"))
        .exclude(pk__in=FriendRequest.objects.filter(to_user=user, status=Pending).values("from_user_id"))
    )
    if friends:
        mutual_low = (
            Friendship.objects.filter(user_low_id=OuterRef("pk"), user_high_id__in=friends)
            .order_by()
            .values("user_low_id")
            .annotate(n=Count("pk"))
            .values("n")
        )
        mutual_high = (
            Friendship.objects.filter(user_high_id=OuterRef("pk"), user_low_id__in=friends)
            .order_by()
            .values("user_high_id")
            .annotate(n=Count("pk"))
            .values("n")
        )
        mutual = Coalesce(Subquery(mutual_low, output_field=IntegerField()), 0) + Coalesce(
            Subquery(mutual_high, output_field=IntegerField()), 0
        )
    else:
        mutual = Value(0, output_field=IntegerField())
    if user.university and user.course:
        same_course = Case(
            When(university__iexact=user.university, course__iexact=user.course, then=Value(1)),
            default=Value(0),
            output_field=IntegerField(),
        )
    else:
        same_course = Value(0, output_field=IntegerField())
    people = people.annotate(
        same_course=same_course,
        mutual_friends=mutual,
        shared_group_chats=_shared_group_chats(user),
        relationship=Value(NONE, output_field=CharField()),
        sent_request_id=Value(None, output_field=IntegerField()),
        received_request_id=Value(None, output_field=IntegerField()),
    ).order_by(F("same_course").desc(), F("mutual_friends").desc(), F("shared_group_chats").desc(), "first_name", "pk")
    return list(people[:limit])


def friends_of(*, user: User, q: str = "") -> QuerySet[User]:
    """The user's friends (active accounts), by name, with `friends_since`. `q` matches the
    start of first or last names."""
    low_side, high_side = _friend_ids_subqueries(user.pk)
    since = Friendship.objects.filter(
        Q(user_low_id=user.pk, user_high_id=OuterRef("pk")) | Q(user_low_id=OuterRef("pk"), user_high_id=user.pk)
    ).values("created_at")[:1]
    people = User.objects.filter(Q(pk__in=low_side) | Q(pk__in=high_side), is_active=True)
    for term in _terms(q):
        people = people.filter(Q(first_name__istartswith=term) | Q(last_name__istartswith=term))
    return people.annotate(
        friends_since=Subquery(since),
        relationship=Value(FRIEND, output_field=CharField()),
        sent_request_id=Value(None, output_field=IntegerField()),
        received_request_id=Value(None, output_field=IntegerField()),
    ).order_by("first_name", "last_name", "pk")


def incoming_requests(*, user: User) -> QuerySet[FriendRequest]:
    """Pending requests sent to the user by active students, newest first."""
    return (
        FriendRequest.objects.filter(to_user=user, status=Pending, from_user__is_active=True)
        .select_related("from_user")
        .order_by("-created_at", "-pk")
    )


def outgoing_requests(*, user: User) -> QuerySet[FriendRequest]:
    """Pending requests the user sent to active students, newest first."""
    return (
        FriendRequest.objects.filter(from_user=user, status=Pending, to_user__is_active=True)
        .select_related("to_user")
        .order_by("-created_at", "-pk")
    )


def incoming_request_count(*, user: User) -> int:
    return incoming_requests(user=user).count()


def blocked_by(*, user: User) -> QuerySet[User]:
    """The people the user has blocked, most recent first, with `blocked_at`."""
    return (
        User.objects.filter(blocks_received__blocker=user)
        .annotate(blocked_at=F("blocks_received__created_at"))
        .order_by("-blocked_at", "pk")
    )


def person_for(*, viewer: User, public_id: UUID | str) -> User | None:
    """The active student with this public id, unless a block stands between them and the
    viewer in either direction (then they do not exist for the viewer), with the relationship."""
    public_id = _uuid(public_id)
    if public_id is None:
        return None
    return with_relationship(_visible_people(viewer=viewer), viewer=viewer).filter(public_id=public_id).first()


def person_blocked_by(*, viewer: User, public_id: UUID | str) -> User | None:
    """A student the viewer has blocked (to unblock them), or None."""
    public_id = _uuid(public_id)
    if public_id is None:
        return None
    return User.objects.filter(public_id=public_id, blocks_received__blocker=viewer).first()


def active_person(*, public_id: UUID | str) -> User | None:
    """Any active student by public id, blocks notwithstanding (to block or report them)."""
    public_id = _uuid(public_id)
    if public_id is None:
        return None
    return User.objects.filter(public_id=public_id, is_active=True).first()


def request_counterpart(*, user: User, request_id: int) -> User | None:
    """The other student of a friend request the user is party to, or None."""
    friend_request = (
        FriendRequest.objects.filter(Q(from_user=user) | Q(to_user=user), pk=request_id)
        .select_related("from_user", "to_user")
        .first()
    )
    if friend_request is None:
        return None
    return friend_request.to_user if friend_request.from_user_id == user.pk else friend_request.from_user


def blocks_between(a_id: int, b_id: int) -> QuerySet[Block]:
    """The Block rows between the two people, whichever of them made them (at most two)."""
    return Block.objects.filter(Q(blocker_id=a_id, blocked_id=b_id) | Q(blocker_id=b_id, blocked_id=a_id))


def blocked_either_way(a_id: int, b_id: int) -> bool:
    """Whether a block stands between the two, whichever side made it: the one block check of
    Lyceum (social, chat, help desk), so a blocked person never learns who blocked whom."""
    return blocks_between(a_id, b_id).exists()


def relationship_between(*, viewer: User, person: User) -> Relationship:
    """The viewer's relationship to one person, blocks included (two queries at most)."""
    if viewer.pk == person.pk:
        return Relationship(SELF)
    blocks = set(blocks_between(viewer.pk, person.pk).values_list("blocker_id", flat=True))
    if viewer.pk in blocks:
        return Relationship(BLOCKED)
    if person.pk in blocks:
        return Relationship(BLOCKED_BY)
    row = (
        with_relationship(User.objects.filter(pk=person.pk), viewer=viewer)
        .values("relationship", "sent_request_id", "received_request_id")
        .first()
    )
    if row is None:
        return Relationship(NONE)
    return Relationship(row["relationship"], row["sent_request_id"], row["received_request_id"])


def relationship_of(*, viewer: User, person: User) -> Relationship:
    """Use the annotations a list selector already put on `person`; query only if absent."""
    if getattr(person, "relationship", None) in RELATIONSHIPS:
        return Relationship(
            person.relationship,
            getattr(person, "sent_request_id", None),
            getattr(person, "received_request_id", None),
        )
    return relationship_between(viewer=viewer, person=person)
