"""Reads of the help desk, with their joins and access rules decided here.

Who may see a request (and its timeline and the list of its documents): its requester, the
expert holding it, staff, and — while it is open — every verified expert of its category (to
judge it before accepting). Anyone else gets HelpRequest.DoesNotExist, exactly as for an unknown
id (→ 404).

Who may download a document: only the requester, the expert holding the request and staff
(can_download). A candidate expert sees the names, types and sizes, and downloads after
accepting; an expert who released the request loses access.

The expert's side of every rule is their CURRENT standing (`holds_in_standing`): an expert whose
approval was withdrawn or whose account was deactivated sees, downloads and joins nothing of the
requests they hold or held, from that moment (their held requests go back to the queue).
"""

from dataclasses import dataclass
from datetime import datetime

from django.core.paginator import Page, Paginator
from django.db.models import Count, F, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone

from experts import selectors as expert_selectors
from experts.models import Category, ExpertProfile
from helpdesk.models import (
    ACTIVE_STATUSES,
    HelpDocument,
    HelpRequest,
    HelpRequestEvent,
    HelpRequestStatus,
    MeetingState,
    PreferredSlot,
    Rating,
)
from helpdesk.services.lifecycle import parse_request_id

S = HelpRequestStatus

SEARCH_TERMS_MAX = 5


def _document_count():
    counts = (
        HelpDocument.objects.filter(request=OuterRef("pk"))
        .order_by()
        .values("request")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return Coalesce(Subquery(counts), 0)


def expert_categories(*, expert_user) -> QuerySet[Category]:
    """The active categories the user is an approved expert in (empty for everyone else)."""
    if not expert_user.is_authenticated or not expert_user.is_active:
        return Category.objects.none()
    return Category.objects.filter(
        is_active=True,
        experts__user=expert_user,
        experts__status=ExpertProfile.Status.APPROVED,
    ).order_by("name")


def _open_in_queue(*, expert_user, category_slug: str | None, q: str) -> QuerySet[HelpRequest]:
    categories = expert_categories(expert_user=expert_user)
    if category_slug:
        categories = categories.filter(slug=category_slug)
    queryset = (
        HelpRequest.objects.filter(status=HelpRequestStatus.OPEN, category__in=categories.values("pk"))
        .exclude(requester=expert_user)
        # Asked of one expert: in their queue alone until it goes to everyone.
        .filter(Q(direct_until__isnull=True) | Q(direct_expert=expert_user))
    )
    for term in (q or "").split()[:SEARCH_TERMS_MAX]:
        queryset = queryset.filter(Q(title__icontains=term) | Q(description__icontains=term))
    # Requests asked of this expert first (the soonest to pass on first), then oldest first.
    return queryset.order_by(F("direct_until").asc(nulls_last=True), "created_at", "id")


def _as_queue_rows(queryset: QuerySet[HelpRequest]) -> QuerySet[HelpRequest]:
    return queryset.select_related("category", "requester", "direct_expert", "resubmitted_from").annotate(
        document_count=_document_count()
    )


def queue_for_expert(*, expert_user, category_slug: str | None = None, q: str = "") -> QuerySet[HelpRequest]:
    """Open requests in the expert's approved categories, oldest first (not their own), with
    requester, category and document count: one query (the API paginates it)."""
    return _as_queue_rows(_open_in_queue(expert_user=expert_user, category_slug=category_slug, q=q))


def queue_page(
    *, expert_user, category_slug: str | None = None, q: str = "", page_number=None, per_page: int = 20
) -> Page:
    """One page of the queue, three queries whatever the queue's length: the count, the page's
    ids (a narrow sort the (status, category, created_at) index serves), then those rows with
    their joins and document counts. Sorting the full joined rows instead made MariaDB sort
    wide rows and run the document-count subquery for every open request, not just 20."""
    ids = _open_in_queue(expert_user=expert_user, category_slug=category_slug, q=q).values_list("pk", flat=True)
    page = Paginator(ids, per_page).get_page(page_number)
    wanted = list(page.object_list)
    rows = {row.pk: row for row in _as_queue_rows(HelpRequest.objects.filter(pk__in=wanted)).order_by()}
    page.object_list = [rows[pk] for pk in wanted if pk in rows]  # a row taken meanwhile is gone
    return page


def queue_count(*, expert_user) -> int:
    """How many open requests wait in the expert's queue (the navbar's Queue badge): one COUNT."""
    return _open_in_queue(expert_user=expert_user, category_slug=None, q="").order_by().count()


def queue_row_for(*, expert_user, request_id) -> HelpRequest:
    """One open request as a queue row, if it belongs in this expert's queue."""
    return queue_for_expert(expert_user=expert_user).get(public_id=parse_request_id(request_id))


def my_requests(*, user) -> QuerySet[HelpRequest]:
    return (
        HelpRequest.objects.filter(requester=user)
        .select_related("category", "expert", "direct_expert", "resubmitted_from")
        .annotate(document_count=_document_count())
        .order_by("-created_at", "-id")
    )


def expert_requests(*, expert_user, active_only: bool = False) -> QuerySet[HelpRequest]:
    """Requests the expert holds or held, the active ones first, then by session time; none for
    an expert no longer in good standing."""
    if not expert_selectors.is_verified_expert(user=expert_user):
        return HelpRequest.objects.none()
    queryset = HelpRequest.objects.filter(expert=expert_user).select_related(
        "category", "requester", "direct_expert", "resubmitted_from"
    )
    if active_only:
        queryset = queryset.filter(status__in=ACTIVE_STATUSES)
    return queryset.order_by("-accepted_at", "-id")


def holds_in_standing(*, user, help_request: HelpRequest) -> bool:
    """Is the user the request's expert AND still an approved expert of an active account?"""
    return (
        user.is_authenticated and user.pk == help_request.expert_id and expert_selectors.is_verified_expert(user=user)
    )


def can_view(*, user, help_request: HelpRequest) -> bool:
    if not user.is_authenticated or not user.is_active:
        return False
    if user.is_staff or user.pk == help_request.requester_id:
        return True
    if user.pk == help_request.expert_id:
        return holds_in_standing(user=user, help_request=help_request)
    if help_request.is_direct and user.pk != help_request.direct_expert_id:
        return False  # asked of another expert, for now
    return help_request.status == HelpRequestStatus.OPEN and expert_selectors.is_verified_expert(
        user=user, category_id=help_request.category_id
    )


def can_download(*, user, help_request: HelpRequest) -> bool:
    if not user.is_authenticated or not user.is_active:
        return False
    if user.is_staff or user.pk == help_request.requester_id:
        return True
    return holds_in_standing(user=user, help_request=help_request)


def request_detail_for(*, user, request_id) -> HelpRequest:
    """The request if the user may see it; HelpRequest.DoesNotExist otherwise."""
    help_request = HelpRequest.objects.select_related(
        "category", "requester", "expert", "direct_expert", "resubmitted_from", "resubmitted_as"
    ).get(public_id=parse_request_id(request_id))
    if not can_view(user=user, help_request=help_request):
        raise HelpRequest.DoesNotExist("No such help request.")
    return help_request


def resubmittable_for(*, user, request_id) -> HelpRequest:
    """The user's own request to submit again ("Submit it again" prefills from it), whatever
    its state (the page says why when it cannot be); HelpRequest.DoesNotExist for anyone else's."""
    return HelpRequest.objects.select_related("category", "resubmitted_as").get(
        public_id=parse_request_id(request_id), requester=user
    )


def askable_expert(*, asker, profile_id) -> ExpertProfile:
    """The expert "Ask <name> for help" addresses (experts.selectors.can_be_asked);
    ExpertProfile.DoesNotExist otherwise, as for an unknown id. The asker themselves is returned
    (the callers refuse asking oneself in words)."""
    try:
        pk = int(profile_id)
    except (TypeError, ValueError):
        raise ExpertProfile.DoesNotExist("No such expert.") from None
    profile = expert_selectors.expert_detail(pk=pk, viewer=None) if 0 < pk < 2**63 else None
    if profile is None or not asker.is_authenticated:
        raise ExpertProfile.DoesNotExist("No such expert.")
    if profile.user_id != asker.pk and not expert_selectors.can_be_asked(asker=asker, profile=profile):
        raise ExpertProfile.DoesNotExist("No such expert.")
    return profile


def timeline_for(*, help_request: HelpRequest) -> QuerySet[HelpRequestEvent]:
    return help_request.events.select_related("actor").order_by("created_at", "id")


def slots_for(*, help_request: HelpRequest) -> list[PreferredSlot]:
    """The requester's preferred slots, earliest first."""
    return list(help_request.slots.order_by("start", "id"))


def slots_for_action(*, user, public_id) -> list[PreferredSlot]:
    """The slots a session-time form of the expert holding the request picks from. Only that
    expert's request is looked at, whatever their standing: the service that acts on the form
    decides (and refuses an expert no longer approved with its own message)."""
    return list(
        PreferredSlot.objects.filter(request__public_id=public_id, request__expert=user).order_by("start", "id")
    )


# --- What the request page offers ---------------------------------------------------------------
#
# One rule for the page and the API: the stage a request is in (as its readers name it) and
# the actions the viewer may take there. Nothing is offered that the services would refuse,
# and nothing is offered that leads nowhere (no "Join" once the session is over).

STAGES = ("submitted", "accepted", "scheduled", "in_session", "completed", "rated", "expired", "cancelled")
STAGE_LABELS = {
    "submitted": "Waiting for an expert",
    "accepted": "Accepted",
    "scheduled": "Scheduled",
    "in_session": "In session",
    "completed": "Completed",
    "rated": "Completed and rated",
    "expired": "Expired",
    "cancelled": "Cancelled",
}
ACTIONS = (
    "accept",  # accept and schedule in one step (a candidate expert)
    "schedule",  # the expert of an accepted request picks the time
    "reschedule",
    "release",
    "set_meeting_link",
    "join_meeting",
    "complete",
    "cancel",
    "rate",
    "submit_again",
    "decline",  # the expert asked directly passes it to the category's queue
)


def stage_of(help_request: HelpRequest, *, has_rating: bool, now: datetime | None = None) -> str:
    """submitted, accepted, scheduled, in_session (from its start to its end), completed,
    rated, expired or cancelled."""
    status = help_request.status
    if status == S.OPEN:
        return "submitted"
    if status == S.SCHEDULED:
        now = now or timezone.now()
        start, end = help_request.scheduled_start, help_request.scheduled_end
        return "in_session" if start and end and start <= now < end else "scheduled"
    if status == S.COMPLETED:
        return "rated" if has_rating else "completed"
    return str(status)


def actions_for(*, user, help_request: HelpRequest, has_rating: bool, now: datetime | None = None) -> frozenset[str]:
    """What this viewer may do with the request now (names from ACTIONS)."""
    is_requester = user.pk == help_request.requester_id
    is_expert = help_request.expert_id is not None and user.pk == help_request.expert_id
    stage = stage_of(help_request, has_rating=has_rating, now=now)
    actions: set[str] = set()
    if stage == "submitted":
        if is_requester:
            actions.add("cancel")
        elif help_request.is_direct and user.pk != help_request.direct_expert_id:
            pass  # asked of another expert, for now
        elif expert_selectors.is_verified_expert(user=user, category_id=help_request.category_id):
            actions.add("accept")
            if help_request.is_direct:
                actions.add("decline")
    elif stage == "accepted":
        actions |= {"schedule", "release"} if is_expert else {"cancel"} if is_requester else set()
    elif stage in ("scheduled", "in_session"):
        if (is_requester or is_expert) and help_request.has_meeting_link:
            actions.add("join_meeting")
        if is_requester:
            actions.add("cancel")
        if is_expert:
            actions |= {"reschedule", "release"}
            start = help_request.scheduled_start
            if start is not None and start <= (now or timezone.now()):
                actions.add("complete")  # not before the session has started (the service refuses it)
            if help_request.meeting_state in (MeetingState.FAILED, MeetingState.MANUAL):
                actions.add("set_meeting_link")
    elif stage == "completed" and is_requester and help_request.expert_id is not None:
        actions.add("rate")
    elif stage in ("expired", "cancelled") and is_requester and not _was_resubmitted(help_request):
        actions.add("submit_again")
    return frozenset(actions)


def resubmitted_as(help_request: HelpRequest) -> HelpRequest | None:
    """The request that submitted this one again, if any."""
    try:
        return help_request.resubmitted_as
    except HelpRequest.DoesNotExist:
        return None


def _was_resubmitted(help_request: HelpRequest) -> bool:
    return resubmitted_as(help_request) is not None


@dataclass(frozen=True)
class RequestPage:
    """Everything the request page shows a viewer beyond the request itself."""

    is_requester: bool
    is_expert: bool
    stage: str
    actions: frozenset[str]
    slots: list[PreferredSlot]
    session_in_slot: bool
    rating: Rating | None
    timeline: list[HelpRequestEvent]
    stage_label: str


def request_page_for(*, user, help_request: HelpRequest, now: datetime | None = None) -> RequestPage:
    """The request page's state for a viewer who may see the request (request_detail_for)."""
    rating = rating_for(help_request=help_request) if help_request.status == S.COMPLETED else None
    slots = slots_for(help_request=help_request)
    start, end = help_request.scheduled_start, help_request.scheduled_end
    stage = stage_of(help_request, has_rating=rating is not None, now=now)
    return RequestPage(
        is_requester=user.pk == help_request.requester_id,
        is_expert=help_request.expert_id is not None and user.pk == help_request.expert_id,
        stage=stage,
        actions=actions_for(user=user, help_request=help_request, has_rating=rating is not None, now=now),
        slots=slots,
        session_in_slot=bool(start and end and any(slot.holds(start, end) for slot in slots)),
        rating=rating,
        timeline=list(timeline_for(help_request=help_request)),
        stage_label=stage_label_of(help_request, stage),
    )


def documents_for(*, help_request: HelpRequest) -> QuerySet[HelpDocument]:
    return help_request.documents.order_by("created_at", "id")


def rating_for(*, help_request: HelpRequest) -> Rating | None:
    return Rating.objects.filter(request=help_request).first()


def document_for(*, user, request_id, document_id) -> HelpDocument:
    """A document the user may download (requester, holding expert, staff);
    HelpDocument.DoesNotExist otherwise, as for an unknown id."""
    try:
        help_request = HelpRequest.objects.get(public_id=parse_request_id(request_id))
        if not can_download(user=user, help_request=help_request):
            raise HelpDocument.DoesNotExist("No such document.")
        return HelpDocument.objects.select_related("request").get(
            request=help_request, public_id=parse_request_id(document_id)
        )
    except HelpRequest.DoesNotExist:
        raise HelpDocument.DoesNotExist("No such document.") from None


def meeting_page_for(*, user, meeting_id) -> HelpRequest:
    """The local provider's meeting page, named by the scheduling attempt's external id (a moved
    or released session's former link leads nowhere): only the requester and the expert."""
    help_request = HelpRequest.objects.select_related("category", "requester", "expert").get(
        meeting_external_id=parse_request_id(meeting_id), status=HelpRequestStatus.SCHEDULED
    )
    if not user.is_authenticated or not (
        user.pk == help_request.requester_id or holds_in_standing(user=user, help_request=help_request)
    ):
        raise HelpRequest.DoesNotExist("No such meeting.")
    return help_request


def recent_feedback(profile, limit: int):
    """For experts.selectors.set_recent_feedback_provider: newest ratings with feedback."""
    return [
        expert_selectors.FeedbackItem(
            stars=rating.stars,
            text=rating.feedback,
            created_at=rating.created_at,
            requester_first_name=rating.request.requester.first_name,
        )
        for rating in Rating.objects.filter(request__expert_id=profile.user_id)
        .exclude(feedback="")
        .select_related("request__requester")
        .order_by("-created_at")[:limit]
    ]


# --- The request card pinned in the requester's and expert's conversation -----------------------


SESSION_STAGES = ("scheduled", "in_session", "completed", "rated")


@dataclass(frozen=True)
class RequestCard:
    """What the card pinned in the chat shows a viewer: the same stage and actions as the
    request page (stage_of / actions_for), so it offers "Join" exactly when the page does."""

    help_request: HelpRequest
    stage: str
    actions: frozenset[str]

    @property
    def stage_label(self) -> str:
        return stage_label_of(self.help_request, self.stage)

    @property
    def shows_session(self) -> bool:
        return self.help_request.scheduled_start is not None and self.stage in SESSION_STAGES


def stage_label_of(help_request: HelpRequest, stage: str) -> str:
    """The stage in words; a request asked of one expert names them while it waits for them."""
    if stage == "submitted" and help_request.is_direct and help_request.direct_expert is not None:
        return f"Waiting for {help_request.direct_expert.get_full_name()}"
    return STAGE_LABELS[stage]


def request_card_for(*, user, help_request: HelpRequest, now: datetime | None = None) -> RequestCard:
    has_rating = help_request.status == S.COMPLETED and Rating.objects.filter(request=help_request).exists()
    return RequestCard(
        help_request=help_request,
        stage=stage_of(help_request, has_rating=has_rating, now=now),
        actions=actions_for(user=user, help_request=help_request, has_rating=has_rating, now=now),
    )


def card_request_between(*, user, other) -> HelpRequest | None:
    """The request the conversation between `user` and `other` is about: of the requests one of
    them asked and the other accepted, an active one first, else the most recently accepted;
    None if there is none the user may see (an expert without standing sees none)."""
    if other is None or not user.is_authenticated:
        return None
    candidates = (
        HelpRequest.objects.filter(Q(requester=user, expert=other) | Q(requester=other, expert=user))
        .exclude(accepted_at=None)
        .select_related("category", "requester", "expert")
        .order_by("-accepted_at", "-id")
    )
    active = candidates.filter(status__in=ACTIVE_STATUSES).first()
    help_request = active or candidates.first()
    if help_request is None or not can_view(user=user, help_request=help_request):
        return None
    return help_request


def card_for_viewer(*, user, request_id) -> RequestCard:
    """The card of one request for its requester or the expert holding it (the live refresh);
    HelpRequest.DoesNotExist for anyone else, as for an unknown id."""
    help_request = request_detail_for(user=user, request_id=request_id)
    if user.pk not in (help_request.requester_id, help_request.expert_id):
        raise HelpRequest.DoesNotExist("No such help request.")
    return request_card_for(user=user, help_request=help_request)
