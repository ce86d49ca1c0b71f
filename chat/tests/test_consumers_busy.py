"""A socket whose join the live layer cannot make (its Redis does not answer the subscription
within live.layer.SUBSCRIBE_TIMEOUT: Redis down, or the loop starved by a connect burst) is
refused as a busy server, not a crash: 503 with Retry-After where the server lets the
application answer a handshake over HTTP (uvicorn's websocket.http.response extension), else a
refused handshake with close code 1013 (try again later); one warning, no traceback."""

import logging

import pytest
import redis
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator

from chat.tests.test_consumers import GOOD_ORIGIN, TIMEOUT, application, session_cookie_for
from live import consumer as live_consumer
from notifications.tests.factories import UserFactory

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]


@pytest.fixture
def redis_does_not_answer(monkeypatch):
    async def group_add(group, channel):
        raise redis.ConnectionError("live layer: Redis did not answer the subscription")

    monkeypatch.setattr(get_channel_layer(), "group_add", group_add)


@pytest.fixture
def cookie(transactional_db) -> bytes:
    return session_cookie_for(UserFactory(email="busy@uni.example"))


def communicator(cookie: bytes, *, http_response: bool) -> WebsocketCommunicator:
    ws = WebsocketCommunicator(
        application, "/ws/live/", headers=[(b"host", b"127.0.0.1:8000"), (b"origin", GOOD_ORIGIN), (b"cookie", cookie)]
    )
    if http_response:  # the scope is read when the application starts, at the first await
        ws.scope["extensions"] = {"websocket.http.response": {}}
    return ws


def problems(caplog) -> list[logging.LogRecord]:
    return [record for record in caplog.records if record.levelno >= logging.WARNING]


async def test_without_an_http_answer_the_handshake_is_refused_with_1013_and_one_warning(
    redis_does_not_answer, cookie, caplog
):
    ws = communicator(cookie, http_response=False)

    ok, code = await ws.connect(timeout=TIMEOUT)

    assert (ok, code) == (False, live_consumer.CLOSE_TRY_AGAIN_LATER)
    [warning] = problems(caplog)
    assert warning.levelno == logging.WARNING and warning.exc_info is None
    assert "did not answer" in warning.getMessage()
    await ws.wait(timeout=TIMEOUT)  # the application ends without an error


async def test_with_the_http_response_extension_the_handshake_gets_503_with_retry_after(
    redis_does_not_answer, cookie, caplog
):
    ws = communicator(cookie, http_response=True)

    await ws.send_input({"type": "websocket.connect"})
    start = await ws.receive_output(timeout=TIMEOUT)
    body = await ws.receive_output(timeout=TIMEOUT)

    assert start["type"] == "websocket.http.response.start" and start["status"] == 503
    assert dict(start["headers"])[b"retry-after"] == str(live_consumer.BUSY_RETRY_AFTER).encode()
    assert body["type"] == "websocket.http.response.body" and not body.get("more_body", False)
    [warning] = problems(caplog)
    assert warning.exc_info is None
    await ws.send_input({"type": "websocket.disconnect", "code": 1006})
    await ws.wait(timeout=TIMEOUT)
    [line] = [record for record in caplog.records if record.name == "lyceum.socket"]
    assert (line.outcome, line.close_code) == ("refused", 503)
