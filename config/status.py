"""What feeds the staff-only status page (config/status_view.py, /admin/status/).

No app is imported here: config.celery and live.auth import this module, and apps may
import config.celery (the import-linter layers pass through it).

- Live sockets per process: each daphne process counts its open WebSockets
  (live/auth.py calls socket_opened/socket_closed) and, with Redis, publishes the count
  under "<prefix>:live-sockets:<host>:<pid>" with a TTL (LIVE_SOCKETS_TTL), refreshed by a
  heartbeat; a change is written within a quarter second, one write at a time (a burst of connects is a few
  writes, not one per socket); a process that dies disappears when its key expires. Embedded (no Redis) the page
  shows this process's own count.
- Celery: the length of the default queue (Redis LLEN of CELERY_TASK_DEFAULT_QUEUE on the broker).
- E-mails: notifications' outbox (EmailDelivery) pending / sending / failed, latest failures.
- Meetings: scheduled help requests whose meeting is pending or failed.
- Recent failed tasks: recorded by the task_failure signal (config/celery.py) in a capped Redis
  list (in-process when embedded).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import socket
import threading
import time
from collections import deque
from typing import Any

from django.conf import settings

from config import redis_client

logger = logging.getLogger(__name__)

PROCESS_ID = f"{socket.gethostname()}:{os.getpid()}"
FAILED_TASKS_KEEP = 50
_lock = threading.Lock()
_live_sockets = 0
_heartbeat: asyncio.Task | None = None
_local_failures: deque[dict[str, Any]] = deque(maxlen=FAILED_TASKS_KEEP)


def _prefix() -> str:
    return settings.CACHES["default"].get("KEY_PREFIX") or "lyceum"


def _redis(url: str):
    """The shared client for the URL (config.redis_client), short timeouts: the page must never hang."""
    return redis_client.client(url, timeout=2)


def _live_key(process_id: str = "") -> str:
    return f"{_prefix()}:live-sockets:{process_id or PROCESS_ID}"


# --- live sockets (written by daphne processes) ------------------------------------------------


def live_socket_count() -> int:
    return _live_sockets


def publish_live_sockets() -> None:
    """Write this process's count with a TTL (Redis only; embedded the page reads it in-process)."""
    if not settings.REDIS_URL:
        return
    payload = json.dumps({"process": PROCESS_ID, "pid": os.getpid(), "count": _live_sockets, "at": time.time()})
    try:
        _redis(settings.REDIS_URL).set(_live_key(), payload, ex=settings.LIVE_SOCKETS_TTL)
    except Exception as exc:  # noqa: BLE001 - monitoring must never break a socket; the next interval writes it
        redis_client.log_failure(logger, exc, "could not publish the live socket count")


async def _heartbeat_loop() -> None:
    interval = max(1.0, settings.LIVE_SOCKETS_TTL / 3)
    while True:
        await asyncio.sleep(interval)
        await asyncio.to_thread(publish_live_sockets)


# A change of the count is published within PUBLISH_DELAY_SECONDS, one write at a time: the opens
# and closes of a burst are folded into a few writes, not one each. The wait is a timer and the
# write a job of the loop's executor, not a task: a socket closed while its loop shuts down (its
# task cancelled) still reports the change, and what it schedules then is dropped with the loop,
# never left behind as a pending task ("Task was destroyed but it is pending"). The key expires
# by its TTL anyway.
PUBLISH_DELAY_SECONDS = 0.25
_publishing_on: asyncio.AbstractEventLoop | None = None  # the loop a write is waiting or running on
_dirty = False


def _count_changed(loop: asyncio.AbstractEventLoop) -> None:
    global _dirty
    _dirty = True
    if _publishing_on is not loop:  # none waiting (or one of a loop that is gone)
        _publish_later(loop)


def _publish_later(loop: asyncio.AbstractEventLoop) -> None:
    global _publishing_on
    _publishing_on = loop
    loop.call_later(PUBLISH_DELAY_SECONDS, _publish_now, loop)


def _publish_now(loop: asyncio.AbstractEventLoop) -> None:
    global _dirty, _publishing_on
    _dirty = False
    try:
        written = loop.run_in_executor(None, publish_live_sockets)
    except RuntimeError:  # the loop's executor has shut down: the process is stopping
        _publishing_on = None
        return
    written.add_done_callback(lambda _written: _published(loop))


def _published(loop: asyncio.AbstractEventLoop) -> None:
    global _publishing_on
    if _dirty and not loop.is_closed():
        _publish_later(loop)
    else:
        _publishing_on = None


async def socket_opened() -> None:
    global _live_sockets, _heartbeat
    with _lock:
        _live_sockets += 1
    if not settings.REDIS_URL:  # embedded: the page reads the in-process count
        return
    loop = asyncio.get_running_loop()
    if _heartbeat is None or _heartbeat.done() or _heartbeat.get_loop() is not loop:
        _heartbeat = loop.create_task(_heartbeat_loop())
    _count_changed(loop)


async def socket_closed() -> None:
    global _live_sockets
    with _lock:
        _live_sockets -= 1
    if settings.REDIS_URL:
        _count_changed(asyncio.get_running_loop())


def live_sockets_by_process() -> tuple[list[dict[str, Any]], str]:
    """[{"process", "count", "age"}] for every live process, and an error text if Redis failed."""
    if not settings.REDIS_URL:
        return [{"process": PROCESS_ID, "count": _live_sockets, "age": 0.0}], ""
    try:
        client = _redis(settings.REDIS_URL)
        keys = sorted(client.scan_iter(match=f"{_prefix()}:live-sockets:*", count=500))
        values = client.mget(keys) if keys else []
    except redis_client.UNAVAILABLE as exc:
        return [], f"Redis unreachable: {type(exc).__name__}"
    rows = []
    now = time.time()
    for raw in values:
        if raw is None:  # expired between SCAN and MGET
            continue
        with contextlib.suppress(ValueError, TypeError, KeyError):
            data = json.loads(raw)
            rows.append({"process": data["process"], "count": int(data["count"]), "age": round(now - data["at"], 1)})
    return rows, ""


# --- failed tasks (written by the task_failure signal) ---------------------------------------


def _failures_key() -> str:
    return f"{_prefix()}:failed-tasks"


def record_task_failure(*, task_name: str, task_id: str, exception: BaseException) -> None:
    row = {
        "task": task_name,
        "id": task_id,
        "error": f"{type(exception).__name__}: {exception}"[:300],
        "at": time.time(),
    }
    if not settings.REDIS_URL:
        _local_failures.appendleft(row)
        return
    try:
        client = _redis(settings.REDIS_URL)
        pipe = client.pipeline()
        pipe.lpush(_failures_key(), json.dumps(row))
        pipe.ltrim(_failures_key(), 0, FAILED_TASKS_KEEP - 1)
        pipe.execute()
    except Exception as exc:  # noqa: BLE001 - the task's own failure is the news
        redis_client.log_failure(logger, exc, "could not record the failure of task %s", task_id)


def recent_task_failures(limit: int = 20) -> tuple[list[dict[str, Any]], str]:
    if not settings.REDIS_URL:
        return list(_local_failures)[:limit], ""
    try:
        raw = _redis(settings.REDIS_URL).lrange(_failures_key(), 0, limit - 1)
    except redis_client.UNAVAILABLE as exc:
        return [], f"Redis unreachable: {type(exc).__name__}"
    rows = []
    for item in raw:
        with contextlib.suppress(ValueError):
            rows.append(json.loads(item))
    return rows, ""


# --- the other figures ---------------------------------------------------------------------------


def celery_queue() -> dict[str, Any]:
    queue = settings.CELERY_TASK_DEFAULT_QUEUE
    if settings.CELERY_TASK_ALWAYS_EAGER or not settings.CELERY_BROKER_URL:
        return {"queue": queue, "length": None, "error": "", "eager": True}
    if not settings.CELERY_BROKER_URL.startswith(("redis://", "rediss://", "unix://")):
        return {"queue": queue, "length": None, "error": "not a Redis broker", "eager": False}
    try:
        length = int(_redis(settings.CELERY_BROKER_URL).llen(queue))
    except redis_client.UNAVAILABLE as exc:
        return {"queue": queue, "length": None, "error": f"broker unreachable: {type(exc).__name__}", "eager": False}
    return {"queue": queue, "length": length, "error": "", "eager": False}
