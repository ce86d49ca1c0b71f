"""Every write of the help desk. Keyword-only, atomic, side effects after commit.

Every status change goes through `_transition()`, which refuses what ALLOWED_TRANSITIONS does
not allow and appends the HelpRequestEvent. Lookups are scoped to the caller (the requester's
own request, the assigned expert's request): someone else's id is HelpRequest.DoesNotExist,
exactly like an id that does not exist. Refusals are ValidationError with a `code`:

    illegal_transition, not_open (taken by someone else), not_verified, cap_reached,
    own_request, not_completed, already_rated, meeting_state, not_started, unverified

Every action of the expert holding a request goes through `_held_by()`, the one
fetch-and-authorise step: the request must be held by that expert AND the expert must still be
in good standing (an approved profile of an active account) at that moment. Approval is what
lets an expert hold requests, so losing it hands them all back: `release_held_requests()` runs
when staff withdraw an approval (experts.services.reject_expert, through its hook), and
`release_requests_without_standing()` (beat) catches every other way of losing standing
(a deactivated account, a deleted profile).

Times in what a user is told (notification titles) are written in THAT user's zone
(config.timezones.in_zone_of), whoever caused the event. The timeline stores instants and
each reader's page renders them.

Meeting creation, its e-mail and reminders are in helpdesk.meeting_services (called by tasks).
"""

import logging
import uuid
from datetime import datetime, timedelta
from functools import partial

from django.conf import settings
from django.core.exceptions import ObjectDoesNotExist, ValidationError
from django.core.files.base import ContentFile
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from accounts import selectors as account_selectors
from accounts.models import User
from chat import services as chat_services
from config.timezones import SHORT_DAY, format_moment, format_range, in_zone_of
from experts import selectors as expert_selectors
from experts import services as expert_services
from experts.models import Category, ExpertProfile
from helpdesk import documents, realtime
from helpdesk import slots as slots_module
from helpdesk.models import (
    ACTIVE_STATUSES,
    ALLOWED_TRANSITIONS,
    DESCRIPTION_MAX_LENGTH,
    FEEDBACK_MAX_LENGTH,
    NOTE_MAX_LENGTH,
    TIMES_NOTE_MAX_LENGTH,
    TITLE_MAX_LENGTH,
    HelpDocument,
    HelpRequest,
    HelpRequestEvent,
    HelpRequestStatus,
    MeetingState,
    PreferredSlot,
    Rating,
)
from notifications import realtime as live
from notifications.models import NotificationKind
from notifications.services import notify

logger = logging.getLogger(__name__)

S = HelpRequestStatus
A = HelpRequestEvent.Action

MAX_SESSION = timedelta(hours=4)
MIN_SESSION = timedelta(minutes=10)

_VERBS = {
    S.ACCEPTED: "accepted",
    S.SCHEDULED: "scheduled",
    S.COMPLETED: "completed",
    S.CANCELLED: "cancelled",
    S.EXPIRED: "expired",
    S.OPEN: "released",
}


# --- helpers ---------------------------------------------------------------------------


def _uuid(request_id) -> uuid.UUID:
    """A public id from a UUID or its string; anything else is an unknown request."""
    if isinstance(request_id, uuid.UUID):
        return request_id
    try:
        return uuid.UUID(str(request_id))
    except (TypeError, ValueError, AttributeError):
        raise HelpRequest.DoesNotExist("No such help request.") from None


def _locked(**lookup) -> HelpRequest:
    return HelpRequest.objects.select_for_update().select_related("category", "requester").get(**lookup)


def _transition(
    help_request: HelpRequest,
    *,
    to: str,
    actor,
    action: str,
    note: str = "",
    fields: tuple[str, ...] = (),
    **times,
) -> HelpRequestEvent:
    """The only place a status changes: check the map, save, append the timeline entry
    (`times`: the entry's session_start/session_end/previous_start)."""
    current = help_request.status
    if to not in ALLOWED_TRANSITIONS[current]:
        raise ValidationError(
            f"A {S(current).label.lower()} request cannot be {_VERBS.get(to, to)}.", code="illegal_transition"
        )
    help_request.status = to
    help_request.save(update_fields=["status", "updated_at", *fields])
    return HelpRequestEvent.objects.create(
        request=help_request, actor=actor, action=action, from_status=current, to_status=to, note=note, **times
    )


def _record(help_request: HelpRequest, *, actor, action: str, note: str = "", **times) -> HelpRequestEvent:
    """A timeline entry that changes no status (meeting created, rated, reassigned, moved)."""
    return HelpRequestEvent.objects.create(
        request=help_request,
        actor=actor,
        action=action,
        from_status=help_request.status,
        to_status=help_request.status,
        note=note,
        **times,
    )


def session_time_for(recipient, help_request: HelpRequest) -> str:
    """The request's session time as `recipient` reads it (their zone), for what they are told."""
    with in_zone_of(recipient):
        return format_range(help_request.scheduled_start, help_request.scheduled_end, day=SHORT_DAY)


def direct_window() -> timedelta:
    """How long an expert asked directly has the request to themselves (HELPDESK_DIRECT_WINDOW_MINUTES)."""
    return timedelta(minutes=getattr(settings, "HELPDESK_DIRECT_WINDOW_MINUTES", 240))


def window_text(window: timedelta) -> str:
    """ "4 hours", "90 minutes": the direct window as people read it."""
    minutes = int(window.total_seconds() // 60)
    if minutes % 60 == 0:
        hours = minutes // 60
        return f"{hours} hour{'s' if hours != 1 else ''}"
    return f"{minutes} minute{'s' if minutes != 1 else ''}"


def _push(user_ids, event: dict) -> None:
    for user_id in set(user_ids):
        live.push_to_user(user_id, event)


def _eligible_expert_ids(help_request: HelpRequest) -> list[int]:
    """The experts whose queue shows the request: while it waits for the expert asked directly,
    only them (nobody else learns of it, not even its title over the socket)."""
    ids = expert_selectors.experts_in_category(category_id=help_request.category_id)
    if help_request.is_direct:
        ids = ids.filter(user_id=help_request.direct_expert_id)
    return [user_id for user_id in ids if user_id != help_request.requester_id]


def _push_queue_on_commit(help_request: HelpRequest, *, added: bool) -> None:
    event = realtime.queue_added_event(help_request) if added else realtime.queue_removed_event(help_request)
    recipients = _eligible_expert_ids(help_request)
    transaction.on_commit(partial(_push, recipients, event))


def _push_changed_on_commit(help_request: HelpRequest) -> None:
    ids = [help_request.requester_id] + [
        user_id for user_id in (help_request.expert_id, help_request.direct_expert_id) if user_id
    ]
    transaction.on_commit(partial(_push, ids, realtime.request_changed_event(help_request)))


def _text(value, *, field: str, limit: int, required: bool, label: str) -> str:
    text = (value or "").strip() if isinstance(value, str | type(None)) else None
    if text is None:
        raise ValidationError({field: f"{label} must be text."})
    if required and not text:
        raise ValidationError({field: f"{label} is required."})
    if len(text) > limit:
        raise ValidationError({field: f"{label} may be at most {limit} characters (it has {len(text)})."})
    return text


def _expert_profile_id(expert) -> int:
    profile = expert_selectors.expert_for_user(user=expert)
    if profile is None:
        raise ValidationError("You are not an expert.", code="not_verified")
    return profile.pk


# --- submit ------------------------------------------------------------------------------


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
        raise ValidationError(account_selectors.UNVERIFIED_MESSAGE, code="unverified")
    title = " ".join(_text(title, field="title", limit=TITLE_MAX_LENGTH, required=True, label="A title").split())
    description = _text(
        description, field="description", limit=DESCRIPTION_MAX_LENGTH, required=True, label="A description"
    )
    times_note = _text(
        times_note, field="times_note", limit=TIMES_NOTE_MAX_LENGTH, required=False, label="The note on times"
    )
    checked_slots = slots_module.check_slots(slots)
    direct_profile = _direct_expert(requester, direct_expert_profile_id)
    previous = _resubmission_source(requester, resubmit_of)
    try:
        category = Category.objects.get(pk=int(category_id), is_active=True)
    except (Category.DoesNotExist, TypeError, ValueError):
        raise ValidationError({"category": "Choose one of the listed categories."}) from None
    if direct_profile is not None and not direct_profile.categories.filter(pk=category.pk, is_active=True).exists():
        name = direct_profile.user.get_full_name()
        raise ValidationError({"category": f"{name} is not an expert in {category.name}."})
    kept = _kept_documents(previous, keep_documents)
    try:
        checked = documents.check_files(files)
        if len(checked) + len(kept) > documents.MAX_FILES:
            raise ValidationError(f"Attach at most {documents.MAX_FILES} files (with the ones you kept).")
        if sum(len(item.data) for item in checked) + sum(doc.size for doc in kept) > documents.MAX_REQUEST_BYTES:
            raise ValidationError(
                f"The files are too large together: at most {documents.MAX_REQUEST_BYTES // (1024 * 1024)} MB "
                "per request (with the ones you kept)."
            )
    except ValidationError as error:
        raise ValidationError({"files": error.messages}) from None

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
        _record(previous, actor=requester, action=A.RESUBMITTED)
    if direct_profile is not None:
        notify(
            recipient=direct_profile.user,
            kind=NotificationKind.HELP_REQUEST_DIRECT,
            title=f"{requester.get_full_name()} asked you directly for help: “{help_request.title}”",
            body=f"It is yours to accept for {window_text(direct_window())}; then it goes to every expert "
            f"of {category.name}. Decline it to pass it on at once.",
            url=help_request.get_absolute_url(),
        )
    _push_queue_on_commit(help_request, added=True)
    return help_request


RESUBMITTABLE = (S.EXPIRED, S.CANCELLED)


def _resubmission_source(requester, resubmit_of) -> HelpRequest | None:
    """The requester's own expired or cancelled request, not submitted again yet (locked)."""
    if resubmit_of in (None, ""):
        return None
    previous = _locked(public_id=_uuid(resubmit_of), requester=requester)
    if previous.status not in RESUBMITTABLE:
        raise ValidationError("Only an expired or cancelled request can be submitted again.", code="illegal_transition")
    if HelpRequest.objects.filter(resubmitted_from=previous).exists():
        raise ValidationError("This request was already submitted again.", code="already_resubmitted")
    return previous


def _kept_documents(previous: HelpRequest | None, keep) -> list[HelpDocument]:
    wanted = [str(item) for item in (keep or ()) if str(item).strip()]
    if not wanted:
        return []
    if previous is None:
        raise ValidationError({"keep_documents": "Documents can be kept only when submitting a request again."})
    try:
        ids = {_uuid(item) for item in wanted}
    except HelpRequest.DoesNotExist:
        raise ValidationError({"keep_documents": "That is not a document of the earlier request."}) from None
    kept = list(HelpDocument.objects.filter(request=previous, public_id__in=ids).order_by("created_at", "id"))
    if len(kept) != len(ids):
        raise ValidationError({"keep_documents": "That is not a document of the earlier request."})
    return kept


def _direct_expert(requester, profile_id) -> ExpertProfile | None:
    if profile_id in (None, ""):
        return None
    from helpdesk import selectors  # selectors import this module

    profile = selectors.askable_expert(asker=requester, profile_id=profile_id)
    if profile.user_id == requester.pk:
        raise ValidationError({"expert": "You cannot ask yourself for help."})
    return profile


# --- asked directly: decline, or the window lapses -----------------------------------------------


@transaction.atomic
def decline_direct_request(*, expert, request_id, note: str = "") -> HelpRequest:
    """The expert asked directly passes the request on: it goes to the category's queue at once.
    Anyone else (and an expert no longer in good standing) gets HelpRequest.DoesNotExist."""
    note = _text(note, field="note", limit=NOTE_MAX_LENGTH, required=False, label="The note")
    help_request = _locked(public_id=_uuid(request_id), direct_expert=expert)
    if not expert_selectors.is_verified_expert(user=expert, category_id=help_request.category_id):
        raise HelpRequest.DoesNotExist("No such help request.")
    if not help_request.is_direct:
        raise ValidationError("This request is no longer waiting for you alone.", code="not_open")
    said = f"{expert.get_full_name()} declined" + (f": {note}" if note else ".")
    _send_to_queue(help_request, actor=expert, action=A.DIRECT_DECLINED, note=said, told=said)
    return help_request


def _send_to_queue(help_request: HelpRequest, *, actor, action: str, note: str, told: str) -> None:
    help_request.direct_until = None
    help_request.save(update_fields=["direct_until", "updated_at"])
    _record(help_request, actor=actor, action=action, note=note)
    notify(
        recipient=help_request.requester,
        kind=NotificationKind.HELP_REQUEST_TO_QUEUE,
        title=f"“{help_request.title}” is now open to every expert of {help_request.category.name}",
        body=told,
        url=help_request.get_absolute_url(),
    )
    _push_queue_on_commit(help_request, added=True)
    _push_changed_on_commit(help_request)


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
                help_request = _locked(pk=pk, status=S.OPEN, direct_until__isnull=False)
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
def accept_help_request(*, expert, request_id, start=None, end=None) -> HelpRequest:
    """Take an open request. Two experts at once: the row lock makes exactly one win.

    With `start` and `end` (one of the requester's slots, or a time the expert proposes
    instead), accepting also schedules the session in the same step: the meeting is created
    at once and the requester is told once, with the time and then the invitation."""
    if (start is None) != (end is None):
        raise ValidationError({"end" if end is None else "start": "Give both the start and the end, or neither."})
    session = _session_times(start, end) if start is not None else None
    # Lock the expert's profile first: two accepts by the same expert cannot both pass the cap.
    profile = ExpertProfile.objects.select_for_update().filter(user=expert).first()
    help_request = _locked(public_id=_uuid(request_id))
    if help_request.requester_id == expert.pk:
        raise ValidationError("You cannot accept your own help request.", code="own_request")
    if profile is None or not expert_selectors.is_verified_expert(user=expert, category_id=help_request.category_id):
        # Not one of the experts who may see it: as if it did not exist (no IDOR oracle).
        raise HelpRequest.DoesNotExist("No such help request.")
    if help_request.is_direct and help_request.direct_expert_id != expert.pk:
        raise HelpRequest.DoesNotExist("No such help request.")  # asked of someone else, for now
    if help_request.status != S.OPEN:
        if help_request.status in ACTIVE_STATUSES:
            raise ValidationError("Another expert has already accepted this request.", code="not_open")
        raise ValidationError(f"This request is {help_request.get_status_display().lower()}.", code="not_open")
    active = HelpRequest.objects.filter(expert=expert, status__in=ACTIVE_STATUSES).count()
    if active >= profile.max_active_requests:
        raise ValidationError(
            f"You already hold {active} active request{'s' if active != 1 else ''}, your limit. "
            "Complete or release one first.",
            code="cap_reached",
        )
    help_request.expert = expert
    help_request.accepted_at = timezone.now()
    help_request.direct_until = None
    _transition(
        help_request, to=S.ACCEPTED, actor=expert, action=A.ACCEPTED, fields=("expert", "accepted_at", "direct_until")
    )
    _open_conversation(expert=expert, requester=help_request.requester)
    _push_queue_on_commit(help_request, added=False)
    if session is not None:
        return _schedule(help_request, expert=expert, start=session[0], end=session[1], just_accepted=True)
    notify(
        recipient=help_request.requester,
        kind=NotificationKind.HELP_REQUEST_ACCEPTED,
        title=f"{expert.get_full_name()} accepted your request “{help_request.title}”",
        body="They will pick a time for your session from your preferred times or propose another.",
        url=help_request.get_absolute_url(),
    )
    _push_changed_on_commit(help_request)
    return help_request


def _open_conversation(*, expert, requester) -> None:
    """Requester and expert can talk at once: the direct conversation, accepted on both sides
    (the requester asked for help, so this is no stranger's message request). A block or an
    inactive account leaves the help going without chat."""
    try:
        with transaction.atomic():
            conversation = chat_services.open_direct_conversation(user=expert, other=requester)
            chat_services.accept_message_request(user=requester, conversation_id=conversation.pk)
    except (chat_services.ChatError, ObjectDoesNotExist) as error:
        logger.info("no conversation between expert %s and requester %s: %r", expert.pk, requester.pk, error)


_MEETING_FIELDS = (
    "meeting_state",
    "meeting_external_id",
    "meeting_join_url",
    "meeting_id",
    "meeting_provider",
    "meeting_error",
    "meeting_email_sent_at",
    "reminder_hour_sent_at",
    "reminder_minutes_sent_at",
)


def _clear_meeting(help_request: HelpRequest, *, state: str, external_id) -> tuple[str, ...]:
    """The meeting and every per-session marker (e-mail, reminders) start over; returns the
    fields to save."""
    help_request.meeting_state = state
    help_request.meeting_external_id = external_id
    help_request.meeting_join_url = ""
    help_request.meeting_id = ""
    help_request.meeting_provider = ""
    help_request.meeting_error = ""
    help_request.meeting_email_sent_at = None
    help_request.reminder_hour_sent_at = None
    help_request.reminder_minutes_sent_at = None
    return _MEETING_FIELDS


def _reset_assignment(help_request: HelpRequest) -> tuple[str, ...]:
    help_request.expert = None
    help_request.accepted_at = None
    help_request.scheduled_start = None
    help_request.scheduled_end = None
    meeting = _clear_meeting(help_request, state=MeetingState.NONE, external_id=None)
    return ("expert", "accepted_at", "scheduled_start", "scheduled_end", *meeting)


NO_STANDING_MESSAGE = (
    "You are no longer an approved expert, so you cannot act on help requests; "
    "the requests you held went back to the queue."
)


def _held_by(expert, request_id) -> HelpRequest:
    """The request `expert` holds, locked, for one of their actions on it.

    Someone else's request (or none) is HelpRequest.DoesNotExist, as for an unknown id. An
    expert who holds it but is no longer in good standing (approval withdrawn, account
    deactivated) is refused with code "not_verified". Lock order as in accept: the expert's
    profile first, then the request, so a concurrent withdrawal of the approval (which locks
    the profile, then the requests) either happens wholly before this action or after it.
    """
    profile = ExpertProfile.objects.select_for_update().filter(user=expert).first()
    help_request = _locked(public_id=_uuid(request_id), expert=expert)
    if profile is None or not expert_selectors.is_verified_expert(user=expert):
        raise ValidationError(NO_STANDING_MESSAGE, code="not_verified")
    return help_request


def _release(help_request: HelpRequest, *, actor, note: str, requester_body: str) -> HelpRequest:
    """Back to the queue (timeline "released" with the note), the meeting and session cleared,
    the requester told, the category's experts shown it again live."""
    _transition(
        help_request, to=S.OPEN, actor=actor, action=A.RELEASED, note=note, fields=_reset_assignment(help_request)
    )
    notify(
        recipient=help_request.requester,
        kind=NotificationKind.HELP_REQUEST_RELEASED,
        title=f"Your request “{help_request.title}” is back in the queue",
        body=requester_body,
        url=help_request.get_absolute_url(),
    )
    _push_queue_on_commit(help_request, added=True)
    _push_changed_on_commit(help_request)
    return help_request


@transaction.atomic
def release_help_request(*, expert, request_id, note: str) -> HelpRequest:
    """The expert gives the request back: open again (timeline: "released" with the note)."""
    note = _text(note, field="note", limit=NOTE_MAX_LENGTH, required=True, label="A note for the requester")
    help_request = _held_by(expert, request_id)
    if help_request.status not in ACTIVE_STATUSES:
        raise ValidationError(
            f"A {help_request.get_status_display().lower()} request cannot be released.", code="illegal_transition"
        )
    return _release(
        help_request, actor=expert, note=note, requester_body=f"The expert could not take it after all: {note}"
    )


STANDING_RELEASE_NOTE = "The expert is no longer available on Lyceum."
STANDING_RELEASE_BODY = (
    "Your expert can no longer take help requests, so your request is open again and other experts "
    "of its subject can accept it. Your documents and description stay as they were."
)


@transaction.atomic
def release_held_requests(*, expert, actor=None) -> list[HelpRequest]:
    """Every request `expert` holds (accepted or scheduled) goes back to the queue: the expert
    lost their standing. Each gets the timeline entry, its requester is told, the category's
    experts see it reappear. The note on the timeline does not repeat staff's reasons (those
    are for the expert). Returns the released requests."""
    released = []
    ids = (
        HelpRequest.objects.filter(expert=expert, status__in=ACTIVE_STATUSES)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    for pk in list(ids):
        try:
            help_request = _locked(pk=pk, expert=expert, status__in=ACTIVE_STATUSES)
        except HelpRequest.DoesNotExist:  # completed, cancelled or released meanwhile
            continue
        released.append(
            _release(help_request, actor=actor, note=STANDING_RELEASE_NOTE, requester_body=STANDING_RELEASE_BODY)
        )
    if released:
        logger.info("released %s request(s) held by expert %s, who lost standing", len(released), expert.pk)
    return released


def release_on_withdrawn_approval(expert, reviewer, note: str) -> None:
    """experts.services' standing-withdrawn hook (see helpdesk.apps)."""
    release_held_requests(expert=expert, actor=reviewer)


def release_requests_without_standing(*, batch: int = 200) -> int:
    """Beat: requests still held by an expert who is not in good standing any more (a
    deactivated account, a deleted or rejected profile) go back to the queue. Returns how many."""
    in_standing = ExpertProfile.objects.filter(status=ExpertProfile.Status.APPROVED, user__is_active=True).values(
        "user_id"
    )
    expert_ids = list(
        HelpRequest.objects.filter(status__in=ACTIVE_STATUSES)
        .exclude(expert_id__in=in_standing)
        .order_by()
        .values_list("expert_id", flat=True)
        .distinct()[:batch]
    )
    released = 0
    for expert in User.objects.filter(pk__in=expert_ids):
        released += len(release_held_requests(expert=expert))
    return released


def _parse_moment(value, *, field: str) -> datetime:
    if isinstance(value, str):
        from django.utils.dateparse import parse_datetime

        parsed = parse_datetime(value)
        if parsed is None:
            raise ValidationError({field: "Enter a date and time."})
        value = parsed
    if not isinstance(value, datetime):
        raise ValidationError({field: "Enter a date and time."})
    if timezone.is_naive(value):
        value = timezone.make_aware(value)
    return value


def _session_times(start, end) -> tuple[datetime, datetime]:
    start = _parse_moment(start, field="start")
    end = _parse_moment(end, field="end")
    if start <= timezone.now():
        raise ValidationError({"start": "The session must start in the future."})
    if end - start < MIN_SESSION:
        raise ValidationError({"end": "The session must end at least 10 minutes after it starts."})
    if end - start > MAX_SESSION:
        raise ValidationError({"end": "A session may last at most 4 hours."})
    return start, end


def _new_meeting_attempt(help_request: HelpRequest) -> tuple[str, ...]:
    """A new scheduling attempt: a new provider idempotency key (so createOrGet makes a new
    meeting, never returns a former one), pending, and every per-session marker reset."""
    help_request.schedule_sequence += 1
    return ("schedule_sequence", *_clear_meeting(help_request, state=MeetingState.PENDING, external_id=uuid.uuid4()))


@transaction.atomic
def schedule_session(*, expert, request_id, start, end) -> HelpRequest:
    """Fix the session time of an accepted request; the meeting is created by
    create_meeting_task after commit."""
    start, end = _session_times(start, end)
    help_request = _held_by(expert, request_id)
    if help_request.status != S.ACCEPTED:  # a scheduled session is moved with reschedule_session
        raise ValidationError(
            f"A {help_request.get_status_display().lower()} request cannot be scheduled.", code="illegal_transition"
        )
    return _schedule(help_request, expert=expert, start=start, end=end, just_accepted=False)


def _schedule(help_request: HelpRequest, *, expert, start: datetime, end: datetime, just_accepted: bool):
    """accepted -> scheduled. The requester's one e-mail for it is the invitation (the join
    link and the .ics, sent once the meeting exists); in the app they are told at once."""
    help_request.scheduled_start = start
    help_request.scheduled_end = end
    fields = _new_meeting_attempt(help_request)
    _transition(
        help_request,
        to=S.SCHEDULED,
        actor=expert,
        action=A.SCHEDULED,
        fields=("scheduled_start", "scheduled_end", *fields),
        session_start=start,
        session_end=end,
    )
    requester = help_request.requester
    when = session_time_for(requester, help_request)
    lead = f"{expert.get_full_name()} accepted “{help_request.title}”: " if just_accepted else ""
    notify_in_app_only(
        recipient=requester,
        kind=NotificationKind.HELP_REQUEST_SCHEDULED,
        title=f"{lead}your help session is on {when}"
        if lead
        else f"Your help session “{help_request.title}” is on {when}",
        body="The meeting link and a calendar invitation follow by e-mail as soon as the meeting is created.",
        url=help_request.get_absolute_url(),
    )
    transaction.on_commit(partial(enqueue_meeting_creation, help_request.pk))
    _push_changed_on_commit(help_request)
    return help_request


@transaction.atomic
def reschedule_session(*, expert, request_id, start, end) -> HelpRequest:
    """The expert moves a scheduled session. The requester is notified once; the timeline says
    from when to when; reminders follow the new time (their markers are reset).

    A provider meeting is replaced by a new one (a new externalId: Graph's createOrGet keeps the
    first meeting's times), then the updated .ics goes out (same UID, higher SEQUENCE). A link
    the expert pasted stays; only the updated invitation goes out.
    """
    start, end = _session_times(start, end)
    help_request = _held_by(expert, request_id)
    if help_request.status != S.SCHEDULED:
        raise ValidationError(
            f"Only a scheduled session can be moved; this request is {help_request.get_status_display().lower()}.",
            code="illegal_transition",
        )
    if (help_request.scheduled_start, help_request.scheduled_end) == (start, end):
        raise ValidationError({"start": "The session is already at that time."})
    before = help_request.scheduled_start
    help_request.scheduled_start = start
    help_request.scheduled_end = end
    if help_request.meeting_state == MeetingState.MANUAL:
        help_request.schedule_sequence += 1
        help_request.meeting_email_sent_at = None
        help_request.reminder_hour_sent_at = None
        help_request.reminder_minutes_sent_at = None
        fields = ("schedule_sequence", "meeting_email_sent_at", "reminder_hour_sent_at", "reminder_minutes_sent_at")
        after_commit = partial(enqueue_meeting_email, help_request.pk)
        body = "Your meeting link stays the same; the updated calendar invitation follows by e-mail."
    else:
        fields = _new_meeting_attempt(help_request)
        after_commit = partial(enqueue_meeting_creation, help_request.pk)
        body = "The new meeting link and the updated calendar invitation follow by e-mail."
    help_request.save(update_fields=["scheduled_start", "scheduled_end", "updated_at", *fields])
    _record(
        help_request, actor=expert, action=A.RESCHEDULED, session_start=start, session_end=end, previous_start=before
    )
    # In the app only: the updated invitation is this event's one e-mail.
    notify_in_app_only(
        recipient=help_request.requester,
        kind=NotificationKind.HELP_REQUEST_SCHEDULED,
        title=f"Your help session “{help_request.title}” moved to "
        f"{session_time_for(help_request.requester, help_request)}",
        body=body,
        url=help_request.get_absolute_url(),
    )
    transaction.on_commit(after_commit)
    _push_changed_on_commit(help_request)
    return help_request


def enqueue_meeting_creation(request_pk: int) -> None:
    from helpdesk.tasks import create_meeting_task  # tasks import this module

    try:
        create_meeting_task.delay(request_pk)
    except Exception:  # the row stays pending: sweep_pending_meetings_task queues it again
        logger.exception("could not queue meeting creation for help request %s", request_pk)


def enqueue_meeting_email(request_pk: int) -> None:
    from helpdesk.tasks import send_meeting_email_task  # tasks import this module

    try:
        send_meeting_email_task.delay(request_pk)
    except Exception:  # eager mode: the task asked for a retry; the marker is still free
        logger.exception("meeting e-mail for help request %s not sent yet", request_pk)


def notify_in_app_only(*, recipient, kind, title: str, body: str = "", url: str = ""):
    """notify() whose e-mail is the help desk's calendar invitation instead: the in-app
    notification and its live push stay, and the only e-mail for this event is the .ics
    invitation (helpdesk.emails), sent once per session by its own marker. One e-mail, not two."""
    return notify(recipient=recipient, kind=kind, title=title, body=body, url=url, email=False)


@transaction.atomic
def set_manual_meeting_link(*, expert, request_id, url: str) -> HelpRequest:
    """After a failed (or instead of a pending) meeting the expert pastes a link: https only."""
    from django.core.validators import URLValidator

    url = (url or "").strip()
    try:
        if len(url) > 2000:
            raise ValidationError("too long")
        URLValidator(schemes=["https"])(url)
    except ValidationError:
        raise ValidationError({"url": "Paste a full https:// meeting link."}) from None
    help_request = _held_by(expert, request_id)
    if help_request.status != S.SCHEDULED or help_request.meeting_state not in (
        MeetingState.FAILED,
        MeetingState.MANUAL,
        MeetingState.PENDING,
    ):
        raise ValidationError(
            "A link can be added only to a scheduled session without a meeting.", code="meeting_state"
        )
    if help_request.meeting_state == MeetingState.MANUAL and help_request.meeting_join_url == url:
        return help_request  # the same link again: nothing changes, nobody is told twice
    help_request.meeting_join_url = url
    help_request.meeting_state = MeetingState.MANUAL
    help_request.meeting_provider = "manual"
    help_request.meeting_error = ""
    # The invitation goes out (again, with a higher SEQUENCE when the link changes).
    help_request.meeting_email_sent_at = None
    help_request.schedule_sequence += 1
    help_request.save(
        update_fields=[
            "meeting_join_url",
            "meeting_state",
            "meeting_provider",
            "meeting_error",
            "meeting_email_sent_at",
            "schedule_sequence",
            "updated_at",
        ]
    )
    _record(help_request, actor=expert, action=A.MEETING_LINK_SET)
    notify_in_app_only(
        recipient=help_request.requester,
        kind=NotificationKind.HELP_MEETING_READY,
        title=f"The meeting link for “{help_request.title}” is ready",
        body=f"Join at {url}",
        url=help_request.get_absolute_url(),
    )
    transaction.on_commit(partial(enqueue_meeting_email, help_request.pk))
    _push_changed_on_commit(help_request)
    return help_request


@transaction.atomic
def complete_help_request(*, expert, request_id) -> HelpRequest:
    """The expert marks a scheduled session done, once it has started (scheduled start <= now):
    a session cannot be completed before it took place (nor rated, nor counted)."""
    help_request = _held_by(expert, request_id)
    if help_request.status == S.SCHEDULED and help_request.scheduled_start > timezone.now():
        raise ValidationError(
            f"The session starts on {format_moment(help_request.scheduled_start)}: "
            "you can mark it completed once it has started.",
            code="not_started",
        )
    _transition(help_request, to=S.COMPLETED, actor=expert, action=A.COMPLETED)
    expert_services.record_session_completed(expert_profile_id=_expert_profile_id(expert))
    notify(
        recipient=help_request.requester,
        kind=NotificationKind.HELP_REQUEST_COMPLETED,
        title=f"Your session “{help_request.title}” is complete",
        body="How did it go? Rate your expert.",
        url=help_request.get_absolute_url(),
    )
    _push_changed_on_commit(help_request)
    return help_request


# --- requester actions ---------------------------------------------------------------------


@transaction.atomic
def cancel_help_request(*, requester, request_id, note: str = "") -> HelpRequest:
    note = _text(note, field="note", limit=NOTE_MAX_LENGTH, required=False, label="The note")
    help_request = _locked(public_id=_uuid(request_id), requester=requester)
    was_open = help_request.status == S.OPEN
    _transition(help_request, to=S.CANCELLED, actor=requester, action=A.CANCELLED, note=note)
    if help_request.expert_id:
        notify(
            recipient=help_request.expert,
            kind=NotificationKind.HELP_REQUEST_CANCELLED,
            title=f"“{help_request.title}” was cancelled by the requester",
            body=note,
            url=help_request.get_absolute_url(),
        )
    if was_open:
        _push_queue_on_commit(help_request, added=False)
    _push_changed_on_commit(help_request)
    return help_request


def _stars(value) -> int:
    """1 to 5, from an int or a string of digits (a form or JSON); nothing else."""
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 5:
        raise ValidationError({"stars": "Give 1 to 5 stars."})
    return value


@transaction.atomic
def rate_help_request(*, requester, request_id, stars, feedback: str = "") -> Rating:
    """The requester rates a completed request of theirs, once; the expert's aggregate follows."""
    stars = _stars(stars)
    feedback = _text(feedback, field="feedback", limit=FEEDBACK_MAX_LENGTH, required=False, label="Feedback")
    help_request = _locked(public_id=_uuid(request_id), requester=requester)
    if help_request.status != S.COMPLETED:
        raise ValidationError("Only a completed session can be rated.", code="not_completed")
    if Rating.objects.filter(request=help_request).exists():
        raise ValidationError("You have already rated this session.", code="already_rated")
    if help_request.expert_id is None:
        raise ValidationError("This session has no expert to rate any more.", code="not_completed")
    rating = Rating.objects.create(request=help_request, stars=stars, feedback=feedback)
    expert_services.record_rating(expert_profile_id=_expert_profile_id(help_request.expert), stars=stars)
    _record(help_request, actor=requester, action=A.RATED, note=f"{stars} star{'s' if stars != 1 else ''}")
    notify(
        recipient=help_request.expert,
        kind=NotificationKind.HELP_RATING_RECEIVED,
        title=f"You were rated {stars}/5 for “{help_request.title}”",
        body=feedback,
        url=help_request.get_absolute_url(),
    )
    _push_changed_on_commit(help_request)
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
                help_request = _locked(pk=pk, status=S.OPEN, created_at__lt=cutoff)
            except HelpRequest.DoesNotExist:  # accepted or cancelled meanwhile
                continue
            _transition(help_request, to=S.EXPIRED, actor=None, action=A.EXPIRED, note="Nobody accepted it in time.")
            notify(
                recipient=help_request.requester,
                kind=NotificationKind.HELP_REQUEST_EXPIRED,
                title=f"Nobody could take “{help_request.title}” in time",
                body="Your request expired. You can submit it again, perhaps with other times.",
                url=help_request.get_absolute_url(),
            )
            _push_queue_on_commit(help_request, added=False)
            expired += 1
    return expired
