"""The requester's side: submit (and submit again), direct requests, cancel, rate, expire."""

import logging
from datetime import datetime, timedelta

from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from accounts import selectors as account_selectors
from config.refusals import field_error
from experts import selectors as expert_selectors
from experts import services as expert_services
from experts.models import Category, ExpertProfile
from helpdesk import documents
from helpdesk import slots as slots_module
from helpdesk.models import (
    DESCRIPTION_MAX_LENGTH,
    FEEDBACK_MAX_LENGTH,
    NOTE_MAX_LENGTH,
    TIMES_NOTE_MAX_LENGTH,
    TITLE_MAX_LENGTH,
    HelpDocument,
    HelpRequest,
    HelpRequestEvent,
    HelpRequestStatus,
    PreferredSlot,
    Rating,
)
from helpdesk.services.lifecycle import (
    HelpdeskRefusal,
    cancel,
    clean_text,
    direct_window,
    expert_profile_id,
    locked_request,
    parse_request_id,
    push_queue_on_commit,
    record_event,
    tell,
    transition,
    window_text,
)
from notifications.models import NotificationKind

logger = logging.getLogger(__name__)


S = HelpRequestStatus
A = HelpRequestEvent.Action


@transaction.atomic
def submit_help_request(
    *,
    requester,
    category_id,
    title: str,
    description: str,
    slots=(),
    times_note: str = "",
    files=(),
    resubmit_of=None,
    keep_documents=(),
    direct_expert_profile_id: int | None = None,
) -> HelpRequest:
    """Create an open request with its preferred slots ((start, end) pairs, see helpdesk.slots)
    and documents (all or nothing), and tell the category's experts. Refused (code
    "unverified") until the requester has confirmed their e-mail address.

    `resubmit_of`: the requester's own expired or cancelled request this one submits again
    (once); `keep_documents` names that request's documents to carry over, copied here (the
    requester may leave some out). Someone else's request is HelpRequest.DoesNotExist.

    `direct_expert_profile_id`: "Ask <name> for help". The request waits in that expert's queue
    alone for HELPDESK_DIRECT_WINDOW_MINUTES, then goes to the category's queue
    (release_lapsed_direct_requests), or at once when they decline. An expert who is not
    approved, not active, or blocked either way is ExpertProfile.DoesNotExist, like an unknown one."""
    if not account_selectors.can_act(requester):
        raise HelpdeskRefusal(account_selectors.UNVERIFIED_MESSAGE, code="unverified")
    title = " ".join(clean_text(title, field="title", limit=TITLE_MAX_LENGTH, required=True, label="A title").split())
    description = clean_text(
        description, field="description", limit=DESCRIPTION_MAX_LENGTH, required=True, label="A description"
    )
    times_note = clean_text(
        times_note, field="times_note", limit=TIMES_NOTE_MAX_LENGTH, required=False, label="The note on times"
    )
    checked_slots = slots_module.check_slots(slots)
    direct_profile = _direct_expert(requester, direct_expert_profile_id)
    previous = _resubmission_source(requester, resubmit_of)
    try:
        category = Category.objects.get(pk=int(category_id), is_active=True)
    except (Category.DoesNotExist, TypeError, ValueError):
        raise field_error("category", "Choose one of the listed categories.", code="invalid_category") from None
    if direct_profile is not None and not direct_profile.categories.filter(pk=category.pk, is_active=True).exists():
        name = direct_profile.user.get_full_name()
        raise field_error("category", f"{name} is not an expert in {category.name}.", code="not_their_category")
    kept = _kept_documents(previous, keep_documents)
    try:
        checked = documents.check_files(files)
        if len(checked) + len(kept) > documents.MAX_FILES:
            raise ValidationError(
                f"Attach at most {documents.MAX_FILES} files (with the ones you kept).", code="too_many_files"
            )
        if sum(len(item.data) for item in checked) + sum(doc.size for doc in kept) > documents.MAX_REQUEST_BYTES:
            raise ValidationError(
                f"The files are too large together: at most {documents.MAX_REQUEST_BYTES // (1024 * 1024)} MB "
                "per request (with the ones you kept).",
                code="request_too_large",
            )
    except ValidationError as error:
        raise ValidationError({"files": error.error_list}) from None

    help_request = HelpRequest.objects.create(
        requester=requester,
        category=category,
        title=title,
        description=description,
        times_note=times_note,
        resubmitted_from=previous,
        direct_expert=direct_profile.user if direct_profile else None,
        direct_until=timezone.now() + direct_window() if direct_profile else None,
    )
    PreferredSlot.objects.bulk_create(
        [PreferredSlot(request=help_request, start=start, end=end) for start, end in checked_slots]
    )
    saved: list[HelpDocument] = []
    try:
        for item in checked:
            document = HelpDocument(
                request=help_request,
                original_name=item.name,
                content_type=item.content_type,
                size=len(item.data),
                sha256=item.sha256,
            )
            document.file.save("document.bin", ContentFile(documents.encrypt(item.data)), save=False)
            saved.append(document)
            document.save()
        for old in kept:  # a copy of its own: the old request's files stay its own
            document = HelpDocument(
                request=help_request,
                original_name=old.original_name,
                content_type=old.content_type,
                size=old.size,
                sha256=old.sha256,
            )
            plaintext = documents.read_plaintext(old)
            document.file.save("document.bin", ContentFile(documents.encrypt(plaintext)), save=False)
            saved.append(document)
            document.save()
    except Exception:
        for document in saved:  # nothing of a failed submission stays on disk
            document.file.delete(save=False)
        raise
    note = ""
    if direct_profile is not None:
        note = f"Asked {direct_profile.user.get_full_name()} directly, for {window_text(direct_window())}."
    HelpRequestEvent.objects.create(
        request=help_request, actor=requester, action=A.SUBMITTED, from_status="", to_status=S.OPEN, note=note
    )
    if previous is not None:
        record_event(previous, actor=requester, action=A.RESUBMITTED)
    if direct_profile is not None:
        tell(
            help_request,
            direct_profile.user,
            kind=NotificationKind.HELP_REQUEST_DIRECT,
            title=f"{requester.get_full_name()} asked you directly for help: “{help_request.title}”",
            body=f"It is yours to accept for {window_text(direct_window())}; then it goes to every expert "
            f"of {category.name}. Decline it to pass it on at once.",
        )
    push_queue_on_commit(help_request, added=True)
    return help_request


RESUBMITTABLE = (S.EXPIRED, S.CANCELLED)


def _resubmission_source(requester, resubmit_of) -> HelpRequest | None:
    """The requester's own expired or cancelled request, not submitted again yet (locked)."""
    if resubmit_of in (None, ""):
        return None
    previous = locked_request(public_id=parse_request_id(resubmit_of), requester=requester)
    if previous.status not in RESUBMITTABLE:
        raise HelpdeskRefusal("Only an expired or cancelled request can be submitted again.", code="illegal_transition")
    if HelpRequest.objects.filter(resubmitted_from=previous).exists():
        raise HelpdeskRefusal("This request was already submitted again.", code="already_resubmitted")
    return previous


def _kept_documents(previous: HelpRequest | None, keep) -> list[HelpDocument]:
    wanted = [str(item) for item in (keep or ()) if str(item).strip()]
    if not wanted:
        return []
    if previous is None:
        raise field_error(
            "keep_documents", "Documents can be kept only when submitting a request again.", code="not_a_resubmission"
        )
    try:
        ids = {parse_request_id(item) for item in wanted}
    except HelpRequest.DoesNotExist:
        raise field_error(
            "keep_documents", "That is not a document of the earlier request.", code="unknown_document"
        ) from None
    kept = list(HelpDocument.objects.filter(request=previous, public_id__in=ids).order_by("created_at", "id"))
    if len(kept) != len(ids):
        raise field_error("keep_documents", "That is not a document of the earlier request.", code="unknown_document")
    return kept


def _direct_expert(requester, profile_id) -> ExpertProfile | None:
    if profile_id in (None, ""):
        return None
    from helpdesk import selectors  # selectors import this module

    profile = selectors.askable_expert(asker=requester, profile_id=profile_id)
    if profile.user_id == requester.pk:
        raise field_error("expert", "You cannot ask yourself for help.", code="self_help")
    return profile


# --- asked directly: decline, or the window lapses -----------------------------------------------


@transaction.atomic
def decline_direct_request(*, expert, request_id, note: str = "") -> HelpRequest:
    """The expert asked directly passes the request on: it goes to the category's queue at once.
    Anyone else (and an expert no longer in good standing) gets HelpRequest.DoesNotExist."""
    note = clean_text(note, field="note", limit=NOTE_MAX_LENGTH, required=False, label="The note")
    help_request = locked_request(public_id=parse_request_id(request_id), direct_expert=expert)
    if not expert_selectors.is_verified_expert(user=expert, category_id=help_request.category_id):
        raise HelpRequest.DoesNotExist("No such help request.")
    if not help_request.is_direct:
        raise HelpdeskRefusal("This request is no longer waiting for you alone.", code="not_open")
    said = f"{expert.get_full_name()} declined" + (f": {note}" if note else ".")
    _send_to_queue(help_request, actor=expert, action=A.DIRECT_DECLINED, note=said, told=said)
    return help_request


def _send_to_queue(help_request: HelpRequest, *, actor, action: str, note: str, told: str) -> None:
    help_request.direct_until = None
    help_request.save(update_fields=["direct_until", "updated_at"])
    record_event(help_request, actor=actor, action=action, note=note)
    tell(
        help_request,
        help_request.requester,
        kind=NotificationKind.HELP_REQUEST_TO_QUEUE,
        title=f"“{help_request.title}” is now open to every expert of {help_request.category.name}",
        body=told,
    )
    push_queue_on_commit(help_request, added=True)  # it was in the direct expert's queue alone


def release_lapsed_direct_requests(*, now: datetime | None = None, batch: int = 500) -> int:
    """Beat: requests asked of one expert who did not accept in time (or who lost their standing
    meanwhile) go to the category's queue; each requester is told. Returns how many."""
    now = now or timezone.now()
    waiting = HelpRequest.objects.filter(status=S.OPEN, direct_until__isnull=False)
    lapsed = waiting.filter(
        Q(direct_until__lte=now)
        | Q(direct_expert__isnull=True)
        | Q(direct_expert__is_active=False)
        | ~Q(direct_expert__expert_profile__status=ExpertProfile.Status.APPROVED)
    )
    ids = list(lapsed.order_by("direct_until").values_list("pk", flat=True)[:batch])
    moved = 0
    for pk in ids:
        with transaction.atomic():
            try:
                help_request = locked_request(pk=pk, status=S.OPEN, direct_until__isnull=False)
            except HelpRequest.DoesNotExist:  # accepted, declined or cancelled meanwhile
                continue
            name = help_request.direct_expert.get_full_name() if help_request.direct_expert else "The expert"
            if help_request.direct_until <= now:
                said = f"{name} did not accept it within {window_text(direct_window())}."
            else:
                said = f"{name} can no longer take requests."
            _send_to_queue(help_request, actor=None, action=A.SENT_TO_QUEUE, note=said, told=said)
            moved += 1
    return moved


# --- expert actions ------------------------------------------------------------------------


@transaction.atomic
def cancel_help_request(*, requester, request_id, note: str = "") -> HelpRequest:
    note = clean_text(note, field="note", limit=NOTE_MAX_LENGTH, required=False, label="The note")
    help_request = locked_request(public_id=parse_request_id(request_id), requester=requester)
    return cancel(help_request, actor=requester, note=note, told=[help_request.expert], by="the requester")


def _stars(value) -> int:
    """1 to 5, from an int or a string of digits (a form or JSON); nothing else."""
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 5:
        raise field_error("stars", "Give 1 to 5 stars.", code="invalid_stars")
    return value


@transaction.atomic
def rate_help_request(*, requester, request_id, stars, feedback: str = "") -> Rating:
    """The requester rates a completed request of theirs, once; the expert's aggregate follows."""
    stars = _stars(stars)
    feedback = clean_text(feedback, field="feedback", limit=FEEDBACK_MAX_LENGTH, required=False, label="Feedback")
    help_request = locked_request(public_id=parse_request_id(request_id), requester=requester)
    if help_request.status != S.COMPLETED:
        raise HelpdeskRefusal("Only a completed session can be rated.", code="not_completed")
    if Rating.objects.filter(request=help_request).exists():
        raise HelpdeskRefusal("You have already rated this session.", code="already_rated")
    if help_request.expert_id is None:
        raise HelpdeskRefusal("This session has no expert to rate any more.", code="not_completed")
    rating = Rating.objects.create(request=help_request, stars=stars, feedback=feedback)
    expert_services.record_rating(expert_profile_id=expert_profile_id(help_request.expert), stars=stars)
    record_event(help_request, actor=requester, action=A.RATED, note=f"{stars} star{'s' if stars != 1 else ''}")
    tell(
        help_request,
        help_request.expert,
        kind=NotificationKind.HELP_RATING_RECEIVED,
        title=f"You were rated {stars}/5 for “{help_request.title}”",
        body=feedback,
    )
    return rating


# --- beat and back office ----------------------------------------------------------------------


def expire_stale_requests(*, older_than: timedelta, now: datetime | None = None, batch: int = 500) -> int:
    """Open requests nobody accepted within `older_than` expire; each requester is told. Returns how many."""
    cutoff = (now or timezone.now()) - older_than
    ids = list(
        HelpRequest.objects.filter(status=S.OPEN, created_at__lt=cutoff)
        .order_by("created_at")
        .values_list("pk", flat=True)[:batch]
    )
    expired = 0
    for pk in ids:
        with transaction.atomic():
            try:
                help_request = locked_request(pk=pk, status=S.OPEN, created_at__lt=cutoff)
            except HelpRequest.DoesNotExist:  # accepted or cancelled meanwhile
                continue
            transition(help_request, to=S.EXPIRED, actor=None, action=A.EXPIRED, note="Nobody accepted it in time.")
            tell(
                help_request,
                help_request.requester,
                kind=NotificationKind.HELP_REQUEST_EXPIRED,
                title=f"Nobody could take “{help_request.title}” in time",
                body="Your request expired. You can submit it again, perhaps with other times.",
            )
            expired += 1
    return expired
