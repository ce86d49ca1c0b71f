"""The one door for live pushes that follow a write: push_on_commit(user_ids, event).

Every app (chat, help desk, notifications) hands its event here instead of calling
transaction.on_commit itself. After the transaction commits, the event goes out ONCE to every
open tab of all those users: one publish for the whole set with live.layer's fan-out
(its group_send_many_sync), one hop to the event loop otherwise. A rolled-back transaction
pushes nothing. A push is at-most-once and never raises into the write it follows: the
database holds the truth and clients resync on reconnect.

The publisher is chat.realtime.push_to_users, installed by chat's AppConfig.ready() through
install_publisher(): the apps' layering lets notifications (below chat) use this door but not
import chat. Until it is installed (no chat app) the door publishes user by user through
notifications.realtime.push_to_user.
"""

from collections.abc import Callable, Iterable
from functools import partial

from django.db import transaction

from notifications import realtime

Publisher = Callable[[list[int], dict], None]


def _user_by_user(user_ids: list[int], event: dict) -> None:
    for user_id in user_ids:
        realtime.push_to_user(user_id, event)


_publisher: list[Publisher] = [_user_by_user]


def install_publisher(publisher: Publisher) -> None:
    """Make `publisher(user_ids, event)` the one publish behind the door (chat's ready())."""
    _publisher[0] = publisher


def publish(user_ids: list[int], event: dict) -> None:
    """Publish `event` to these users now: what push_on_commit runs after commit."""
    _publisher[0](user_ids, event)


def push_on_commit(user_ids: Iterable[int], event: dict) -> None:
    """After the current transaction commits (at once outside one), push `event` to every tab
    of these users: one publish for all of them, each user once."""
    recipients = list(dict.fromkeys(user_id for user_id in user_ids if user_id))
    if not recipients:
        return
    transaction.on_commit(partial(publish, recipients, event))
