"""The Redis channel layer with a per-process fan-out: one event to many groups is ONE publish.

channels_redis's pub/sub layer maps every group to a Redis channel. Lyceum pushes each live
event to the user group of every member (`user.<id>`: every tab of a user, whatever process
holds it), so a message to a group of 50 was 50 PUBLISH commands by the sender's process and
50 pub/sub messages read, decoded and queued one by one by the receiving processes.

This layer adds one extension, `group_send_many(groups, message)`. The event and the list of
groups travel as ONE pub/sub message on one fan-out channel that every process of the layer
subscribes to; each process decodes it once and hands the same message to the local members
of those groups (the `groups` map this process already keeps for `group_add`). A process
without a member of any of those groups drops it after a set lookup. Redis thus sends each
event once per daphne process instead of once per member (cf. Rocket.Chat, whose instances
each receive every stream event and filter to their own subscribers, and Zulip, whose
Tornado shards get one event with the list of users).

Everything else is the pub/sub layer unchanged: `group_send` to a single group, `send`,
`group_add` / `group_discard`, reconnection and re-subscription after a Redis restart (the
fan-out channel is subscribed on the same connection as the groups). Like every channel-layer
message, a fan-out event is at most once: the database is the truth and clients resync. What
was published while a process's subscriber connection was down never reaches it; when that
connection comes back, every local channel gets a RESUBSCRIBED message, so that its socket
catches up from the database instead of waiting for the next message to show a gap.

`group_send_many_sync` is the same publish from synchronous code (a database thread right after
its commit, a view, a Celery task) on a connection of the calling thread's own.

A local channel may also take its fan-out events directly: `attach_sink(channel, sink)` makes
the reader call `sink(message)` for that channel instead of queueing the message for the
channel's consumer. The live consumer writes the event to its WebSocket there and then, without
the queue, the consumer task's wake-up, the dispatch and the ASGI send chain (a per-member hop
that dominates a busy daphne's event loop), and without waiting behind a
frame the consumer is handling (a send waiting for the database held back every event for that
socket). A sink is called on the event loop with the message every receiver shares: it must not
change it, block or await; it returns False for a message it leaves to the queue. Everything
that is not a fan-out event still goes through the queue.
"""

import asyncio
import logging
import threading
from collections.abc import Callable

import redis
from channels_redis.pubsub import RedisPubSubChannelLayer, RedisPubSubLoopLayer, RedisSingleShardConnection
from channels_redis.utils import _consistent_hash, _wrap_close, create_pool, decode_hosts
from redis import asyncio as aioredis
from redis.asyncio.client import PubSub
from redis.backoff import ExponentialBackoff
from redis.retry import Retry

FANOUT_CHANNEL = "__fanout__"

# The WebSocket scope key under which the socket stack (config.websocket.server_writer) gives a
# consumer a synchronous writer of text frames straight to its socket, for its sink; None when
# the server is not daphne (tests with WebsocketCommunicator, another ASGI server).
WRITE_TEXT = "lyceum.write_text"

logger = logging.getLogger(__name__)


class _Decoded:
    """A message this process has already decoded, queued for a local channel as it is: the
    layer's `receive` then skips a decode per member (see FanoutChannelLayer.deserialize)."""

    __slots__ = ("message",)

    def __init__(self, message: dict):
        self.message = message


# The channel-layer message every local channel gets when this process's subscriber connection
# came back (Redis restarted, or dropped the connection): what was published meanwhile is lost
# for these sockets, so they are told to catch up from the database (the live consumer answers
# it with a new "hello", which every client already treats as "catch up").
RESUBSCRIBED = "live.resubscribed"


class _WatchedPubSub(PubSub):
    """redis-py re-subscribes a pub/sub connection in its connect callback — also when its own
    retry reconnects inside a read and nothing is raised to the reader: the one place where a
    reconnect is always seen. The callback runs on REconnects only: the first connection comes
    from the pool before the callback is registered."""

    def __init__(self, *args, on_reconnect, **kwargs):
        super().__init__(*args, **kwargs)
        self._on_reconnect = on_reconnect

    async def on_connect(self, connection):
        await super().on_connect(connection)  # subscribes every channel again
        logger.warning("live layer: subscriber connection back, sockets told to catch up")
        self._on_reconnect()


class FanoutShardConnection(RedisSingleShardConnection):
    def _ensure_redis(self):
        if self._redis is None:
            self._redis = aioredis.Redis(connection_pool=create_pool(self.host))
            self._pubsub = _WatchedPubSub(self._redis.connection_pool, on_reconnect=self.channel_layer.resubscribed)

    def _receive_message(self, message):
        if message is not None:
            name = message["channel"]
            if isinstance(name, bytes):
                name = name.decode()
            if name == self.channel_layer.fanout_channel:
                self.channel_layer.deliver_fanout(message["data"])
                return
        super()._receive_message(message)


class FanoutLoopLayer(RedisPubSubLoopLayer):
    """One event loop's share of the layer (as RedisPubSubLoopLayer) plus the fan-out."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._shards = [FanoutShardConnection(shard.host, self) for shard in self._shards]
        self.fanout_channel = f"{self.prefix}{FANOUT_CHANNEL}"
        self.sinks: dict[str, Callable[[dict], object]] = {}

    async def flush(self):
        self.sinks = {}
        await super().flush()

    async def receive(self, channel):
        try:
            return await super().receive(channel)
        except (TimeoutError, asyncio.CancelledError, GeneratorExit):
            if channel not in self.channels:  # the layer dropped the channel: its sink goes too
                self.sinks.pop(channel, None)
            raise

    async def group_add(self, group, channel):
        await super().group_add(group, channel)
        # A process listens to the fan-out channel once it holds a group member (a no-op after
        # the first time: the shard remembers what it subscribed to, also across reconnects).
        await self._get_shard(self.fanout_channel).subscribe(self.fanout_channel)

    async def group_send_many(self, groups, message):
        groups = list(dict.fromkeys(groups))
        if not groups:
            return
        payload = self.channel_layer.serialize({"groups": groups, "message": message})
        await self._get_shard(self.fanout_channel).publish(self.fanout_channel, payload)

    def resubscribed(self) -> None:
        """Every local channel gets RESUBSCRIBED (see above)."""
        for queue in list(self.channels.values()):
            queue.put_nowait(_Decoded({"type": RESUBSCRIBED}))

    def deliver_fanout(self, data) -> None:
        """Queue one fan-out event for every local channel in one of its groups (each channel
        once, however many of the groups it is in)."""
        try:
            envelope = self.channel_layer.deserialize(data)
            groups, message = envelope["groups"], envelope["message"]
        except Exception:  # noqa: BLE001 - a foreign or corrupt publish must not stop the reader
            return
        seen = set()
        for group in groups:
            for channel in self.groups.get(self._get_group_channel_name(group), ()):
                if channel in seen:
                    continue
                seen.add(channel)
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
                    queue.put_nowait(_Decoded(message))


class FanoutChannelLayer(RedisPubSubChannelLayer):
    """settings.CHANNEL_LAYERS backend: "config.live_layer.FanoutChannelLayer" (same CONFIG as
    channels_redis.pubsub.RedisPubSubChannelLayer)."""

    extensions = ["groups", "flush", "group_send_many", "sinks"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._hosts = decode_hosts(kwargs.get("hosts"))
        self._fanout_channel = f"{kwargs.get('prefix', 'asgi')}{FANOUT_CHANNEL}"
        self._sync = threading.local()

    def deserialize(self, message):
        if isinstance(message, _Decoded):
            return dict(message.message)  # each receiver its own top-level dict
        return super().deserialize(message)

    async def group_send_many(self, groups, message):
        """Send `message` to every member of each of `groups`: one publish, whatever their number."""
        return await self._get_layer().group_send_many(groups, message)

    def attach_sink(self, channel: str, sink: Callable[[dict], object]) -> None:
        """From now on this process's fan-out events for `channel` go to `sink(message)` instead of
        the channel's queue (see the module docstring). Call from the channel's event loop."""
        self._get_layer().sinks[channel] = sink

    def detach_sink(self, channel: str) -> None:
        """Back to the queue (a no-op for a channel without a sink)."""
        self._get_layer().sinks.pop(channel, None)

    def group_send_many_sync(self, groups, message) -> None:
        """The same from synchronous code — a database thread after its commit, a view, a Celery
        task — as ONE blocking PUBLISH on this thread's own connection: no hop to an event loop
        and no event loop made for it. Raises what redis-py raises (the caller logs: a push is a
        hint)."""
        groups = list(dict.fromkeys(groups))
        if not groups:
            return
        payload = self.serialize({"groups": groups, "message": message})
        self._sync_client().publish(self._fanout_channel, payload)

    def _sync_client(self) -> redis.Redis:
        client = getattr(self._sync, "client", None)
        if client is None:
            host = self._hosts[_consistent_hash(self._fanout_channel, len(self._hosts))]
            options = {k: v for k, v in host.items() if k not in {"address", "retry", "master_name", "sentinels"}}
            # A publish after a Redis restart first meets the pooled connection Redis dropped:
            # retried on a new one instead of lost (as the layer's own connection does).
            options["retry"] = Retry(ExponentialBackoff(cap=1.0, base=0.1), 3)
            address = host.get("address")
            client = redis.Redis.from_url(address, **options) if address else redis.Redis(**options)
            self._sync.client = client
        return client

    def _get_layer(self):
        loop = asyncio.get_running_loop()
        try:
            return self._layers[loop]
        except KeyError:
            layer = FanoutLoopLayer(*self._args, **self._kwargs, channel_layer=self)
            self._layers[loop] = layer
            _wrap_close(self, loop)
            return layer
