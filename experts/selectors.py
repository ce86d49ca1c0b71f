"""Reads of the experts app, with their joins and visibility rules decided here.

Visible experts are approved profiles of active accounts. Lists select the user in the same
query and prefetch the (active) categories in one more, so a page costs the same number of
queries whatever its length.

The directory's "rating" order is a weighted (Bayesian) average: every expert starts with
PRIOR_WEIGHT imaginary ratings of PRIOR_MEAN stars, so one 5-star review does not outrank
twenty 4.8-star ones: (rating_sum + C·m) / (rating_count + C), ties by the number of ratings.

Recent feedback is stored by helpdesk, which sits above this app: helpdesk hands its reader
to `set_recent_feedback_provider` (e.g. in its AppConfig.ready), and `recent_feedback_for`
returns an empty list until it has.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from django.db.models import F, FloatField, Prefetch, Q, QuerySet, Value
from django.db.models.functions import Cast

from accounts.models import User
from experts.models import Category, ExpertiseAreaRequest, ExpertProfile
from social import selectors as social_selectors

Status = ExpertProfile.Status

PRIOR_MEAN = 3.5  # m: what we assume of an expert before anyone rated them
PRIOR_WEIGHT = 3  # C: how many ratings that assumption is worth

SORT_RATING = "rating"
SORT_SESSIONS = "sessions"
SORT_NEWEST = "newest"
SORTS = {SORT_RATING: "Top rated", SORT_SESSIONS: "Most sessions", SORT_NEWEST: "Newest"}

SEARCH_TERMS_MAX = 5


def active_categories() -> QuerySet[Category]:
    return Category.objects.filter(is_active=True).order_by("name")


def _active_categories_prefetch() -> Prefetch:
    return Prefetch("categories", queryset=active_categories())


def _visible_experts() -> QuerySet[ExpertProfile]:
    return (
        ExpertProfile.objects.filter(status=Status.APPROVED, user__is_active=True)
        .select_related("user")
        .prefetch_related(_active_categories_prefetch())
    )


def weighted_rating():
    """(rating_sum + C·m) / (rating_count + C), as a float in SQL."""
    return Cast(F("rating_sum") + Value(PRIOR_WEIGHT * PRIOR_MEAN), FloatField()) / Cast(
        F("rating_count") + Value(PRIOR_WEIGHT), FloatField()
    )


def expert_directory(
    *, category_slug: str | None = None, sort: str = SORT_RATING, q: str = ""
) -> QuerySet[ExpertProfile]:
    """Approved experts of active accounts, optionally in one active category (by slug) and
    matching every word of `q` (start of first or last name, or anywhere in the headline).

    sort: "rating" (weighted average, then number of ratings), "sessions" (sessions completed)
    or "newest" (most recently approved). An unknown sort is "rating".
    """
    experts = _visible_experts().annotate(weighted_rating=weighted_rating())
    if category_slug:
        experts = experts.filter(categories__slug=category_slug, categories__is_active=True)
    for term in q.split()[:SEARCH_TERMS_MAX]:
        experts = experts.filter(
            Q(user__first_name__istartswith=term) | Q(user__last_name__istartswith=term) | Q(headline__icontains=term)
        )
    if sort == SORT_SESSIONS:
        order = [F("sessions_completed").desc(), F("weighted_rating").desc(), F("rating_count").desc(), "pk"]
    elif sort == SORT_NEWEST:
        order = [F("reviewed_at").desc(nulls_last=True), F("pk").desc()]
    else:
        order = [F("weighted_rating").desc(), F("rating_count").desc(), F("sessions_completed").desc(), "pk"]
    return experts.order_by(*order)


def expert_detail(*, pk: int, viewer: User | None = None) -> ExpertProfile | None:
    """An expert's page: approved experts of active accounts for everyone; any status for the
    profile's owner (to preview a pending application) and for staff. None otherwise."""
    profile = (
        ExpertProfile.objects.filter(pk=pk)
        .select_related("user")
        .prefetch_related(_active_categories_prefetch())
        .first()
    )
    if profile is None:
        return None
    if profile.status == Status.APPROVED and profile.user.is_active:
        return profile
    if viewer is not None and viewer.is_authenticated and (viewer.pk == profile.user_id or viewer.is_staff):
        return profile
    return None


def can_be_asked(*, asker: User, profile: ExpertProfile) -> bool:
    """Whether `asker` may address a help request to this expert ("Ask <name> for help"): an
    approved expert of an active account, not the asker themselves, no block either way."""
    if not asker.is_authenticated or profile.user_id == asker.pk:
        return False
    if profile.status != Status.APPROVED or not profile.user.is_active:
        return False
    state = social_selectors.relationship_between(viewer=asker, person=profile.user).state
    return state not in (social_selectors.BLOCKED, social_selectors.BLOCKED_BY)


def expert_for_user(*, user: User) -> ExpertProfile | None:
    """The user's own expert profile, whatever its status (None if they never applied)."""
    if not user.is_authenticated:
        return None
    return (
        ExpertProfile.objects.filter(user=user)
        .select_related("user", "reviewed_by")
        .prefetch_related(_active_categories_prefetch())
        .first()
    )


def is_verified_expert(*, user: User, category_id: int | None = None) -> bool:
    """Is the user an approved expert (of an active account), in that active category if given?"""
    if not user.is_authenticated or not user.is_active:
        return False
    experts = ExpertProfile.objects.filter(user=user, status=Status.APPROVED)
    if category_id is not None:
        experts = experts.filter(categories__pk=category_id, categories__is_active=True)
    return experts.exists()


def experts_in_category(*, category_id: int) -> QuerySet:
    """User ids of the approved experts (active accounts) of an active category: iterate it for
    a list, or use it as a subquery (`user_id__in=...`)."""
    return (
        ExpertProfile.objects.filter(
            status=Status.APPROVED,
            user__is_active=True,
            categories__pk=category_id,
            categories__is_active=True,
        )
        .order_by()
        .values_list("user_id", flat=True)
    )


# --- Recent feedback: stored by helpdesk, shown on the expert page -----------------------------


@dataclass(frozen=True)
class FeedbackItem:
    """One rating as the expert page shows it."""

    stars: int
    text: str
    created_at: datetime
    requester_first_name: str


FeedbackProvider = Callable[[ExpertProfile, int], Sequence[FeedbackItem]]
_feedback_provider: FeedbackProvider | None = None
RECENT_FEEDBACK_LIMIT = 5


def set_recent_feedback_provider(provider: FeedbackProvider | None) -> None:
    """Called once by helpdesk (its AppConfig.ready): provider(profile, limit) returns the newest
    ratings with feedback of that expert, newest first, as FeedbackItem-like objects."""
    global _feedback_provider  # a process-wide hook, set once at start-up
    _feedback_provider = provider


def recent_feedback_for(*, profile: ExpertProfile, limit: int = RECENT_FEEDBACK_LIMIT) -> list[FeedbackItem]:
    if _feedback_provider is None:
        return []
    return list(_feedback_provider(profile, limit))[:limit]


# --- New areas of an approved expert -------------------------------------------------------------

AREA_HISTORY_LIMIT = 10


def area_requests_for(*, profile: ExpertProfile) -> list[ExpertiseAreaRequest]:
    """The expert's requests for new areas as their page shows them: every pending one, then the
    last few decisions (a declined one with its reason), with their categories (two queries)."""
    requests = ExpertiseAreaRequest.objects.filter(profile=profile).select_related("category")
    pending = list(requests.filter(status=ExpertiseAreaRequest.Status.PENDING).order_by("created_at", "pk"))
    decided = list(requests.exclude(status=ExpertiseAreaRequest.Status.PENDING)[:AREA_HISTORY_LIMIT])
    return pending + decided


def requestable_categories(*, profile: ExpertProfile) -> QuerySet[Category]:
    """Active categories the expert neither has nor is waiting for."""
    waiting = ExpertiseAreaRequest.objects.filter(profile=profile, status=ExpertiseAreaRequest.Status.PENDING)
    return (
        active_categories()
        .exclude(pk__in=profile.categories.values("pk"))
        .exclude(pk__in=waiting.values("category_id"))
    )
