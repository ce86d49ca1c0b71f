"""Names of live groups and event types, defined once (cf. Zulip's event_types.py).

Every event pushed to a socket is a dict with a "type" the consumer maps to a handler; what
reaches the browser is {"type": <event type>, ...payload}.
"""

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

# Event types sent to the browser.
NOTIFICATION_NEW = "notification.new"
NOTIFICATION_READ = "notification.read"  # carries the new unread count


def user_group(user_id: int) -> str:
    """Every open tab of a user joins this group."""
    return f"user.{user_id}"


def push_to_user(user_id: int, event: dict) -> None:
    """Push an event to every open tab of one user. Call it from transaction.on_commit.

    The channel layer is at-most-once: the database holds the truth and clients resync on
    reconnect, so a failed push is logged, never raised.
    """
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        async_to_sync(layer.group_send)(user_group(user_id), {"type": "live.event", "event": event})
    except Exception:  # noqa: BLE001 - a push must never undo or break the write it follows
        import logging

        logging.getLogger(__name__).exception("live push to user %s failed", user_id)
