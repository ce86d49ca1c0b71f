from unittest import mock

import pytest
from rest_framework.test import APIClient

from notifications.models import (
    Notification,
    NotificationPreference,
    choosable_kinds,
    email_by_default,
)
from notifications.tests.factories import NotificationFactory

pytestmark = pytest.mark.django_db

LIST = "/api/v1/notifications/"
READ_ALL = "/api/v1/notifications/read-all/"
UNREAD = "/api/v1/notifications/unread-count/"
PREFS = "/api/v1/notifications/preferences/"


def read_url(pk) -> str:
    return f"/api/v1/notifications/{pk}/read/"


@pytest.fixture(autouse=True)
def _no_live_push():
    with mock.patch("live.push.publish") as push:
        yield push


@pytest.mark.parametrize(
    ("method", "path"),
    [("get", LIST), ("post", READ_ALL), ("get", UNREAD), ("get", PREFS), ("put", PREFS), ("post", read_url(1))],
)
def test_every_endpoint_needs_authentication(db, method, path):
    response = getattr(APIClient(), method)(path)

    assert response.status_code == 401
    assert "detail" in response.json()


def test_list_returns_own_notifications_newest_first_paginated(api_client, user, other_user):
    NotificationFactory.create_batch(22, recipient=user)
    NotificationFactory(recipient=other_user, title="Not mine")

    response = api_client.get(LIST)

    body = response.json()
    assert response.status_code == 200
    assert body["count"] == 22
    assert len(body["results"]) == 20
    assert body["next"]
    ids = [item["id"] for item in body["results"]]
    assert ids == sorted(ids, reverse=True)
    assert set(body["results"][0]) == {
        "id",
        "kind",
        "kind_display",
        "title",
        "body",
        "url",
        "created_at",
        "read_at",
        "read",
    }
    assert "Not mine" not in response.content.decode()


@pytest.mark.parametrize("value", ["1", "true", "True"])
def test_list_filters_unread(api_client, user, value):
    read, unread = NotificationFactory.create_batch(2, recipient=user)
    Notification.objects.filter(pk=read.pk).update(read_at=read.created_at)

    response = api_client.get(LIST, {"unread": value})

    assert [item["id"] for item in response.json()["results"]] == [unread.pk]


def test_an_unread_notification_without_a_link_is_listed_as_unread_once_then_it_is_read(api_client, user):
    # Given an announcement with no link: the list is where it is shown
    announcement = NotificationFactory(recipient=user, url="", title="Maintenance on Sunday")
    linked = NotificationFactory(recipient=user, url="/help/")

    # When a client fetches the unread ones (e.g. to resync after a reconnect)
    first = api_client.get(LIST, {"unread": "1"}).json()

    # Then it is there, unread, and counted; fetched again, it has been read
    assert {item["id"]: item["read"] for item in first["results"]} == {announcement.pk: False, linked.pk: False}
    assert first["count"] == 2
    again = api_client.get(LIST, {"unread": "1"}).json()
    assert [item["id"] for item in again["results"]] == [linked.pk]


def test_list_with_unread_0_returns_everything(api_client, user):
    NotificationFactory.create_batch(2, recipient=user)

    assert api_client.get(LIST, {"unread": "0"}).json()["count"] == 2


def test_list_with_a_bad_unread_value_is_400(api_client):
    response = api_client.get(LIST, {"unread": "maybe"})

    assert response.status_code == 400
    assert "detail" in response.json()


@pytest.mark.parametrize("page", ["abc", "999"])
def test_list_with_a_bad_page_is_404_json(api_client, page):
    response = api_client.get(LIST, {"page": page})

    assert response.status_code == 404
    assert "detail" in response.json()


def test_mark_read_returns_the_notification_read(api_client, user):
    notification = NotificationFactory(recipient=user)

    response = api_client.post(read_url(notification.pk))

    assert response.status_code == 200
    assert response.json()["read"] is True
    assert response.json()["read_at"]
    notification.refresh_from_db()
    assert notification.is_read


def test_mark_read_of_another_users_notification_is_404_and_changes_nothing(api_client, other_user, _no_live_push):
    foreign = NotificationFactory(recipient=other_user)

    response = api_client.post(read_url(foreign.pk))

    assert response.status_code == 404
    assert response.json() == {"detail": "No such notification.", "code": "not_found"}
    foreign.refresh_from_db()
    assert not foreign.is_read
    _no_live_push.assert_not_called()


@pytest.mark.parametrize("pk", ["abc", "-1", "1.5", "99999999", "9" * 40, "%20"])
def test_mark_read_with_a_bad_id_is_404_json(api_client, pk):
    response = api_client.post(read_url(pk))

    assert response.status_code == 404
    assert response.json()["detail"]


def test_mark_read_needs_post(api_client, user):
    notification = NotificationFactory(recipient=user)

    assert api_client.get(read_url(notification.pk)).status_code == 405


def test_read_all_marks_only_own(api_client, user, other_user):
    NotificationFactory.create_batch(2, recipient=user)
    foreign = NotificationFactory(recipient=other_user)

    response = api_client.post(READ_ALL)

    assert response.json() == {"marked": 2, "unread": 0}
    foreign.refresh_from_db()
    assert not foreign.is_read


def test_unread_count_counts_only_own_unread(api_client, user, other_user):
    NotificationFactory.create_batch(3, recipient=user)
    NotificationFactory(recipient=other_user)

    assert api_client.get(UNREAD).json() == {"unread": 3}


def test_preferences_read_defaults_and_write_a_subset(api_client, user):
    defaults = {kind: email_by_default(kind) for kind in choosable_kinds()}
    assert api_client.get(PREFS).json() == {"email": defaults}

    response = api_client.put(PREFS, {"email": {"system": False}}, format="json")

    assert response.status_code == 200
    assert response.json() == {"email": {**defaults, "system": False}}
    assert NotificationPreference.objects.get(user=user).kind == "system"


@pytest.mark.parametrize(
    "payload",
    [
        {},
        {"email": "yes"},
        {"email": ["system"]},
        {"email": {"nope": True}},
        {"email": {"system": "perhaps"}},
        {"email": {"system": None}},
    ],
)
def test_preferences_refuse_bad_input_with_400_json_and_change_nothing(api_client, payload):
    response = api_client.put(PREFS, payload, format="json")

    assert response.status_code == 400
    assert "detail" in response.json()
    assert not NotificationPreference.objects.exists()


def test_preferences_refuse_malformed_json(api_client):
    response = api_client.put(PREFS, "{not json", content_type="application/json")

    assert response.status_code == 400
    assert "detail" in response.json()
