"""Server processes a fault test may break on purpose: a private Redis and ASGI server
processes (daphne, or uvicorn: the same application).

Never point these at the machine's shared Redis: `PrivateRedis` starts its own redis-server on
a free loopback port (no persistence, so a restart forgets everything, like a crashed cache
node), and only its own process is ever killed.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from tests.servers import BASE_DIR, asgi_command, free_port, server_env, wait_until_serving

REDIS_SERVER = shutil.which("redis-server")


def _wait_for(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} not within {timeout} s")
        time.sleep(0.05)


class PrivateRedis:
    """A redis-server of this test alone, on its own port; kill() and start() it at will."""

    def __init__(self) -> None:
        if REDIS_SERVER is None:
            raise RuntimeError("redis-server is not installed")
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen | None = None

    def start(self) -> float:
        """Start (again, on the same port); returns the monotonic time it answered PING."""
        self.process = subprocess.Popen(
            [REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        _wait_for(self.answers_ping, 10, f"redis-server on port {self.port}")
        return time.monotonic()

    def kill(self) -> None:
        """SIGKILL: no goodbye to clients, every key and subscription gone."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)
        _wait_for(lambda: not self.answers_ping(), 5, f"redis-server on port {self.port} to go away")

    def answers_ping(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(64).startswith(b"+PONG")
        except OSError:
            return False


class ServerProcess:
    """`daphne config.asgi:application` (or uvicorn's, `server="uvicorn"`) on a free port,
    sharing this test run's database."""

    def __init__(self, server: str = "daphne", **env: str) -> None:
        self.server = server
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = tempfile.NamedTemporaryFile(prefix=f"{server}-{self.port}-", suffix=".log", delete=False)  # noqa: SIM115
        self.process = subprocess.Popen(
            asgi_command(server, self.port),
            cwd=BASE_DIR,
            env=server_env(**env),
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.stopped_by: str | None = None

    def wait_until_serving(self) -> None:
        wait_until_serving(self.url, self.process, timeout=60)

    def deploy_stop(self, grace: float) -> str:
        """What a deploy does: SIGTERM, then SIGKILL if it is still there after `grace` s.
        Returns which signal ended it."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=grace)
            self.stopped_by = "SIGTERM"
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)
            self.stopped_by = "SIGKILL"
        return self.stopped_by

    def crash(self) -> str:
        """SIGKILL at once: the process dies with its sockets, as on an OOM kill."""
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)
        self.stopped_by = "SIGKILL"
        return self.stopped_by

    def output(self) -> str:
        return Path(self.log.name).read_text(errors="replace")[-6000:]

    def close(self) -> None:
        if self.process.poll() is None:
            self.deploy_stop(grace=10)
        self.log.close()
        Path(self.log.name).unlink(missing_ok=True)


@contextlib.contextmanager
def servers(count: int, server: str = "daphne", **env: str):
    """Start `count` server processes at once (they boot in parallel); stop them all after."""
    started = [ServerProcess(server, **env) for _ in range(count)]
    try:
        for process in started:
            process.wait_until_serving()
        yield started
    finally:
        for process in started:
            process.close()


def daphnes(count: int, **env: str):
    """`count` daphne processes (see servers)."""
    return servers(count, "daphne", **env)
