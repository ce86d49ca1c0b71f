"""The one place that makes synchronous Redis clients for our own code (not the channel layer,
live.layer, which has its own connections): redis-py's public `redis.Redis.from_url`,
one client per URL and timeout, shared by every thread of the process (a redis-py client is
thread-safe: each command takes a connection from the client's pool).

Django's cache API has no multi-command round trip (SET NX + INCR in one round trip), and its
Redis backend keeps its client private: code that needs more than the cache API takes a client
from here, for the same Redis the cache uses (`for_cache`), and keys from the cache's public
`make_and_validate_key`. Every error of such a client is a `redis.RedisError` or an `OSError`:
callers catch those and carry on without Redis where they can.
"""

import logging
import threading

import redis
from django.conf import settings
from redis.backoff import NoBackoff
from redis.retry import Retry

# What Redis being down or restarting raises, from a client here or from Django's Redis cache
# (both redis-py): callers that carry on without Redis catch exactly these, and log them as one
# line (the outage is the news, not its traceback); anything else is a bug and keeps its traceback.
UNAVAILABLE: tuple[type[BaseException], ...] = (redis.RedisError, OSError)


def log_failure(logger: logging.Logger, exc: BaseException, message: str, *args, level: int = logging.WARNING) -> None:
    """The one way to log a Redis call that failed and was carried on from: an outage
    (UNAVAILABLE) is one line, `message` then ": " and the error's repr; anything else keeps
    its traceback (a bug, not an outage). `args` are `message`'s %-arguments."""
    if isinstance(exc, UNAVAILABLE):
        logger.log(level, message + ": %r", *args, exc)
    else:
        logger.log(level, message, *args, exc_info=exc)


def outage_retry(retry_class: type = Retry):
    """The retry policy of every Redis client of ours, of the cache (settings.CACHES) and of the
    channel layer (live.layer, which passes redis-py's asyncio `Retry` for its async clients): ONE
    immediate retry on a new connection, never a sleep. It replaces a pooled connection that a
    restarted Redis dropped; a Redis that is down costs a caller one more refused connect (or
    its timeout), not redis-py's default ten retries with up to 1 s of backoff each, which held
    a live database thread for seconds per command and stalled every send of the outage."""
    return retry_class(NoBackoff(), 1)


_clients: dict[tuple[str, float, float], redis.Redis] = {}
_lock = threading.Lock()


def client(url: str, *, connect_timeout: float = 2, timeout: float = 5) -> redis.Redis:
    """The shared client for `url`: short timeouts, so a Redis that is down costs a caller at
    most `connect_timeout` (connecting) or `timeout` (a command) before it raises."""
    key = (url, float(connect_timeout), float(timeout))
    found = _clients.get(key)
    if found is None:
        with _lock:
            found = _clients.get(key)
            if found is None:
                found = _clients[key] = redis.Redis.from_url(
                    url, socket_connect_timeout=connect_timeout, socket_timeout=timeout, retry=outage_retry()
                )
    return found


def for_cache(alias: str = "default") -> redis.Redis | None:
    """A client for the Redis of cache `alias` (its first LOCATION, where Django's Redis cache
    writes) with the cache's own timeouts; None when that cache is not Redis."""
    config = settings.CACHES.get(alias, {})
    if config.get("BACKEND") != "django.core.cache.backends.redis.RedisCache":
        return None
    location = config.get("LOCATION")
    if isinstance(location, str):
        location = location.split(",")
    options = config.get("OPTIONS", {})
    return client(
        location[0].strip(),
        connect_timeout=options.get("socket_connect_timeout", 2),
        timeout=options.get("socket_timeout", 5),
    )


def for_settings() -> redis.Redis | None:
    """A client for settings.REDIS_URL; None without one (the embedded setup)."""
    url = getattr(settings, "REDIS_URL", "")
    return client(url) if url else None


def forget() -> None:
    """Drop every client (tests that point the settings at another Redis)."""
    with _lock:
        _clients.clear()
