"""Direct delivery: with the Redis fan-out layer, the live consumer hands the layer a sink and
its events go to the socket's OrderedSender (live.consumer, live.layer), not queued for
the consumer. Events before "hello" wait and follow it in order; presence only for a socket
that asked for it; the consumer's own frames never overtake events handed over before them;
the sink goes with the socket.
"""

import asyncio
import json
import uuid

import pytest
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator

from chat.tests.factories import UserFactory
from live import access as live_access
from live import consumer as live_consumer
from live import presence as live_presence
from live import push

TIMEOUT = 3


def live(event: dict) -> dict:
    return push.live_event_message(event)


class Written:
    """A stand-in for the socket's OrderedSender.write_text: the frames, in order."""

    def __init__(self):
        self.frames: list[dict] = []

    def __call__(self, text: str) -> bool:
        self.frames.append(json.loads(text))
        return True


def bare_consumer(written: Written) -> live_consumer.LiveConsumer:
    consumer = live_consumer.LiveConsumer()
    consumer.closing = False
    consumer.write_text = written
    consumer.held_events = []
    return consumer


def test_events_before_hello_are_held_and_written_after_it_in_order():
    written = Written()
    consumer = bare_consumer(written)
    assert consumer._take_event(live({"type": "probe", "n": 1})) is True
    assert consumer._take_event(live({"type": "probe", "n": 2})) is True
    assert written.frames == []  # "hello" is not out yet

    consumer._events_after_hello()
    consumer._take_event(live({"type": "probe", "n": 3}))
    assert [frame["n"] for frame in written.frames] == [1, 2, 3]


def test_presence_is_written_only_to_a_socket_that_asked_for_it():
    written = Written()
    consumer = bare_consumer(written)
    consumer._events_after_hello()
    presence = live({"type": live_presence.PRESENCE, "user": "00000000-0000-0000-0000-000000000007", "online": True})
    consumer._take_event(presence)
    assert written.frames == []
    consumer.wants_presence = True
    consumer._take_event(presence)
    assert written.frames == [presence["event"]]


def test_a_closing_socket_gets_nothing_more_and_other_messages_go_to_the_queue():
    written = Written()
    consumer = bare_consumer(written)
    consumer._events_after_hello()
    assert consumer._take_event({"type": "live.resubscribed"}) is False  # the queue's business
    consumer.closing = True
    assert consumer._take_event(live({"type": "probe"})) is True
    assert written.frames == []


def test_an_event_without_its_text_is_encoded_here():
    written = Written()
    consumer = bare_consumer(written)
    consumer._events_after_hello()
    consumer._take_event({"type": push.LIVE_EVENT, "event": {"type": "probe", "n": 5}})
    assert written.frames == [{"type": "probe", "n": 5}]


@pytest.fixture
def fanout_layer(settings, redis_url):
    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "live.layer.FanoutChannelLayer",
            "CONFIG": {
                "hosts": [{"address": redis_url, "socket_timeout": None}],
                "prefix": f"lyceum-test-direct-{uuid.uuid4().hex[:8]}",
            },
        }
    }
    return get_channel_layer()


@pytest.mark.asyncio
async def test_the_ordered_sender_sends_queued_frames_before_the_consumers_own_and_survives_a_gone_socket():
    sent = []

    async def send(message):
        await asyncio.sleep(0)  # an ASGI send may yield
        sent.append(message.get("text", message["type"]))

    sender = live_consumer.OrderedSender(send)
    sender.write_text("event 1")
    sender.write_text("event 2")
    await sender.send({"type": "websocket.send", "text": "reply"})
    sender.write_text("event 3")
    await sender.send({"type": "websocket.close"})
    assert sent == ["event 1", "event 2", "reply", "event 3", "websocket.close"]

    async def gone(message):
        raise OSError("socket gone")

    broken = live_consumer.OrderedSender(gone)
    broken.write_text("lost")
    broken.write_text("lost too")
    await asyncio.sleep(0.05)
    assert broken.task is None and not broken.pending  # dropped, and the next write starts afresh


@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
async def test_on_the_fanout_layer_events_are_written_directly_and_the_sink_leaves_with_the_socket(fanout_layer):
    from channels.db import database_sync_to_async

    user = await database_sync_to_async(UserFactory)()
    inner = live_consumer.LiveConsumer.as_asgi()

    credential = live_access.session_credential(user=user, session_key=None)

    async def app(scope, receive, send):
        return await inner({**scope, "user": user, live_access.SCOPE_KEY: credential}, receive, send)

    ws = WebsocketCommunicator(app, "/ws/live/")
    ok, _ = await ws.connect(timeout=TIMEOUT)
    assert ok
    hello = await ws.receive_json_from(timeout=TIMEOUT)
    assert hello["type"] == "hello"

    state = fanout_layer.state()
    assert len(state.sinks) == 1  # the socket takes its events from the layer's reader
    (channel,) = state.sinks
    await fanout_layer.group_send_many([push.user_group(user.pk)], live({"type": "probe", "n": 1}))
    assert await ws.receive_json_from(timeout=TIMEOUT) == {"type": "probe", "n": 1}
    assert await ws.receive_nothing(timeout=0.3)  # not a second time through the queue
    assert channel in state.channels and state.channels[channel].empty()

    await ws.disconnect()
    assert state.sinks == {}
    await fanout_layer.flush()
