"""Thin Celery tasks of the help desk: take ids, call the provider or a service, own retries.

Beat entries (config/settings.py CELERY_BEAT_SCHEDULE):
    "helpdesk-session-reminders": send_session_reminders_task, every 60 s
    "helpdesk-expire-requests":   expire_requests_task, every 15 min
    "helpdesk-sweep-meetings":    sweep_pending_meetings_task, every 5 min
    "helpdesk-release-without-standing": release_requests_without_standing_task, every 60 s
    "helpdesk-direct-requests":   release_lapsed_direct_requests_task, every 60 s
"""

import logging
from datetime import timedelta

from celery import shared_task
from django.conf import settings

from helpdesk import services
from helpdesk.meetings import MeetingError, MeetingPermanentError, MeetingSpec, get_meeting_provider
from helpdesk.models import HelpRequest

logger = logging.getLogger(__name__)

MEETING_MAX_RETRIES = 8
EMAIL_MAX_RETRIES = 6


def _backoff(retries: int) -> int:
    return min(600, 10 * 2**retries)


@shared_task(bind=True, max_retries=MEETING_MAX_RETRIES, acks_late=True)
def create_meeting_task(self, request_pk: int) -> str:
    """Create (or get) the meeting of a scheduled request and tell both sides. Idempotent:

    - not pending any more (created, manual link, failed, released, cancelled) → "noop";
    - createOrGet with this scheduling attempt's id (meeting_external_id) as externalId: a
      retry gets the same meeting; a reschedule or a new accept is a new attempt, a new id;
    - the invitation e-mail is claimed by a marker, so it goes out once whatever retries.
    """
    help_request = services.pending_meeting(request_pk=request_pk)
    if help_request is not None:
        external_id = help_request.meeting_external_id
        spec = MeetingSpec(
            external_id=str(external_id),
            subject=f"Lyceum help: {help_request.title}"[:250],
            start=help_request.scheduled_start,
            end=help_request.scheduled_end,
            attendee_emails=tuple(
                email for email in (help_request.requester.email, getattr(help_request.expert, "email", "")) if email
            ),
        )
        try:
            meeting = get_meeting_provider().create_or_get(spec)
        except MeetingPermanentError as exc:
            services.record_meeting_failed(
                request_pk=request_pk, external_id=external_id, error=str(exc) or type(exc).__name__
            )
            return "failed"
        except MeetingError as exc:
            if self.request.retries >= self.max_retries:
                services.record_meeting_failed(
                    request_pk=request_pk,
                    external_id=external_id,
                    error=f"Gave up after {self.request.retries + 1} attempts: {exc}",
                )
                return "failed"
            countdown = exc.retry_after if exc.retry_after is not None else _backoff(self.request.retries)
            logger.warning("meeting for help request %s: transient error, retry in %ss: %s", request_pk, countdown, exc)
            raise self.retry(exc=exc, countdown=countdown) from exc
        services.record_meeting_created(
            request_pk=request_pk,
            external_id=external_id,
            join_url=meeting.join_url,
            meeting_id=meeting.meeting_id,
            provider=meeting.provider,
        )
    # Also after a crash between "created" and the e-mail: the marker decides.
    try:
        send_meeting_email_task.delay(request_pk)
    except Exception:  # eager mode: the e-mail task asked for a retry; the meeting stands
        logger.exception("meeting e-mail for help request %s not sent yet", request_pk)
    return "created" if help_request is not None else "noop"


@shared_task(bind=True, max_retries=EMAIL_MAX_RETRIES, acks_late=True)
def send_meeting_email_task(self, request_pk: int) -> bool:
    from notifications import selectors as notification_selectors
    from notifications.models import NotificationKind

    help_request = HelpRequest.objects.select_related("requester").filter(pk=request_pk).first()
    if help_request is None or not notification_selectors.wants_email(
        user=help_request.requester, kind=NotificationKind.HELP_MEETING_READY
    ):
        return False
    try:
        return services.send_meeting_email_once(request_pk=request_pk)
    except OSError as exc:  # SMTP and network errors: the claim was given back
        raise self.retry(exc=exc, countdown=_backoff(self.request.retries)) from exc


@shared_task
def send_session_reminders_task() -> int:
    """Beat, every minute: reminders ~1 h and ~10 min before each session, once each."""
    return services.send_due_reminders()


@shared_task
def expire_requests_task() -> int:
    """Beat: open requests nobody accepted within HELPDESK_REQUEST_TTL_HOURS (default 72) expire."""
    hours = getattr(settings, "HELPDESK_REQUEST_TTL_HOURS", 72)
    return services.expire_stale_requests(older_than=timedelta(hours=hours))


@shared_task
def sweep_pending_meetings_task() -> int:
    """Beat: queue again meetings still pending long after scheduling (their task was lost)."""
    return len(services.sweep_pending_meetings())


@shared_task
def release_requests_without_standing_task() -> int:
    """Beat: requests held by experts who lost their standing other than by staff rejection
    (a deactivated account, a deleted profile) go back to the queue."""
    return services.release_requests_without_standing()


@shared_task
def release_lapsed_direct_requests_task() -> int:
    """Beat: requests asked of one expert who did not accept within HELPDESK_DIRECT_WINDOW_MINUTES
    (or who lost their standing) go to every expert of the category."""
    return services.release_lapsed_direct_requests()
