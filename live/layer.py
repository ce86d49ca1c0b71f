"""Lyceum's Redis channel layer: one pub/sub channel, one publish per event, per-process fan-out.

Written on public interfaces only: Channels' `BaseChannelLayer` contract (`new_channel`, `send`,
`receive`, the "groups" and "flush" extensions; channel and group names checked by the base
class's `require_valid_channel_name` / `require_valid_group_name`), redis-py's public clients
(`redis.asyncio.Redis.pubsub`, `publish`, `redis.Redis` for synchronous code), msgpack, and
cryptography's Fernet for the optional `symmetric_encryption_keys`. Nothing of channels-redis.

How it works. Every process of the layer (every daphne, and each event loop in it) subscribes
ONE Redis channel, `<prefix>__fanout__`, on one connection of its own. Groups are local: the
process keeps which of its own channels are in which group (`group_add` / `group_discard` are
a dict update, no Redis command). A send is one PUBLISH of `{"groups": [...], "message": ...}`
(or `{"channels": [...]}` for `send`); every process decodes it once and hands the same
message to its own members of those groups, each channel once. A process without a member of
any of them drops it after a dict lookup. So an event to a group of 50 members is ONE publish,
read once per process (cf. Rocket.Chat, whose instances each receive every stream event and
filter to their own subscribers, and Zulip, whose Tornado shards get one event with the list
of users).

`group_send_many(groups, message)` is the extension the live push uses (one publish for every
member's user group); `group_send` is the same with one group. `group_send_many_sync` is the
same publish from synchronous code (a database thread right after its commit, a view, a Celery
task) on a connection of the calling thread's own.

Like every channel-layer message, an event is at most once: the database is the truth and
clients resync. The reader of each process watches its own subscriber connection: when Redis
drops it (a restart, CLIENT KILL), the reader reconnects with backoff (0.1 s doubling to 1 s)
and subscribes again, and then every local channel gets a RESUBSCRIBED message, so that its
socket catches up from the database instead of waiting for the next message to show a gap.
`group_add` waits (up to SUBSCRIBE_TIMEOUT) until the reader is subscribed, so no event pushed
after a join can be missed, and raises ConnectionError when Redis does not answer (the live
consumer then refuses the handshake as busy: 503 with Retry-After, or close code 1013).

A local channel may also take its events directly: `attach_sink(channel, sink)` makes the reader
call `sink(message)` for that channel instead of queueing the message for the channel's
consumer. The live consumer hands the event to its socket's ordered writer there and then,
without the queue, the consumer task's wake-up and the dispatch, and without waiting behind a
frame the consumer is handling. A sink is called on the event loop with the message every
receiver shares: it must not change it, block or await; it returns False for a message it
leaves to the queue.

With `routing="process"` a process also subscribes a channel of its own, and a group send
reaches only the processes that hold a member: Redis keeps, per group, the set of its holding
processes (`<prefix>__route__:<group>`, written by the first local member's `group_add` and the
last one's leave, no expiry) and one sorted set of live processes (`<prefix>__procs__`, scored
by expiry, renewed with ONE command per ROUTE_TTL / 3), and a send is one EVALSHA of
ROUTE_SCRIPT, which publishes the event once to each live holder and prunes the dead ones.
docs/routing-design.md has the races and failure cases.

Several `hosts`: the fan-out channel lives on one of them (chosen by a CRC32 of its name, the
same in every process); a second Redis is for Redis Cluster's sharded pub/sub, not here.
"""

import asyncio
import base64
import contextlib
import hashlib
import itertools
import logging
import os
import threading
import time
import uuid
import zlib
from collections.abc import Callable

import msgpack
import redis
from channels.layers import BaseChannelLayer
from redis import asyncio as aioredis
from redis.asyncio.retry import Retry as AsyncRetry
from redis.backoff import NoBackoff

from config import redis_client

FANOUT_CHANNEL = "__fanout__"
PROCESS_CHANNEL = "__proc__."
# routing="process": `<prefix>__route__:<group>` is the set of the processes (their channels) that
# hold a member of the group; `<prefix>__procs__` the sorted set of the processes that are alive,
# scored by when their liveness lapses (ROUTE_TTL after their last heartbeat).
ROUTE_KEY = "__route__:"
PROCS_KEY = "__procs__"
ROUTE_TTL = 30.0

# One round trip per routed event. KEYS[1]: the liveness sorted set, KEYS[2..]: the route sets
# of the event's groups; ARGV[1]: now (the publisher's clock, which is the heartbeats' clock to
# well within ROUTE_TTL), ARGV[2]: the serialized envelope. Inside its one call: the union of
# the route sets (SUNION), the liveness of every holder (ZMSCORE), one PUBLISH of the same
# payload to each live holder (its reader keeps the groups it holds) — so a constant number of
# commands plus one per holding process, not one per group. Holders whose liveness lapsed are
# removed from the sets it read and from the liveness set (their next heartbeat then finds
# them missing and writes their entries again). Without ARGV[2] it only prunes, and also drops
# every lapsed process from the liveness set (`sweep_routes`). Keys and holders go to Redis
# in chunks (Lua's unpack has a stack limit). Returns the number of publishes.
ROUTE_SCRIPT = """
local now = tonumber(ARGV[1])
local payload = ARGV[2]
local chunk = 1000
local holders, seen = {}, {}
for first = 2, #KEYS, chunk do
  local members = redis.call('SUNION', unpack(KEYS, first, math.min(first + chunk - 1, #KEYS)))
  for _, holder in ipairs(members) do
    if not seen[holder] then
      seen[holder] = true
      holders[#holders + 1] = holder
    end
  end
end
local dead = {}
local published = 0
for first = 1, #holders, chunk do
  local last = math.min(first + chunk - 1, #holders)
  local expiries = redis.call('ZMSCORE', KEYS[1], unpack(holders, first, last))
  for i = first, last do
    local expiry = expiries[i - first + 1]
    if expiry and tonumber(expiry) > now then
      if payload then
        redis.call('PUBLISH', holders[i], payload)
        published = published + 1
      end
    else
      dead[#dead + 1] = holders[i]
    end
  end
end
for first = 1, #dead, chunk do
  local last = math.min(first + chunk - 1, #dead)
  redis.call('ZREM', KEYS[1], unpack(dead, first, last))
  for k = 2, #KEYS do
    redis.call('SREM', KEYS[k], unpack(dead, first, last))
  end
end
if not payload then
  redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
end
return published
"""
# Every process writes its counters (events received, deliveries made) to Redis this often, in
# a hash `<prefix>__stats__:<process id>` that expires after 3 intervals: what an operator reads
# to see how much of a process's reading is for nobody it holds (bench/routing_servers.py).
STATS_KEY = "__stats__:"
STATS_SECONDS = 5.0

# The channel-layer message every local channel gets when this process's subscriber connection
# came back (Redis restarted, or dropped the connection): what was published meanwhile is lost
# for these sockets, so they are told to catch up from the database (the live consumer answers
# it with a new "hello", which every client already treats as "catch up").
RESUBSCRIBED = "live.resubscribed"

# How long group_add waits for the subscriber connection before it gives up (Redis down).
SUBSCRIBE_TIMEOUT = 5.0
RECONNECT_FIRST, RECONNECT_CAP = 0.1, 1.0

logger = logging.getLogger(__name__)


class Decoded:
    """A message this process has already decoded, queued for a local channel as it is: the
    layer's `receive` hands each receiver a copy instead of decoding once per member."""

    __slots__ = ("message",)

    def __init__(self, message: dict):
        self.message = message


class Serializer:
    """msgpack, Fernet-encrypted when keys are given (the first key encrypts, every key
    decrypts: keys can be rotated)."""

    def __init__(self, symmetric_encryption_keys=None):
        self.crypter = None
        if symmetric_encryption_keys:
            from cryptography.fernet import Fernet, MultiFernet

            def fernet(key):
                key = key.encode("utf8") if isinstance(key, str) else key
                return Fernet(base64.urlsafe_b64encode(hashlib.sha256(key).digest()))

            self.crypter = MultiFernet([fernet(key) for key in symmetric_encryption_keys])

    def serialize(self, message) -> bytes:
        data = msgpack.packb(message, use_bin_type=True)
        return self.crypter.encrypt(data) if self.crypter is not None else data

    def deserialize(self, data: bytes):
        if self.crypter is not None:
            data = self.crypter.decrypt(data)
        return msgpack.unpackb(data, raw=False)


class LoopState:
    """One event loop's share of the layer: its channels' queues, its groups, its sinks, its
    publishing client and the reader of its subscriber connection."""

    def __init__(self, layer: "FanoutChannelLayer"):
        self.layer = layer
        self.channels: dict[str, asyncio.Queue] = {}
        self.groups: dict[str, set[str]] = {}
        self.sinks: dict[str, Callable[[dict], object]] = {}
        # A blocking pool: a burst of publishes waits for one of its connections instead of
        # failing once redis-py's pool is exhausted (MaxConnectionsError). A publish after a
        # Redis restart first meets the pooled connection Redis dropped: redis_client's outage
        # policy retries it once, at once, on a new one instead of losing it (a repeated publish
        # is harmless: clients dedup by id), and never sleeps: a publish runs right after its
        # commit, and waiting out an outage there stalled every later send; the readers catch
        # their sockets up when Redis is back (RESUBSCRIBED).
        pool = aioredis.BlockingConnectionPool.from_url(
            layer.address,
            **{"max_connections": 50, "timeout": SUBSCRIBE_TIMEOUT, **layer.options},
            retry=redis_client.outage_retry(AsyncRetry),
        )
        self.publisher = aioredis.Redis(connection_pool=pool)
        self.route_script = self.publisher.register_script(ROUTE_SCRIPT)
        self.subscribed = asyncio.Event()
        self.reader: asyncio.Task | None = None
        self.subscriber_name = f"lyceum-live-{uuid.uuid4().hex[:12]}"
        # routing="process": this loop's own channel, and the task that renews its liveness.
        self.process_channel = f"{layer.prefix}{PROCESS_CHANNEL}{self.subscriber_name}"
        self.heartbeat: asyncio.Task | None = None
        # The groups whose entry this loop last wrote (SADD) and has not removed since, and per
        # group the one task writing or removing it now (see sync_route).
        self.registered: set[str] = set()
        self.routing: dict[str, asyncio.Task] = {}
        self.received = 0
        self.delivered = 0
        self.for_nobody = 0  # events received without a local member of their groups or channels
        self.stats_writer: asyncio.Task | None = None

    # --- the reader --------------------------------------------------------------------------

    def start_reader(self) -> None:
        if self.reader is None or self.reader.done():
            self.reader = asyncio.get_running_loop().create_task(self.read(), name="live-layer-reader")
        if self.layer.stats_seconds and (self.stats_writer is None or self.stats_writer.done()):
            self.stats_writer = asyncio.get_running_loop().create_task(self.write_stats(), name="live-layer-stats")

    async def write_stats(self) -> None:
        key = f"{self.layer.prefix}{STATS_KEY}{self.subscriber_name}"
        interval = self.layer.stats_seconds
        while True:
            await asyncio.sleep(interval)
            fields = {
                "received": self.received,
                "delivered": self.delivered,
                "for_nobody": self.for_nobody,
                "groups": len(self.groups),
                "routing": self.layer.routing,
                "pid": os.getpid(),
                "at": time.time(),
            }
            with contextlib.suppress(Exception):  # Redis away: the next interval writes them
                async with self.publisher.pipeline(transaction=False) as pipe:
                    pipe.hset(key, mapping=fields)
                    pipe.expire(key, max(1, round(3 * interval)))
                    await pipe.execute()

    async def read(self) -> None:
        delay = RECONNECT_FIRST
        connected_before = False
        while True:
            # Its own client, without redis-py's retries: a dropped connection is raised here
            # and seen, instead of being re-subscribed silently inside a read.
            client = aioredis.Redis.from_url(
                self.layer.address,
                **{**self.layer.options, "socket_timeout": None},
                retry=AsyncRetry(NoBackoff(), 0),
                client_name=self.subscriber_name,
            )
            pubsub = client.pubsub()
            try:
                names = [self.layer.fanout_channel]
                if self.layer.routing == "process":
                    names.append(self.process_channel)
                await pubsub.subscribe(*names)
                confirmed = 0
                while confirmed < len(names):  # from now on every publish reaches this process
                    reply = await pubsub.get_message(timeout=None)
                    if reply is not None and reply["type"] == "subscribe":
                        confirmed += 1
                if self.layer.routing == "process":
                    # Alive before any entry of this process is written: a publisher that read
                    # an entry of a process it does not see alive would remove it.
                    await self.renew_liveness()
                    if connected_before:
                        await self.reregister()  # Redis may have lost the registry
                    if self.heartbeat is None or self.heartbeat.done():
                        self.heartbeat = asyncio.get_running_loop().create_task(
                            self.beat(), name="live-layer-route-heartbeat"
                        )
                self.subscribed.set()
                delay = RECONNECT_FIRST
                if connected_before:
                    logger.warning("live layer: subscriber connection back, sockets told to catch up")
                    self.resubscribed()
                connected_before = True
                while True:
                    message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=None)
                    if message is not None and message["type"] == "message":
                        self.deliver(message["data"])
            except asyncio.CancelledError:
                self.subscribed.clear()
                await asyncio.shield(self.close_client(pubsub, client))
                raise
            except Exception as exc:  # noqa: BLE001 - Redis gone: reconnect, whatever the error
                self.subscribed.clear()
                await self.close_client(pubsub, client)
                logger.warning("live layer: subscriber connection lost (%s); reconnecting in %.1f s", exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, RECONNECT_CAP)

    @staticmethod
    async def close_client(pubsub, client) -> None:
        for closing in (pubsub, client):
            with contextlib.suppress(Exception):  # a connection that is gone is closed enough
                await closing.aclose()

    async def wait_subscribed(self) -> None:
        self.start_reader()
        if self.subscribed.is_set():
            return
        try:
            await asyncio.wait_for(self.subscribed.wait(), timeout=SUBSCRIBE_TIMEOUT)
        except TimeoutError:
            raise redis.ConnectionError("live layer: Redis did not answer the subscription") from None

    def resubscribed(self) -> None:
        """Every local channel gets RESUBSCRIBED (see the module docstring)."""
        for queue in list(self.channels.values()):
            queue.put_nowait(Decoded({"type": RESUBSCRIBED}))

    # --- the registry (routing="process") ----------------------------------------------------

    async def renew_liveness(self) -> bool:
        """Mark this process alive for ROUTE_TTL: ONE command, whatever the number of groups it
        holds. True when Redis did not list it (Redis lost the set, or a publisher found its
        liveness lapsed and removed it with the entries it read: see ROUTE_SCRIPT)."""
        expiry = time.time() + ROUTE_TTL
        return bool(await self.publisher.zadd(self.layer.procs_key, {self.process_channel: expiry}))

    async def reregister(self) -> None:
        """Write the entry of every group this process holds again (Redis lost them, or a
        publisher removed them), each through its group's ordered task (see sync_route), and
        return once Redis acknowledged every one; raises the first failure."""
        self.registered.clear()
        results = await asyncio.gather(*(self.sync_route(group) for group in list(self.groups)), return_exceptions=True)
        for result in results:
            if isinstance(result, BaseException):
                raise result

    async def sync_route(self, group) -> None:
        """Bring the registry entry of `group` in line with whether this process holds it, and
        wait until Redis acknowledged that: ONE task per group does it, in order, and every
        joiner and leaver of the group awaits that same task. So a second socket of a user
        does not go on (and load its hello) before the first one's SADD is acknowledged, and a
        last member's SREM cannot land after a new member's SADD (publisher connections are
        pooled: two commands in flight may reach Redis in either order). Raises what the SADD
        raised (the registering join fails); after a failed SREM the entry stays, and events
        for the group reach this process and are dropped, until a publisher finds it gone
        (its liveness lapsed) or the process leaves."""
        task = self.routing.get(group)
        if task is None or task.done():
            task = self.routing[group] = asyncio.get_running_loop().create_task(
                self.reconcile(group), name="live-layer-route"
            )
        await asyncio.shield(task)  # a cancelled caller (socket gone) leaves it to the others

    async def reconcile(self, group) -> None:
        key = self.layer.route_key(group)
        try:
            while (group in self.groups) != (group in self.registered):
                if group in self.groups:
                    self.registered.add(group)  # until the SADD fails: then nobody relies on it
                    try:
                        await self.publisher.sadd(key, self.process_channel)
                    except BaseException:
                        self.registered.discard(group)
                        raise
                else:
                    self.registered.discard(group)
                    with contextlib.suppress(Exception):  # an entry left behind costs a dropped event
                        await self.publisher.srem(key, self.process_channel)
        finally:
            if self.routing.get(group) is asyncio.current_task():
                del self.routing[group]

    async def beat(self) -> None:
        while True:
            await asyncio.sleep(ROUTE_TTL / 3)
            try:
                await self.beat_once()
            except asyncio.CancelledError:
                raise
            except (redis.RedisError, OSError) as exc:  # Redis away: the reader writes the entries again
                logger.warning("live layer: route heartbeat failed: %r", exc)
            except Exception:
                logger.warning("live layer: route heartbeat failed", exc_info=True)

    async def beat_once(self) -> None:
        """Renew this process's liveness (one command; the entries of its groups have no expiry
        of their own). If Redis no longer listed it, events may have been skipped meanwhile:
        write every entry again, then tell the sockets to catch up."""
        missing = await self.renew_liveness()
        if not self.subscribed.is_set():
            return  # the reader is reconnecting: it writes the entries again itself
        if missing:
            logger.warning("live layer: this process's liveness had lapsed; registering its groups again")
            await self.reregister()
            self.resubscribed()
        else:  # a held group whose SADD failed (a re-registration during a hiccup): write it now
            unrouted = [group for group in self.groups if group not in self.registered and group not in self.routing]
            await asyncio.gather(*(self.sync_route(group) for group in unrouted))

    async def leave_registry(self) -> None:
        """On close: no longer alive, and no entries left behind (one pipeline)."""
        async with self.publisher.pipeline(transaction=False) as pipe:
            pipe.zrem(self.layer.procs_key, self.process_channel)
            for group in self.registered:
                pipe.srem(self.layer.route_key(group), self.process_channel)
            await pipe.execute()
        self.registered.clear()

    def deliver(self, data) -> None:
        """Hand one published event to every local channel it names or that is in one of its
        groups (each channel once, however many of the groups it is in)."""
        self.received += 1
        try:
            envelope = self.layer.deserialize(data)
            message = envelope["message"]
            targets = [self.groups.get(group, ()) for group in envelope.get("groups", ())]
            targets.append(envelope.get("channels", ()))
        except Exception:  # noqa: BLE001 - a foreign or corrupt publish must not stop the reader
            return
        seen = set()
        for channels in targets:
            for channel in channels:
                if channel in seen:
                    continue
                seen.add(channel)
                self.delivered += 1
                sink = self.sinks.get(channel)
                if sink is not None:
                    try:
                        if sink(message) is not False:
                            continue
                    except Exception:  # one broken socket must not cost the others their event
                        logger.exception("live layer: the sink of %s failed", channel)
                        continue
                queue = self.channels.get(channel)
                if queue is not None:
                    queue.put_nowait(Decoded(message))
        if not seen:
            self.for_nobody += 1

    def drop_channel(self, channel: str) -> None:
        self.channels.pop(channel, None)
        self.sinks.pop(channel, None)
        for group in [group for group, members in self.groups.items() if channel in members]:
            self.discard(group, channel)
            if self.layer.routing == "process" and group not in self.groups:
                # Not awaited (called from a cancelled receive): the same ordered task removes the entry.
                asyncio.get_running_loop().create_task(self.leave_route(group), name="live-layer-route-leave")

    async def leave_route(self, group) -> None:
        with contextlib.suppress(Exception):  # a join's failed ZADD is that join's error
            await self.sync_route(group)

    def discard(self, group: str, channel: str) -> None:
        members = self.groups.get(group)
        if members is not None:
            members.discard(channel)
            if not members:
                del self.groups[group]

    async def close(self) -> None:
        for task in [*self.routing.values(), self.stats_writer]:
            if task is not None:
                task.cancel()
        self.routing.clear()
        if self.heartbeat is not None:
            self.heartbeat.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self.heartbeat
            self.heartbeat = None
            with contextlib.suppress(Exception):  # Redis away: the entries are pruned as dead
                await self.leave_registry()
        if self.reader is not None:
            self.reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):  # closing anyway
                await self.reader
            self.reader = None
        await self.publisher.aclose()


class FanoutChannelLayer(BaseChannelLayer):
    """settings.CHANNEL_LAYERS backend "live.layer.FanoutChannelLayer". CONFIG: `hosts`
    (Redis URLs, or dicts with "address" and redis-py client options such as socket_timeout),
    `prefix`, and optionally `symmetric_encryption_keys`."""

    extensions = ["groups", "flush", "group_send_many", "sinks"]

    def __init__(
        self,
        hosts=None,
        prefix="asgi",
        symmetric_encryption_keys=None,
        routing="fanout",
        stats_seconds=STATS_SECONDS,
        **kwargs,
    ):
        super().__init__(**{k: v for k, v in kwargs.items() if k in {"expiry", "capacity", "channel_capacity"}})
        hosts = [
            host if isinstance(host, dict) else {"address": host} for host in (hosts or ["redis://localhost:6379"])
        ]
        self.prefix = prefix
        self.fanout_channel = f"{prefix}{FANOUT_CHANNEL}"
        self.procs_key = f"{prefix}{PROCS_KEY}"
        if routing not in {"fanout", "process"}:
            raise ValueError(f"live layer: routing must be 'fanout' or 'process', not {routing!r}")
        self.routing = routing
        self.stats_seconds = float(stats_seconds or 0)  # 0: counters are not written
        host = hosts[zlib.crc32(self.fanout_channel.encode()) % len(hosts)]
        self.address = host.get("address", "redis://localhost:6379")
        # The layer sets its own retry policy (config.redis_client.outage_retry for publishes, see
        # LoopState.publisher; none for the reader, see LoopState.read).
        self.options = {k: v for k, v in host.items() if k not in {"address", "retry"}}
        self.serializer = Serializer(symmetric_encryption_keys)
        self.loops: dict[asyncio.AbstractEventLoop, LoopState] = {}
        self.sync = threading.local()

    def serialize(self, message) -> bytes:
        return self.serializer.serialize(message)

    def route_key(self, group: str) -> str:
        return f"{self.prefix}{ROUTE_KEY}{group}"

    def deserialize(self, message):
        if isinstance(message, Decoded):
            return dict(message.message)  # each receiver its own top-level dict
        return self.serializer.deserialize(message)

    def state(self) -> LoopState:
        loop = asyncio.get_running_loop()
        state = self.loops.get(loop)
        if state is None:
            for closed in [other for other in self.loops if other.is_closed()]:
                del self.loops[closed]  # a finished event loop (tests, asgiref's threads)
            state = self.loops[loop] = LoopState(self)
        return state

    # --- channels ----------------------------------------------------------------------------

    async def new_channel(self, prefix="specific."):
        channel = f"{self.prefix}{prefix}{uuid.uuid4().hex}"
        state = self.state()
        state.channels[channel] = asyncio.Queue()
        state.start_reader()  # without waiting: a `send` to it needs the reader, a socket may not
        return channel

    async def send(self, channel, message):
        assert isinstance(message, dict), "message is not a dict"
        self.require_valid_channel_name(channel)
        await self.publish({"channels": [channel], "message": message})

    async def receive(self, channel):
        self.require_valid_channel_name(channel)
        state = self.state()
        queue = state.channels.get(channel)
        if queue is None:
            queue = state.channels[channel] = asyncio.Queue()
            await state.wait_subscribed()
        try:
            message = await queue.get()
        except (asyncio.CancelledError, TimeoutError, GeneratorExit):
            # Channels cancels the receive when the consumer ends: the channel, its groups and
            # its sink go with it.
            state.drop_channel(channel)
            raise
        return self.deserialize(message)

    # --- groups ------------------------------------------------------------------------------

    async def group_add(self, group, channel):
        self.require_valid_group_name(group)
        self.require_valid_channel_name(channel)
        state = self.state()
        state.groups.setdefault(group, set()).add(channel)
        state.channels.setdefault(channel, asyncio.Queue())
        await state.wait_subscribed()
        if self.routing == "process" and (group not in state.registered or group in state.routing):
            # Registered before the caller goes on (a socket loads its hello after this), so
            # an event committed after that load is routed here; a second member of the group
            # waits for the same registration (see LoopState.sync_route).
            await state.sync_route(group)

    async def group_discard(self, group, channel):
        self.require_valid_group_name(group)
        self.require_valid_channel_name(channel)
        state = self.state()
        state.discard(group, channel)
        if self.routing == "process" and group not in state.groups:
            await state.leave_route(group)

    async def group_send(self, group, message):
        await self.group_send_many([group], message)

    async def group_send_many(self, groups, message):
        """Send `message` to every member of each of `groups`: one publish, whatever their number."""
        groups = list(dict.fromkeys(groups))
        if groups:
            await self.publish({"groups": groups, "message": message})

    async def publish(self, envelope: dict) -> None:
        state = self.state()
        if self.routing == "process" and "groups" in envelope:
            keys = self.route_keys(envelope["groups"])
            await state.route_script(keys=keys, args=[time.time(), self.serialize(envelope)])
            return
        await state.publisher.publish(self.fanout_channel, self.serialize(envelope))

    def route_keys(self, groups) -> list[str]:
        """ROUTE_SCRIPT's keys: the liveness set, then the route set of each group."""
        return [self.procs_key, *(self.route_key(group) for group in groups)]

    def group_send_many_sync(self, groups, message) -> None:
        """The same from synchronous code — a database thread after its commit, a view, a Celery
        task — as ONE blocking command (PUBLISH, or with routing="process" the EVALSHA of
        ROUTE_SCRIPT) on this thread's own connection: no hop to an event loop and no event
        loop made for it. Raises what redis-py raises (the caller logs: a push is a hint)."""
        groups = list(dict.fromkeys(groups))
        if not groups:
            return
        client = getattr(self.sync, "client", None)
        if client is None:
            client = self.sync.client = redis.Redis.from_url(
                self.address, **self.options, retry=redis_client.outage_retry()
            )
            self.sync.route_script = client.register_script(ROUTE_SCRIPT)
        payload = self.serialize({"groups": groups, "message": message})
        if self.routing == "process":
            self.sync.route_script(keys=self.route_keys(groups), args=[time.time(), payload])
            return
        client.publish(self.fanout_channel, payload)

    def sweep_routes(self, batch: int = 200) -> None:
        """Remove every route entry of a process whose liveness lapsed, in every route set, and
        the lapsed processes from the liveness set (synchronous: an ops script or a periodic
        task). A publish already does it for the groups it reads; this is for the groups that
        get no event any more (memory only: a dead entry never causes a publish)."""
        client = redis.Redis.from_url(self.address, **self.options)
        try:
            script = client.register_script(ROUTE_SCRIPT)
            keys = client.scan_iter(match=f"{self.prefix}{ROUTE_KEY}*", count=500)
            while True:
                chunk = list(itertools.islice(keys, batch))
                script(keys=[self.procs_key, *chunk], args=[time.time()])
                if len(chunk) < batch:
                    return
        finally:
            client.close()

    # --- sinks -------------------------------------------------------------------------------

    def attach_sink(self, channel: str, sink: Callable[[dict], object]) -> None:
        """From now on this process's events for `channel` go to `sink(message)` instead of the
        channel's queue (see the module docstring). Call from the channel's event loop."""
        self.state().sinks[channel] = sink

    def detach_sink(self, channel: str) -> None:
        """Back to the queue (a no-op for a channel without a sink)."""
        self.state().sinks.pop(channel, None)

    # --- counters ----------------------------------------------------------------------------

    def process_stats(self) -> dict[str, dict[str, str]]:
        """Every live process's last written counters, by process id (synchronous: an ops
        script, a benchmark). The same as `redis-cli --scan --pattern '<prefix>__stats__:*'`
        and HGETALL of each."""
        client = redis.Redis.from_url(self.address, **self.options, decode_responses=True)
        try:
            prefix = f"{self.prefix}{STATS_KEY}"
            return {key[len(prefix) :]: client.hgetall(key) for key in client.scan_iter(match=f"{prefix}*", count=500)}
        finally:
            client.close()

    # --- flush -------------------------------------------------------------------------------

    async def flush(self):
        """Forget this event loop's channels, groups and sinks and close its connections."""
        loop = asyncio.get_running_loop()
        state = self.loops.pop(loop, None)
        if state is not None:
            await state.close()


def sweep_configured_routes() -> bool:
    """Sweep the routes of the site's channel layer (settings.CHANNEL_LAYERS["default"]): what
    Celery beat runs hourly (config.sweep_live_routes_task). False when that layer routes no
    events (fan-out, or the embedded in-memory layer)."""
    from channels.layers import get_channel_layer

    layer = get_channel_layer()
    if not isinstance(layer, FanoutChannelLayer) or layer.routing != "process":
        return False
    layer.sweep_routes()
    return True
