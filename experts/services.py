"""Every write of the experts app: applications, staff review, and the rating aggregate.

Each function is keyword-only and runs in one transaction. Refusals are ExpertRefusal
(config.refusals.Refusal): a sentence a user can read, a code, the field at fault where there is
one (named as the forms and the API name it: `categories`, `category`), and they change nothing.
Reviewing is for staff only (PermissionDenied otherwise). The applicant hears of a decision
through `notifications.services.notify`, which stores the notification in this transaction and
pushes it and queues its e-mail after commit — so a decision that rolls back tells no one.

Withdrawing an approval (rejecting an approved expert) also hands back everything the expert
holds: helpdesk sits above this app, so it registers that step with
`set_standing_withdrawn_handler` (its AppConfig.ready) and `reject_expert` calls it in the same
transaction. Accounts that lose standing another way (deactivated, profile gone) are found by
helpdesk's periodic sweep.

The rating aggregate (`rating_count`, `rating_sum`, `sessions_completed`) is kept by helpdesk,
inside its own transaction, through `record_rating` and `record_session_completed`: both are a
single UPDATE with F() expressions, so concurrent ratings of one expert never lose a count.
"""

from collections.abc import Callable, Iterable

from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction
from django.db.models import F
from django.urls import reverse
from django.utils import timezone

from accounts.models import User
from config.inputs import parse_id
from config.refusals import Refusal
from experts.models import Category, ExpertiseAreaRequest, ExpertProfile
from notifications import services as notification_services
from notifications.models import NotificationKind

Status = ExpertProfile.Status

HEADLINE_MAX = ExpertProfile._meta.get_field("headline").max_length
BIO_MAX = ExpertProfile._meta.get_field("bio").max_length
LANGUAGES_MAX = ExpertProfile._meta.get_field("languages").max_length
AVAILABILITY_MAX = ExpertProfile._meta.get_field("availability_note").max_length
REVIEW_NOTE_MAX = ExpertProfile._meta.get_field("review_note").max_length
MAX_CATEGORIES = 5
MIN_STARS, MAX_STARS = 1, 5

_UNSET = object()

# (expert user, staff member who withdrew the approval, their note) -> None. Set by helpdesk.
StandingWithdrawnHandler = Callable[[User, User, str], None]
_standing_withdrawn_handler: StandingWithdrawnHandler | None = None


def set_standing_withdrawn_handler(handler: StandingWithdrawnHandler | None) -> None:
    """Called once by helpdesk (its AppConfig.ready): handler(expert, reviewer, note) releases
    every request the expert holds, inside reject_expert's transaction."""
    global _standing_withdrawn_handler  # a process-wide hook, set once at start-up
    _standing_withdrawn_handler = handler


class ExpertRefusal(Refusal):
    """An experts rule refused the action (config.refusals.Refusal): what the current state of
    the profile refuses is 409, a refused input 400."""

    status_by_code = {
        "already_applied": 409,
        "already_expert": 409,
        "rejected": 409,
        "inactive": 409,
        "needs_review": 409,
        # asking for a new area
        "not_approved": 409,
        "already_has_area": 409,
        "already_requested": 409,
        "too_many_areas": 409,
    }


# --- Validation ---------------------------------------------------------------------------------


def _field_error(field: str, message: str, *, code: str) -> ExpertRefusal:
    """A refusal of one input field."""
    return ExpertRefusal(message, code=code, field=field)


def _text(value, *, field: str, label: str, max_length: int, required: bool) -> str:
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise _field_error(field, f"{label} must be text.", code="invalid")
    value = value.strip()
    if required and not value:
        raise _field_error(field, f"{label} is required.", code="required")
    if len(value) > max_length:
        raise _field_error(
            field, f"Keep {label.lower()} to {max_length} characters or fewer (it has {len(value)}).", code="max_length"
        )
    return value


def normalize_languages(value) -> str:
    """'english,  Italian , english' -> 'english, Italian' (trimmed, case-insensitively unique)."""
    text = _text(value, field="languages", label="Languages", max_length=10 * LANGUAGES_MAX, required=False)
    seen: set[str] = set()
    items: list[str] = []
    for item in text.split(","):
        item = " ".join(item.split())
        if item and item.casefold() not in seen:
            seen.add(item.casefold())
            items.append(item)
    joined = ", ".join(items)
    if len(joined) > LANGUAGES_MAX:
        raise _field_error("languages", f"Keep languages to {LANGUAGES_MAX} characters or fewer.", code="max_length")
    return joined


def _active_categories(category_ids) -> list[Category]:
    """The categories named by `category_ids`, all of which must exist and be active."""
    if category_ids is None or isinstance(category_ids, str | bytes) or not isinstance(category_ids, Iterable):
        raise _field_error("categories", "Choose at least one area of expertise.", code="required")
    ids: list[int] = []
    for raw in category_ids:
        if isinstance(raw, Category):
            raw = raw.pk
        try:
            if isinstance(raw, bool):
                raise TypeError
            ids.append(int(raw))
        except (TypeError, ValueError):
            raise _field_error("categories", f"{raw!r} is not a category id.", code="invalid") from None
    ids = list(dict.fromkeys(ids))
    if not ids:
        raise _field_error("categories", "Choose at least one area of expertise.", code="required")
    if len(ids) > MAX_CATEGORIES:
        raise _field_error("categories", f"Choose at most {MAX_CATEGORIES} areas of expertise.", code="too_many")
    categories = list(Category.objects.filter(pk__in=ids, is_active=True))
    if len(categories) != len(ids):
        raise _field_error(
            "categories",
            "Choose areas of expertise from the list: one of them does not exist or is closed.",
            code="invalid_category",
        )
    return categories


def _cleaned_fields(*, headline, bio, languages, availability_note) -> dict[str, str]:
    return {
        "headline": _text(headline, field="headline", label="Headline", max_length=HEADLINE_MAX, required=True),
        "bio": _text(bio, field="bio", label="About you", max_length=BIO_MAX, required=True),
        "languages": normalize_languages(languages),
        "availability_note": _text(
            availability_note,
            field="availability_note",
            label="Availability",
            max_length=AVAILABILITY_MAX,
            required=False,
        ),
    }


def _require_staff(reviewer: User) -> None:
    if not (reviewer.is_active and reviewer.is_staff):
        raise PermissionDenied("Only staff can review expert applications.")


# --- Applications -------------------------------------------------------------------------------


@transaction.atomic
def apply_as_expert(
    *,
    user: User,
    headline: str,
    bio: str,
    category_ids: Iterable[int],
    languages: str = "",
    availability_note: str = "",
) -> ExpertProfile:
    """Apply to help others as an expert: a pending application for staff to review.

    One profile per user. Applying again is allowed only after a rejection, and re-opens the
    same profile as pending (its rating history stays). Every category must exist and be
    active. Refused with an ExpertRefusal: an inactive account, a pending or approved profile,
    missing or too long fields, unknown or closed categories.
    """
    if not user.is_active:
        raise ExpertRefusal("This account is deactivated.", code="inactive")
    fields = _cleaned_fields(headline=headline, bio=bio, languages=languages, availability_note=availability_note)
    categories = _active_categories(category_ids)
    profile = ExpertProfile.objects.select_for_update().filter(user=user).first()
    if profile is not None:
        if profile.status == Status.PENDING:
            raise ExpertRefusal(
                "You have already applied; your application is waiting for review. You can edit it meanwhile.",
                code="already_applied",
            )
        if profile.status == Status.APPROVED:
            raise ExpertRefusal("You are already an approved expert.", code="already_expert")
        for name, value in fields.items():
            setattr(profile, name, value)
        profile.status = Status.PENDING
        profile.reviewed_by = None
        profile.reviewed_at = None
        profile.review_note = ""
        profile.save()
    else:
        try:
            with transaction.atomic():
                profile = ExpertProfile.objects.create(user=user, **fields)
        except IntegrityError:
            # Two applications of one user raced past the lock (no row to lock yet): one won.
            raise ExpertRefusal(
                "You have already applied; your application is waiting for review.", code="already_applied"
            ) from None
    profile.categories.set(categories)
    return profile


@transaction.atomic
def update_expert_profile(
    *,
    user: User,
    headline=_UNSET,
    bio=_UNSET,
    category_ids=_UNSET,
    languages=_UNSET,
    availability_note=_UNSET,
) -> ExpertProfile:
    """Edit one's own expert profile; only the fields given change.

    A pending application can change freely (categories among the active ones). An approved
    expert may edit the texts and drop areas, but a new area of expertise needs staff review,
    so adding one is refused. A rejected application is changed by applying again.
    Raises ExpertProfile.DoesNotExist when the user has no profile.
    """
    profile = ExpertProfile.objects.select_for_update().get(user=user)
    if profile.status == Status.REJECTED:
        raise ExpertRefusal(
            "This application was not approved. Apply again to send a new one for review.", code="rejected"
        )
    current = {
        "headline": profile.headline,
        "bio": profile.bio,
        "languages": profile.languages,
        "availability_note": profile.availability_note,
    }
    given = {"headline": headline, "bio": bio, "languages": languages, "availability_note": availability_note}
    merged = {name: current[name] if value is _UNSET else value for name, value in given.items()}
    fields = _cleaned_fields(**merged)
    categories = None
    if category_ids is not _UNSET:
        categories = _active_categories(category_ids)
        if profile.status == Status.APPROVED:
            kept = set(profile.categories.values_list("pk", flat=True))
            added = [category.name for category in categories if category.pk not in kept]
            if added:
                raise _field_error(
                    "categories",
                    (
                        f"New areas of expertise ({', '.join(sorted(added))}) need a review by staff: "
                        "ask for each under “Ask for a new area”. You can remove areas yourself."
                    ),
                    code="needs_review",
                )
    changed = [name for name, value in fields.items() if getattr(profile, name) != value]
    for name in changed:
        setattr(profile, name, fields[name])
    if changed:
        profile.save(update_fields=[*changed, "updated_at"])
    if categories is not None:
        profile.categories.set(categories)
    return profile


# --- Staff review -------------------------------------------------------------------------------


def _locked_profile(profile_id: int) -> ExpertProfile:
    return ExpertProfile.objects.select_for_update().select_related("user").get(pk=profile_id)


@transaction.atomic
def approve_expert(*, profile_id: int, reviewer: User, note: str = "") -> ExpertProfile:
    """Staff approve an application (pending, or an earlier rejection): the expert appears in the
    directory and sees requests of their categories. The applicant is notified once.

    Refused: not staff (PermissionDenied), already approved, an inactive applicant.
    Raises ExpertProfile.DoesNotExist for an unknown id.
    """
    _require_staff(reviewer)
    note = _text(note, field="note", label="The note", max_length=REVIEW_NOTE_MAX, required=False)
    profile = _locked_profile(profile_id)
    if profile.status == Status.APPROVED:
        raise ExpertRefusal("This expert is already approved.", code="already_approved")
    if not profile.user.is_active:
        raise ExpertRefusal("The applicant's account is deactivated.", code="inactive")
    profile.status = Status.APPROVED
    profile.reviewed_by = reviewer
    profile.reviewed_at = timezone.now()
    profile.review_note = note
    profile.save(update_fields=["status", "reviewed_by", "reviewed_at", "review_note", "updated_at"])
    notification_services.notify(
        recipient=profile.user,
        kind=NotificationKind.EXPERT_APPROVED,
        title="You are now a Lyceum expert",
        body=note or "Your expert application was approved. Students can now find you and ask for your help.",
        url=reverse("experts:detail", kwargs={"pk": profile.pk}),
    )
    return profile


@transaction.atomic
def reject_expert(*, profile_id: int, reviewer: User, note: str) -> ExpertProfile:
    """Staff turn down an application, or withdraw an approval, with a note the applicant reads
    on their expert page. The applicant is notified once; they may apply again. A withdrawn
    approval releases every request the expert holds (the standing-withdrawn handler), in this
    transaction: the rejection and the releases commit together or not at all.

    Refused: not staff (PermissionDenied), no note, already rejected.
    Raises ExpertProfile.DoesNotExist for an unknown id.
    """
    _require_staff(reviewer)
    note = _text(note, field="note", label="The note", max_length=REVIEW_NOTE_MAX, required=True)
    profile = _locked_profile(profile_id)
    if profile.status == Status.REJECTED:
        raise ExpertRefusal("This application is already rejected.", code="already_rejected")
    was_approved = profile.status == Status.APPROVED
    profile.status = Status.REJECTED
    profile.reviewed_by = reviewer
    profile.reviewed_at = timezone.now()
    profile.review_note = note
    profile.save(update_fields=["status", "reviewed_by", "reviewed_at", "review_note", "updated_at"])
    notification_services.notify(
        recipient=profile.user,
        kind=NotificationKind.EXPERT_REJECTED,
        title="Your expert profile is no longer approved"
        if was_approved
        else "Your expert application was not approved",
        body=note,
        url=reverse("experts:mine"),
    )
    if was_approved and _standing_withdrawn_handler is not None:
        _standing_withdrawn_handler(profile.user, reviewer, note)
    return profile


# --- New areas of an approved expert ------------------------------------------------------------

AreaStatus = ExpertiseAreaRequest.Status
AREA_MOTIVATION_MAX = ExpertiseAreaRequest._meta.get_field("motivation").max_length
AREA_NOTE_MAX = ExpertiseAreaRequest._meta.get_field("review_note").max_length


@transaction.atomic
def request_expertise_area(*, user: User, category_id: int, motivation: str = "") -> ExpertiseAreaRequest:
    """An approved expert asks staff for one more area of expertise: a pending request, shown on
    their expert page and in the admin's review queue, that counts towards MAX_CATEGORIES.

    Refused with an ExpertRefusal (code): no approved profile (`not_approved`; a pending
    application changes its areas directly), an unknown or closed category (`invalid_category`),
    an area they already have (`already_has_area`) or already asked for (`already_requested`),
    or one more than the maximum (`too_many_areas`). Raises ExpertProfile.DoesNotExist without a profile.
    """
    # The profile row's lock serialises one expert's requests: two tabs cannot both pass the checks.
    profile = ExpertProfile.objects.select_for_update().get(user=user)
    if profile.status != Status.APPROVED or not user.is_active:
        raise ExpertRefusal(
            "Only approved experts ask for new areas; while your application is pending, edit its areas directly.",
            code="not_approved",
        )
    motivation = _text(
        motivation, field="motivation", label="Your note", max_length=AREA_MOTIVATION_MAX, required=False
    )
    category = _active_category(category_id)
    if profile.categories.filter(pk=category.pk).exists():
        raise _field_error("category", f"{category.name} is already one of your areas.", code="already_has_area")
    pending = profile.area_requests.filter(status=AreaStatus.PENDING)
    if pending.filter(category=category).exists():
        raise _field_error(
            "category",
            f"You have already asked for {category.name}; it is waiting for review.",
            code="already_requested",
        )
    if profile.categories.count() + pending.count() >= MAX_CATEGORIES:
        raise _field_error(
            "category",
            f"An expert has at most {MAX_CATEGORIES} areas, counting those waiting for review: remove one first.",
            code="too_many_areas",
        )
    return ExpertiseAreaRequest.objects.create(profile=profile, category=category, motivation=motivation)


def _active_category(category_id) -> Category:
    if category_id is None or category_id == "":
        raise _field_error("category", "Choose an area of expertise.", code="required")
    pk = parse_id(category_id)
    category = Category.objects.filter(pk=pk, is_active=True).first() if pk is not None else None
    if category is None:
        raise _field_error(
            "category",
            "Choose an area from the list: this one does not exist or is closed.",
            code="invalid_category",
        )
    return category


def _locked_area_request(request_id: int) -> ExpertiseAreaRequest:
    return (
        ExpertiseAreaRequest.objects.select_for_update().select_related("profile__user", "category").get(pk=request_id)
    )


def _decided(area_request: ExpertiseAreaRequest, *, reviewer: User, status: str, note: str) -> None:
    area_request.status = status
    area_request.reviewed_by = reviewer
    area_request.reviewed_at = timezone.now()
    area_request.review_note = note
    area_request.save(update_fields=["status", "reviewed_by", "reviewed_at", "review_note"])


@transaction.atomic
def approve_expertise_area(*, request_id: int, reviewer: User, note: str = "") -> ExpertiseAreaRequest:
    """Staff approve a pending request: the category joins the expert's areas (requests of it
    reach them from now on), and the expert is told once (in the app and by e-mail).

    Refused: not staff (PermissionDenied); not pending (`already_reviewed`); the expert no longer
    approved (`not_approved`); the category closed meanwhile (`invalid_category`: decline it).
    Raises ExpertiseAreaRequest.DoesNotExist for an unknown id."""
    _require_staff(reviewer)
    note = _text(note, field="note", label="The note", max_length=AREA_NOTE_MAX, required=False)
    area_request = _locked_area_request(request_id)
    profile = ExpertProfile.objects.select_for_update().get(pk=area_request.profile_id)
    if area_request.status != AreaStatus.PENDING:
        raise ExpertRefusal("This request has already been reviewed.", code="already_reviewed")
    if profile.status != Status.APPROVED:
        raise ExpertRefusal("The expert is no longer approved: decline the request.", code="not_approved")
    if not area_request.category.is_active:
        raise ExpertRefusal(f"{area_request.category.name} is closed: decline the request.", code="invalid_category")
    _decided(area_request, reviewer=reviewer, status=AreaStatus.APPROVED, note=note)
    profile.categories.add(area_request.category)
    notification_services.notify(
        recipient=area_request.profile.user,
        kind=NotificationKind.EXPERT_AREA_APPROVED,
        title=f"{area_request.category.name} is now one of your areas of expertise",
        body=note or f"Help requests in {area_request.category.name} will reach your queue from now on.",
        url=reverse("experts:mine"),
    )
    return area_request


@transaction.atomic
def decline_expertise_area(*, request_id: int, reviewer: User, note: str) -> ExpertiseAreaRequest:
    """Staff decline a pending request with a reason the expert reads on their expert page; the
    expert is told once. They may ask again later.

    Refused: not staff (PermissionDenied), no reason, not pending (`already_reviewed`).
    Raises ExpertiseAreaRequest.DoesNotExist for an unknown id."""
    _require_staff(reviewer)
    note = _text(note, field="note", label="The reason", max_length=AREA_NOTE_MAX, required=True)
    area_request = _locked_area_request(request_id)
    if area_request.status != AreaStatus.PENDING:
        raise ExpertRefusal("This request has already been reviewed.", code="already_reviewed")
    _decided(area_request, reviewer=reviewer, status=AreaStatus.DECLINED, note=note)
    notification_services.notify(
        recipient=area_request.profile.user,
        kind=NotificationKind.EXPERT_AREA_DECLINED,
        title=f"Your request for {area_request.category.name} was declined",
        body=note,
        url=reverse("experts:mine"),
    )
    return area_request


# --- The rating aggregate (called by helpdesk inside its transaction) ---------------------------


@transaction.atomic
def record_rating(*, expert_profile_id: int, stars: int) -> None:
    """Add one rating of 1 to 5 stars to the expert's aggregate: one atomic UPDATE with F()
    expressions, so two ratings recorded at the same moment both count.
    Raises ExpertProfile.DoesNotExist for an unknown id."""
    if isinstance(stars, bool) or not isinstance(stars, int) or not MIN_STARS <= stars <= MAX_STARS:
        raise _field_error(
            "stars", f"A rating is a whole number of stars from {MIN_STARS} to {MAX_STARS}.", code="invalid"
        )
    updated = ExpertProfile.objects.filter(pk=expert_profile_id).update(
        rating_count=F("rating_count") + 1, rating_sum=F("rating_sum") + stars, updated_at=timezone.now()
    )
    if not updated:
        raise ExpertProfile.DoesNotExist(f"No expert profile {expert_profile_id}.")


@transaction.atomic
def record_session_completed(*, expert_profile_id: int) -> None:
    """Count one more completed session for the expert (atomic, like record_rating)."""
    updated = ExpertProfile.objects.filter(pk=expert_profile_id).update(
        sessions_completed=F("sessions_completed") + 1, updated_at=timezone.now()
    )
    if not updated:
        raise ExpertProfile.DoesNotExist(f"No expert profile {expert_profile_id}.")
