"""A Redis that is down is seen at once: our clients and the cache retry once, never sleep.

Against a listener that accepts every connection and closes it at once (what a Redis that is
restarting or killed looks like to a client that gets through): a command makes exactly two
connection attempts (the first, and ONE retry on a new connection), where redis-py's default
policy makes eleven with backoff in between.
"""

import logging

import pytest
import redis
from django.core.cache.backends.redis import RedisCache

from config import redis_client
from tests.servers import ClosingListener


@pytest.fixture
def dropping_redis():
    listener = ClosingListener()
    yield listener
    listener.close()


def test_our_client_makes_one_retry_and_raises(dropping_redis):
    client = redis.Redis.from_url(
        f"redis://127.0.0.1:{dropping_redis.port}/0",
        socket_connect_timeout=1,
        socket_timeout=1,
        retry=redis_client.outage_retry(),
    )

    with pytest.raises(redis_client.UNAVAILABLE):
        client.incr("a-key")

    assert dropping_redis.accepted == 2


def test_the_shared_client_uses_the_outage_retry(dropping_redis):
    client = redis_client.client(f"redis://127.0.0.1:{dropping_redis.port}/0", connect_timeout=1, timeout=1)

    with pytest.raises(redis_client.UNAVAILABLE):
        client.get("a-key")

    assert dropping_redis.accepted == 2


def test_the_cache_of_the_settings_makes_one_retry(dropping_redis):
    """The OPTIONS settings.py gives its Redis cache (services mode), on a dropping Redis."""
    from config import settings as project_settings

    cache = RedisCache(f"redis://127.0.0.1:{dropping_redis.port}/0", {"OPTIONS": project_settings.redis_cache_options})

    with pytest.raises(redis_client.UNAVAILABLE):
        cache.get("a-key")

    assert dropping_redis.accepted == 2


@pytest.mark.parametrize(
    "error", [redis.ConnectionError("refused"), redis.exceptions.BusyLoadingError("loading"), TimeoutError("slow")]
)
def test_an_outage_is_logged_as_one_line(error, caplog):
    logger = logging.getLogger("tests.redis_down")
    redis_client.log_failure(logger, error, "could not do %s", "it")

    (record,) = caplog.records
    assert record.getMessage() == f"could not do it: {error!r}"
    assert record.levelno == logging.WARNING and record.exc_info is None


def test_anything_else_keeps_its_traceback_at_the_level_asked(caplog):
    logger = logging.getLogger("tests.redis_down")
    try:
        raise KeyError("a bug")
    except KeyError as error:
        redis_client.log_failure(logger, error, "could not do it", level=logging.ERROR)

    (record,) = caplog.records
    assert record.getMessage() == "could not do it"
    assert record.levelno == logging.ERROR and record.exc_info[0] is KeyError
