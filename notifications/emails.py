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
from notifications.models import EMAIL_ACTION_LABELS, Notification, email_choosable


def absolute_url(path: str) -> str:
    """A path on this site as a full link for an e-mail (SITE_URL + path)."""
    if not path:
        return settings.SITE_URL + "/"
    return settings.SITE_URL + path


def _single_line(text: str) -> str:
    # Django refuses CR/LF in headers; a title is one line anyway.
    return " ".join(text.split())


def _reason(notification: Notification, *, to_address: str) -> str:
    if to_address and to_address.casefold() != notification.recipient.email.casefold():
        return "You receive this because someone asked to use this address for a Lyceum account. Not you? Ignore it."
    if not email_choosable(notification.kind):
        return "You receive this because it concerns your account's address; it cannot be switched off."
    return f"You receive this because e-mail is on for “{notification.get_kind_display()}” notifications."


def build_notification_email(
    notification: Notification, *, to_address: str = "", action_url: str = ""
) -> EmailMultiAlternatives:
    """The e-mail of one notification, to `to_address` (else the recipient's address), whose
    button leads to `action_url` (else the notification, opened in Lyceum); its times are in
    the recipient's zone."""
    with in_zone_of(notification.recipient):
        return _notification_email(notification, to_address=to_address, action_url=action_url)


def _notification_email(notification: Notification, *, to_address: str, action_url: str) -> EmailMultiAlternatives:
    recipient = notification.recipient
    context = {
        "site_name": settings.SITE_NAME,
        "site_url": settings.SITE_URL,
        "recipient": recipient,
        "notification": notification,
        "action_url": action_url or absolute_url(reverse("notifications:open", kwargs={"pk": notification.pk})),
        "action_label": EMAIL_ACTION_LABELS.get(notification.kind, ""),
        "preferences_url": absolute_url(reverse("notifications:preferences")),
        "reason": _reason(notification, to_address=to_address),
    }
    subject = _single_line(f"{notification.title} · {settings.SITE_NAME}")
    text_body = render_to_string("emails/notification.txt", context)
    html_body = render_to_string("emails/notification.html", context)
    message = EmailMultiAlternatives(
        subject=subject,
        body=text_body,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[to_address or recipient.email],
        headers={"Auto-Submitted": "auto-generated"},
    )
    message.attach_alternative(html_body, "text/html")
    return message


def send_notification_email(notification: Notification, *, to_address: str = "", action_url: str = "") -> None:
    """Send through MAILERS["default"]; SMTP and network errors propagate to the caller."""
    message = build_notification_email(notification, to_address=to_address, action_url=action_url)
    mailers.default.send_messages([message])
