"""config.websocket.server_writer: the live layer's sinks write to daphne's protocol directly.

The send handed to the application is taken from daphne's own Server.create_application (not
rebuilt here), so a daphne that built its send another way would fail the first test instead of
silently sending every event through the queue again."""

import asyncio
import functools

import pytest
from daphne.server import Server
from daphne.ws_protocol import WebSocketProtocol

from config.live_layer import WRITE_TEXT
from config.websocket import OriginCheckMiddleware, server_writer

pytestmark = pytest.mark.asyncio


class RecordingProtocol(WebSocketProtocol):
    """daphne's WebSocket protocol with autobahn's sendMessage recorded instead of framed."""

    def __init__(self):
        self.sent: list[tuple[bytes, bool]] = []
        self.state = self.STATE_OPEN

    def sendMessage(self, payload, isBinary=False, *args, **kwargs):
        self.sent.append((payload, isBinary))


async def daphne_send(protocol) -> tuple[Server, object]:
    """The `send` daphne itself gives an application for `protocol`."""
    sends = []

    async def application(scope, receive, send):
        sends.append(send)

    server = Server(application=application, endpoints=["tcp:port=0:interface=127.0.0.1"])
    server.connections = {}  # as Server.run() sets it up
    server.protocol_connected(protocol)
    server.create_application(protocol, {"type": "websocket"})
    await asyncio.sleep(0)
    await server.connections[protocol]["application_instance"]
    return server, sends[0]


async def test_daphnes_send_gets_a_writer_that_sends_text_frames_at_once():
    protocol = RecordingProtocol()
    _server, send = await daphne_send(protocol)
    write = server_writer(send)
    assert write is not None
    assert write('{"type": "message.new", "body": "héllo"}') is True
    assert protocol.sent == [('{"type": "message.new", "body": "héllo"}'.encode(), False)]


async def test_the_writer_writes_nothing_once_the_socket_is_gone_or_closing():
    protocol = RecordingProtocol()
    server, send = await daphne_send(protocol)
    write = server_writer(send)

    protocol.state = protocol.STATE_CLOSING
    assert write("closing") is False
    protocol.state = protocol.STATE_OPEN
    server.protocol_disconnected(protocol)  # daphne marks it; its checker removes it later
    assert write("disconnected") is False
    del server.connections[protocol]
    assert write("removed") is False
    assert protocol.sent == []


async def test_any_other_send_gets_no_writer():
    async def plain_send(message):
        pass

    server = Server(application=None, endpoints=["tcp:port=0:interface=127.0.0.1"])
    protocol = RecordingProtocol()
    assert server_writer(plain_send) is None
    assert server_writer(functools.partial(plain_send)) is None
    assert server_writer(functools.partial(server.handle_reply)) is None  # no protocol bound
    assert server_writer(functools.partial(server.handle_reply, protocol, {"type": "x"})) is None
    assert server_writer(functools.partial(server.protocol_connected, protocol)) is None


async def test_the_origin_check_puts_the_writer_in_the_scope():
    seen = {}

    async def inner(scope, receive, send):
        seen.update(scope)

    async def plain_send(message):
        pass

    scope = {"type": "websocket", "headers": [(b"origin", b"http://127.0.0.1:8000")], "query_string": b""}
    await OriginCheckMiddleware(inner)(scope, None, plain_send)
    assert WRITE_TEXT in seen and seen[WRITE_TEXT] is None  # not daphne: events take the queue

    protocol = RecordingProtocol()
    _server, send = await daphne_send(protocol)
    await OriginCheckMiddleware(inner)(scope, None, send)
    seen[WRITE_TEXT]("frame")
    assert protocol.sent == [(b"frame", False)]
