"""The send path's throughput pieces: one publish per push (live.layer), and the live database pool
(its own threads, connections kept between calls, pushes handed to the loop)."""

import asyncio

import pytest
from asgiref.sync import sync_to_async
from django.db import connection, connections

from live import db as live_db
from live import push

pytestmark = pytest.mark.asyncio


async def test_a_push_reaches_every_members_group_on_the_configured_layer(redis_url, settings):
    """Real Redis: ONE publish (live.layer's fan-out), the members' groups get the event
    with its JSON text encoded once; others get nothing."""
    from channels.layers import get_channel_layer

    layer = get_channel_layer()
    if not hasattr(layer, "group_send_many"):
        pytest.skip("settings configure a channel layer without the fan-out")
    channels = {}
    for user_id in (101, 102, 103):
        channels[user_id] = await layer.new_channel()
        await layer.group_add(push.user_group(user_id), channels[user_id])
    try:
        await push.apush_to_users([101, 102], {"type": "probe", "n": 1})
        for user_id in (101, 102):
            message = await asyncio.wait_for(layer.receive(channels[user_id]), timeout=5)
            assert message == {
                "type": push.LIVE_EVENT,
                "event": {"type": "probe", "n": 1},
                "text": '{"type": "probe", "n": 1}',
            }
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(layer.receive(channels[103]), timeout=0.5)
    finally:
        for user_id, channel in channels.items():
            await layer.group_discard(push.user_group(user_id), channel)


async def test_a_push_counts_one_publish_whatever_the_number_of_members(redis_url, monkeypatch):
    from channels.layers import get_channel_layer

    layer = get_channel_layer()
    if not hasattr(layer, "group_send_many"):
        pytest.skip("settings configure a channel layer without the fan-out")
    if getattr(layer, "routing", "fanout") != "fanout":
        pytest.skip("LIVE_ROUTING=process publishes once per holding process (live/tests/test_layer.py)")
    publisher = layer.state().publisher  # this event loop's publishing client (redis-py)
    publishes = []
    original = publisher.publish

    async def counting(channel, payload):
        publishes.append(channel)
        await original(channel, payload)

    monkeypatch.setattr(publisher, "publish", counting)
    await push.apush_to_users(list(range(1000, 1050)), {"type": "probe"})
    assert publishes == [layer.fanout_channel]


def _connection_identity():
    connection.ensure_connection()
    return id(connection.connection), connection.settings_dict["CONN_MAX_AGE"]


@pytest.mark.django_db(transaction=True)
async def test_the_live_pool_runs_off_the_event_loop_thread_and_keeps_its_connection(settings):
    import threading

    name = await live_db.live_db(lambda: threading.current_thread().name)()
    assert name.startswith("live-db")
    first = await live_db.live_db(_connection_identity)()
    seen = {first}
    for _ in range(2 * live_db.pool_size() + 2):
        seen.add(await live_db.live_db(_connection_identity)())
    assert first[1] == settings.LIVE_DB_CONN_MAX_AGE
    # Kept between calls: as many distinct connections as pool threads at most, not one per call.
    assert len(seen) <= live_db.pool_size()


@pytest.mark.django_db(transaction=True)
async def test_a_push_from_the_pool_is_handed_to_the_loop_and_still_delivered(monkeypatch):
    delivered = asyncio.Event()
    got = []

    class RecordingLayer:
        async def group_send(self, group, message):
            got.append((group, message["event"]["type"]))
            if len(got) == 2:
                delivered.set()

    monkeypatch.setattr("live.push.get_channel_layer", lambda: RecordingLayer())
    await live_db.live_db(push.publish)([7, 8], {"type": "probe"})
    await asyncio.wait_for(delivered.wait(), timeout=5)
    assert sorted(got) == [("user.7", "probe"), ("user.8", "probe")]
    assert await sync_to_async(lambda: live_db.event_loop())() is None  # not on the pool: waits as before


def _one_query():
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        return cursor.fetchone()[0]


@pytest.mark.django_db(transaction=True)
async def test_a_pool_connection_used_a_moment_ago_is_not_pinged_but_one_not_trusted_is(mysql_database, monkeypatch):
    """CONN_HEALTH_CHECKS pings a connection before its first query of each call; on the live
    pool a connection that finished a call cleanly under TRUSTED_SECONDS ago is not pinged."""
    assert connection.settings_dict["CONN_HEALTH_CHECKS"], "the setting this trust relaxes (set with DATABASE_URL)"
    pings = []
    wrapper_class = type(connections["default"])  # the backend's DatabaseWrapper (the pool threads' too)
    original = wrapper_class.is_usable

    def counting_is_usable(self):
        pings.append(self.alias)
        return original(self)

    monkeypatch.setattr(wrapper_class, "is_usable", counting_is_usable)
    for _ in range(3 * live_db.pool_size()):  # a connection idle since an earlier test is pinged once
        assert await live_db.live_db(_one_query)() == 1
    pings.clear()
    for _ in range(3 * live_db.pool_size()):  # every pool thread, several times
        assert await live_db.live_db(_one_query)() == 1
    assert pings == []

    monkeypatch.setattr(live_db, "TRUSTED_SECONDS", 0.0)  # nothing is recent enough: pinged again
    for _ in range(2 * live_db.pool_size()):
        assert await live_db.live_db(_one_query)() == 1
    assert len(pings) >= 2
