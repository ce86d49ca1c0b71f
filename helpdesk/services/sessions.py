"""The expert's side: accept, release, schedule and reschedule, the meeting link, complete."""

import logging
import uuid
from datetime import datetime
from functools import partial

from django.core.exceptions import ObjectDoesNotExist, ValidationError
from django.db import transaction
from django.utils import timezone

from accounts.models import User
from chat import services as chat_services
from config.refusals import field_error
from config.timezones import format_moment
from experts import selectors as expert_selectors
from experts import services as expert_services
from experts.models import ExpertProfile
from helpdesk.models import (
    ACTIVE_STATUSES,
    NOTE_MAX_LENGTH,
    HelpRequest,
    HelpRequestEvent,
    HelpRequestStatus,
    MeetingState,
)
from helpdesk.services.lifecycle import (
    MAX_SESSION,
    MIN_SESSION,
    HelpdeskRefusal,
    clean_text,
    enqueue_meeting_creation,
    enqueue_meeting_email,
    expert_profile_id,
    held_count,
    locked_for_expert,
    locked_request,
    record_event,
    session_time_for,
    tell,
    transition,
)
from notifications.models import NotificationKind

logger = logging.getLogger(__name__)


S = HelpRequestStatus
A = HelpRequestEvent.Action


@transaction.atomic
def accept_help_request(*, expert, request_id, start=None, end=None) -> HelpRequest:
    """Take an open request. Two experts at once: the row lock makes exactly one win.

    With `start` and `end` (one of the requester's slots, or a time the expert proposes
    instead), accepting also schedules the session in the same step: the meeting is created
    at once and the requester is told once, with the time and then the invitation."""
    if (start is None) != (end is None):
        raise field_error(
            "end" if end is None else "start", "Give both the start and the end, or neither.", code="half_a_time"
        )
    session = _session_times(start, end) if start is not None else None
    profile, help_request = locked_for_expert(expert, request_id)
    if help_request.requester_id == expert.pk:
        raise HelpdeskRefusal("You cannot accept your own help request.", code="own_request")
    if profile is None or not expert_selectors.is_verified_expert(user=expert, category_id=help_request.category_id):
        # Not one of the experts who may see it: as if it did not exist (no IDOR oracle).
        raise HelpRequest.DoesNotExist("No such help request.")
    if help_request.is_direct and help_request.direct_expert_id != expert.pk:
        raise HelpRequest.DoesNotExist("No such help request.")  # asked of someone else, for now
    if help_request.status != S.OPEN:
        if help_request.status in ACTIVE_STATUSES:
            raise HelpdeskRefusal("Another expert has already accepted this request.", code="not_open")
        raise HelpdeskRefusal(f"This request is {help_request.get_status_display().lower()}.", code="not_open")
    active = held_count(expert)
    if active >= profile.max_active_requests:
        raise HelpdeskRefusal(
            f"You already hold {active} active request{'s' if active != 1 else ''}, your limit. "
            "Complete or release one first.",
            code="cap_reached",
        )
    help_request.expert = expert
    help_request.accepted_at = timezone.now()
    help_request.direct_until = None
    transition(
        help_request,
        to=S.ACCEPTED,
        actor=expert,
        action=A.ACCEPTED,
        fields=("expert", "accepted_at", "direct_until"),
        announce=session is None,  # accept-and-schedule: the scheduling announces it
    )
    _open_conversation(expert=expert, requester=help_request.requester)
    if session is not None:
        return _schedule(help_request, expert=expert, start=session[0], end=session[1], just_accepted=True)
    tell(
        help_request,
        help_request.requester,
        kind=NotificationKind.HELP_REQUEST_ACCEPTED,
        title=f"{expert.get_full_name()} accepted your request “{help_request.title}”",
        body="They will pick a time for your session from your preferred times or propose another.",
    )
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
    deactivated) is refused with code "not_verified" (locked_for_expert's lock order).
    Whether the request's state allows the action is the transition map's to say (after this:
    not found, then not allowed, then the state).
    """
    profile, help_request = locked_for_expert(expert, request_id, held=True)
    if profile is None or not expert_selectors.is_verified_expert(user=expert):
        raise HelpdeskRefusal(NO_STANDING_MESSAGE, code="not_verified")
    return help_request


def _release(help_request: HelpRequest, *, actor, note: str, requester_body: str) -> HelpRequest:
    """Back to the queue (timeline "released" with the note), the meeting and session cleared,
    the requester told, the category's experts shown it again live."""
    transition(
        help_request, to=S.OPEN, actor=actor, action=A.RELEASED, note=note, fields=_reset_assignment(help_request)
    )
    tell(
        help_request,
        help_request.requester,
        kind=NotificationKind.HELP_REQUEST_RELEASED,
        title=f"Your request “{help_request.title}” is back in the queue",
        body=requester_body,
    )
    return help_request


@transaction.atomic
def release_help_request(*, expert, request_id, note: str) -> HelpRequest:
    """The expert gives the request back: open again (timeline: "released" with the note)."""
    note = clean_text(note, field="note", limit=NOTE_MAX_LENGTH, required=True, label="A note for the requester")
    help_request = _held_by(expert, request_id)  # the map refuses a request that is not accepted or scheduled
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
            help_request = locked_request(pk=pk, expert=expert, status__in=ACTIVE_STATUSES)
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
            raise field_error(field, "Enter a date and time.", code="invalid")
        value = parsed
    if not isinstance(value, datetime):
        raise field_error(field, "Enter a date and time.", code="invalid")
    if timezone.is_naive(value):
        value = timezone.make_aware(value)
    return value


def _session_times(start, end) -> tuple[datetime, datetime]:
    start = _parse_moment(start, field="start")
    end = _parse_moment(end, field="end")
    if start <= timezone.now():
        raise field_error("start", "The session must start in the future.", code="session_in_past")
    if end - start < MIN_SESSION:
        raise field_error("end", "The session must end at least 10 minutes after it starts.", code="session_too_short")
    if end - start > MAX_SESSION:
        raise field_error("end", "A session may last at most 4 hours.", code="session_too_long")
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
    help_request = _held_by(expert, request_id)  # the map: only an accepted one (reschedule_session moves one)
    return _schedule(help_request, expert=expert, start=start, end=end, just_accepted=False)


def _schedule(help_request: HelpRequest, *, expert, start: datetime, end: datetime, just_accepted: bool):
    """accepted -> scheduled. The requester's one e-mail for it is the invitation (the join
    link and the .ics, sent once the meeting exists); in the app they are told at once."""
    help_request.scheduled_start = start
    help_request.scheduled_end = end
    fields = _new_meeting_attempt(help_request)
    transition(
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
    tell(  # in the app only: the invitation is this event's one e-mail
        help_request,
        requester,
        kind=NotificationKind.HELP_REQUEST_SCHEDULED,
        title=f"{lead}your help session is on {when}"
        if lead
        else f"Your help session “{help_request.title}” is on {when}",
        body="The meeting link and a calendar invitation follow by e-mail as soon as the meeting is created.",
        email=False,
    )
    transaction.on_commit(partial(enqueue_meeting_creation, help_request.pk))
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
        raise HelpdeskRefusal(
            f"Only a scheduled session can be moved; this request is {help_request.get_status_display().lower()}.",
            code="illegal_transition",
        )
    if (help_request.scheduled_start, help_request.scheduled_end) == (start, end):
        raise field_error("start", "The session is already at that time.", code="same_time")
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
    record_event(
        help_request, actor=expert, action=A.RESCHEDULED, session_start=start, session_end=end, previous_start=before
    )
    tell(  # in the app only: the updated invitation is this event's one e-mail
        help_request,
        help_request.requester,
        kind=NotificationKind.HELP_REQUEST_SCHEDULED,
        title=f"Your help session “{help_request.title}” moved to "
        f"{session_time_for(help_request.requester, help_request)}",
        body=body,
        email=False,
    )
    transaction.on_commit(after_commit)
    return help_request


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
        raise field_error("url", "Paste a full https:// meeting link.", code="invalid_url") from None
    help_request = _held_by(expert, request_id)
    if help_request.status != S.SCHEDULED or help_request.meeting_state not in (
        MeetingState.FAILED,
        MeetingState.MANUAL,
        MeetingState.PENDING,
    ):
        raise HelpdeskRefusal(
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
    record_event(help_request, actor=expert, action=A.MEETING_LINK_SET)
    tell(  # in the app only: the invitation with the link follows
        help_request,
        help_request.requester,
        kind=NotificationKind.HELP_MEETING_READY,
        title=f"The meeting link for “{help_request.title}” is ready",
        body=f"Join at {url}",
        email=False,
    )
    transaction.on_commit(partial(enqueue_meeting_email, help_request.pk))
    return help_request


@transaction.atomic
def complete_help_request(*, expert, request_id) -> HelpRequest:
    """The expert marks a scheduled session done, once it has started (scheduled start <= now):
    a session cannot be completed before it took place (nor rated, nor counted)."""
    help_request = _held_by(expert, request_id)
    if help_request.status == S.SCHEDULED and help_request.scheduled_start > timezone.now():
        raise HelpdeskRefusal(
            f"The session starts on {format_moment(help_request.scheduled_start)}: "
            "you can mark it completed once it has started.",
            code="not_started",
        )
    transition(help_request, to=S.COMPLETED, actor=expert, action=A.COMPLETED)
    expert_services.record_session_completed(expert_profile_id=expert_profile_id(expert))
    tell(
        help_request,
        help_request.requester,
        kind=NotificationKind.HELP_REQUEST_COMPLETED,
        title=f"Your session “{help_request.title}” is complete",
        body="How did it go? Rate your expert.",
    )
    return help_request


# --- requester actions ---------------------------------------------------------------------
