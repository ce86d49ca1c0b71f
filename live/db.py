"""Database work of the live socket path: a fixed pool of threads with kept connections.

`database_sync_to_async` runs every call on ONE thread per daphne process by default
(asgiref's thread_sensitive=True). Every socket of the process then queues behind every other:
under a burst of connects or a steady stream of messages the queue only grows.
None of the socket path's database work needs that thread (it holds no thread-bound state:
each call is a self-contained read or transaction), so it runs here instead, on
LIVE_DB_THREADS threads.

Those threads live as long as the process, so their connections are kept between calls for
LIVE_DB_CONN_MAX_AGE seconds, with Django's public connection API around each call
(`close_old_connections` before and after: closed after an error or once too old) and the
health check of CONN_HEALTH_CHECKS done here, once a connection has been idle for a moment
(see TRUSTED_SECONDS). Django's advice to disable persistent
connections under ASGI is about per-request threads, where a kept connection is never reused;
here the same few threads serve every call, so at most LIVE_DB_THREADS connections per process
are held open and each one is reused instead of reconnecting (a new MySQL connection per hop
was a third of a send's time). HTTP requests keep DATABASE_CONN_MAX_AGE.

The pool is bounded (default 8): a call is a few short queries on kept connections and does not
wait for pushes (live.push.send_to_users hands them to the event loop), but most of its time is
spent waiting for those queries' round trips with the GIL released, so under load a process needs
several calls in flight. In the benchmark 2 threads queued sends from ~400 msg/s (two processes)
and 8 held 500 without slowing the connect burst or the low steps (see LIVE_DB_THREADS in
config/settings.py and docs/benchmarks.md).
"""

import asyncio
import contextlib
import functools
import threading
import time
import weakref
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import close_old_connections, connections

_lock = threading.Lock()
_executor: ThreadPoolExecutor | None = None


def pool_size() -> int:
    return int(settings.LIVE_DB_THREADS)


def executor() -> ThreadPoolExecutor:
    global _executor
    if _executor is None:
        with _lock:
            if _executor is None:
                _executor = ThreadPoolExecutor(max_workers=pool_size(), thread_name_prefix="live-db")
    return _executor


# Per pool thread (Django's connections are per thread too): the settings each alias was given,
# when each connection last finished a call cleanly, and the event loop waiting for this call.
_current = threading.local()


def _thread_state() -> threading.local:
    if not hasattr(_current, "bases"):
        _current.bases = {}
        _current.verified = {}
        _current.health_checks = {}
        _current.loop = None
    return _current


def _keep_connections(state) -> None:
    """This pool thread's connections get LIVE_DB_CONN_MAX_AGE and do their health check here
    (see _check_idle_connections) instead of Django's per-call ping: a copy of the alias's
    settings, refreshed whenever those settings change (e.g. the test runner renaming the
    database)."""
    max_age = settings.LIVE_DB_CONN_MAX_AGE
    for alias in connections:
        base = connections.settings[alias]
        if state.bases.get(alias) == base:
            continue
        connection = connections[alias]
        connection.close()
        health_checks = bool(base.get("CONN_HEALTH_CHECKS"))
        connection.settings_dict = {**base, "CONN_MAX_AGE": max_age, "CONN_HEALTH_CHECKS": False}
        state.bases[alias] = dict(base)
        state.verified.pop(alias, None)
        state.health_checks[alias] = health_checks


def event_loop():
    """The event loop waiting for this call, when running on the pool (else None): work for the
    loop that this call need not wait for can be handed to it (live.push.send_to_users)."""
    loop = getattr(_current, "loop", None)
    return loop if loop is not None and loop.is_running() else None


# CONN_HEALTH_CHECKS, done here: a kept connection is pinged (Django's `is_usable`) before a
# call only when it last finished a call cleanly more than TRUSTED_SECONDS ago. Under load
# Django's own check pinged before every call a connection used a few milliseconds before.
TRUSTED_SECONDS = 1.0


def _check_idle_connections(state) -> None:
    now = time.monotonic()
    for connection in connections.all(initialized_only=True):
        if connection.connection is None or not state.health_checks.get(connection.alias, False):
            continue
        verified = state.verified.get(connection.alias)
        if (verified is None or now - verified >= TRUSTED_SECONDS) and not connection.is_usable():
            connection.close()  # the call connects afresh


def _note_verified(state) -> None:
    now = time.monotonic()
    for connection in connections.all(initialized_only=True):
        if connection.connection is not None:  # still open after close_old_connections: clean
            state.verified[connection.alias] = now
        else:
            state.verified.pop(connection.alias, None)


# Execute wrappers (Django's connection.execute_wrapper) put around every call on the pool while
# registered with watch_statements: how tests and benchmarks count what the socket path runs.
_watchers: list[Callable] = []


@contextlib.contextmanager
def watch_statements(wrapper: Callable) -> Iterator[None]:
    """While in this block, `wrapper` (an execute wrapper, as for Django's
    `connection.execute_wrapper`) sees every statement the live pool's threads run."""
    _watchers.append(wrapper)
    try:
        yield
    finally:
        _watchers.remove(wrapper)


def _watched(function, args, kwargs):
    with contextlib.ExitStack() as stack:
        for wrapper in list(_watchers):
            for alias in connections:
                stack.enter_context(connections[alias].execute_wrapper(wrapper))
        return function(*args, **kwargs)


class DeadlinePassed(Exception):
    """A call's deadline had passed when a pool thread took it: nothing ran, not even a
    connection check (live_db's `deadline`)."""


def _run(loop, function, args, kwargs, deadline):
    """On a pool thread: Django's request bracket (close_old_connections before and after: a
    connection that failed, or is older than its max age, is closed) around the call, unless
    its deadline has passed (DeadlinePassed)."""
    if deadline is not None and time.monotonic() >= deadline:
        raise DeadlinePassed
    state = _thread_state()
    _keep_connections(state)
    state.loop = loop
    close_old_connections()
    _check_idle_connections(state)
    try:
        if _watchers:
            return _watched(function, args, kwargs)
        return function(*args, **kwargs)
    finally:
        close_old_connections()
        _note_verified(state)
        state.loop = None


def live_db(function, *, deadline: float | None = None):
    """`function` run on the live pool (asgiref's public sync_to_async with our executor):
    `await live_db(f)(*args)`. With `deadline` (a time.monotonic() value), the pool thread first
    checks the time: past it, DeadlinePassed and nothing runs (the wait for a thread is where a
    call ages; live.handshake)."""
    run = sync_to_async(_run, thread_sensitive=False, executor=executor())

    @functools.wraps(function)
    async def call(*args, **kwargs):
        return await run(asyncio.get_running_loop(), function, args, kwargs, deadline)

    return call


class Batched:
    """Calls of one function that arrive while earlier ones are on the pool share ONE pool call:
    `await batched(item)` queues `item`, and `function` (a list of items → a list of results, in
    order) answers each caller; a result that is an exception instance is raised to that caller
    alone.

    A call starts at once when none is running, with every item queued (at most `max_items`);
    while one runs the next items gather behind it, and a further call (up to `concurrency()`
    in flight) starts once half of `max_items` wait, or once an item has waited
    MAX_WAIT_SECONDS (a slow call does not hold up the rest). An item whose caller was
    cancelled before its call started is not run. So a lone item goes out as a live_db
    call would, and under load whatever a pool call costs once (the hop, a transaction's
    statements) is shared by many items instead of paid by each: in the benchmark one batch at a
    time with ~5 sends each cut the database's CPU per message by a quarter (docs/benchmarks.md).
    Per event loop (asyncio futures belong to the loop that awaits them)."""

    def __init__(self, function: Callable[[list], list], *, concurrency: Callable[[], int], max_items: int = 32):
        self.function = function
        self.concurrency = concurrency
        self.max_items = max_items
        self.call = live_db(function)
        self.loops: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()

    async def __call__(self, item):
        loop = asyncio.get_running_loop()
        state = self.loops.get(loop)
        if state is None:
            state = self.loops[loop] = {"queue": [], "waiting": set(), "running": 0, "tasks": set()}
        future = loop.create_future()
        state["queue"].append((item, future))
        state["waiting"].add(future)
        self._start(loop, state)
        if future in state["waiting"]:
            # Behind a running call: if that one is slow (a lock wait), a further call takes
            # this item after MAX_WAIT_SECONDS even if fewer than half a batch wait.
            loop.call_later(self.MAX_WAIT_SECONDS, self._start_late, loop, state, future)
        return await future

    # How long an item waits behind running calls before a further one starts for it.
    MAX_WAIT_SECONDS = 0.05

    def _start_late(self, loop, state, future) -> None:
        if future in state["waiting"]:
            self._start(loop, state, late=True)

    def _start(self, loop, state, late: bool = False) -> None:
        if any(future.done() for _item, future in state["queue"]):
            # Items whose caller is gone (cancelled: the socket closed) are not run.
            state["waiting"].difference_update(future for _item, future in state["queue"] if future.done())
            state["queue"] = [(item, future) for item, future in state["queue"] if not future.done()]
        while state["queue"] and (
            state["running"] == 0
            or (state["running"] < self.concurrency() and (late or len(state["queue"]) >= self.max_items // 2))
        ):
            taken, state["queue"] = state["queue"][: self.max_items], state["queue"][self.max_items :]
            state["waiting"].difference_update(future for _item, future in taken)
            state["running"] += 1
            task = loop.create_task(self._run(loop, state, taken))
            state["tasks"].add(task)  # a strong reference until it is done
            task.add_done_callback(state["tasks"].discard)

    async def _run(self, loop, state, taken) -> None:
        try:
            results = await self.call([item for item, _future in taken])
            if len(results) != len(taken):
                raise RuntimeError(f"{self.function!r} answered {len(results)} of {len(taken)} items")
        except BaseException as exc:  # every caller of this call hears it; none waits forever
            for _item, future in taken:
                if not future.done():
                    future.set_exception(exc)
            if not isinstance(exc, Exception):
                raise
        else:
            for (_item, future), result in zip(taken, results, strict=True):
                if future.done():  # its caller was cancelled (the socket closed)
                    continue
                if isinstance(result, BaseException):
                    future.set_exception(result)
                else:
                    future.set_result(result)
        finally:
            state["running"] -= 1
            self._start(loop, state)
