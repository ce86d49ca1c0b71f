"""live.handshake's busy refusals: every client gets its refusal (503 + Retry-After, else close
1013), and a burst of them logs one warning line per BUSY_LOG_INTERVAL, not one per socket."""

import logging

import pytest

from live import handshake


class Clock:
    """Monotonic seconds that move only when a test says so."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def refusals(clock) -> handshake.BusyRefusals:
    return handshake.BusyRefusals(interval=10.0, clock=clock)


def lines(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "live.handshake" and r.levelno == logging.WARNING]


def test_the_first_refusal_of_a_quiet_period_is_logged_at_once_with_its_reason(refusals, caplog):
    refusals.record(user_id=None, reason="the handshake waited 9.0 s (budget 8 s)")
    refusals.record(user_id=None, reason="the handshake waited 9.1 s (budget 8 s)")

    assert lines(caplog) == ["live: socket refused as busy: the handshake waited 9.0 s (budget 8 s)"]


def test_refusals_within_the_interval_are_counted_and_told_by_the_next_one_after_it(refusals, clock, caplog):
    refusals.record(user_id=7, reason="first")
    for _ in range(2500):
        clock.now += 0.001
        refusals.record(user_id=None, reason="counted")
    assert len(lines(caplog)) == 1

    clock.now = 1012.0
    refusals.record(user_id=8, reason="Redis did not answer")

    assert lines(caplog) == [
        "live: socket of user 7 refused as busy: first",
        "live: socket of user 8 refused as busy: Redis did not answer; "
        "2500 more sockets refused as busy in the last 12 s",
    ]


def test_a_sustained_burst_logs_one_line_per_interval(refusals, clock, caplog):
    for _ in range(300):  # 30 s, a refusal every 0.1 s
        refusals.record(user_id=None, reason="busy")
        clock.now += 0.1

    logged = lines(caplog)
    assert len(logged) == 3  # at 0 s, 10 s and 20 s
    assert logged[0] == "live: socket refused as busy: busy"
    assert all(line.endswith("99 more sockets refused as busy in the last 10 s") for line in logged[1:])


def test_after_a_quiet_interval_with_nothing_counted_the_next_refusal_is_logged_plainly(refusals, clock, caplog):
    refusals.record(user_id=None, reason="one")
    clock.now += 10.0
    refusals.record(user_id=None, reason="two")

    assert lines(caplog) == ["live: socket refused as busy: one", "live: socket refused as busy: two"]


def test_reset_forgets_the_count(refusals, clock, caplog):
    refusals.record(user_id=None, reason="one")
    refusals.record(user_id=None, reason="counted")
    refusals.reset()
    refusals.record(user_id=None, reason="two")

    assert lines(caplog) == ["live: socket refused as busy: one", "live: socket refused as busy: two"]


class Sent(list):
    async def __call__(self, message: dict) -> None:
        self.append(message)


@pytest.mark.asyncio
@pytest.mark.parametrize("http_response", [False, True])
async def test_every_refused_client_gets_its_refusal_while_the_log_gets_one_line(http_response, caplog):
    scope = {"type": "websocket", "extensions": {"websocket.http.response": {}} if http_response else {}}
    answers = []
    for n in range(50):
        sent = Sent()
        await handshake.refuse_busy(scope, sent, user_id=n, reason="busy")
        answers.append(sent)

    if http_response:
        start, body = answers[0]
        assert start["type"] == "websocket.http.response.start" and start["status"] == 503
        assert dict(start["headers"])[b"retry-after"] == str(handshake.BUSY_RETRY_AFTER).encode()
        assert body["type"] == "websocket.http.response.body"
    else:
        assert answers[0] == [{"type": "websocket.close", "code": handshake.CLOSE_TRY_AGAIN_LATER}]
    assert all(sent == answers[0] for sent in answers)
    assert lines(caplog) == ["live: socket of user 0 refused as busy: busy"]  # the rest within the interval
    assert not any(r.exc_info for r in caplog.records)
