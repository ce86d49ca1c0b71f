"""live.presence in both its modes: the in-process dict (no REDIS_URL) and a real Redis."""

import time

import pytest

from live import presence

TTL = 1


@pytest.fixture(params=["in-process", "redis"])
def mode(request, settings):
    settings.CHAT_PRESENCE_TTL_SECONDS = TTL
    if request.param == "redis":
        settings.REDIS_URL = request.getfixturevalue("redis_url")
    else:
        settings.REDIS_URL = ""
    presence.reset_local()
    yield request.param  # the Redis keys of this run go before each test (conftest's _fresh_cache)
    presence.reset_local()


def test_a_heartbeat_of_a_counted_socket_renews_it_and_is_no_news(mode):
    assert presence.connect(7, "tab-1") is True

    time.sleep(0.6 * TTL)
    assert presence.heartbeat(7, "tab-1") is False
    time.sleep(0.6 * TTL)  # past the first expiry, within the renewed one

    assert presence.online_among([7]) == {7}


def test_a_heartbeat_after_the_entry_expired_brings_the_user_online_again(mode):
    presence.connect(7, "tab-1")
    time.sleep(1.2 * TTL)  # no heartbeat: the entry expired (a stalled process)
    assert presence.online_among([7]) == set()

    assert presence.heartbeat(7, "tab-1") is True

    assert presence.online_among([7]) == {7}
    assert presence.disconnect(7, "tab-1") is True  # it was registered again, and is the only one


def test_an_expired_socket_of_a_user_still_online_comes_back_without_news(mode):
    presence.connect(7, "tab-1")
    presence.connect(7, "tab-2")
    time.sleep(0.6 * TTL)
    presence.heartbeat(7, "tab-2")
    time.sleep(0.6 * TTL)  # tab-1 expired, tab-2 still counts

    assert presence.heartbeat(7, "tab-1") is False

    assert presence.disconnect(7, "tab-2") is False  # tab-1 counts again


def test_a_heartbeat_of_a_socket_never_registered_registers_it(mode):
    assert presence.heartbeat(7, "tab-1") is True
    assert presence.online_among([7]) == {7}
