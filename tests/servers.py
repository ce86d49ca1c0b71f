"""Real server processes for tests: daphne (or uvicorn) on a free port, sharing this test run's database.

The test process and the server then talk through the same database (and, when REDIS_URL is
set, the same Redis key space), exactly as two production processes do.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

from django.conf import settings

BASE_DIR = Path(settings.BASE_DIR)
VENV_BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class ClosingListener:
    """A TCP listener on 127.0.0.1 that counts the connections it accepts and closes each one."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.accepted = 0
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.accepted += 1
            conn.close()

    def close(self):
        self.sock.close()


def database_url_for_this_run() -> str:
    """A DATABASE_URL naming the test database this pytest process created."""
    db = settings.DATABASES["default"]
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{Path(db['NAME']).resolve()}"
    if db["ENGINE"].endswith("mysql"):
        password = db.get("PASSWORD") or ""
        auth = db["USER"] + (f":{password}" if password else "")
        return f"mysql://{auth}@{db.get('HOST') or '127.0.0.1'}:{db.get('PORT') or 3306}/{db['NAME']}"
    raise RuntimeError(f"unsupported database engine {db['ENGINE']}")


def server_env(**overrides: str) -> dict[str, str]:
    """The environment of a server process that shares this run's database and Redis keys."""
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL"}}
    env["DATABASE_URL"] = database_url_for_this_run()
    if settings.REDIS_URL:
        env["REDIS_URL"] = settings.REDIS_URL
        env["REDIS_KEY_PREFIX"] = settings.CACHES["default"]["KEY_PREFIX"]
    env.update(overrides)
    return env


ASGI_SERVERS = ("daphne", "uvicorn")


UNITS = BASE_DIR / "deploy" / "systemd"


def uvicorn_serve_command(*arguments: str, **env: str) -> list[str]:
    """The uvicorn command line deploy/uvicorn-serve runs for `arguments` (HOST PORT
    [TRUSTED_PROXIES]) in environment `env`, with this venv's uvicorn: what systemd's and the
    image's processes run."""
    environment = {k: v for k, v in os.environ.items() if k != "FORWARDED_ALLOW_IPS"}
    printed = subprocess.run(
        [str(BASE_DIR / "deploy" / "uvicorn-serve"), *arguments],
        env={**environment, **env, "LYCEUM_UVICORN_PRINT": "1"},
        capture_output=True,
        text=True,
        check=True,
        timeout=10,
    )
    argv = printed.stdout.splitlines()
    return [str(VENV_BIN / Path(argv[0]).name), *argv[1:]]


def unit_command(server: str, port: int) -> list[str]:
    """The ExecStart of deploy/systemd/lyceum-<server>@.service for instance `port`, with this
    venv's programs: the production command line itself, options and all (for uvicorn, the one
    deploy/uvicorn-serve runs)."""
    for line in (UNITS / f"lyceum-{server}@.service").read_text().splitlines():
        if line.startswith("ExecStart="):
            argv = line.removeprefix("ExecStart=").replace("%i", str(port)).split()
            if Path(argv[0]).name == "uvicorn-serve":
                return uvicorn_serve_command(*argv[1:])
            return [str(VENV_BIN / Path(argv[0]).name), *argv[1:]]
    raise ValueError(f"no ExecStart in lyceum-{server}@.service")


def asgi_command(server: str, port: int) -> list[str]:
    """The command line of one ASGI server process of `config.asgi:application` on a loopback
    port: daphne, or uvicorn exactly as deploy/systemd/lyceum-uvicorn@.service runs it (uvloop,
    httptools, the websockets implementation, no lifespan, the bounds on client input, the
    logging, a graceful stop that closes the sockets; X-Forwarded-For trusted from loopback,
    where the tests are, so they may play nginx)."""
    if server == "daphne":
        return [str(VENV_BIN / "daphne"), "-b", "127.0.0.1", "-p", str(port), "config.asgi:application"]
    if server == "uvicorn":
        return unit_command("uvicorn", port)
    raise ValueError(f"unknown ASGI server {server!r}")


def wait_until_serving(url: str, process: subprocess.Popen, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode} before serving {url}")
        with contextlib.suppress(OSError), urllib.request.urlopen(f"{url}/healthz", timeout=2) as response:
            if response.status == 200:
                return
        time.sleep(0.2)
    raise RuntimeError(f"server at {url} did not answer within {timeout}s")


@contextlib.contextmanager
def daphne_server(**env_overrides: str) -> Iterator[str]:
    """Start `daphne config.asgi:application` on a free loopback port; yield its base URL."""
    port = free_port()
    log = open(BASE_DIR / f"daphne-test-{port}.log", "wb")  # noqa: SIM115 - closed below
    process = subprocess.Popen(
        [str(VENV_BIN / "daphne"), "-b", "127.0.0.1", "-p", str(port), "config.asgi:application"],
        cwd=BASE_DIR,
        # PORT as `make run` hands it: the links the server writes (e-mails, meeting links) name it.
        env=server_env(**{"PORT": str(port), **env_overrides}),
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_serving(url, process)
        yield url
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        log.close()
        failed = process.returncode not in (0, -signal.SIGTERM, -signal.SIGKILL)
        log_path = BASE_DIR / f"daphne-test-{port}.log"
        if failed:
            sys.stderr.write(log_path.read_text(errors="replace"))
        log_path.unlink(missing_ok=True)
