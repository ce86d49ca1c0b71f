"""Celery is configured for reliability, and a real worker consumes what the site sends.

The real-worker test uses a queue of its own on the shared Redis (CELERY_QUEUE) so parallel
test runs never take each other's tasks, and reads the task's effect from this run's cache key
space (no result backend is configured).
"""

import contextlib
import importlib
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from django.conf import settings
from django.core.cache import cache

from config.celery import app as celery_app
from config.celery import ping_task

BASE_DIR = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent


def test_tasks_are_acknowledged_after_they_run_and_requeued_if_the_worker_dies():
    conf = celery_app.conf

    assert conf.task_acks_late is True
    assert conf.task_reject_on_worker_lost is True
    # A worker reserves one task at a time: a crash strands at most the one it was running.
    assert conf.worker_prefetch_multiplier == 1


def test_tasks_travel_as_json_only():
    conf = celery_app.conf

    assert conf.task_serializer == "json"
    assert conf.accept_content == ["json"]


def test_tasks_have_time_limits_and_the_broker_a_visibility_timeout():
    conf = celery_app.conf

    assert conf.task_soft_time_limit < conf.task_time_limit
    # Late-acked tasks are redelivered after the visibility timeout: it must outlast any task.
    assert conf.broker_transport_options["visibility_timeout"] > conf.task_time_limit


def test_producers_and_workers_share_the_queue_named_by_settings():
    assert celery_app.conf.task_default_queue == settings.CELERY_TASK_DEFAULT_QUEUE


def test_every_beat_entry_names_a_registered_task():
    for name, entry in settings.CELERY_BEAT_SCHEDULE.items():
        importlib.import_module(entry["task"].rpartition(".")[0])  # what the worker's autodiscovery loads
        assert entry["task"] in celery_app.tasks, f"beat entry {name!r} names unknown task {entry['task']!r}"


def test_ping_task_leaves_its_value_in_the_cache():
    key = f"ping-{uuid.uuid4().hex}"

    ping_task.delay(key, "pong")  # eager in tests

    assert cache.get(key) == "pong"


# --- A real worker process ------------------------------------------------------------------


def worker_env(tmp_path: Path, redis_url: str, queue: str) -> dict[str, str]:
    env = {name: os.environ[name] for name in ("PATH", "HOME", "LANG", "TMPDIR") if name in os.environ}
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings",
        DATABASE_URL=f"sqlite:///{tmp_path / 'worker.sqlite3'}",
        REDIS_URL=redis_url,
        # This run's cache key space: the test reads what the worker writes.
        REDIS_KEY_PREFIX=settings.CACHES["default"]["KEY_PREFIX"],
        CELERY_QUEUE=queue,
    )
    return env


SEND = """
import sys
import django
django.setup()
from config.celery import ping_task
ping_task.delay(sys.argv[1], sys.argv[2])
"""


@contextlib.contextmanager
def celery_worker(env: dict[str, str], log_path: Path):
    log = log_path.open("wb")
    process = subprocess.Popen(
        [
            str(VENV_BIN / "celery"),
            "-A",
            "config",
            "worker",
            "-P",
            "solo",
            "-c",
            "1",
            "--without-heartbeat",
            "--without-mingle",
            "--without-gossip",
            "-l",
            "info",
            "-n",
            f"test-{uuid.uuid4().hex[:8]}@%h",
        ],
        cwd=BASE_DIR,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        yield process
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        log.close()


def remove_queue_keys(redis_url: str, queue: str) -> None:
    """Leave the shared Redis as we found it: this run's queue and its binding only."""
    import redis

    client = redis.Redis.from_url(redis_url)
    try:
        # The queue's lists (one per priority step) and its exchange's binding tables.
        keys = [*client.scan_iter(match=f"{queue}*"), f"_kombu.binding.{queue}", f"_kombu.binding_permanent.{queue}"]
        client.delete(*keys)
    finally:
        client.close()


@pytest.mark.services
def test_a_real_worker_consumes_a_task_sent_with_delay(tmp_path, redis_url):
    # Given a worker on a private queue of the real Redis
    queue = f"lyceum-test-{uuid.uuid4().hex}"
    env = worker_env(tmp_path, redis_url, queue)
    key = f"ping-{uuid.uuid4().hex}"
    log_path = tmp_path / "worker.log"
    try:
        with celery_worker(env, log_path) as worker:
            # When another process (as the site does) sends the task with .delay()
            sent = subprocess.run(
                [sys.executable, "-c", SEND, key, "pong-from-worker"],
                cwd=BASE_DIR,
                env=env,
                capture_output=True,
                text=True,
                timeout=60,
            )
            assert sent.returncode == 0, sent.stderr

            # Then the worker runs it: its value appears in the cache
            deadline = time.monotonic() + 60
            while cache.get(key) is None and time.monotonic() < deadline and worker.poll() is None:
                time.sleep(0.2)
            value = cache.get(key)
            assert value == "pong-from-worker", log_path.read_text(errors="replace")
    finally:
        cache.delete(key)
        remove_queue_keys(redis_url, queue)

    log = log_path.read_text(errors="replace")
    assert f".> {queue}" in log  # the worker consumed the private queue
    assert "config.ping_task" in log
    assert "succeeded" in log


def test_the_route_sweep_does_nothing_without_routed_events(settings):
    from config.celery import sweep_live_routes_task

    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    from channels.layers import channel_layers

    channel_layers.backends.clear()
    try:
        assert sweep_live_routes_task() is False
    finally:
        channel_layers.backends.clear()


def test_the_route_sweep_drops_a_dead_process_from_a_group_nobody_messages(settings, redis_url):
    import redis
    from channels.layers import channel_layers

    from config.celery import sweep_live_routes_task

    prefix = f"lyceum-test-sweep-{uuid.uuid4().hex[:8]}"
    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "live.layer.FanoutChannelLayer",
            "CONFIG": {"hosts": [redis_url], "prefix": prefix, "routing": "process"},
        }
    }
    channel_layers.backends.clear()
    client = redis.Redis.from_url(redis_url)
    try:
        dead, alive = f"{prefix}__proc__.dead", f"{prefix}__proc__.alive"
        client.zadd(f"{prefix}__procs__", {dead: time.time() - 1, alive: time.time() + 30})
        client.sadd(f"{prefix}__route__:user.1", dead)
        client.sadd(f"{prefix}__route__:user.2", dead, alive)

        assert sweep_live_routes_task() is True

        assert not client.exists(f"{prefix}__route__:user.1")
        assert client.smembers(f"{prefix}__route__:user.2") == {alive.encode()}
        assert client.zscore(f"{prefix}__procs__", dead) is None
    finally:
        client.delete(f"{prefix}__procs__", f"{prefix}__route__:user.1", f"{prefix}__route__:user.2")
        client.close()
        channel_layers.backends.clear()
