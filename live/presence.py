"""Who has a live socket open, across every daphne process.

Each socket registers under its user with an expiry (PRESENCE_TTL_SECONDS) and refreshes it on
every heartbeat ping (the client pings every LIVE_HEARTBEAT_SECONDS), so a process that dies
without saying goodbye stops counting after one TTL. A user is online while at least one of
their sockets is registered and not expired.

With REDIS_URL: one sorted set per user (`<prefix>:chat:presence:<user id>`), members are
channel names scored by their expiry time, the key itself expiring too. Without it: a dict in
this process (embedded mode has one process anyway).

`connect` / `disconnect` (and a `heartbeat` that finds its entry expired) say whether the user
went from offline to online (or back), so the consumer (live.consumer) pushes a PRESENCE event
to the user's audience only on a change. Who that audience is (friends only, never blocked
users) and what the event carries are not decided here: the app that knows friendships
installs them (chat's AppConfig.ready, install_policy).
Without a policy nobody is told, and "presence.query" answers that no one is online.
"""

import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from django.conf import settings

from config import redis_client

# Server → client event types, and the frame that asks.
PRESENCE = "presence"  # someone of my audience came online or went offline
PRESENCE_STATE = "presence.state"  # the answer to FRAME_PRESENCE_QUERY
FRAME_PRESENCE_QUERY = "presence.query"


@dataclass(frozen=True)
class Policy:
    """Who hears of a user's presence and what they hear.

    `audience(user=)`: {user id: public id} of the users who may see `user` online (a read, run
    on the live database pool); `event(user=, online=)`: the PRESENCE event they get."""

    audience: Callable[..., dict[int, Any]]
    event: Callable[..., dict[str, Any]]


def _nobody(*, user) -> dict[int, Any]:
    return {}


def _no_event(*, user, online: bool) -> dict[str, Any]:
    return {"type": PRESENCE, "online": online}


_policy: list[Policy] = [Policy(audience=_nobody, event=_no_event)]


def install_policy(policy: Policy) -> None:
    """Make `policy` decide who hears of presence (the app that knows friendships, at ready())."""
    _policy[0] = policy


def policy() -> Policy:
    """The installed presence policy (one that tells nobody until an app installs its own)."""
    return _policy[0]


def presence_state_event(*, online_public_ids) -> dict[str, Any]:
    """The answer to FRAME_PRESENCE_QUERY: the public ids of the audience online now (the policy's
    audience maps their ids, so this costs no query)."""
    return {"type": PRESENCE_STATE, "online": sorted(str(public_id) for public_id in online_public_ids)}


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


def heartbeat(user_id: int, channel: str) -> bool:
    """Keep a socket counted for another TTL; True when the user came online again with it.

    A live entry is renewed in place: with Redis one round trip of three commands and no
    transaction (drop expired entries, ZADD XX CH to renew only an entry that is still there,
    push the key's expiry). An entry that had expired meanwhile (a stalled process, a lost
    heartbeat) stopped counting, and the user may have gone offline for their audience: the
    socket then registers again through `connect`, which says whether the user was offline."""
    now, ttl = time.time(), ttl_seconds()
    client = _redis()
    if client is None:
        with _lock:
            sockets = _local.get(user_id, {})
            renewed = sockets.get(channel, 0.0) > now
            if renewed:
                sockets[channel] = now + ttl
    else:
        key = _key(user_id)
        pipe = client.pipeline(transaction=False)
        pipe.zremrangebyscore(key, "-inf", now)
        pipe.zadd(key, {channel: now + ttl}, xx=True, ch=True)
        pipe.expire(key, ttl)
        _, changed, _ = pipe.execute()
        renewed = changed == 1
    return False if renewed else connect(user_id, channel)


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
