"""The help desk's lifecycle: the one status change (transition), the timeline entry, the
scoped lookups, input cleaning, the live pushes and the queued side effects every write shares."""

import logging
import uuid
from datetime import timedelta

from django.conf import settings

from config.refusals import Refusal, field_error
from config.timezones import SHORT_DAY, format_range, in_zone_of
from experts import selectors as expert_selectors
from experts.models import ExpertProfile
from helpdesk import realtime
from helpdesk.models import (
    ACTIVE_STATUSES,
    ALLOWED_TRANSITIONS,
    HelpRequest,
    HelpRequestEvent,
    HelpRequestStatus,
)
from live.push import push_on_commit
from notifications.models import NotificationKind
from notifications.services import notify

logger = logging.getLogger(__name__)


class HelpdeskRefusal(Refusal):
    """A help desk rule refused the action (config.refusals.Refusal): the state refuses it
    (409), or the caller may not do it at all (403); other codes are 400. Field validation of
    the input stays a ValidationError (a form's or serializer's error)."""

    status_by_code = {
        "illegal_transition": 409,
        "not_open": 409,
        "cap_reached": 409,
        "not_completed": 409,
        "already_rated": 409,
        "meeting_state": 409,
        "not_started": 409,
        "already_resubmitted": 409,
        "not_verified": 403,
        "unverified": 403,
    }


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


def parse_request_id(request_id) -> uuid.UUID:
    """A public id from a UUID or its string; anything else is an unknown request."""
    if isinstance(request_id, uuid.UUID):
        return request_id
    try:
        return uuid.UUID(str(request_id))
    except (TypeError, ValueError, AttributeError):
        raise HelpRequest.DoesNotExist("No such help request.") from None


def locked_request(**lookup) -> HelpRequest:
    """The request matching `lookup` (the caller's scope: requester=, expert=, ...), locked
    until commit; outside the scope it is HelpRequest.DoesNotExist, as for an unknown id."""
    return HelpRequest.objects.select_for_update().select_related("category", "requester").get(**lookup)


def locked_for_expert(expert, request_id, *, held: bool = False) -> tuple[ExpertProfile | None, HelpRequest]:
    """(the expert's profile or None, the request) for an action that assigns the request or
    acts on it as its holder (`held`: only a request this expert holds is found), both locked
    in the one order every such action takes: the profile first (two actions of the same expert
    cannot both pass the cap; a withdrawal of the approval, which locks the profile and then
    the requests, happens wholly before or after), then the request."""
    profile = ExpertProfile.objects.select_for_update().filter(user=expert).first()
    scope = {"expert": expert} if held else {}
    return profile, locked_request(public_id=parse_request_id(request_id), **scope)


def held_count(expert) -> int:
    """How many requests the expert holds now (accepted or scheduled), against their cap."""
    return HelpRequest.objects.filter(expert=expert, status__in=ACTIVE_STATUSES).count()


def transition(
    help_request: HelpRequest,
    *,
    to: str,
    actor,
    action: str,
    note: str = "",
    fields: tuple[str, ...] = (),
    announce: bool = True,
    **times,
) -> HelpRequestEvent:
    """The only place a status changes: check the map, save, append the timeline entry
    (`times`: the entry's session_start/session_end/previous_start), and show it live after
    commit: the category's queue loses a request that leaves "open" and gains one that comes
    back to it, and the request's people see it change (`announce=False` when a later step of
    the same write announces the final state, as accept-and-schedule does)."""
    current = help_request.status
    if to not in ALLOWED_TRANSITIONS[current]:
        raise HelpdeskRefusal(
            f"A {S(current).label.lower()} request cannot be {_VERBS.get(to, to)}.", code="illegal_transition"
        )
    help_request.status = to
    help_request.save(update_fields=["status", "updated_at", *fields])
    event = HelpRequestEvent.objects.create(
        request=help_request, actor=actor, action=action, from_status=current, to_status=to, note=note, **times
    )
    if S.OPEN in (current, to):
        push_queue_on_commit(help_request, added=to == S.OPEN)
    if announce:
        push_changed_on_commit(help_request)
    return event


def record_event(
    help_request: HelpRequest, *, actor, action: str, note: str = "", announce: bool = True, **times
) -> HelpRequestEvent:
    """A timeline entry that changes no status (meeting created, rated, reassigned, moved), shown
    live to the request's people after commit like a transition."""
    event = HelpRequestEvent.objects.create(
        request=help_request,
        actor=actor,
        action=action,
        from_status=help_request.status,
        to_status=help_request.status,
        note=note,
        **times,
    )
    if announce:
        push_changed_on_commit(help_request)
    return event


def tell(help_request: HelpRequest, recipient, *, kind, title: str, body: str = "", email: bool = True) -> None:
    """Tell one of the request's people about it (notifications.notify, linking the request's
    page; nobody when `recipient` is None). `email=False` where the help desk's calendar
    invitation (helpdesk.emails, sent once per session by its own marker) is this event's one
    e-mail: the in-app notification and its live push stay."""
    if recipient is None:
        return
    notify(recipient=recipient, kind=kind, title=title, body=body, url=help_request.get_absolute_url(), email=email)


def cancel(help_request: HelpRequest, *, actor, note: str, told, by: str) -> HelpRequest:
    """The request is cancelled by `by` ("the requester", "staff"): the timeline entry, the
    queue and pages live, and each of `told` notified with the note."""
    transition(help_request, to=S.CANCELLED, actor=actor, action=A.CANCELLED, note=note)
    for recipient in told:
        tell(
            help_request,
            recipient,
            kind=NotificationKind.HELP_REQUEST_CANCELLED,
            title=f"“{help_request.title}” was cancelled by {by}",
            body=note,
        )
    return help_request


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


def _eligible_expert_ids(help_request: HelpRequest) -> list[int]:
    """The experts whose queue shows the request: while it waits for the expert asked directly,
    only them (nobody else learns of it, not even its title over the socket)."""
    ids = expert_selectors.experts_in_category(category_id=help_request.category_id)
    if help_request.is_direct:
        ids = ids.filter(user_id=help_request.direct_expert_id)
    return [user_id for user_id in ids if user_id != help_request.requester_id]


def push_queue_on_commit(help_request: HelpRequest, *, added: bool) -> None:
    event = realtime.queue_added_event(help_request) if added else realtime.queue_removed_event(help_request)
    recipients = _eligible_expert_ids(help_request)
    push_on_commit(recipients, event)  # ONE publish for every eligible expert


def push_changed_on_commit(help_request: HelpRequest) -> None:
    ids = [help_request.requester_id] + [
        user_id for user_id in (help_request.expert_id, help_request.direct_expert_id) if user_id
    ]
    push_on_commit(ids, realtime.request_changed_event(help_request))


def clean_text(value, *, field: str, limit: int, required: bool, label: str) -> str:
    text = (value or "").strip() if isinstance(value, str | type(None)) else None
    if text is None:
        raise field_error(field, f"{label} must be text.", code="invalid")
    if required and not text:
        raise field_error(field, f"{label} is required.", code="required")
    if len(text) > limit:
        raise field_error(field, f"{label} may be at most {limit} characters (it has {len(text)}).", code="max_length")
    return text


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


def expert_profile_id(expert) -> int:
    profile = expert_selectors.expert_for_user(user=expert)
    if profile is None:
        raise HelpdeskRefusal("You are not an expert.", code="not_verified")
    return profile.pk


# --- submit ------------------------------------------------------------------------------
