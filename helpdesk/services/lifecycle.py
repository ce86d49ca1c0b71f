"""The help desk's lifecycle: the one status change (transition), the timeline entry, the
scoped lookups, input cleaning, the live pushes and the queued side effects every write shares."""

import logging
import uuid
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError

from config.refusals import Refusal
from config.timezones import SHORT_DAY, format_range, in_zone_of
from experts import selectors as expert_selectors
from helpdesk import realtime
from helpdesk.models import (
    ALLOWED_TRANSITIONS,
    HelpRequest,
    HelpRequestEvent,
    HelpRequestStatus,
)
from live.push import push_on_commit
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
    return HelpRequest.objects.select_for_update().select_related("category", "requester").get(**lookup)


def transition(
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
        raise HelpdeskRefusal(
            f"A {S(current).label.lower()} request cannot be {_VERBS.get(to, to)}.", code="illegal_transition"
        )
    help_request.status = to
    help_request.save(update_fields=["status", "updated_at", *fields])
    return HelpRequestEvent.objects.create(
        request=help_request, actor=actor, action=action, from_status=current, to_status=to, note=note, **times
    )


def record_event(help_request: HelpRequest, *, actor, action: str, note: str = "", **times) -> HelpRequestEvent:
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
        raise ValidationError({field: f"{label} must be text."})
    if required and not text:
        raise ValidationError({field: f"{label} is required."})
    if len(text) > limit:
        raise ValidationError({field: f"{label} may be at most {limit} characters (it has {len(text)})."})
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


def notify_in_app_only(*, recipient, kind, title: str, body: str = "", url: str = ""):
    """notify() whose e-mail is the help desk's calendar invitation instead: the in-app
    notification and its live push stay, and the only e-mail for this event is the .ics
    invitation (helpdesk.emails), sent once per session by its own marker. One e-mail, not two."""
    return notify(recipient=recipient, kind=kind, title=title, body=body, url=url, email=False)


def expert_profile_id(expert) -> int:
    profile = expert_selectors.expert_for_user(user=expert)
    if profile is None:
        raise HelpdeskRefusal("You are not an expert.", code="not_verified")
    return profile.pk


# --- submit ------------------------------------------------------------------------------
