"""Real processes for the ops tests: Celery workers on a private queue, a private redis-server,
and one-off "site" processes that run a snippet the way a web process would.

Every process shares this test run's database (tests.servers.server_env) so the test reads what
the processes write, as two production processes do.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

from tests.servers import BASE_DIR, VENV_BIN, free_port, server_env

REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"


def private_queue() -> str:
    return f"lyceum-ops-test-{uuid.uuid4().hex[:12]}"


def worker_env(queue: str, **overrides: str) -> dict[str, str]:
    return server_env(CELERY_QUEUE=queue, **overrides)


class Worker:
    """`celery -A config worker` (solo pool: one process, so SIGKILL kills the task with it)."""

    def __init__(self, env: dict[str, str], log_path: Path) -> None:
        self.env = env
        self.log_path = log_path
        self.process: subprocess.Popen | None = None

    def start(self) -> Worker:
        self._ready_before = self.log().count(" ready.")
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
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
                f"ops-{uuid.uuid4().hex[:8]}@%h",
            ],
            cwd=BASE_DIR,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        return self

    def wait_ready(self, timeout: float = 60.0) -> None:
        """Until the log says the worker consumes (a restarted worker appends to the same log)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"worker exited with {self.process.returncode}:\n{self.log()}")
            if self.log().count(" ready.") > self._ready_before:
                return
            time.sleep(0.2)
        raise RuntimeError(f"worker not ready within {timeout}s:\n{self.log()}")

    def kill(self) -> None:
        """SIGKILL: no warm shutdown, no ack, no cleanup (a crash, an OOM kill)."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.kill()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


@contextlib.contextmanager
def celery_worker(env: dict[str, str], log_path: Path) -> Iterator[Worker]:
    worker = Worker(env, log_path).start()
    try:
        worker.wait_ready()
        yield worker
    finally:
        worker.stop()


def run_site_snippet(code: str, env: dict[str, str], *args: str, timeout: float = 60.0) -> str:
    """Run `code` after django.setup() in a fresh process (what a web request's code would do)."""
    script = "import django\ndjango.setup()\n" + code
    done = subprocess.run(
        [sys.executable, "-c", script, *args],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if done.returncode != 0:
        raise AssertionError(f"snippet failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    return done.stdout


def wait_until(predicate: Callable[[], object], timeout: float = 60.0, interval: float = 0.2, what: str = "") -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what or predicate}")


def remove_queue_keys(redis_url: str, queue: str) -> None:
    """Leave the shared Redis as we found it: this test's queue and its bindings only."""
    import redis

    client = redis.Redis.from_url(redis_url)
    try:
        keys = [*client.scan_iter(match=f"{queue}*"), f"_kombu.binding.{queue}", f"_kombu.binding_permanent.{queue}"]
        client.delete(*keys)
    finally:
        client.close()


class PrivateRedis:
    """A redis-server of our own on a free port (no persistence), that a test can stop and restart."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen | None = None

    def start(self) -> PrivateRedis:
        if not Path(REDIS_SERVER).exists():
            import pytest

            pytest.skip(f"{REDIS_SERVER} is missing: apt-get install redis-server (a private broker to stop)")
        self.process = subprocess.Popen(
            [REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            cwd=self.directory,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                return self
            time.sleep(0.05)
        raise RuntimeError("private redis-server did not start")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)
