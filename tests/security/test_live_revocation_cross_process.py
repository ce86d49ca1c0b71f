"""Revocation across processes (issue 12, item 1), on Redis: two real daphne processes hold the
sockets, the way in ends in a third (this test process, as a page, the API or the admin would in
any process of the site), and every socket it ends — whichever daphne holds it — closes with
4401 within a second, while the others stay open.
"""

import os
import select
import struct
import time

import pytest

from accounts.tests.factories import UserFactory
from chat.tests.wsclient import WebSocketClient
from live import access as live_access
from tests.faults.processes import daphnes
from tests.security.triggers import EVERY_SOCKET_TRIGGERS, ApiLogin, Browser, api_log_out, log_out

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]

WITHIN = 1.0
OP_TEXT, OP_CLOSE = 0x1, 0x8


@pytest.fixture(scope="module")
def two_daphnes(django_db_setup):
    if not os.environ.get("REDIS_URL"):
        pytest.skip("REDIS_URL is not set: this test needs a real Redis (make test-services)")
    with daphnes(2) as started:
        yield started


class Socket:
    """A live socket held by one daphne process."""

    def __init__(self, daphne, *, cookie: str | None = None, ticket: str | None = None):
        path = f"/ws/live/?ticket={ticket}" if ticket else "/ws/live/"
        headers = {"Origin": daphne.url}
        if cookie:
            headers["Cookie"] = f"sessionid={cookie}"
        self.ws = WebSocketClient("127.0.0.1", daphne.port, path, headers=headers, timeout=10)
        assert self.ws.recv_json()["type"] == "hello"
        self.closed: int | None = None

    def fileno(self) -> int:
        return self.ws.sock.fileno()

    def read_some(self) -> None:
        """What the server sent, up to a close frame (whose code is kept)."""
        while self.closed is None:
            if not self.ws.buffer and not select.select([self.ws.sock], [], [], 0)[0]:
                return
            opcode, payload = self.ws.recv_frame()
            if opcode == OP_CLOSE:
                self.closed = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else 1005

    def answers_ping(self) -> bool:
        self.ws.send_json({"type": "ping"})
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            opcode, payload = self.ws.recv_frame()
            if opcode == OP_CLOSE:
                return False
            if opcode == OP_TEXT and b'"pong"' in payload:
                return True
        return False

    def close(self) -> None:
        self.ws.close()


def wait_closed(sockets: list[Socket], *, since: float, timeout: float = 5.0) -> dict[Socket, float]:
    """When each socket got its close frame (seconds after `since`)."""
    arrived: dict[Socket, float] = {}
    deadline = time.monotonic() + timeout
    while len(arrived) < len(sockets) and time.monotonic() < deadline:
        waiting = [s for s in sockets if s not in arrived]
        ready = select.select(waiting, [], [], 0.05)[0]
        for socket_ in {*ready, *(s for s in waiting if s.ws.buffer)}:
            socket_.read_some()
            if socket_.closed is not None:
                arrived[socket_] = time.monotonic() - since
    return arrived


@pytest.fixture
def people(transactional_db):
    return UserFactory(first_name="Ada", last_name="Lovelace"), UserFactory(first_name="Bob", last_name="Babbage")


@pytest.fixture
def sockets(two_daphnes, people):
    """Ada: one browser with a tab on each daphne, a second browser, an API login's ticket
    socket; Bob: a tab. Spread over both processes."""
    ada, bob = people
    first, second = two_daphnes
    browser, other_browser, login = Browser(ada), Browser(ada), ApiLogin(ada)
    opened = {
        "browser on A": Socket(first, cookie=browser.cookie),
        "browser on B": Socket(second, cookie=browser.cookie),
        "other browser on B": Socket(second, cookie=other_browser.cookie),
        "ticket on A": Socket(first, ticket=login.ticket()),
        "ticket on B": Socket(second, ticket=login.ticket()),
        "bob on B": Socket(second, cookie=Browser(bob).cookie),
    }
    yield browser, login, opened
    for socket_ in opened.values():
        socket_.close()


def _assert_closed_within(opened: dict, names: list[str], since: float) -> None:
    arrived = wait_closed([opened[name] for name in names], since=since)
    for name in names:
        socket_ = opened[name]
        assert socket_.closed == live_access.CLOSE_SIGNED_OUT, f"{name}: closed with {socket_.closed}"
        assert arrived[socket_] < WITHIN, f"{name}: closed after {arrived[socket_]:.2f} s"


def _assert_still_open(opened: dict, names: list[str]) -> None:
    for name in names:
        assert opened[name].answers_ping(), f"{name} should still be open"


def test_a_logout_closes_that_sessions_sockets_in_both_processes(sockets):
    browser, _login, opened = sockets

    log_out(browser)
    done = time.monotonic()

    _assert_closed_within(opened, ["browser on A", "browser on B"], done)
    _assert_still_open(opened, ["other browser on B", "ticket on A", "ticket on B", "bob on B"])


def test_an_api_logout_closes_that_logins_sockets_in_both_processes(sockets):
    _browser, login, opened = sockets

    api_log_out(login)
    done = time.monotonic()

    _assert_closed_within(opened, ["ticket on A", "ticket on B"], done)
    _assert_still_open(opened, ["browser on A", "browser on B", "other browser on B", "bob on B"])


@pytest.mark.parametrize(
    "trigger", ["password change page", "password reset", "moderation action", "admin unticks active"]
)
def test_the_trigger_closes_every_socket_of_the_user_in_both_processes(sockets, trigger):
    browser, login, opened = sockets
    adas = [name for name in opened if not name.startswith("bob")]

    EVERY_SOCKET_TRIGGERS[trigger](browser, login)
    done = time.monotonic()

    _assert_closed_within(opened, adas, done)
    _assert_still_open(opened, ["bob on B"])
