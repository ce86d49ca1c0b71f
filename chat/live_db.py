"""Database work of the live socket path: a fixed pool of threads with kept connections.

`database_sync_to_async` runs every call on ONE thread per daphne process by default
(asgiref's thread_sensitive=True). Every socket of the process then queues behind every other:
under a burst of connects or a steady stream of messages the queue only grows.
None of the socket path's database work needs that thread (it holds no thread-bound state:
each call is a self-contained read or transaction), so it runs here instead, on
LIVE_DB_THREADS threads.

Those threads live as long as the process, so their connections are kept between calls for
LIVE_DB_CONN_MAX_AGE seconds (with Django's usual checks before and after each call: health
check, closed after an error or once too old). Django's advice to disable persistent
connections under ASGI is about per-request threads, where a kept connection is never reused;
here the same few threads serve every call, so at most LIVE_DB_THREADS connections per process
are held open and each one is reused instead of reconnecting (a new MySQL connection per hop
was a third of a send's time). HTTP requests keep DATABASE_CONN_MAX_AGE.

The pool is small on purpose (default 2): a call is a few short queries on kept connections and
does not wait for pushes (chat.realtime.push_to_users hands them to the event loop), and every
extra thread competes with the event loop for the GIL, which slowed every socket in the
benchmark (see LIVE_DB_THREADS in config/settings.py).
"""

import threading
import time
from concurrent.futures import ThreadPoolExecutor

from asgiref.sync import SyncToAsync
from channels.db import DatabaseSyncToAsync
from django.conf import settings
from django.db import close_old_connections, connections

_lock = threading.Lock()
_executor: ThreadPoolExecutor | None = None


def executor() -> ThreadPoolExecutor:
    global _executor
    if _executor is None:
        with _lock:
            if _executor is None:
                workers = int(getattr(settings, "LIVE_DB_THREADS", 2))
                _executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="live-db")
    return _executor


def _keep_connections() -> None:
    """This pool thread's connections get LIVE_DB_CONN_MAX_AGE (a copy of the alias's settings,
    refreshed whenever those settings change, e.g. the test runner renaming the database)."""
    max_age = getattr(settings, "LIVE_DB_CONN_MAX_AGE", 0)
    for alias in connections:
        base = connections.settings[alias]
        connection = connections[alias]
        if getattr(connection, "live_db_base", None) == base:
            continue
        connection.close()
        connection.settings_dict = {**base, "CONN_MAX_AGE": max_age}
        connection.live_db_base = dict(base)


_current = threading.local()


def event_loop():
    """The event loop waiting for this call, when running on the pool (else None): work for the
    loop that this call need not wait for can be handed to it (chat.realtime.push_to_users)."""
    loop = getattr(_current, "loop", None)
    return loop if loop is not None and loop.is_running() else None


# A connection that finished a call cleanly this recently is not pinged before the next one:
# under load every call paid a health-check round trip (CONN_HEALTH_CHECKS) on a connection
# used a few milliseconds before. Older, or after an error, it is checked as Django does.
TRUSTED_SECONDS = 1.0


def _trust_recently_verified() -> None:
    now = time.monotonic()
    for connection in connections.all(initialized_only=True):
        verified = getattr(connection, "live_db_verified_at", None)
        if connection.connection is not None and verified is not None and now - verified < TRUSTED_SECONDS:
            connection.health_check_done = True


def _note_verified() -> None:
    now = time.monotonic()
    for connection in connections.all(initialized_only=True):
        if connection.connection is not None and not connection.errors_occurred:
            connection.live_db_verified_at = now
        else:
            connection.live_db_verified_at = None


class LiveDatabaseSyncToAsync(DatabaseSyncToAsync):
    def thread_handler(self, loop, *args, **kwargs):
        # DatabaseSyncToAsync's close_old_connections around the call, plus the trust above.
        _keep_connections()
        _current.loop = loop
        close_old_connections()
        _trust_recently_verified()
        try:
            return SyncToAsync.thread_handler(self, loop, *args, **kwargs)
        finally:
            _note_verified()
            close_old_connections()
            _current.loop = None


def live_db(function):
    """`database_sync_to_async(function)` on the live pool: `await live_db(f)(*args)`."""
    return LiveDatabaseSyncToAsync(function, thread_sensitive=False, executor=executor())
