"""Names of live groups and event types, defined once (cf. Zulip's event_types.py).

Every event pushed to a socket is a dict with a "type" the consumer maps to a handler; what
reaches the browser is {"type": <event type>, ...payload}.
"""

import json
import logging
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

from config.timezones import api_timestamp

logger = logging.getLogger(__name__)

# Event types sent to the browser.
NOTIFICATION_NEW = "notification.new"
NOTIFICATION_READ = "notification.read"  # carries the new unread count

# The channel-layer message type every pushed event travels in; the live consumer's
# `live_event` handler forwards its "event" to the socket as-is.
LIVE_EVENT = "live.event"
# The channel-layer message that closes a user's sockets (live.access): {"type",
# "target"}, target naming a session or an API login, or None for every socket of the user.
LIVE_REVOKE = "live.revoke"


def user_group(user_id: int) -> str:
    """Every open tab of a user joins this group."""
    return f"user.{user_id}"


def live_event_message(event: dict) -> dict[str, Any]:
    """The channel-layer message that carries `event` to a socket: the event and its JSON text,
    encoded once for every socket it reaches (the consumer sends "text" as it is)."""
    return {"type": LIVE_EVENT, "event": event, "text": json.dumps(event)}


def publish_sync(layer, user_ids, event: dict) -> bool:
    """ONE publish of `event` to every tab of these users from synchronous code, when the layer
    has the fan-out (live.layer's group_send_many_sync); False when it has not (the
    caller then goes through the event loop). Raises what the layer raises."""
    send_many = getattr(layer, "group_send_many_sync", None)
    if send_many is None:
        return False
    send_many([user_group(user_id) for user_id in user_ids], live_event_message(event))
    return True


def revoke_message(*, target: str | None) -> dict[str, Any]:
    return {"type": LIVE_REVOKE, "target": target}


def send_to_user(user_id: int, message: dict) -> None:
    """Hand a channel-layer message to every open socket of one user, from synchronous code
    (transaction.on_commit): one publish with the fan-out layer, else a group send. Logged,
    never raised: it must never undo or break the write it follows."""
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        send_many = getattr(layer, "group_send_many_sync", None)
        if send_many is not None:
            send_many([user_group(user_id)], message)
        else:
            async_to_sync(layer.group_send)(user_group(user_id), message)
    except Exception:
        logger.exception("live push to user %s failed (%s)", user_id, message.get("type"))


def push_to_user(user_id: int, event: dict) -> None:
    """Push an event to every open tab of one user. Call it from transaction.on_commit.

    The channel layer is at-most-once: the database holds the truth and clients resync on
    reconnect, so a failed push is logged, never raised.
    """
    send_to_user(user_id, live_event_message(event))


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
