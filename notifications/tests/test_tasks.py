import smtplib
from datetime import timedelta
from unittest import mock

import pytest
from django.test import override_settings
from django.utils import timezone

from config.celery import app as celery_app
from notifications import services
from notifications.models import EmailDelivery, Notification, NotificationKind, NotificationPreference
from notifications.tasks import notify_user_task, send_notification_email_task, sweep_pending_emails_task
from notifications.tests.factories import NotificationFactory, UserFactory
from notifications.tests.test_emails import _free_port

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _no_live_push():
    with mock.patch("live.push.publish"):
        yield


def _pending_delivery(user, **fields) -> EmailDelivery:
    delivery = EmailDelivery.objects.create(notification=NotificationFactory(recipient=user), **fields)
    return delivery


def _age(delivery: EmailDelivery, *, minutes: int, status: str | None = None) -> None:
    fields = {"updated_at": timezone.now() - timedelta(minutes=minutes)}
    if status:
        fields["status"] = status
    EmailDelivery.objects.filter(pk=delivery.pk).update(**fields)


def test_notify_sends_the_email_through_celery_after_commit(user, mailoutbox, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        notification = services.notify(recipient=user, kind=NotificationKind.WELCOME, title="Welcome, Ada")

    assert [m.subject for m in mailoutbox] == ["Welcome, Ada · Lyceum"]
    delivery = EmailDelivery.objects.get(notification=notification)
    assert delivery.status == EmailDelivery.Status.SENT
    assert delivery.attempts == 1
    assert delivery.sent_at is not None


def test_running_the_task_twice_sends_one_email(user, mailoutbox):
    delivery = _pending_delivery(user)

    first = send_notification_email_task(delivery.pk)
    second = send_notification_email_task(delivery.pk)

    assert (first, second) == ("sent", "noop")
    assert len(mailoutbox) == 1
    delivery.refresh_from_db()
    assert delivery.status == EmailDelivery.Status.SENT
    assert delivery.attempts == 1


def test_a_row_being_sent_by_another_worker_is_left_alone(user, mailoutbox):
    delivery = _pending_delivery(user, status=EmailDelivery.Status.SENDING, attempts=1)

    assert send_notification_email_task(delivery.pk) == "noop"

    assert mailoutbox == []


def test_an_unknown_delivery_id_is_a_noop(db, mailoutbox):
    assert send_notification_email_task(987654) == "noop"
    assert mailoutbox == []


@pytest.fixture
def eager_retries():
    """Eager Celery runs each retry at once (no backoff wait) when errors do not propagate."""
    celery_app.conf.task_eager_propagates = False
    yield
    celery_app.conf.task_eager_propagates = True


def test_a_transient_smtp_error_is_retried_and_then_sent_once(user, mailoutbox, eager_retries):
    delivery = _pending_delivery(user)
    real_send = services.emails.send_notification_email
    calls = []

    def flaky(notification, **addressing):
        calls.append(notification.pk)
        if len(calls) == 1:
            raise smtplib.SMTPServerDisconnected("connection unexpectedly closed")
        real_send(notification)

    with mock.patch.object(services.emails, "send_notification_email", side_effect=flaky):
        send_notification_email_task.delay(delivery.pk)

    assert len(calls) == 2
    assert len(mailoutbox) == 1
    delivery.refresh_from_db()
    assert delivery.status == EmailDelivery.Status.SENT
    assert delivery.attempts == 2
    assert "SMTPServerDisconnected" in delivery.last_error


def test_a_transient_failure_puts_the_row_back_to_pending_and_asks_celery_to_retry(user):
    delivery = _pending_delivery(user)

    with (
        mock.patch.object(services.emails, "send_notification_email", side_effect=smtplib.SMTPDataError(451, b"later")),
        pytest.raises(services.TransientEmailError),
    ):
        services.deliver_notification_email(delivery_id=delivery.pk)

    delivery.refresh_from_db()
    assert delivery.status == EmailDelivery.Status.PENDING
    assert delivery.attempts == 1


def test_the_task_is_configured_to_retry_with_exponential_backoff():
    assert send_notification_email_task.autoretry_for == (services.TransientEmailError,)
    assert send_notification_email_task.retry_backoff
    assert send_notification_email_task.retry_jitter
    assert send_notification_email_task.max_retries >= services.EMAIL_MAX_ATTEMPTS - 1


def test_an_unreachable_smtp_server_fails_the_row_after_the_last_attempt(user, mailoutbox, eager_retries):
    delivery = _pending_delivery(user)
    closed_port = _free_port()  # nothing listens there: connection refused
    mailers = {
        "default": {
            "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "OPTIONS": {"host": "127.0.0.1", "port": closed_port, "timeout": 2},
        }
    }

    with override_settings(MAILERS=mailers):
        result = send_notification_email_task.delay(delivery.pk)

    assert result.get() == "failed"

    delivery.refresh_from_db()
    assert delivery.status == EmailDelivery.Status.FAILED
    assert delivery.attempts == services.EMAIL_MAX_ATTEMPTS
    assert "ConnectionRefusedError" in delivery.last_error


def test_a_template_bug_fails_the_row_without_retrying(user):
    delivery = _pending_delivery(user)

    with (
        mock.patch.object(services.emails, "send_notification_email", side_effect=KeyError("oops")) as send,
        pytest.raises(KeyError),
    ):
        send_notification_email_task.delay(delivery.pk)

    assert send.call_count == 1
    delivery.refresh_from_db()
    assert delivery.status == EmailDelivery.Status.FAILED


def test_the_preference_is_checked_again_at_send_time(user, mailoutbox):
    delivery = _pending_delivery(user)
    NotificationPreference.objects.create(user=user, kind=delivery.notification.kind, email=False)

    assert send_notification_email_task(delivery.pk) == "skipped"

    assert mailoutbox == []
    delivery.refresh_from_db()
    assert delivery.status == EmailDelivery.Status.SKIPPED


def test_sweep_requeues_old_pending_and_stuck_sending_rows_only(user, mailoutbox):
    lost = _pending_delivery(user)
    _age(lost, minutes=5)
    stuck = _pending_delivery(user, attempts=1)
    _age(stuck, minutes=30, status=EmailDelivery.Status.SENDING)
    fresh = _pending_delivery(user)  # its task is still on its way: not the sweep's business
    in_flight = _pending_delivery(user, attempts=1)
    _age(in_flight, minutes=1, status=EmailDelivery.Status.SENDING)
    done = _pending_delivery(user, attempts=1)
    _age(done, minutes=60, status=EmailDelivery.Status.SENT)

    with mock.patch("django.db.transaction.on_commit", side_effect=lambda func, **kw: func()):
        requeued = sweep_pending_emails_task()

    assert requeued == 2
    assert len(mailoutbox) == 2
    statuses = dict(EmailDelivery.objects.values_list("pk", "status"))
    assert statuses == {
        lost.pk: "sent",
        stuck.pk: "sent",
        fresh.pk: "pending",
        in_flight.pk: "sending",
        done.pk: "sent",
    }


def test_requeue_gives_failed_rows_a_fresh_start_and_never_resends_sent_ones(
    user, mailoutbox, django_capture_on_commit_callbacks
):
    failed = _pending_delivery(user, status=EmailDelivery.Status.FAILED, attempts=services.EMAIL_MAX_ATTEMPTS)
    sent = _pending_delivery(user, status=EmailDelivery.Status.SENT, attempts=1)

    with django_capture_on_commit_callbacks(execute=True):
        count = services.requeue_deliveries(delivery_ids=[failed.pk, sent.pk])

    assert count == 1
    assert len(mailoutbox) == 1
    failed.refresh_from_db()
    assert failed.status == EmailDelivery.Status.SENT
    assert failed.attempts == 1


def test_notify_user_task_notifies_an_active_user_and_skips_others(user):
    inactive = UserFactory(is_active=False)

    notification_id = notify_user_task(user.pk, "system", "From a worker")

    assert Notification.objects.get(pk=notification_id).recipient == user
    assert notify_user_task(inactive.pk, "system", "Nobody") is None
    assert notify_user_task(987654, "system", "Nobody") is None
