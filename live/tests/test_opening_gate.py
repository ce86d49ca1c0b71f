"""A server process opens a bounded number of live sockets at once (live.auth.OpeningGate): the
rest wait their turn in arrival order, and beyond the queue a handshake is refused as busy."""

import asyncio

import pytest
from channels.testing import WebsocketCommunicator

from live.auth import OpeningGate, OriginCheckMiddleware

pytestmark = pytest.mark.asyncio

HEADERS = [(b"host", b"127.0.0.1:8000"), (b"origin", b"http://127.0.0.1:8000")]


async def greeting_app(scope, receive, send):
    """Accepts, then sends its first frame ("hello") when the client asks for it."""
    while True:
        message = await receive()
        if message["type"] == "websocket.connect":
            await send({"type": "websocket.accept"})
        elif message["type"] == "websocket.receive":
            await send({"type": "websocket.send", "text": "hello"})
        else:
            return


def socket(app) -> WebsocketCommunicator:
    return WebsocketCommunicator(app, "/ws/live/", headers=HEADERS)


async def test_a_socket_beyond_the_limit_and_the_queue_is_refused_as_busy():
    app = OriginCheckMiddleware(greeting_app, gate=OpeningGate(limit=1, queue=0))
    first = socket(app)
    assert (await first.connect())[0]

    second = socket(app)
    connected, _code = await second.connect()

    assert not connected
    await first.disconnect()


async def test_busy_is_an_http_503_where_the_server_lets_the_application_answer_the_handshake():
    app = OriginCheckMiddleware(greeting_app, gate=OpeningGate(limit=0, queue=0))
    ws = socket(app)
    ws.scope["extensions"] = {"websocket.http.response": {}}

    await ws.send_input({"type": "websocket.connect"})
    start = await ws.receive_output(1)
    body = await ws.receive_output(1)

    assert start["type"] == "websocket.http.response.start"
    assert start["status"] == 503
    assert (b"retry-after", b"1") in start["headers"]
    assert body["type"] == "websocket.http.response.body"


async def test_a_waiting_socket_opens_once_an_opening_one_has_sent_its_first_frame():
    app = OriginCheckMiddleware(greeting_app, gate=OpeningGate(limit=1, queue=1))
    first, second = socket(app), socket(app)
    assert (await first.connect())[0]
    waiting = asyncio.ensure_future(second.connect())
    await asyncio.sleep(0.1)
    assert not waiting.done()  # its turn has not come

    await first.send_to(text_data="hello?")
    assert await first.receive_from() == "hello"

    assert (await asyncio.wait_for(waiting, 1))[0]
    await first.disconnect()
    await second.disconnect()


async def test_a_socket_that_closes_before_its_first_frame_hands_its_turn_on():
    app = OriginCheckMiddleware(greeting_app, gate=OpeningGate(limit=1, queue=1))
    first, second = socket(app), socket(app)
    assert (await first.connect())[0]
    waiting = asyncio.ensure_future(second.connect())
    await asyncio.sleep(0.1)

    await first.disconnect()

    assert (await asyncio.wait_for(waiting, 1))[0]
    await second.disconnect()


async def test_a_waiter_that_goes_away_leaves_its_place_to_the_next():
    gate = OpeningGate(limit=1, queue=2)
    assert gate.try_enter() is True
    gone, next_in_line = gate.try_enter(), gate.try_enter()
    assert gate.try_enter() is False  # the queue is full

    gone.cancel()
    gate.cancel(gone)
    gate.leave()

    assert next_in_line.done()
    assert gate.opening == 1
    gate.leave()
    assert gate.opening == 0
