"""The help desk's own e-mail: the meeting invitation with its .ics calendar attachment.

Everything else the help desk tells a user goes through notifications.notify() (which sends
e-mail per the user's preferences). Templates: templates/emails/helpdesk/meeting_invitation.*
"""

from urllib.parse import urlsplit

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, mailers
from django.template.loader import render_to_string
from django.utils import timezone

from helpdesk.ics import build_ics
from helpdesk.models import HelpRequest


def absolute_url(path: str) -> str:
    return settings.SITE_URL + path


def _organizer_email() -> str:
    from email.utils import parseaddr

    return parseaddr(settings.DEFAULT_FROM_EMAIL)[1] or "no-reply@lyceum.local"


def build_meeting_invitation(help_request: HelpRequest) -> EmailMultiAlternatives:
    requester = help_request.requester
    expert = help_request.expert
    host = urlsplit(settings.SITE_URL).hostname or "lyceum.local"
    page_url = absolute_url(help_request.get_absolute_url())
    ics = build_ics(
        uid=f"help-{help_request.public_id}@{host}",
        summary=f"Lyceum help session: {help_request.title}",
        description=f"Your help session with {expert.get_full_name() if expert else 'your expert'}.\n"
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
        "join_url": help_request.meeting_join_url,
        "page_url": page_url,
        "reason": "You receive this because you asked for help on Lyceum and a session was scheduled.",
    }
    subject = " ".join(f"Your help session: {help_request.title} · {settings.SITE_NAME}".split())
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
