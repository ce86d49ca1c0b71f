from unittest import mock

import pytest
from django.core.exceptions import ValidationError
from django.db import transaction

from notifications import services
from notifications.models import (
    EMAIL_BY_DEFAULT,
    EmailDelivery,
    Notification,
    NotificationKind,
    NotificationPreference,
    choosable_kinds,
    email_by_default,
)
from notifications.tests.factories import NotificationFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def pushes():
    with mock.patch("live.push.publish") as push:
        yield push


@pytest.fixture
def enqueued():
    with mock.patch("notifications.tasks.send_notification_email_task.delay") as delay:
        yield delay


def test_notify_stores_the_notification_and_pushes_it_only_after_commit(
    user, pushes, enqueued, django_capture_on_commit_callbacks
):
    # Given a user, when notify() runs in a transaction
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        notification = services.notify(
            recipient=user, kind=NotificationKind.SYSTEM, title="Hello", body="Body", url="/somewhere/"
        )
        # then nothing is pushed before commit
        pushes.assert_not_called()

    # and after commit the recipient's group gets notification.new with the unread count
    assert Notification.objects.get() == notification
    assert len(callbacks) == 2
    pushes.assert_called_once()
    (user_id,), event = pushes.call_args.args
    assert user_id == user.pk
    assert event["type"] == "notification.new"
    assert event["unread"] == 1
    assert event["notification"] | {"created_at": None} == {
        "id": notification.pk,
        "kind": "system",
        "title": "Hello",
        "body": "Body",
        "url": "/somewhere/",
        "created_at": None,
        "read": False,
    }


def test_notify_rolled_back_pushes_and_queues_nothing(user, pushes, enqueued, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(RuntimeError), transaction.atomic():
        services.notify(recipient=user, kind=NotificationKind.SYSTEM, title="Never")
        raise RuntimeError("rollback")

    assert not Notification.objects.exists()
    assert not EmailDelivery.objects.exists()
    pushes.assert_not_called()
    enqueued.assert_not_called()


def test_notify_writes_the_email_outbox_row_in_the_same_transaction_and_queues_it_on_commit(
    user, pushes, enqueued, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        notification = services.notify(recipient=user, kind=NotificationKind.WELCOME, title="Welcome")
        delivery = EmailDelivery.objects.get(notification=notification)
        assert delivery.status == EmailDelivery.Status.PENDING

    enqueued.assert_not_called()
    for callback in callbacks:
        callback()
    enqueued.assert_called_once_with(delivery.pk)


def test_notify_creates_no_email_when_the_user_turned_that_kind_off(
    user, pushes, enqueued, django_capture_on_commit_callbacks
):
    NotificationPreference.objects.create(user=user, kind=NotificationKind.SYSTEM, email=False)

    with django_capture_on_commit_callbacks(execute=True):
        services.notify(recipient=user, kind=NotificationKind.SYSTEM, title="Quiet")

    assert Notification.objects.count() == 1
    assert not EmailDelivery.objects.exists()
    enqueued.assert_not_called()
    pushes.assert_called_once()


def test_notify_without_email_when_the_caller_sends_its_own_still_stores_and_pushes(
    user, pushes, enqueued, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        services.notify(recipient=user, kind=NotificationKind.SYSTEM, title="In the app only", email=False)

    assert Notification.objects.get().title == "In the app only"
    assert not EmailDelivery.objects.exists()
    enqueued.assert_not_called()
    pushes.assert_called_once()


def test_notify_uses_the_kinds_default_without_a_preference_row(user, pushes, enqueued, monkeypatch):
    monkeypatch.setitem(EMAIL_BY_DEFAULT, NotificationKind.SYSTEM, False)

    services.notify(recipient=user, kind=NotificationKind.SYSTEM, title="Default off")

    assert not EmailDelivery.objects.exists()


def test_notify_sends_no_email_to_an_inactive_user(pushes, enqueued):
    user = UserFactory(is_active=False)

    services.notify(recipient=user, kind=NotificationKind.WELCOME, title="Hi")

    assert not EmailDelivery.objects.exists()


def test_a_broker_outage_at_commit_keeps_the_delivery_pending_for_the_sweep(
    user, pushes, django_capture_on_commit_callbacks
):
    with (
        mock.patch("notifications.tasks.send_notification_email_task.delay", side_effect=ConnectionError("broker")),
        django_capture_on_commit_callbacks(execute=True),
    ):
        notification = services.notify(recipient=user, kind=NotificationKind.WELCOME, title="Hi")

    assert notification.email_delivery.status == EmailDelivery.Status.PENDING


@pytest.mark.parametrize(
    ("field", "kwargs"),
    [
        ("kind", {"kind": "no-such-kind", "title": "x"}),
        ("title", {"kind": NotificationKind.SYSTEM, "title": "   "}),
        ("url", {"kind": NotificationKind.SYSTEM, "title": "x", "url": "https://evil.example/"}),
        ("url", {"kind": NotificationKind.SYSTEM, "title": "x", "url": "//evil.example/"}),
        ("url", {"kind": NotificationKind.SYSTEM, "title": "x", "url": "javascript:alert(1)"}),
    ],
)
def test_notify_refuses_bad_input_and_stores_nothing(user, pushes, field, kwargs):
    with pytest.raises(ValidationError) as excinfo:
        services.notify(recipient=user, **kwargs)

    assert field in excinfo.value.message_dict
    assert not Notification.objects.exists()


def test_notify_clips_an_overlong_title_and_flattens_newlines(user, pushes, enqueued):
    notification = services.notify(recipient=user, kind="system", title="Line one\r\nline two " + "x" * 300)

    assert len(notification.title) == 200
    assert "\n" not in notification.title and notification.title.startswith("Line one line two")


def test_mark_read_marks_own_notification_and_pushes_the_new_unread_count(
    user, pushes, django_capture_on_commit_callbacks
):
    first, _second = NotificationFactory.create_batch(2, recipient=user)

    with django_capture_on_commit_callbacks(execute=True):
        services.mark_read(user=user, notification_id=first.pk)

    first.refresh_from_db()
    assert first.is_read
    pushes.assert_called_once_with(
        [user.pk], {"type": "notification.read", "ids": [first.pk], "all": False, "unread": 1}
    )


def test_mark_read_twice_changes_nothing_the_second_time(user, pushes, django_capture_on_commit_callbacks):
    notification = NotificationFactory(recipient=user)
    services.mark_read(user=user, notification_id=notification.pk)
    first_read_at = Notification.objects.get().read_at

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        services.mark_read(user=user, notification_id=notification.pk)

    assert Notification.objects.get().read_at == first_read_at
    assert callbacks == []


def test_mark_read_of_another_users_notification_is_not_found_and_changes_nothing(user, other_user, pushes):
    foreign = NotificationFactory(recipient=other_user)

    with pytest.raises(Notification.DoesNotExist):
        services.mark_read(user=user, notification_id=foreign.pk)

    foreign.refresh_from_db()
    assert not foreign.is_read
    pushes.assert_not_called()


def test_mark_all_read_marks_only_own_unread_and_pushes_zero(
    user, other_user, pushes, django_capture_on_commit_callbacks
):
    NotificationFactory.create_batch(3, recipient=user)
    NotificationFactory(recipient=other_user)

    with django_capture_on_commit_callbacks(execute=True):
        changed = services.mark_all_read(user=user)

    assert changed == 3
    assert not Notification.objects.filter(recipient=user, read_at__isnull=True).exists()
    assert Notification.objects.filter(recipient=other_user, read_at__isnull=True).count() == 1
    pushes.assert_called_once_with([user.pk], {"type": "notification.read", "ids": None, "all": True, "unread": 0})


def test_set_email_preferences_upserts_the_given_kinds_and_keeps_the_others(user):
    services.set_email_preferences(user=user, kinds={"system": False})
    choices = services.set_email_preferences(user=user, kinds={"system": True, "welcome": False})

    assert choices == {
        **{kind: email_by_default(kind) for kind in choosable_kinds()},
        "system": True,
        "welcome": False,
    }
    assert NotificationPreference.objects.filter(user=user).count() == 2


@pytest.mark.parametrize("kinds", [{"nope": True}, {"system": "yes"}, {"system": 1}])
def test_set_email_preferences_refuses_unknown_kinds_and_non_booleans(user, kinds):
    with pytest.raises(ValidationError):
        services.set_email_preferences(user=user, kinds=kinds)

    assert not NotificationPreference.objects.exists()
