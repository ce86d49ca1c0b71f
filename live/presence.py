"""Who has a live socket open, across every daphne process.

Each socket registers under its user with an expiry (PRESENCE_TTL_SECONDS) and refreshes it on
every heartbeat ping (the client pings every LIVE_HEARTBEAT_SECONDS), so a process that dies
without saying goodbye stops counting after one TTL. A user is online while at least one of
their sockets is registered and not expired.

With REDIS_URL: one sorted set per user (`<prefix>:chat:presence:<user id>`), members are
channel names scored by their expiry time, the key itself expiring too. Without it: a dict in
this process (embedded mode has one process anyway).

`connect` / `disconnect` say whether the user went from offline to online (or back), so the
consumer pushes a "presence" event to the user's friends only on a change. Who may see whose
presence (friends only, never blocked users) is decided by the callers: live.consumer.
"""

import threading
import time
from collections.abc import Iterable

from django.conf import settings

from config import redis_client

_lock = threading.Lock()
_local: dict[int, dict[str, float]] = {}


def ttl_seconds() -> int:
    default = 2 * int(getattr(settings, "LIVE_HEARTBEAT_SECONDS", 25)) + 10
    return int(getattr(settings, "CHAT_PRESENCE_TTL_SECONDS", default))


def _redis():
    return redis_client.for_settings()


def _key(user_id: int) -> str:
    prefix = settings.CACHES["default"].get("KEY_PREFIX", "lyceum")
    return f"{prefix}:chat:presence:{user_id}"


def _local_alive(user_id: int, now: float) -> dict[str, float]:
    sockets = _local.get(user_id, {})
    for channel in [c for c, expiry in sockets.items() if expiry <= now]:
        del sockets[channel]
    return sockets


def connect(user_id: int, channel: str) -> bool:
    """Register a socket; True when the user was offline before it."""
    now, ttl = time.time(), ttl_seconds()
    client = _redis()
    if client is None:
        with _lock:
            sockets = _local_alive(user_id, now)
            was_online = bool(sockets)
            sockets[channel] = now + ttl
            _local[user_id] = sockets
        return not was_online
    key = _key(user_id)
    pipe = client.pipeline()
    pipe.zremrangebyscore(key, "-inf", now)
    pipe.zcard(key)
    pipe.zadd(key, {channel: now + ttl})
    pipe.expire(key, ttl)
    _, before, _, _ = pipe.execute()
    return before == 0


def heartbeat(user_id: int, channel: str) -> None:
    """Keep a socket counted for another TTL."""
    connect(user_id, channel)


def disconnect(user_id: int, channel: str) -> bool:
    """Forget a socket; True when it was the user's last one (they are offline now)."""
    now = time.time()
    client = _redis()
    if client is None:
        with _lock:
            sockets = _local_alive(user_id, now)
            sockets.pop(channel, None)
            if not sockets:
                _local.pop(user_id, None)
            return not sockets
    key = _key(user_id)
    pipe = client.pipeline()
    pipe.zrem(key, channel)
    pipe.zremrangebyscore(key, "-inf", now)
    pipe.zcard(key)
    _, _, after = pipe.execute()
    return after == 0


def online_among(user_ids: Iterable[int]) -> set[int]:
    """Which of these users have a live socket now."""
    ids = list(dict.fromkeys(user_ids))
    if not ids:
        return set()
    now = time.time()
    client = _redis()
    if client is None:
        with _lock:
            return {uid for uid in ids if _local_alive(uid, now)}
    pipe = client.pipeline()
    for uid in ids:
        pipe.zcount(_key(uid), now, "+inf")
    return {uid for uid, count in zip(ids, pipe.execute(), strict=True) if count}


def reset_local() -> None:
    """Tests: forget the in-process registry."""
    with _lock:
        _local.clear()
