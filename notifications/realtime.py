"""Notification event types and their JSON shapes, defined once (cf. Zulip's event_types.py).

What reaches the browser is {"type": <event type>, ...payload}, pushed through the one door,
live.push.push_on_commit.
"""

from typing import Any

from django.db.models import QuerySet

from config.timezones import api_timestamp
from notifications import selectors

# Event types sent to the browser.
NOTIFICATION_NEW = "notification.new"
NOTIFICATION_READ = "notification.read"  # carries the new unread count


def notification_payload(notification) -> dict[str, Any]:
    """The JSON shape of one notification on the socket (the API serializer matches it)."""
    return {
        "id": notification.id,
        "kind": notification.kind,
        "title": notification.title,
        "body": notification.body,
        "url": notification.url,
        "created_at": api_timestamp(notification.created_at),
        "read": notification.read_at is not None,
    }


def notification_new_event(notification, *, unread: int) -> dict[str, Any]:
    return {"type": NOTIFICATION_NEW, "notification": notification_payload(notification), "unread": unread}


def notification_read_event(*, ids: list[int] | None, unread: int) -> dict[str, Any]:
    """`ids` None means "all of them" (mark all read)."""
    return {"type": NOTIFICATION_READ, "ids": ids, "all": ids is None, "unread": unread}


def hello_unread(user) -> QuerySet:
    """Notifications' count in the live socket's "hello", `unread` (the navbar badge; counted in
    the hello's one statement)."""
    return selectors.unread_for_user_id(user_id=user.pk)
