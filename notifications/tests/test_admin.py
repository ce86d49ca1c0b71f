from unittest import mock

import pytest
from django.urls import reverse

from notifications.models import EmailDelivery
from notifications.tests.factories import NotificationFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client(client):
    admin = UserFactory(is_staff=True, is_superuser=True)
    client.force_login(admin)
    return client


@pytest.mark.parametrize(
    ("model", "query"),
    [
        ("notification", {"kind": "system", "read": "no", "q": "uni.example"}),
        ("notification", {"read": "yes"}),
        ("emaildelivery", {"status": "pending", "q": "ada"}),
        ("notificationpreference", {"kind": "welcome"}),
    ],
)
def test_admin_lists_filter_and_search(staff_client, user, model, query):
    notification = NotificationFactory(recipient=user)
    EmailDelivery.objects.create(notification=notification)

    response = staff_client.get(reverse(f"admin:notifications_{model}_changelist"), query)

    assert response.status_code == 200


def test_admin_notification_page_shows_its_delivery(staff_client, user):
    notification = NotificationFactory(recipient=user)
    EmailDelivery.objects.create(notification=notification, status=EmailDelivery.Status.FAILED, last_error="boom")

    response = staff_client.get(reverse("admin:notifications_notification_change", args=[notification.pk]))

    assert response.status_code == 200
    assert b"boom" in response.content


def test_admin_requeue_action_queues_failed_deliveries(staff_client, user, django_capture_on_commit_callbacks):
    failed = EmailDelivery.objects.create(
        notification=NotificationFactory(recipient=user), status=EmailDelivery.Status.FAILED, attempts=6
    )

    with (
        mock.patch("notifications.tasks.send_notification_email_task.delay") as delay,
        django_capture_on_commit_callbacks(execute=True),
    ):
        response = staff_client.post(
            reverse("admin:notifications_emaildelivery_changelist"),
            {"action": "requeue", "_selected_action": [failed.pk]},
            follow=True,
        )

    assert b"1 e-mail(s) queued again." in response.content
    delay.assert_called_once_with(failed.pk)
    failed.refresh_from_db()
    assert (failed.status, failed.attempts) == (EmailDelivery.Status.PENDING, 0)
