"""Fixtures of the fault tests: a private Redis and the chat room they break things under."""

import uuid

import pytest

from tests.faults.processes import REDIS_SERVER, PrivateRedis
from tests.faults.scenario import make_room


@pytest.fixture
def private_redis():
    """A redis-server of this test alone (never the shared one), started and finally killed."""
    if REDIS_SERVER is None:
        pytest.skip("redis-server is not installed: the fault tests start a private one (apt-get install redis-server)")
    redis = PrivateRedis()
    redis.start()
    yield redis
    redis.kill()


@pytest.fixture
def daphne_env(private_redis) -> dict[str, str]:
    """What the daphne processes of a fault test share: the private Redis, their own key prefix."""
    return {"REDIS_URL": private_redis.url, "REDIS_KEY_PREFIX": f"lyceum-faults-{uuid.uuid4().hex[:8]}"}


@pytest.fixture
def room(transactional_db):
    return make_room()
