"""A handshake that waited longer than its budget (LIVE_HANDSHAKE_BUDGET_SECONDS) is refused as busy
without its database work (live.handshake): the session read checks its age in the pool thread,
right before the work, and the consumer again right before accept (so no hello hop). A fresh one
connects."""

import logging
import time

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator

from chat.tests.test_connect_cost import _nobody_online, _warm_pool, _world  # noqa: F401 - fixtures
from chat.tests.test_consumers import GOOD_ORIGIN, TIMEOUT, application
from live import handshake, presence
from live.db import DeadlinePassed, live_db, watch_statements

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]


def _communicator(cookie: bytes, *, http_response: bool = False) -> WebsocketCommunicator:
    ws = WebsocketCommunicator(
        application, "/ws/live/", headers=[(b"host", b"127.0.0.1:8000"), (b"origin", GOOD_ORIGIN), (b"cookie", cookie)]
    )
    if http_response:
        ws.scope["extensions"] = {"websocket.http.response": {}}
    return ws


class _Statements:
    """An execute wrapper for watch_statements: records each statement, and can make the first
    `slow` of them take `seconds` (a pool that is slow to come back to the next hop)."""

    def __init__(self, *, slow: int = 0, seconds: float = 0.0) -> None:
        self.sql: list[str] = []
        self.slow, self.seconds = slow, seconds

    def __call__(self, execute, sql, params, many, context):
        self.sql.append(sql)
        if len(self.sql) <= self.slow:
            time.sleep(self.seconds)
        return execute(sql, params, many, context)


def _busy_warnings(caplog) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.levelno >= logging.WARNING and "refused as busy" in r.getMessage()]


async def test_a_handshake_past_its_budget_is_refused_with_1013_before_any_statement(settings, caplog):
    # given: a handshake that is already older than its budget when the session read's turn comes
    settings.LIVE_HANDSHAKE_BUDGET_SECONDS = 0
    cookie = await database_sync_to_async(_world)()
    statements = _Statements()

    # when
    with watch_statements(statements):
        ok, code = await _communicator(cookie).connect(timeout=TIMEOUT)

    # then: refused as busy, and the database never saw it
    assert (ok, code) == (False, handshake.CLOSE_TRY_AGAIN_LATER)
    assert statements.sql == []
    [warning] = _busy_warnings(caplog)
    assert warning.exc_info is None and "budget 0 s" in warning.getMessage()


async def test_with_the_http_response_extension_an_old_handshake_gets_503_with_retry_after(settings, caplog):
    settings.LIVE_HANDSHAKE_BUDGET_SECONDS = 0
    cookie = await database_sync_to_async(_world)()
    ws = _communicator(cookie, http_response=True)
    statements = _Statements()

    with watch_statements(statements):
        await ws.send_input({"type": "websocket.connect"})
        start = await ws.receive_output(timeout=TIMEOUT)
        body = await ws.receive_output(timeout=TIMEOUT)

    assert start["type"] == "websocket.http.response.start" and start["status"] == 503
    assert dict(start["headers"])[b"retry-after"] == str(handshake.BUSY_RETRY_AFTER).encode()
    assert body["type"] == "websocket.http.response.body"
    assert statements.sql == []
    await ws.send_input({"type": "websocket.disconnect", "code": 1006})
    await ws.wait(timeout=TIMEOUT)
    [line] = [record for record in caplog.records if record.name == "lyceum.socket"]
    assert (line.outcome, line.close_code) == ("refused", 503)


async def test_a_handshake_that_ages_past_its_budget_during_the_session_read_is_not_accepted(settings, caplog):
    # given: the session read starts in time but ends after the handshake's budget
    settings.LIVE_HANDSHAKE_BUDGET_SECONDS = 0.4
    cookie = await database_sync_to_async(_world)()
    statements = _Statements(slow=2, seconds=0.3)  # the session's two statements: 0.6 s

    # when
    with watch_statements(statements):
        ok, code = await _communicator(cookie).connect(timeout=TIMEOUT)

    # then: refused as busy before accept; no hello statement, not counted online
    assert (ok, code) == (False, handshake.CLOSE_TRY_AGAIN_LATER)
    assert len(statements.sql) == 2, "\n".join(statements.sql)
    assert presence.online_among(await database_sync_to_async(_ada_id)()) == set()
    assert len(_busy_warnings(caplog)) == 1


def _ada_id() -> list[int]:
    from accounts.models import User

    return [User.objects.get(email="ada@uni.example").pk]


async def test_a_fresh_handshake_connects_and_gets_its_hello(settings):
    settings.LIVE_HANDSHAKE_BUDGET_SECONDS = 8
    cookie = await database_sync_to_async(_world)()
    ws = _communicator(cookie)

    ok, _ = await ws.connect(timeout=TIMEOUT)
    hello = await ws.receive_json_from(timeout=TIMEOUT)

    assert ok and hello["type"] == "hello" and (hello["unread"], hello["chat_unread"]) == (2, 1)
    await ws.disconnect()


async def test_a_live_db_call_past_its_deadline_runs_nothing():
    calls: list[int] = []

    with pytest.raises(DeadlinePassed):
        await live_db(calls.append, deadline=time.monotonic() - 1)(1)
    await live_db(calls.append, deadline=time.monotonic() + 60)(2)

    assert calls == [2]
