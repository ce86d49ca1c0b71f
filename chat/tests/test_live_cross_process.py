"""With REDIS_URL, an event produced in one process reaches a socket held by another.

A real daphne subprocess holds the socket; the event comes from this test process (like a
second daphne would) or from a real Celery worker subprocess. Both share this run's test
database and Redis key prefix.
"""

import http.client
import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from urllib.parse import quote

import pytest
from django.conf import settings
from django.test import Client

from chat.tests.wsclient import HandshakeRefused, WebSocketClient
from config.celery import app as celery_app
from notifications import services as notification_services
from notifications.models import Notification, NotificationKind
from notifications.tests.factories import UserFactory

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]

BASE_DIR = Path(settings.BASE_DIR)
VENV_BIN = Path(sys.executable).parent
EVENT_TIMEOUT = 10


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _database_url() -> str:
    """This run's test database, as the other process must open it."""
    db = settings.DATABASES["default"]
    if db["ENGINE"] == "django.db.backends.sqlite3":
        return f"sqlite:///{db['NAME']}"
    if db["ENGINE"] == "django.db.backends.mysql":
        credentials = quote(db["USER"] or "root")
        if db.get("PASSWORD"):
            credentials += ":" + quote(db["PASSWORD"])
        return f"mysql://{credentials}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 3306}/{db['NAME']}"
    pytest.skip(f"no cross-process URL for {db['ENGINE']}")


@pytest.fixture
def shared_env(redis_url) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "DATABASE_URL": _database_url(),
            "REDIS_URL": redis_url,
            # Under pytest the key prefix is per process: the other process must use ours.
            "REDIS_KEY_PREFIX": settings.CACHES["default"]["KEY_PREFIX"],
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "PYTHONUNBUFFERED": "1",
        }
    )
    return env


class Process:
    """A subprocess we started, with its output kept for the failure message."""

    def __init__(self, args: list[str], env: dict[str, str]):
        self.log = tempfile.NamedTemporaryFile(prefix="lyceum-proc-", suffix=".log", delete=False)  # noqa: SIM115
        self.popen = subprocess.Popen(args, cwd=BASE_DIR, env=env, stdout=self.log, stderr=subprocess.STDOUT)

    def output(self) -> str:
        return Path(self.log.name).read_text(errors="replace")[-4000:]

    def stop(self) -> None:
        if self.popen.poll() is None:
            self.popen.terminate()
            try:
                self.popen.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(timeout=5)
        self.log.close()
        Path(self.log.name).unlink(missing_ok=True)


@pytest.fixture
def daphne(shared_env):
    port = _free_port()
    proc = Process(
        [str(VENV_BIN / "daphne"), "-b", "127.0.0.1", "-p", str(port), "config.asgi:application"], shared_env
    )
    deadline = time.monotonic() + 60
    while True:
        if proc.popen.poll() is not None:
            pytest.fail(f"daphne exited with {proc.popen.returncode}:\n{proc.output()}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/healthz")
            if conn.getresponse().status == 200:
                break
        except OSError:
            pass
        if time.monotonic() > deadline:
            proc.stop()
            pytest.fail(f"daphne did not answer /healthz within 60 s:\n{proc.output()}")
        time.sleep(0.3)
    yield port, proc
    proc.stop()


@pytest.fixture
def live_user(transactional_db):
    return UserFactory(email="crossproc@uni.example", first_name="Cross")


def _open_socket(port: int, user) -> WebSocketClient:
    client = Client()
    client.force_login(user)  # the session row lands in the shared test database
    ws = WebSocketClient(
        "127.0.0.1",
        port,
        "/ws/live/",
        headers={"Origin": f"http://127.0.0.1:{port}", "Cookie": f"sessionid={client.cookies['sessionid'].value}"},
        timeout=EVENT_TIMEOUT,
    )
    hello = ws.recv_json()
    assert hello["type"] == "hello"
    assert hello["user"] == str(user.public_id)
    return ws


def _wait_for(ws: WebSocketClient, event_type: str) -> dict:
    deadline = time.monotonic() + EVENT_TIMEOUT
    while time.monotonic() < deadline:
        event = ws.recv_json()
        if event["type"] == event_type:
            return event
    raise AssertionError(f"no {event_type} within {EVENT_TIMEOUT} s")


def test_notify_in_this_process_reaches_a_socket_held_by_a_daphne_process(daphne, live_user):
    port, proc = daphne
    ws = _open_socket(port, live_user)
    try:
        ws.send_json({"type": "ping"})
        assert ws.recv_json() == {"type": "pong"}

        started = time.monotonic()
        notification = notification_services.notify(
            recipient=live_user, kind=NotificationKind.SYSTEM, title="Across processes", url="/"
        )

        event = _wait_for(ws, "notification.new")
        assert event["notification"]["id"] == notification.pk
        assert event["unread"] == 1
        assert time.monotonic() - started < 5
    except (AssertionError, ConnectionError, OSError) as exc:
        raise AssertionError(f"{exc}\n--- daphne output ---\n{proc.output()}") from exc
    finally:
        ws.close()


def test_the_daphne_process_refuses_a_foreign_origin(daphne, live_user):
    port, _proc = daphne
    client = Client()
    client.force_login(live_user)

    with pytest.raises(HandshakeRefused, match="403"):
        WebSocketClient(
            "127.0.0.1",
            port,
            "/ws/live/",
            headers={"Origin": "http://evil.example", "Cookie": f"sessionid={client.cookies['sessionid'].value}"},
        )


@pytest.fixture
def celery_worker(shared_env):
    queue = f"lyceum-test-{uuid.uuid4().hex[:12]}"
    env = shared_env | {"CELERY_QUEUE": queue}
    proc = Process(
        [
            str(VENV_BIN / "celery"),
            "-A",
            "config",
            "worker",
            "-P",
            "solo",
            "-Q",
            queue,
            "-n",
            f"{queue}@%h",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
            "--loglevel",
            "INFO",
        ],
        env,
    )
    yield queue, proc
    proc.stop()


def test_notify_in_a_celery_worker_reaches_a_socket_held_by_a_daphne_process(daphne, celery_worker, live_user):
    port, daphne_proc = daphne
    queue, worker_proc = celery_worker
    ws = _open_socket(port, live_user)
    try:
        # By name, as any producer process would (send_task never runs eagerly).
        celery_app.send_task(
            "notifications.tasks.notify_user_task",
            args=[live_user.pk, NotificationKind.SYSTEM.value, "From a worker"],
            queue=queue,
        )
        # The worker may still be starting: allow for that on a busy machine.
        deadline = time.monotonic() + 60
        while True:
            try:
                event = _wait_for(ws, "notification.new")
                break
            except TimeoutError:
                if time.monotonic() > deadline or worker_proc.popen.poll() is not None:
                    raise
        assert event["notification"]["title"] == "From a worker"
        assert Notification.objects.filter(recipient=live_user, title="From a worker").exists()
    except (AssertionError, ConnectionError, OSError) as exc:
        raise AssertionError(
            f"{exc}\n--- worker output ---\n{worker_proc.output()}\n--- daphne output ---\n{daphne_proc.output()}"
        ) from exc
    finally:
        ws.close()
