"""live.layer on a real Redis: one publish per event, delivered by every process to its
own members of the named groups. Two layer instances with their own connections stand in for
two daphne processes (tests/multiprocess proves the same with real daphnes)."""

import asyncio
import time
import uuid
from collections import Counter

import pytest
import pytest_asyncio

from live.layer import FanoutChannelLayer

pytestmark = pytest.mark.asyncio


def _layer(redis_url, prefix, **config):
    return FanoutChannelLayer(hosts=[{"address": redis_url, "socket_timeout": None}], prefix=prefix, **config)


async def _receive(layer, channel, timeout=5.0):
    return await asyncio.wait_for(layer.receive(channel), timeout=timeout)


async def _until(condition, timeout=2.5):
    """Wait for what a sink is given (it is called by the layer's reader, not awaited here)."""
    for _ in range(int(timeout / 0.05)):
        if condition():
            return
        await asyncio.sleep(0.05)


async def _nothing_for(layer, channel, timeout=0.3):
    """Last check on a channel: a cancelled receive makes the layer drop the channel."""
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(layer.receive(channel), timeout=timeout)


@pytest_asyncio.fixture(params=["fanout", "process"])
async def two_processes(redis_url, request):
    prefix = f"lyceum-test-fanout-{uuid.uuid4().hex[:8]}"
    first, second = _layer(redis_url, prefix, routing=request.param), _layer(redis_url, prefix, routing=request.param)
    yield first, second
    await first.flush()
    await second.flush()


async def test_one_event_reaches_every_member_in_each_process_and_nobody_else(two_processes):
    first, second = two_processes
    ada_tab1, ada_tab2 = await first.new_channel(), await second.new_channel()  # ada: a tab in each
    bob, eve = await first.new_channel(), await second.new_channel()
    for group, channel in [("user.1", ada_tab1), ("user.1", ada_tab2), ("user.2", bob), ("user.3", eve)]:
        await (first if channel in (ada_tab1, bob) else second).group_add(group, channel)

    message = {"type": "live.event", "event": {"type": "probe", "n": 1}, "text": '{"type": "probe", "n": 1}'}
    await first.group_send_many(["user.1", "user.2", "user.9"], message)

    assert await _receive(first, ada_tab1) == message
    assert await _receive(second, ada_tab2) == message
    assert await _receive(first, bob) == message
    await _nothing_for(second, eve)


async def test_a_channel_in_several_of_the_groups_gets_the_event_once(two_processes):
    first, _ = two_processes
    channel = await first.new_channel()
    await first.group_add("user.1", channel)
    await first.group_add("conversation.5", channel)
    await first.group_send_many(["user.1", "conversation.5", "user.1"], {"type": "live.event", "n": 1})
    assert await _receive(first, channel) == {"type": "live.event", "n": 1}
    await _nothing_for(first, channel)


async def test_each_receiver_gets_its_own_message_dict(two_processes):
    first, _ = two_processes
    one, two = await first.new_channel(), await first.new_channel()
    await first.group_add("user.1", one)
    await first.group_add("user.2", two)
    await first.group_send_many(["user.1", "user.2"], {"type": "live.event", "n": 1})
    got_one = await _receive(first, one)
    got_one["n"] = 2  # a consumer that changes its copy changes nobody else's
    assert await _receive(first, two) == {"type": "live.event", "n": 1}


async def test_events_arrive_in_the_order_they_were_published(two_processes):
    first, second = two_processes
    channel = await second.new_channel()
    await second.group_add("user.1", channel)
    await asyncio.sleep(0.1)  # the receiving process is subscribed before the burst
    for n in range(50):
        await first.group_send_many(["user.1"], {"type": "live.event", "n": n})
    assert [(await _receive(second, channel))["n"] for _ in range(50)] == list(range(50))


async def test_after_the_last_member_leaves_a_group_its_events_stop(two_processes):
    first, _ = two_processes
    channel = await first.new_channel()
    await first.group_add("user.1", channel)
    await first.group_discard("user.1", channel)
    await first.group_send_many(["user.1"], {"type": "live.event"})
    await _nothing_for(first, channel)


async def test_plain_group_send_still_works_beside_the_fanout(two_processes):
    first, second = two_processes
    channel = await second.new_channel()
    await second.group_add("user.1", channel)
    await first.group_send("user.1", {"type": "live.event", "via": "group_send"})
    assert await _receive(second, channel) == {"type": "live.event", "via": "group_send"}


async def test_an_empty_group_list_publishes_nothing(two_processes):
    first, _ = two_processes
    channel = await first.new_channel()
    await first.group_add("user.1", channel)
    await first.group_send_many([], {"type": "live.event"})
    await _nothing_for(first, channel)


async def test_a_corrupt_publish_on_the_fanout_channel_is_dropped_and_the_reader_goes_on(two_processes, redis_url):
    from redis.asyncio import Redis

    first, _ = two_processes
    channel = await first.new_channel()
    await first.group_add("user.1", channel)
    client = Redis.from_url(redis_url)
    try:
        await client.publish(first.fanout_channel, b"\x00not msgpack")
    finally:
        await client.aclose()
    await first.group_send_many(["user.1"], {"type": "live.event", "n": 1})
    assert await _receive(first, channel) == {"type": "live.event", "n": 1}


async def test_with_encryption_keys_the_fanout_is_encrypted_on_the_wire_and_still_delivered(redis_url):
    from redis.asyncio import Redis

    prefix = f"lyceum-test-fanout-{uuid.uuid4().hex[:8]}"
    layer = _layer(redis_url, prefix, symmetric_encryption_keys=["a-key-for-this-test"])
    spy = Redis.from_url(redis_url).pubsub()
    try:
        channel = await layer.new_channel()
        await layer.group_add("user.1", channel)
        await spy.subscribe(layer.fanout_channel)
        await layer.group_send_many(["user.1"], {"type": "live.event", "secret": "between-us"})
        assert await _receive(layer, channel) == {"type": "live.event", "secret": "between-us"}
        raw = None
        for _ in range(50):
            raw = await spy.get_message(ignore_subscribe_messages=True, timeout=0.1)
            if raw:
                break
        assert raw is not None and b"between-us" not in raw["data"]
    finally:
        await spy.aclose()
        await layer.flush()


async def test_after_the_subscriber_connection_comes_back_every_local_channel_is_told_to_catch_up(
    two_processes, redis_url
):
    """Redis drops this process's pub/sub connection (CLIENT KILL of exactly that one): what
    was published meanwhile is lost here, so once redis-py has reconnected and subscribed
    again, each local channel gets RESUBSCRIBED — and the fan-out works again."""
    import redis

    from live.layer import RESUBSCRIBED

    first, second = two_processes
    ada, bob = await first.new_channel(), await first.new_channel()
    await first.group_add("user.1", ada)
    await first.group_add("user.2", bob)
    elsewhere = await second.new_channel()
    await second.group_add("user.3", elsewhere)
    name = first.state().subscriber_name  # the reader names its connection (CLIENT SETNAME)
    client = redis.Redis.from_url(redis_url)
    try:
        ids = [entry["id"] for entry in client.client_list() if entry.get("name") == name]
        assert len(ids) == 1
        client.execute_command("CLIENT", "KILL", "ID", ids[0])
    finally:
        client.close()

    assert await _receive(first, ada, timeout=10) == {"type": RESUBSCRIBED}
    assert await _receive(first, bob, timeout=10) == {"type": RESUBSCRIBED}
    await first.group_send_many(["user.1", "user.3"], {"type": "live.event", "n": 2})
    assert await _receive(first, ada) == {"type": "live.event", "n": 2}
    # The other process lost nothing: it was told nothing, its next message is the event.
    assert await _receive(second, elsewhere) == {"type": "live.event", "n": 2}
    await _nothing_for(first, bob)


async def test_the_sync_publish_reaches_the_async_subscribers(two_processes):
    """group_send_many_sync (a database thread after its commit): the same one publish."""
    from asgiref.sync import sync_to_async

    first, second = two_processes
    channel = await second.new_channel()
    await second.group_add("user.1", channel)
    await sync_to_async(first.group_send_many_sync, thread_sensitive=False)(
        ["user.1", "user.2"], {"type": "live.event"}
    )
    assert await _receive(second, channel) == {"type": "live.event"}


# --- sinks: a channel that takes its fan-out events directly (the live consumer under daphne) ---


async def test_a_sink_takes_its_channels_fanout_events_instead_of_the_queue(two_processes):
    first, second = two_processes
    direct, queued = await first.new_channel(), await first.new_channel()
    elsewhere = await second.new_channel()
    await first.group_add("user.1", direct)
    await first.group_add("user.2", queued)
    await second.group_add("user.1", elsewhere)
    taken = []
    first.attach_sink(direct, taken.append)

    message = {"type": "live.event", "event": {"type": "probe"}, "text": '{"type": "probe"}'}
    await second.group_send_many(["user.1", "user.2"], message)

    assert await _receive(first, queued) == message  # no sink: the queue, as before
    assert await _receive(second, elsewhere) == message  # the other process: its own business
    assert taken == [message]
    await _nothing_for(first, direct)


async def test_a_sink_gets_the_events_in_the_order_they_were_published(two_processes):
    first, _ = two_processes
    channel = await first.new_channel()
    await first.group_add("user.1", channel)
    taken = []
    first.attach_sink(channel, taken.append)
    for n in range(50):
        await first.group_send_many(["user.1"], {"type": "live.event", "n": n})
    await _until(lambda: len(taken) == 50)
    assert [message["n"] for message in taken] == list(range(50))


async def test_a_message_the_sink_declines_goes_to_the_queue(two_processes):
    first, _ = two_processes
    channel = await first.new_channel()
    await first.group_add("user.1", channel)
    first.attach_sink(channel, lambda message: False)
    await first.group_send_many(["user.1"], {"type": "something.else"})
    assert await _receive(first, channel) == {"type": "something.else"}


async def test_a_failing_sink_costs_no_other_channel_its_event(two_processes, caplog):
    first, _ = two_processes
    broken, fine = await first.new_channel(), await first.new_channel()
    await first.group_add("user.1", broken)
    await first.group_add("user.1", fine)

    def explode(message):
        raise RuntimeError("socket gone wrong")

    taken = []
    first.attach_sink(broken, explode)
    first.attach_sink(fine, taken.append)
    await first.group_send_many(["user.1"], {"type": "live.event", "n": 1})
    await first.group_send_many(["user.1"], {"type": "live.event", "n": 2})
    await _until(lambda: len(taken) == 2)
    assert [message["n"] for message in taken] == [1, 2]
    assert "the sink of" in caplog.text
    await _nothing_for(first, broken)  # a failed sink's event is not queued a second way


async def test_after_detach_the_events_take_the_queue_again(two_processes):
    first, _ = two_processes
    channel = await first.new_channel()
    await first.group_add("user.1", channel)
    taken = []
    first.attach_sink(channel, taken.append)
    first.detach_sink(channel)
    first.detach_sink(channel)  # twice is harmless
    await first.group_send_many(["user.1"], {"type": "live.event", "n": 1})
    assert await _receive(first, channel) == {"type": "live.event", "n": 1}
    assert taken == []


async def test_a_channel_the_layer_drops_loses_its_sink(two_processes):
    """The layer drops a channel whose receive is cancelled (its consumer is gone): the sink
    and its group memberships go with it, so a dead socket's writer is not kept."""
    first, _ = two_processes
    channel = await first.new_channel()
    await first.group_add("user.1", channel)
    first.attach_sink(channel, lambda message: True)
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(first.receive(channel), timeout=0.1)
    assert channel not in first.state().sinks
    assert "user.1" not in first.state().groups


async def test_a_join_while_redis_is_down_fails_within_the_subscribe_timeout(monkeypatch):
    """No Redis answers (the discard port): group_add raises instead of hanging the socket's
    connect, and the reader keeps trying in the background until the layer is flushed."""
    import redis

    from live import layer as live_layer

    monkeypatch.setattr(live_layer, "SUBSCRIBE_TIMEOUT", 0.5)
    layer = FanoutChannelLayer(hosts=["redis://127.0.0.1:9/0"], prefix="lyceum-test-down")
    channel = await layer.new_channel()
    with pytest.raises(redis.ConnectionError):
        await layer.group_add("user.1", channel)
    assert layer.state().reader is not None and not layer.state().reader.done()
    await layer.flush()


@pytest_asyncio.fixture
async def routed(redis_url):
    prefix = f"lyceum-test-routed-{uuid.uuid4().hex[:8]}"
    layers = [_layer(redis_url, prefix, routing="process") for _ in range(3)]
    yield layers
    for layer in layers:
        await layer.flush()


@pytest.fixture
def redis_client(redis_url):
    """A plain (sync) client of the test's Redis, to look at or tamper with the layer's keys."""
    import redis

    client = redis.Redis.from_url(redis_url)
    yield client
    client.close()


async def _member(layer, *groups: str) -> str:
    """A new channel of `layer` (a process), added to each of `groups`."""
    channel = await layer.new_channel()
    for group in groups:
        await layer.group_add(group, channel)
    return channel


async def test_routing_sends_an_event_only_to_the_processes_that_hold_a_member(routed):
    holder, idle, sender = routed
    ada = await holder.new_channel()
    await holder.group_add("user.1", ada)
    bystander = await idle.new_channel()
    await idle.group_add("user.2", bystander)
    message = {"type": "live.event", "event": {"type": "probe"}, "text": "{}"}

    await sender.group_send_many(["user.1", "user.9"], message)
    assert await _receive(holder, ada) == message
    await asyncio.to_thread(sender.group_send_many_sync, ["user.1"], message)
    assert await _receive(holder, ada) == message
    await _nothing_for(idle, bystander)
    assert idle.state().received == 0
    assert holder.state().received == holder.state().delivered == 2


async def test_routing_forgets_a_group_after_its_last_member_left(routed):
    holder, _, sender = routed
    ada = await holder.new_channel()
    await holder.group_add("user.1", ada)
    await holder.group_discard("user.1", ada)
    await sender.group_send_many(["user.1"], {"type": "live.event", "text": "{}"})
    await asyncio.sleep(0.3)
    assert holder.state().received == 0


class HeldRoutes:
    """Holds a layer's registry commands (SADD or SREM of a route key, from its publisher) until
    released, and records in `log` when Redis acknowledged each: the order two pooled
    connections could deliver them in, made deterministic."""

    def __init__(self, layer, monkeypatch, hold):
        import redis.asyncio

        self.pool = layer.state().publisher.connection_pool
        self.hold = hold  # the command names to hold ("SADD", "SREM")
        self.released = asyncio.Event()
        self.reached = asyncio.Event()
        self.log: list[str] = []
        route_key = layer.route_key("")
        held = self

        def text(value):
            return value.decode() if isinstance(value, bytes) else str(value)

        def names(args_list):
            return {str(args[0]).upper() for args in args_list if len(args) > 1 and text(args[1]).startswith(route_key)}

        original_execute = redis.asyncio.client.Pipeline.execute
        original_command = redis.asyncio.Redis.execute_command

        async def execute(pipe, *args, **kwargs):
            queued = names([command[0] for command in pipe.command_stack])
            return await held.run(pipe, queued, original_execute, pipe, *args, **kwargs)

        async def execute_command(client, *args, **options):
            return await held.run(client, names([args]), original_command, client, *args, **options)

        monkeypatch.setattr(redis.asyncio.client.Pipeline, "execute", execute)
        monkeypatch.setattr(redis.asyncio.Redis, "execute_command", execute_command)

    async def run(self, client, names, original, *args, **kwargs):
        if client.connection_pool is not self.pool or not names:
            return await original(*args, **kwargs)
        if names & self.hold:
            self.reached.set()
            await self.released.wait()
        result = await original(*args, **kwargs)
        self.log.extend(f"{name} acknowledged" for name in sorted(names))
        return result


async def test_a_second_socket_of_a_group_waits_for_the_first_ones_registration(routed, monkeypatch):
    """Two sockets of one user join at once in one process: the second must not go on (load
    its hello) before Redis acknowledged the SADD that routes the user's events here."""
    holder = routed[0]
    first, second = await holder.new_channel(), await holder.new_channel()
    await holder.state().wait_subscribed()
    held = HeldRoutes(holder, monkeypatch, hold={"SADD"})

    async def join(channel, name):
        await holder.group_add("user.1", channel)
        held.log.append(f"{name} joined")

    joining = [asyncio.create_task(join(first, "first"))]
    await asyncio.wait_for(held.reached.wait(), 2)  # the first one's SADD is in flight
    joining.append(asyncio.create_task(join(second, "second")))
    await asyncio.sleep(0.1)
    held.released.set()
    await asyncio.wait_for(asyncio.gather(*joining), 2)

    assert held.log.index("SADD acknowledged") < held.log.index("second joined")


async def test_a_join_while_the_last_members_srem_is_in_flight_stays_registered(routed, monkeypatch, redis_url):
    """The last socket of a user leaves (SREM in flight) while a new one joins (SADD): on
    pooled connections the SREM could land last and leave a held group unrouted. The registry
    must name the process once both are done."""
    import redis

    holder, _, sender = routed
    old, new = await holder.new_channel(), await holder.new_channel()
    await holder.group_add("user.1", old)
    held = HeldRoutes(holder, monkeypatch, hold={"SREM"})

    leaving = asyncio.create_task(holder.group_discard("user.1", old))
    await asyncio.wait_for(held.reached.wait(), 2)  # the SREM is in flight
    joining = asyncio.create_task(holder.group_add("user.1", new))
    await asyncio.sleep(0.1)
    held.released.set()
    await asyncio.wait_for(asyncio.gather(leaving, joining), 2)

    client = redis.Redis.from_url(redis_url)
    assert client.sismember(holder.route_key("user.1"), holder.state().process_channel)
    client.close()
    await sender.group_send_many(["user.1"], {"type": "live.event", "text": "{}"})
    assert await _receive(holder, new) == {"type": "live.event", "text": "{}"}


async def test_an_event_between_the_srem_and_the_new_sadd_is_in_the_joiners_hello(routed, monkeypatch):
    """Published after the SREM landed and before the new member's SADD: no process is named,
    so the event reaches nobody live — and the joiner's group_add has not returned yet, so its
    hello (loaded after group_add) is read after that event's commit and shows it."""
    holder, _, sender = routed
    old, new = await holder.new_channel(), await holder.new_channel()
    await holder.group_add("user.1", old)
    held = HeldRoutes(holder, monkeypatch, hold={"SADD"})

    await holder.group_discard("user.1", old)  # SREM acknowledged
    joining = asyncio.create_task(holder.group_add("user.1", new))
    await asyncio.wait_for(held.reached.wait(), 2)  # the new member's SADD is in flight
    await sender.group_send_many(["user.1"], {"type": "live.event", "n": 1})
    published_while_joining = not joining.done()
    held.released.set()
    await asyncio.wait_for(joining, 2)

    assert published_while_joining
    await sender.group_send_many(["user.1"], {"type": "live.event", "n": 2})
    assert await _receive(holder, new) == {"type": "live.event", "n": 2}


async def test_each_process_writes_its_counters_to_redis_for_operators(redis_url):
    prefix = f"lyceum-test-stats-{uuid.uuid4().hex[:8]}"
    holder, idle = (_layer(redis_url, prefix, routing="fanout", stats_seconds=0.1) for _ in range(2))
    ada = await holder.new_channel()
    await holder.group_add("user.1", ada)
    await idle.group_add("user.2", await idle.new_channel())
    await holder.group_send_many(["user.1"], {"type": "live.event", "text": "{}"})
    await _receive(holder, ada)
    await asyncio.sleep(0.3)

    stats = await asyncio.to_thread(holder.process_stats)
    assert stats[holder.state().subscriber_name]["delivered"] == "1"
    assert stats[idle.state().subscriber_name]["received"] == "1"  # fan-out: read, for nobody here
    assert stats[idle.state().subscriber_name]["delivered"] == "0"
    assert stats[idle.state().subscriber_name]["for_nobody"] == "1"
    assert stats[holder.state().subscriber_name]["for_nobody"] == "0"
    await holder.flush()
    await idle.flush()


# --- the registry's cost: one script call per event, one command per heartbeat ----------------


class Monitor:
    """Every command Redis runs that names this test's prefix (MONITOR: every database and
    client; the prefix picks out this test's), as (client type, command name): "tcp" for what
    a client sent (one round trip each), "lua" for what a script ran inside its call."""

    def __init__(self, redis_url, prefix):
        import redis.asyncio

        self.client = redis.asyncio.Redis.from_url(redis_url)
        self.prefix = prefix
        self.marker = f"{prefix}-monitor-end"

    async def during(self, action) -> list[tuple[str, str]]:
        seen = []
        async with self.client.monitor() as monitor:
            await action()
            await self.client.echo(self.marker)
            while True:
                entry = await asyncio.wait_for(monitor.next_command(), 5)
                command = entry["command"]
                if self.marker in command:
                    break
                if self.prefix in command and "__stats__" not in command:
                    seen.append((entry["client_type"], command.split(" ", 1)[0].upper()))
        await self.client.aclose()
        return seen


def _send(layer, path):
    """group_send_many, from an event loop ("async") or a database thread ("sync")."""
    if path == "async":
        return layer.group_send_many
    return lambda groups, message: asyncio.to_thread(layer.group_send_many_sync, groups, message)


@pytest.mark.parametrize("path", ["async", "sync"])
async def test_routing_costs_one_script_call_per_event_whatever_the_number_of_groups(routed, redis_url, path):
    holder, idle, sender = routed
    ada = await holder.new_channel()
    for n in range(20):
        await holder.group_add(f"user.{n}", ada)
    bob = await idle.new_channel()
    await idle.group_add("user.5", bob)
    send = _send(sender, path)
    await send(["user.0"], {"type": "live.event", "n": 0})  # the script is loaded (SCRIPT LOAD) once
    assert await _receive(holder, ada) == {"type": "live.event", "n": 0}

    groups = [f"user.{n}" for n in range(30)]
    seen = await Monitor(redis_url, holder.prefix).during(lambda: send(groups, {"type": "live.event", "n": 1}))

    assert [name for client, name in seen if client == "tcp"] == ["EVALSHA"]
    inside = Counter(name for client, name in seen if client == "lua")
    assert inside == {"SUNION": 1, "ZMSCORE": 1, "PUBLISH": 2}  # one publish per live holder
    assert await _receive(holder, ada) == {"type": "live.event", "n": 1}  # once, in 20 of the groups
    assert await _receive(idle, bob) == {"type": "live.event", "n": 1}
    await _nothing_for(holder, ada)


async def test_an_event_to_thousands_of_groups_reaches_each_holder_once(routed, redis_client):
    """More groups than the script hands Redis in one SUNION (its chunks: Lua's stack limit)."""
    holder, idle, sender = routed
    ada = await _member(holder, "user.0", "user.2499")
    bob = await _member(idle, "user.1500")
    dead = f"{holder.prefix}__proc__.lyceum-live-killed"
    redis_client.sadd(holder.route_key("user.2000"), dead)  # a killed process's entry, never alive

    await sender.group_send_many([f"user.{n}" for n in range(2500)], {"type": "live.event", "n": 1})

    assert await _receive(holder, ada) == {"type": "live.event", "n": 1}
    assert await _receive(idle, bob) == {"type": "live.event", "n": 1}
    await _nothing_for(holder, ada)
    assert not redis_client.exists(holder.route_key("user.2000"))


@pytest.mark.parametrize("path", ["async", "sync"])
async def test_a_process_whose_liveness_lapsed_gets_no_publish_and_loses_its_entries(routed, redis_client, path):
    """A killed process (here: its liveness set into the past): the publisher skips it and
    removes its entry from the route sets it read, and it from the liveness set."""
    holder, idle, sender = routed
    ada = await _member(holder, "user.1")
    bob = await _member(idle, "user.1")
    dead = holder.state().process_channel
    redis_client.zadd(holder.procs_key, {dead: time.time() - 1})

    await _send(sender, path)(["user.1"], {"type": "live.event", "n": 1})

    assert await _receive(idle, bob) == {"type": "live.event", "n": 1}
    await _nothing_for(holder, ada)
    assert holder.state().received == 0
    assert not redis_client.sismember(holder.route_key("user.1"), dead)
    assert redis_client.zscore(holder.procs_key, dead) is None
    assert redis_client.sismember(holder.route_key("user.1"), idle.state().process_channel)


async def test_a_process_found_dead_registers_again_at_its_next_heartbeat_and_tells_its_sockets(routed, redis_url):
    """Its liveness lapsed while it was alive (its loop stalled past ROUTE_TTL) and a publisher
    removed its entries: its next heartbeat sees itself missing, writes every entry again and
    tells its sockets to catch up (what it missed meanwhile is in the database)."""
    import redis

    from live.layer import RESUBSCRIBED

    holder, _, sender = routed
    ada = await holder.new_channel()
    await holder.group_add("user.1", ada)
    client = redis.Redis.from_url(redis_url)
    client.zadd(holder.procs_key, {holder.state().process_channel: time.time() - 1})
    await sender.group_send_many(["user.1"], {"type": "live.event", "n": 1})  # skipped: removed
    client.close()

    await holder.state().beat_once()

    assert await _receive(holder, ada) == {"type": RESUBSCRIBED}
    await sender.group_send_many(["user.1"], {"type": "live.event", "n": 2})
    assert await _receive(holder, ada) == {"type": "live.event", "n": 2}


async def test_the_heartbeat_is_one_command_whatever_the_number_of_groups(routed, redis_url):
    holder = routed[0]
    ada = await holder.new_channel()
    for n in range(50):
        await holder.group_add(f"user.{n}", ada)

    seen = await Monitor(redis_url, holder.prefix).during(holder.state().beat_once)

    assert seen == [("tcp", "ZADD")]


@pytest.mark.parametrize("path", ["async", "sync"])
async def test_after_script_flush_an_event_is_still_delivered(routed, redis_url, path):
    """Redis forgot the script (SCRIPT FLUSH, a restart): the EVALSHA's NOSCRIPT makes redis-py
    load it again and repeat the call, and the event is delivered."""
    import redis

    from live.layer import ROUTE_SCRIPT

    holder, _, sender = routed
    ada = await holder.new_channel()
    await holder.group_add("user.1", ada)
    send = _send(sender, path)
    await send(["user.1"], {"type": "live.event", "n": 1})
    assert await _receive(holder, ada) == {"type": "live.event", "n": 1}
    client = redis.Redis.from_url(redis_url)
    sha = client.register_script(ROUTE_SCRIPT).sha
    client.script_flush()
    assert client.script_exists(sha) == [False]

    await send(["user.1"], {"type": "live.event", "n": 2})

    assert await _receive(holder, ada) == {"type": "live.event", "n": 2}
    assert client.script_exists(sha) == [True]
    client.close()


async def test_after_redis_lost_the_registry_the_reader_writes_it_again_before_the_catch_up(routed, redis_url):
    """A Redis restart, as the reader sees it: the registry and the liveness set are gone and
    the subscriber connection drops. Liveness and every held group's entry are written again
    before the sockets are told to catch up, so their catch-up's events are routed."""
    import redis

    from live.layer import RESUBSCRIBED

    holder, _, sender = routed
    ada = await holder.new_channel()
    await holder.group_add("user.1", ada)
    await holder.group_add("user.2", ada)
    client = redis.Redis.from_url(redis_url)
    client.delete(holder.procs_key, holder.route_key("user.1"), holder.route_key("user.2"))
    name = holder.state().subscriber_name
    ids = [entry["id"] for entry in client.client_list() if entry.get("name") == name]
    client.execute_command("CLIENT", "KILL", "ID", ids[0])

    assert await _receive(holder, ada, timeout=10) == {"type": RESUBSCRIBED}
    channel = holder.state().process_channel
    assert client.zscore(holder.procs_key, channel) > time.time()
    assert client.sismember(holder.route_key("user.1"), channel)
    assert client.sismember(holder.route_key("user.2"), channel)
    client.close()
    await sender.group_send_many(["user.2"], {"type": "live.event", "n": 1})
    assert await _receive(holder, ada) == {"type": "live.event", "n": 1}


async def test_a_process_that_closes_leaves_no_liveness_and_no_entries(routed, redis_url):
    import redis

    holder = routed[0]
    ada = await holder.new_channel()
    await holder.group_add("user.1", ada)
    channel = holder.state().process_channel

    await holder.flush()

    client = redis.Redis.from_url(redis_url)
    assert client.zscore(holder.procs_key, channel) is None
    assert not client.exists(holder.route_key("user.1"))
    client.close()


async def test_the_sweep_removes_lapsed_processes_from_groups_nobody_messages(routed, redis_client):
    """A killed process's entries in groups that get no event any more: the sweep removes
    them (and the process from the liveness set), and leaves a live holder's."""
    holder, idle, _ = routed
    await _member(holder, "user.1", "user.2")
    await _member(idle, "user.2")
    dead = holder.state().process_channel
    redis_client.zadd(holder.procs_key, {dead: time.time() - 1})

    await asyncio.to_thread(holder.sweep_routes, batch=1)

    assert not redis_client.exists(holder.route_key("user.1"))
    assert redis_client.smembers(holder.route_key("user.2")) == {idle.state().process_channel.encode()}
    assert redis_client.zscore(holder.procs_key, dead) is None
    assert redis_client.zscore(holder.procs_key, idle.state().process_channel) is not None


async def test_a_publish_to_a_redis_that_drops_every_connection_tries_twice_and_raises():
    """A publish runs on a live database thread right after its commit: against a Redis that is
    down it makes ONE retry on a new connection and raises (the caller logs it), never waiting
    out the outage (redis-py's default policy: eleven attempts with backoff)."""
    import redis

    from tests.servers import ClosingListener

    listener = ClosingListener()
    try:
        for routing in ("fanout", "process"):
            layer = _layer(f"redis://127.0.0.1:{listener.port}/0", f"lyceum-test-drop-{routing}", routing=routing)
            before = listener.accepted
            with pytest.raises((redis.RedisError, OSError)):
                await asyncio.to_thread(layer.group_send_many_sync, ["user.1"], {"type": "live.event"})
            assert listener.accepted - before == 2, routing
    finally:
        listener.close()
