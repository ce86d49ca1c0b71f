import email
import email.policy
import socket
from email.message import EmailMessage

import pytest
from aiosmtpd.controller import Controller
from django.test import override_settings

from notifications import emails
from notifications.models import NotificationKind
from notifications.tests.factories import NotificationFactory

pytestmark = pytest.mark.django_db


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class RecordingHandler:
    def __init__(self):
        self.messages: list[tuple[str, list[str], EmailMessage]] = []

    async def handle_DATA(self, server, session, envelope):
        message = email.message_from_bytes(envelope.original_content, policy=email.policy.default)
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), message))
        return "250 Message accepted for delivery"


@pytest.fixture
def smtp_server():
    """A real SMTP server on loopback (aiosmtpd), with MAILERS pointing at it."""
    handler = RecordingHandler()
    port = _free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    mailers = {
        "default": {
            "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "OPTIONS": {"host": "127.0.0.1", "port": port, "timeout": 5},
        }
    }
    try:
        # pytest-django swaps in locmem for every test; this test wants the real thing.
        with override_settings(MAILERS=mailers):
            yield handler
    finally:
        controller.stop()


@pytest.fixture
def notification(user):
    return NotificationFactory(
        recipient=user,
        kind=NotificationKind.SYSTEM,
        title="Exam timetable <published>",
        body="Check your slots & rooms.",
        url="/timetable/",
    )


def test_notification_email_has_a_plain_text_and_an_html_body_from_the_templates(notification, mailoutbox):
    emails.send_notification_email(notification)

    assert len(mailoutbox) == 1
    message = mailoutbox[0]
    assert message.to == ["ada@uni.example"]
    assert message.subject == "Exam timetable <published> · Lyceum"
    assert "Hi Ada," in message.body
    assert "Check your slots & rooms." in message.body  # plain text is not HTML-escaped
    assert f"http://127.0.0.1:8000/notifications/{notification.pk}/open/" in message.body
    assert "http://127.0.0.1:8000/notifications/preferences/" in message.body
    html, mimetype = message.alternatives[0]
    assert mimetype == "text/html"
    assert "Exam timetable &lt;published&gt;" in html  # HTML is escaped
    assert "Check your slots &amp; rooms." in html
    assert f'href="http://127.0.0.1:8000/notifications/{notification.pk}/open/"' in html
    assert "Choose which e-mails you receive" in html


def test_notification_email_reaches_a_real_smtp_server_with_both_parts(notification, smtp_server):
    emails.send_notification_email(notification)

    assert len(smtp_server.messages) == 1
    mail_from, recipients, message = smtp_server.messages[0]
    assert recipients == ["ada@uni.example"]
    assert "no-reply@lyceum.local" in mail_from
    assert message["Subject"] == "Exam timetable <published> · Lyceum"
    assert message.get_content_type() == "multipart/alternative"
    text = message.get_body(preferencelist=("plain",)).get_content()
    html = message.get_body(preferencelist=("html",)).get_content()
    assert "Check your slots & rooms." in text
    assert "Check your slots &amp; rooms." in html
