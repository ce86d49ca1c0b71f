"""Notification e-mails: subject, plain text and HTML from templates, sent by the default mailer.

Rendered in the recipient's time zone (config.timezones.in_zone_of), like every e-mail.

Templates: templates/emails/notification.{txt,html}, extending templates/emails/base.{txt,html}
(the layout every Lyceum e-mail shares).
"""

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, mailers
from django.template.loader import render_to_string
from django.urls import reverse

from config.timezones import in_zone_of
from notifications.models import Notification


def absolute_url(path: str) -> str:
    """A path on this site as a full link for an e-mail (SITE_URL + path)."""
    if not path:
        return settings.SITE_URL + "/"
    return settings.SITE_URL + path


def _single_line(text: str) -> str:
    # Django refuses CR/LF in headers; a title is one line anyway.
    return " ".join(text.split())


def build_notification_email(notification: Notification) -> EmailMultiAlternatives:
    with in_zone_of(notification.recipient):
        return _notification_email(notification)


def _notification_email(notification: Notification) -> EmailMultiAlternatives:
    recipient = notification.recipient
    context = {
        "site_name": settings.SITE_NAME,
        "site_url": settings.SITE_URL,
        "recipient": recipient,
        "notification": notification,
        "action_url": absolute_url(reverse("notifications:open", kwargs={"pk": notification.pk})),
        "preferences_url": absolute_url(reverse("notifications:preferences")),
        "reason": f"You receive this because e-mail is on for “{notification.get_kind_display()}” notifications.",
    }
    subject = _single_line(f"{notification.title} · {settings.SITE_NAME}")
    text_body = render_to_string("emails/notification.txt", context)
    html_body = render_to_string("emails/notification.html", context)
    message = EmailMultiAlternatives(
        subject=subject,
        body=text_body,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[recipient.email],
        headers={"Auto-Submitted": "auto-generated"},
    )
    message.attach_alternative(html_body, "text/html")
    return message


def send_notification_email(notification: Notification) -> None:
    """Send through MAILERS["default"]; SMTP and network errors propagate to the caller."""
    message = build_notification_email(notification)
    mailers.default.send_messages([message])
