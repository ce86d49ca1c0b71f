"""The one door for live pushes: push_on_commit(user_ids, event), and apush_to_users for async
code (the live consumer's own frames).

Every app (chat, help desk, notifications, accounts) hands its event here; no other module opens
the channel layer (tests/test_live_package.py holds that). After the transaction commits, the
event goes out ONCE to every open tab of all those users: one publish for the whole set with
live.layer's fan-out (its group_send_many_sync), one hop to the event loop otherwise. A
rolled-back transaction pushes nothing. A push is at-most-once and never raises into the write it
follows: the database holds the truth and clients resync on reconnect.

Every open tab of a user joins that user's group (user_group); what travels to it is a LIVE_EVENT
channel-layer message carrying the event and its JSON text, encoded once here for every socket
(the consumer sends the text as it is). send_on_commit is the same door for a channel-layer
message that is not an event for the browser (live.access's revocation).
"""

import asyncio
import json
import logging
import weakref
from collections.abc import Iterable
from functools import partial
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

from config import redis_client
from live import db

logger = logging.getLogger(__name__)

# The channel-layer message type every pushed event travels in; the live consumer forwards its
# "event" to the socket as-is.
LIVE_EVENT = "live.event"


def user_group(user_id: int) -> str:
    """Every open tab of a user joins this group."""
    return f"user.{user_id}"


def live_event_message(event: dict) -> dict[str, Any]:
    """The channel-layer message that carries `event` to a socket: the event and its JSON text,
    encoded once for every socket it reaches (the consumer sends "text" as it is)."""
    return {"type": LIVE_EVENT, "event": event, "text": json.dumps(event)}


def _kind(message: dict) -> str:
    """What a log line calls the message: its event's type, else its own."""
    event = message.get("event")
    return event.get("type") if isinstance(event, dict) else message.get("type")


def _recipients(user_ids: Iterable[int]) -> list[int]:
    return list(dict.fromkeys(user_id for user_id in user_ids if user_id))


def push_on_commit(user_ids: Iterable[int], event: dict) -> None:
    """After the current transaction commits (at once outside one), push `event` to every tab
    of these users: one publish for all of them, each user once."""
    recipients = _recipients(user_ids)
    if recipients:
        transaction.on_commit(partial(publish, recipients, event))


def send_on_commit(user_ids: Iterable[int], message: dict) -> None:
    """After the current transaction commits, hand the channel-layer `message` (a dict with the
    "type" the live consumer handles) to every open socket of these users."""
    recipients = _recipients(user_ids)
    if recipients:
        transaction.on_commit(partial(send_to_users, recipients, message))


def publish(user_ids: list[int], event: dict) -> None:
    """Publish `event` to these users now: what push_on_commit runs after commit."""
    send_to_users(user_ids, live_event_message(event))


def send_to_users(user_ids: Iterable[int], message: dict) -> None:
    """Hand one channel-layer message to every open socket of these users, now, from synchronous
    code. Logged, never raised: it must never undo or break the write it follows.

    With the configured layer (live.layer) this is ONE publish from the calling thread, whoever
    the recipients: a live socket's database thread publishes right after its commit, without
    handing anything to the busy event loop. With another layer: one hop to the event loop for
    all of them — on a thread of the live socket's database pool (live.db) handed over and not
    waited for (the pool's threads are the send path's capacity), elsewhere waited for."""
    user_ids = list(user_ids)
    layer = get_channel_layer()
    if not user_ids or layer is None:
        return
    send_many = getattr(layer, "group_send_many_sync", None)
    if send_many is not None:
        try:
            send_many([user_group(user_id) for user_id in user_ids], message)
        except Exception as exc:  # noqa: BLE001 - Redis down: the clients catch up when it is back
            redis_client.log_failure(
                logger, exc, "live push of %s to %s users failed", _kind(message), len(user_ids), level=logging.ERROR
            )
        return
    loop = db.event_loop()
    if loop is not None:
        coroutine = asend_to_users(user_ids, message)
        try:
            future = asyncio.run_coroutine_threadsafe(coroutine, loop)
        except RuntimeError:  # the loop closed meanwhile (process stopping): a hint is lost
            coroutine.close()
            logger.warning("live push of %s dropped: the event loop is closed", _kind(message))
            return
        _in_flight.add(future)  # a strong reference until it is done
        future.add_done_callback(_in_flight.discard)
        return
    try:
        async_to_sync(asend_to_users)(user_ids, message)
    except Exception:
        logger.exception("live push of %s to %s users failed", _kind(message), len(user_ids))


_in_flight: set = set()

# Concurrent group sends per event loop when they go one by one (a layer without the fan-out):
# the Redis core layer's connection pool holds 100 per process and raises when it runs out.
LAYER_CONCURRENCY = 32
_layer_slots: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore]" = weakref.WeakKeyDictionary()


def _slots() -> asyncio.Semaphore:
    loop = asyncio.get_running_loop()  # asyncio primitives belong to the loop that uses them
    slots = _layer_slots.get(loop)
    if slots is None:
        slots = _layer_slots[loop] = asyncio.Semaphore(LAYER_CONCURRENCY)
    return slots


async def apush_to_users(user_ids: Iterable[int], event: dict) -> None:
    """Push `event` to every tab of these users now, from async code (the live consumer's
    frames, which write nothing to wait for): never raises.

    With the configured layer (live.layer) a push to any number of users is ONE publish, read
    once by each daphne process, which hands it to its own sockets of those users; the event's
    JSON text is encoded once here, not once per socket."""
    await asend_to_users(user_ids, live_event_message(event))


async def asend_to_users(user_ids: Iterable[int], message: dict) -> None:
    """send_to_users from async code. With a layer without the fan-out (the in-memory one of the
    embedded default) the group sends run concurrently, at most LAYER_CONCURRENCY at a time."""
    layer = get_channel_layer()
    user_ids = list(user_ids)
    if layer is None or not user_ids:
        return
    groups = [user_group(user_id) for user_id in user_ids]
    send_many = getattr(layer, "group_send_many", None)
    if send_many is not None:
        try:
            await send_many(groups, message)
        except Exception:
            logger.exception("live push of %s to users %s failed", _kind(message), user_ids)
        return
    slots = _slots()

    async def send(group):
        async with slots:
            await layer.group_send(group, message)

    results = await asyncio.gather(*(send(group) for group in groups), return_exceptions=True)
    for user_id, result in zip(user_ids, results, strict=True):
        if isinstance(result, BaseException):  # a hint that did not go out costs nothing
            if not isinstance(result, Exception):
                raise result  # cancelled: not ours to swallow
            logger.error("live push to user %s failed", user_id, exc_info=result)
