"""Reads about accounts that more than one view or app needs."""

from django.db.models import Case, IntegerField, QuerySet, Value, When

from accounts.models import Course, DataExport, University, User, clean_study_name, study_name_key

SUGGESTIONS_LIMIT = 20
# The lists a page is rendered with (no JavaScript needed; the browser filters them as one types).
PAGE_OPTIONS_LIMIT = 100


def active_users() -> QuerySet[User]:
    return User.objects.filter(is_active=True)


def email_in_use(*, email: str, exclude_user: User | None = None) -> bool:
    """Whether any account already has this address, in any letter case."""
    users = User.objects.filter(email__iexact=email.strip())
    if exclude_user is not None and exclude_user.pk is not None:
        users = users.exclude(pk=exclude_user.pk)
    return users.exists()


# --- The university and course lists ---------------------------------------------------------


def universities_matching(text: str) -> QuerySet[University]:
    """Universities whose name contains `text` ignoring case, accents, punctuation and spaces
    (a match on the normalised key, the same on every database). Empty text matches all."""
    key = study_name_key(text)
    return University.objects.filter(key__contains=key) if key else University.objects.all()


def courses_matching(text: str, *, university: str = "") -> QuerySet[Course]:
    """Courses whose name contains `text` (as universities_matching), of the one university
    named `university` (any spelling of it) when given."""
    key = study_name_key(text)
    courses = Course.objects.filter(key__contains=key) if key else Course.objects.all()
    if clean_study_name(university):
        courses = courses.filter(university__key=study_name_key(university))
    return courses


def prefix_first(entries: QuerySet, *, text: str) -> QuerySet:
    """Entries (universities or courses) ordered by name, those whose name starts with text first."""
    key = study_name_key(text)
    starts = Case(When(key__startswith=key, then=Value(0)), default=Value(1), output_field=IntegerField())
    return entries.alias(starts=starts).order_by("starts", "name", "pk")


def suggest_universities(*, text: str = "", limit: int = SUGGESTIONS_LIMIT) -> list[University]:
    """At most `limit` list entries for a sign-up or profile field, those starting with the text first."""
    return list(prefix_first(universities_matching(text), text=text)[: max(1, min(limit, 100))])


def suggest_courses(*, university: str, text: str = "", limit: int = SUGGESTIONS_LIMIT) -> list[Course]:
    """At most `limit` courses of the named university (none without one)."""
    if not study_name_key(university):
        return []
    found = courses_matching(text, university=university)
    return list(prefix_first(found, text=text)[: max(1, min(limit, 100))])


# --- What an account may do before its address is confirmed ----------------------------------

UNVERIFIED_MESSAGE = (
    "Confirm your e-mail address first: follow the link we sent you. "
    "You can have it sent again from your account's e-mail page."
)


def can_act(user: User) -> bool:
    """May this account reach other people (message them, ask them to be friends, submit a help
    request)? Only once its address is confirmed: an unconfirmed account can look around and
    edit its profile, but cannot use an address it may not own to contact anyone.

    The one rule for chat, social and helpdesk. A confirmation is never undone, so a user
    object loaded as confirmed is trusted as it is; one loaded unconfirmed (a socket opened
    before the link was followed) is read again."""
    if not user.is_authenticated:
        return False
    if user.email_verified_at is not None:
        return True
    return User.objects.filter(pk=user.pk, email_verified_at__isnull=False).exists()


# --- Data exports ------------------------------------------------------------------------------


def data_exports_for(*, user: User, limit: int = 5) -> list[DataExport]:
    """The user's latest exports, newest first (the privacy page and the API list)."""
    return list(DataExport.objects.filter(user=user).order_by("-requested_at", "-pk")[:limit])


def downloadable_export(*, user: User, export_id) -> DataExport:
    """The user's own export that is ready and not expired. Anyone else's, an expired, failed or
    unknown one raises DataExport.DoesNotExist alike (a 404 tells nothing)."""
    export = DataExport.objects.filter(user=user, public_id=export_id, status=DataExport.Status.READY).first()
    if export is None or not export.is_downloadable or not export.file:
        raise DataExport.DoesNotExist
    return export
