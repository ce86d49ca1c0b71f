"""The help desk's own e-mail: the meeting invitation with its .ics calendar attachment.

It is the requester's one e-mail for scheduling (and for a moved session): the subject names
the request and the time in the requester's zone, the .ics carries UTC times (every calendar
shows them in its own zone) and a local rendering in its description.

Everything else the help desk tells a user goes through notifications.notify() (which sends
e-mail per the user's preferences). Templates: templates/emails/helpdesk/meeting_invitation.*
"""

from urllib.parse import urlsplit

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, mailers
from django.template.loader import render_to_string
from django.utils import timezone

from config.timezones import SHORT_DAY, active_zone_name, format_range, in_zone_of
from helpdesk.ics import build_ics
from helpdesk.models import HelpRequest


def absolute_url(path: str) -> str:
    return settings.SITE_URL + path


def _organizer_email() -> str:
    from email.utils import parseaddr

    return parseaddr(settings.DEFAULT_FROM_EMAIL)[1] or "no-reply@lyceum.local"


def build_meeting_invitation(help_request: HelpRequest) -> EmailMultiAlternatives:
    """The invitation as its recipient, the requester, reads it: in their zone."""
    with in_zone_of(help_request.requester):
        return _invitation(help_request)


def _invitation(help_request: HelpRequest) -> EmailMultiAlternatives:
    requester = help_request.requester
    expert = help_request.expert
    when = format_range(help_request.scheduled_start, help_request.scheduled_end)
    host = urlsplit(settings.SITE_URL).hostname or "lyceum.local"
    page_url = absolute_url(help_request.get_absolute_url())
    ics = build_ics(
        uid=f"help-{help_request.public_id}@{host}",
        summary=f"Lyceum help session: {help_request.title}",
        description=f"Your help session with {expert.get_full_name() if expert else 'your expert'}.\n"
        f"When: {when} ({active_zone_name()})\n"
        f"Join: {help_request.meeting_join_url}\nRequest: {page_url}",
        start=help_request.scheduled_start,
        end=help_request.scheduled_end,
        url=help_request.meeting_join_url,
        organizer_email=_organizer_email(),
        attendee_emails=[requester.email] + ([expert.email] if expert else []),
        sequence=help_request.schedule_sequence,  # same UID: a moved session updates the event
    )
    context = {
        "site_name": settings.SITE_NAME,
        "site_url": settings.SITE_URL,
        "recipient": requester,
        "help_request": help_request,
        "expert": expert,
        "start": timezone.localtime(help_request.scheduled_start),
        "end": timezone.localtime(help_request.scheduled_end),
        "when": when,
        "zone_name": active_zone_name(),
        "join_url": help_request.meeting_join_url,
        "page_url": page_url,
        "reason": "You receive this because you asked for help on Lyceum and a session was scheduled.",
    }
    short_when = format_range(help_request.scheduled_start, help_request.scheduled_end, day=SHORT_DAY)
    subject = " ".join(f"Your help session “{help_request.title}” is on {short_when} · {settings.SITE_NAME}".split())
    message = EmailMultiAlternatives(
        subject=subject,
        body=render_to_string("emails/helpdesk/meeting_invitation.txt", context),
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[requester.email],
        headers={"Auto-Submitted": "auto-generated"},
    )
    message.attach_alternative(render_to_string("emails/helpdesk/meeting_invitation.html", context), "text/html")
    message.attach("help-session.ics", ics, "text/calendar; method=REQUEST; charset=utf-8")
    return message


def send_meeting_invitation(help_request: HelpRequest) -> None:
    """Send through MAILERS["default"]; errors propagate (the task retries)."""
    mailers.default.send_messages([build_meeting_invitation(help_request)])
