"""The one door for live pushes that follow a write: push_on_commit(user_ids, event).

Every app (chat, help desk, notifications) hands its event here instead of calling
transaction.on_commit itself. After the transaction commits, the event goes out ONCE to every
open tab of all those users (chat.realtime.push_to_users: one publish for the whole set with
config.live_layer's fan-out, one hop to the event loop otherwise). A rolled-back transaction
pushes nothing. A push is at-most-once and never raises into the write it follows: the
database holds the truth and clients resync on reconnect.
"""

from collections.abc import Iterable
from functools import partial

from django.db import transaction

from chat import realtime


def publish(user_ids: list[int], event: dict) -> None:
    """Publish `event` to these users now (what push_on_commit runs after commit)."""
    realtime.push_to_users(user_ids, event)


def push_on_commit(user_ids: Iterable[int], event: dict) -> None:
    """After the current transaction commits (at once outside one), push `event` to every tab
    of these users: one publish for all of them, each user once."""
    recipients = list(dict.fromkeys(user_id for user_id in user_ids if user_id))
    if not recipients:
        return
    transaction.on_commit(partial(publish, recipients, event))
