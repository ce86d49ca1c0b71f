"""Writes around the meeting of a scheduled request, called by helpdesk.tasks.

The meeting provider call itself happens in the task, outside any transaction; these functions
record its outcome. Each is safe to call twice: the state checks make a repeated or late
outcome a no-op (a retried task, or a request released/cancelled meanwhile).
"""

import logging
from datetime import datetime, timedelta
from functools import partial

from django.db import transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from accounts.models import User
from config.timezones import format_clock, in_zone_of
from helpdesk import emails
from helpdesk.models import HelpRequest, HelpRequestEvent, HelpRequestStatus, MeetingState
from helpdesk.services.lifecycle import enqueue_meeting_creation, record_event, tell
from notifications.models import NotificationKind
from notifications.services import notify

logger = logging.getLogger(__name__)

A = HelpRequestEvent.Action

# Reminders: (marker field, how long before the start, label). Sent once the start is this close.
REMINDERS = (
    ("reminder_hour_sent_at", timedelta(hours=1), "in about an hour"),
    ("reminder_minutes_sent_at", timedelta(minutes=10), "in 10 minutes"),
)
# A pending meeting whose task was lost (broker down at commit) is queued again after this.
SWEEP_PENDING_AFTER = timedelta(minutes=5)


def pending_meeting(*, request_pk: int) -> HelpRequest | None:
    """The request if its meeting still has to be created; None makes the task a no-op.

    Its `meeting_external_id` names this scheduling attempt: the task passes it to the provider
    and back to record_meeting_created/failed, so an outcome that arrives after the session was
    moved or released (a new attempt, another id) is ignored."""
    return (
        HelpRequest.objects.select_related("requester", "expert", "category")
        .filter(
            pk=request_pk,
            status=HelpRequestStatus.SCHEDULED,
            meeting_state=MeetingState.PENDING,
            meeting_external_id__isnull=False,
        )
        .first()
    )


def _pending_attempt_locked(*, request_pk: int, external_id) -> HelpRequest | None:
    return (
        HelpRequest.objects.select_for_update()
        .select_related("requester", "expert")
        .filter(
            pk=request_pk,
            status=HelpRequestStatus.SCHEDULED,
            meeting_state=MeetingState.PENDING,
            meeting_external_id=external_id,
        )
        .first()
    )


@transaction.atomic
def record_meeting_created(*, request_pk: int, external_id, join_url: str, meeting_id: str, provider: str) -> bool:
    """Store the meeting; True if this call stored it (False: already done or no longer wanted).

    The requester is told in the app only: their e-mail for this event is the invitation with
    the .ics and the join link."""
    help_request = _pending_attempt_locked(request_pk=request_pk, external_id=external_id)
    if help_request is None:
        return False
    help_request.meeting_join_url = join_url
    help_request.meeting_id = meeting_id[:500]
    help_request.meeting_provider = provider[:20]
    help_request.meeting_state = MeetingState.CREATED
    help_request.meeting_error = ""
    help_request.save(
        update_fields=[
            "meeting_join_url",
            "meeting_id",
            "meeting_provider",
            "meeting_state",
            "meeting_error",
            "updated_at",
        ]
    )
    record_event(help_request, actor=None, action=A.MEETING_CREATED)  # which provider: the admin shows it
    title = f"The meeting link for “{help_request.title}” is ready"
    # The requester's e-mail for this event is the invitation (send_meeting_email_once): one, not two.
    for recipient, email in ((help_request.requester, False), (help_request.expert, True)):
        tell(
            help_request,
            recipient,
            kind=NotificationKind.HELP_MEETING_READY,
            title=title,
            body=f"Join at {join_url}",
            email=email,
        )
    return True


@transaction.atomic
def record_meeting_failed(*, request_pk: int, external_id, error: str) -> bool:
    """The provider refused for good: failed state, the expert may paste a link; staff are told."""
    help_request = _pending_attempt_locked(request_pk=request_pk, external_id=external_id)
    if help_request is None:
        return False
    help_request.meeting_state = MeetingState.FAILED
    help_request.meeting_error = error[:500]
    help_request.save(update_fields=["meeting_state", "meeting_error", "updated_at"])
    record_event(help_request, actor=None, action=A.MEETING_FAILED, note=error[:1000])
    tell(
        help_request,
        help_request.expert,
        kind=NotificationKind.HELP_MEETING_FAILED,
        title=f"The meeting for “{help_request.title}” could not be created",
        body="Paste a meeting link of your own on the request page.",
    )
    for staff in User.objects.filter(is_staff=True, is_active=True).exclude(pk=help_request.expert_id):
        notify(
            recipient=staff,
            kind=NotificationKind.HELP_MEETING_FAILED,
            title=f"Meeting creation failed for help request {help_request.public_id}",
            body=error[:1000],
            url=reverse("admin:helpdesk_helprequest_change", args=[help_request.pk]),
        )
    return True


def send_meeting_email_once(*, request_pk: int) -> bool:
    """The calendar invitation (.ics) to the requester, at most once per session version
    (a reschedule or a new link frees the marker and raises the .ics SEQUENCE).

    The marker is claimed with a conditional UPDATE before sending, so a retried or duplicated
    task never sends twice; a failed send gives the claim back and raises for the task to retry.
    """
    now = timezone.now()
    claimed = HelpRequest.objects.filter(
        pk=request_pk,
        meeting_email_sent_at__isnull=True,
        status=HelpRequestStatus.SCHEDULED,
        meeting_state__in=(MeetingState.CREATED, MeetingState.MANUAL),
    ).update(meeting_email_sent_at=now)
    if not claimed:
        return False
    help_request = HelpRequest.objects.select_related("requester", "expert", "category").get(pk=request_pk)
    try:
        emails.send_meeting_invitation(help_request)
    except Exception:
        HelpRequest.objects.filter(pk=request_pk, meeting_email_sent_at=now).update(meeting_email_sent_at=None)
        raise
    return True


def _clock_for(recipient, moment: datetime) -> str:
    """ "09:00 PST": the start as this recipient reads it."""
    with in_zone_of(recipient):
        return format_clock(moment)


def send_due_reminders(*, now: datetime | None = None) -> int:
    """Reminders to both sides ~1 h and ~10 min before each session; each marker once."""
    now = now or timezone.now()
    sent = 0
    for field, lead, label in REMINDERS:
        due = HelpRequest.objects.filter(
            Q(**{f"{field}__isnull": True}),
            status=HelpRequestStatus.SCHEDULED,
            scheduled_start__gt=now,
            scheduled_start__lte=now + lead,
        ).values_list("pk", flat=True)
        for pk in list(due[:500]):
            with transaction.atomic():
                if not HelpRequest.objects.filter(pk=pk, **{f"{field}__isnull": True}).update(**{field: now}):
                    continue  # another beat run took it
                help_request = HelpRequest.objects.select_related("requester", "expert").get(pk=pk)
                for recipient in filter(None, (help_request.requester, help_request.expert)):
                    notify(
                        recipient=recipient,
                        kind=NotificationKind.HELP_SESSION_REMINDER,
                        title=f"Your help session “{help_request.title}” starts {label} "
                        f"({_clock_for(recipient, help_request.scheduled_start)})",
                        body=f"Join at {help_request.meeting_join_url}" if help_request.meeting_join_url else "",
                        url=help_request.get_absolute_url(),
                    )
                sent += 1
    return sent


def sweep_pending_meetings(*, now: datetime | None = None) -> list[int]:
    """Queue again the meetings still pending long after scheduling (their task was lost)."""
    now = now or timezone.now()
    ids = list(
        HelpRequest.objects.filter(
            status=HelpRequestStatus.SCHEDULED,
            meeting_state=MeetingState.PENDING,
            updated_at__lt=now - SWEEP_PENDING_AFTER,
        ).values_list("pk", flat=True)[:200]
    )
    for pk in ids:
        transaction.on_commit(partial(enqueue_meeting_creation, pk))
    return ids
