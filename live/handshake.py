"""The live handshake's clock and its busy refusal: one door for every database hop of a connect.

A handshake is worth database work only while its server still keeps it open. uvicorn (the
websockets library's protocol) gives the whole opening handshake 10 s from the TCP connection
(websockets' `open_timeout`; uvicorn does not change it); daphne gives it its
`--websocket_connect_timeout`, 5 s by default (its CLI passes the same value to autobahn's
`openHandshakeTimeout` and to its own check of unaccepted sockets). Under a burst of connects
the wait for a live pool thread (live.db) is where a handshake ages: a handshake whose server,
or client, has already given up would still get its session read and hello, and then find the
socket gone, so every handshake behind it would wait longer still.

The Origin check (live.auth.OriginCheckMiddleware, the outermost layer, called as soon as the
server has parsed the HTTP upgrade) notes when the handshake reached the application
(STARTED_AT). The session read or ticket redemption (live.auth) goes through `connect_db`:
checked in the pool thread, right before the work, a handshake older than
LIVE_HANDSHAKE_BUDGET_SECONDS raises live.db.DeadlinePassed without running a statement. The
consumer checks again (`expired`) after joining the user's group, right before accept. Either
way the handshake is refused as busy (`refuse_busy`), never counted online, and the client retries with its
backoff. So is a handshake whose way in cannot be checked now (`CannotCheckNow`: a live ticket
while the cache is down). The hello's hop comes after accept and is not checked: by then the handshake has
completed in time, and the socket is owed its hello (refusing it there would close sockets that
are open, and send their clients round again).
"""

import logging
import time

from django.conf import settings

from live.db import live_db

logger = logging.getLogger(__name__)

# The scope key holding time.monotonic() when the handshake reached the application.
STARTED_AT = "lyceum.handshake_started"
# A handshake refused as busy: 503 with Retry-After (seconds) where the server lets the
# application answer the handshake over HTTP (uvicorn's websocket.http.response extension), else
# a refused handshake with this code (RFC 6455 "try again later").
CLOSE_TRY_AGAIN_LATER = 1013
BUSY_RETRY_AFTER = 5
# Busy refusals come in bursts (a connect burst on a busy server): the first refusal of a quiet
# period is logged at once, those of the next BUSY_LOG_INTERVAL seconds are only counted.
BUSY_LOG_INTERVAL = 10.0


def note_started(scope: dict) -> float:
    """Record in `scope` (a copy the caller owns) when the handshake reached the application."""
    started = time.monotonic()
    scope[STARTED_AT] = started
    return started


def budget_seconds() -> float:
    return float(getattr(settings, "LIVE_HANDSHAKE_BUDGET_SECONDS", 8.0))


def age(scope) -> float | None:
    """Seconds since the handshake reached the application (None: not noted, e.g. a test's scope)."""
    started = scope.get(STARTED_AT)
    return None if started is None else time.monotonic() - started


def expired(scope) -> bool:
    """Whether the handshake is older than the budget (False when its start was not noted)."""
    seconds = age(scope)
    return seconds is not None and seconds >= budget_seconds()


def connect_db(scope, function):
    """`live_db(function)` for a hop of the connect path: live.db.DeadlinePassed, with nothing
    run, when the handshake is older than the budget by the time a pool thread takes the call."""
    started = scope.get(STARTED_AT)
    return live_db(function, deadline=None if started is None else started + budget_seconds())


class BusyRefusals:
    """The warning lines of this process's busy refusals: the first refusal of a quiet period is
    logged at once, with its reason; the refusals of the `interval` seconds after a logged one
    are counted, not logged; the first refusal after that interval is logged with its own reason
    and how many were counted since the last line ("N more sockets refused as busy in the last
    X s"), and starts the next interval. So a burst of thousands of refusals logs one line per
    interval. No timer: counted refusals are told by the next refusal after the interval (until
    then they stay counted). `clock` gives monotonic seconds. Called from the event loop only
    (one thread), so a plain counter suffices."""

    def __init__(self, *, interval: float = BUSY_LOG_INTERVAL, clock=time.monotonic) -> None:
        self.interval = interval
        self.clock = clock
        self.reset()

    def reset(self) -> None:
        """Forget the last line and the count: the next refusal is logged at once."""
        self.logged_at: float | None = None
        self.counted = 0

    def record(self, *, user_id: int | None, reason) -> None:
        now = self.clock()
        if self.logged_at is not None and now - self.logged_at < self.interval:
            self.counted += 1
            return
        if user_id is None:  # before the session read: nobody known yet
            message, args = "live: socket refused as busy: %s", [reason]
        else:
            message, args = "live: socket of user %s refused as busy: %s", [user_id, reason]
        if self.counted:
            message += "; %d more sockets refused as busy in the last %.0f s"
            args += [self.counted, now - self.logged_at]
        logger.warning(message, *args)
        self.logged_at = now
        self.counted = 0


# This process's busy refusals (refuse_busy).
busy_refusals = BusyRefusals()


async def refuse_busy(scope, send, *, user_id: int | None, reason) -> None:
    """Refuse the handshake as a busy server (see CLOSE_TRY_AGAIN_LATER), with no traceback and
    a warning line as `busy_refusals` allows (one per BUSY_LOG_INTERVAL in a burst). `send` is
    the ASGI send of the handshake; nothing was accepted."""
    busy_refusals.record(user_id=user_id, reason=reason)
    if "websocket.http.response" in scope.get("extensions", {}):
        await send(
            {
                "type": "websocket.http.response.start",
                "status": 503,
                "headers": [
                    (b"content-type", b"text/plain; charset=utf-8"),
                    (b"retry-after", str(BUSY_RETRY_AFTER).encode()),
                ],
            }
        )
        await send({"type": "websocket.http.response.body", "body": b"Busy: retry later.\n"})
    else:
        await send({"type": "websocket.close", "code": CLOSE_TRY_AGAIN_LATER})


class CannotCheckNow(Exception):
    """The way in a handshake brings cannot be checked at the moment (its store, e.g. the cache
    that holds live tickets, does not answer): the handshake is refused as busy, so the client
    retries with its backoff instead of taking a refusal for a bad credential. Its message is
    the refusal's logged reason."""


def expired_reason(scope) -> str:
    seconds = age(scope)
    return f"the handshake waited {seconds:.1f} s (budget {budget_seconds():g} s)"
