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

    headers = [(b"host", b"127.0.0.1:8000"), (b"origin", b"http://127.0.0.1:8000")]
    scope = {"type": "websocket", "headers": headers, "query_string": b""}
    await OriginCheckMiddleware(inner)(scope, None, plain_send)
    assert WRITE_TEXT in seen and seen[WRITE_TEXT] is None  # not daphne: events take the queue

    protocol = RecordingProtocol()
    _server, send = await daphne_send(protocol)
    await OriginCheckMiddleware(inner)(scope, None, send)
    seen[WRITE_TEXT]("frame")
    assert protocol.sent == [(b"frame", False)]


# --- write_immediately: a frame goes to the socket at once when Twisted has nothing buffered ---


class RecordingReactor:
    """The reactor calls a Twisted transport makes to watch its socket (no loop runs here)."""

    def __init__(self):
        self.writers: list = []
        self.readers: list = []

    def addReader(self, reader):
        self.readers.append(reader)

    def removeReader(self, reader):
        self.readers.remove(reader)

    def addWriter(self, writer):
        if writer not in self.writers:
            self.writers.append(writer)

    def removeWriter(self, writer):
        if writer in self.writers:
            self.writers.remove(writer)


@pytest.fixture
def tcp_pair():
    """A Twisted tcp.Server on one end of a real socket pair, and the other end."""
    import socket

    from twisted.internet import protocol as twisted_protocol
    from twisted.internet import tcp

    ours, peer = socket.socketpair()
    peer.settimeout(2)
    reactor = RecordingReactor()
    transport = tcp.Server(ours, twisted_protocol.Protocol(), ("127.0.0.1", 1), None, 1, reactor)
    yield transport, peer, reactor
    ours.close()
    peer.close()


def drain(peer, size: int) -> bytes:
    got = b""
    while len(got) < size:
        got += peer.recv(size - len(got))
    return got


async def test_with_nothing_buffered_the_bytes_go_out_at_once_without_the_reactor(tcp_pair):
    from config.websocket import write_immediately

    transport, peer, reactor = tcp_pair
    assert write_immediately(transport) is True
    transport.write(b"frame one|")
    transport.write(b"frame two|")
    assert reactor.writers == []  # nothing left for the reactor to watch
    assert drain(peer, 20) == b"frame one|frame two|"


async def test_what_the_socket_does_not_take_is_buffered_and_later_writes_queue_behind_it(tcp_pair):
    from config.websocket import write_immediately

    transport, peer, reactor = tcp_pair
    write_immediately(transport)
    big = bytes(range(256)) * 40_000  # ~10 MB: more than the socket pair's buffers hold
    transport.write(big)
    assert reactor.writers == [transport]  # the rest waits in Twisted's buffer
    transport.write(b"after")  # must not overtake what is waiting
    assert transport._tempDataBuffer[-1] == b"after"
    received = bytearray()
    while len(received) < len(big) + 5:  # the reactor's part, as its loop would do it
        chunk = peer.recv(1 << 20)
        received += chunk
        if transport in reactor.writers:
            transport.doWrite()
    assert bytes(received) == big + b"after"
    assert reactor.writers == []


async def test_a_tls_or_closing_transport_keeps_twisteds_buffered_write(tcp_pair):
    from config.websocket import write_immediately

    transport, _peer, _reactor = tcp_pair
    write_immediately(transport)
    through_tls = []
    transport.protocol = type("TLSLayer", (), {"write": lambda self, data: through_tls.append(data)})()
    transport.TLS = True  # as startTLS sets it: bytes must go through the TLS layer
    transport.write(b"x")
    assert through_tls == [b"x"]
    transport.TLS = False
    transport.disconnecting = True
    transport.write(b"y")
    assert transport._tempDataBuffer == [b"y"]


async def test_other_transports_are_left_alone():
    from config.websocket import write_immediately

    class Other:
        def write(self, data):
            pass

    other = Other()
    assert write_immediately(other) is False
    assert write_immediately(None) is False
    assert "write" not in vars(other)
