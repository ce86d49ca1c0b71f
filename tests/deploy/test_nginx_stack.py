"""The shipped nginx site in front of two daphne processes, on this run's database and Redis.

nginx runs deploy/nginx/lyceum.conf (rendered by deploy/nginx/render.py, TLS with a trustme
certificate the clients trust); the two daphne processes run in production mode
(DJANGO_DEBUG=false) with the systemd unit's arguments and serve collectstatic's output through
nginx. A deploy stops one daphne with SIGTERM: its sockets drop, the clients reconnect through
nginx to the other one, and nothing is lost (the database is the truth, the socket a hint).
"""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import json
import os
import re
import ssl
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client

from accounts.tests.factories import UserFactory
from notifications.models import NotificationKind
from notifications.services import notify
from tests.deploy.nginx_stack import (
    BASE_DIR,
    NGINX,
    SKIP_NO_NGINX,
    Daphne,
    Site,
    daphne_process,
    nginx_process,
    render_site,
)
from tests.servers import server_env

pytestmark = [
    pytest.mark.services,
    pytest.mark.skipif(not NGINX.exists(), reason=SKIP_NO_NGINX),
]

HOST = "localhost"
TIMEOUT = 10.0


# --- The stack ----------------------------------------------------------------------------------


def production_settings(static_root: Path) -> dict[str, str]:
    """What a daphne behind nginx runs with (deploy/cloud-init.yaml's lyceum.env, in short)."""
    return {
        "STATIC_ROOT": str(static_root),
        "DJANGO_DEBUG": "false",
        "DJANGO_ALLOWED_HOSTS": HOST,
        "HELPDESK_DOCUMENT_KEYS": "r25XTEPUxqCupvNXo-0mluiCl7macd5lruEHRqgmypg=",
        # The test process signs the sessions it hands the clients with its own key.
        "DJANGO_SECRET_KEY": settings.SECRET_KEY,
        "EMAIL_URL": "locmem://",
        "SITE_URL": f"https://{HOST}",
        "LOG_LEVEL": "WARNING",
    }


@pytest.fixture(scope="session")
def static_root(tmp_path_factory) -> Path:
    """collectstatic's output (hashed and gzipped names), as cloud-init produces it."""
    # Session fixtures are set up before the function-scoped redis_url can skip: skip here too.
    if not os.environ.get("REDIS_URL"):
        pytest.skip("REDIS_URL is not set: this test needs a real Redis (make test-services)")
    root = tmp_path_factory.mktemp("staticfiles")
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL"}}
    result = subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "--verbosity", "0"],
        cwd=BASE_DIR,
        env={**env, **production_settings(root)},
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert result.returncode == 0, result.stderr
    return root


@dataclass
class Stack:
    site: Site
    daphnes: list[Daphne]
    ssl_context: ssl.SSLContext = field(repr=False)

    def get(self, path: str, *, cookie: str = "") -> tuple[int, dict[str, str], bytes]:
        connection = http.client.HTTPSConnection(HOST, self.site.https_port, context=self.ssl_context, timeout=TIMEOUT)
        try:
            connection.request("GET", path, headers={"Cookie": cookie} if cookie else {})
            response = connection.getresponse()
            headers = {}
            for name, value in response.getheaders():
                headers[name.lower()] = f"{headers[name.lower()]}\n{value}" if name.lower() in headers else value
            return response.status, headers, response.read()
        finally:
            connection.close()

    def upstreams_in_access_log(self, path_prefix: str) -> str:
        """The `upstream=` values of the access-log lines for paths starting with `path_prefix`."""
        lines = self.site.access_log.read_text().splitlines() if self.site.access_log.exists() else []
        found = []
        for line in lines:
            match = re.search(r'"[A-Z]+ (\S+) [^"]*".* upstream=(.*) rid=', line)
            if match and match.group(1).startswith(path_prefix):
                found.append(match.group(2))
        return " ".join(found)


@pytest.fixture
def stack(redis_url, transactional_db, static_root, tmp_path) -> Iterator[Stack]:
    env = production_settings(static_root)
    with contextlib.ExitStack() as stack_of:
        daphnes = [stack_of.enter_context(daphne_process(tmp_path, **env)) for _ in range(2)]
        site = render_site(tmp_path / "nginx", upstream_ports=[d.port for d in daphnes], static_root=static_root)
        stack_of.enter_context(nginx_process(site))
        context = ssl.create_default_context(cafile=str(site.certificate.ca_pem))
        yield Stack(site, daphnes, context)


def session_cookie(user) -> str:
    client = Client()
    client.force_login(user)
    return f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"


# --- (a) HTTP through nginx -------------------------------------------------------------------------


def test_http_reaches_the_app_through_nginx_with_tls_hsts_and_static_files_from_disk(stack):
    # /healthz over HTTPS reaches daphne; Django's production mode sees https from nginx.
    status, headers, body = stack.get("/healthz")
    assert status == 200
    assert json.loads(body) == {"status": "ok"}
    assert re.fullmatch(r"[0-9a-f]{32}", headers["x-request-id"])  # nginx's $request_id, kept by Django

    # A page: no redirect loop (X-Forwarded-Proto: https), one HSTS header (nginx's).
    status, headers, body = stack.get("/accounts/login/")
    assert status == 200
    assert headers["strict-transport-security"] == "max-age=31536000; includeSubDomains; preload"
    assert "content-security-policy" in headers

    # Its stylesheet has a content hash and comes from collectstatic's directory, not daphne.
    stylesheet = re.search(rb'href="(/static/css/lyceum\.[0-9a-f]{12}\.css)"', body).group(1).decode()
    status, headers, css = stack.get(stylesheet)
    assert status == 200
    assert headers["cache-control"] == "public, max-age=31536000, immutable"
    assert "x-request-id" not in headers  # Django never saw it
    assert css == (stack.site.static_root / stylesheet.removeprefix("/static/")).read_bytes()


def test_plain_http_redirects_to_https_except_the_health_checks(stack):
    connection = http.client.HTTPConnection("127.0.0.1", stack.site.http_port, timeout=TIMEOUT)
    try:
        connection.request("GET", "/accounts/login/?next=/people/", headers={"Host": "10.0.3.7"})
        redirect = connection.getresponse()
        redirect.read()
        # The load balancer probes with the instance address as Host; nginx names the site.
        connection.request("GET", "/healthz", headers={"Host": "10.0.3.7"})
        health = connection.getresponse()
        health_body = health.read()
    finally:
        connection.close()

    assert redirect.status == 301
    assert redirect.getheader("Location") == f"https://{HOST}/accounts/login/?next=/people/"
    assert health.status == 200
    assert json.loads(health_body) == {"status": "ok"}


def test_nginx_refuses_a_body_over_the_upload_limit_before_the_app(stack):
    connection = http.client.HTTPSConnection(HOST, stack.site.https_port, context=stack.ssl_context, timeout=TIMEOUT)
    try:
        connection.putrequest("POST", "/api/v1/auth/token/")
        connection.putheader("Content-Type", "application/octet-stream")
        connection.putheader("Content-Length", str(52 * 1024 * 1024))  # over client_max_body_size 51m
        connection.endheaders()
        response = connection.getresponse()
    finally:
        connection.close()

    assert response.status == 413


# --- (b), (c), (d) live sockets across two daphne processes -----------------------------------------


class LoopThread:
    """An asyncio loop in a thread: the sockets live there while the test body stays
    synchronous (Django's ORM and notify()'s on-commit push run in the test thread)."""

    def __init__(self):
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def run(self, coroutine, timeout: float = 30.0):
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    def close(self):
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
        self.loop.close()


class LiveClient:
    """One browser tab's /ws/live/ socket through nginx, frames collected by a reader task."""

    def __init__(self, stack: Stack, cookie: str, name: str):
        self.stack, self.cookie, self.name = stack, cookie, name
        self.frames: asyncio.Queue = asyncio.Queue()
        self.closed = asyncio.Event()
        self.socket = None
        self.hello: dict = {}

    async def connect(self) -> dict:
        from websockets.asyncio.client import connect

        self.closed.clear()
        self.frames = asyncio.Queue()
        self.socket = await connect(
            f"wss://{HOST}:{self.stack.site.https_port}/ws/live/",
            ssl=self.stack.ssl_context,
            origin=f"https://{HOST}:{self.stack.site.https_port}",
            additional_headers={"Cookie": self.cookie},
            open_timeout=TIMEOUT,
            ping_interval=None,
        )
        self.reader = asyncio.create_task(self._read())
        self.hello = await self.next_frame("hello")
        return self.hello

    async def _read(self):
        try:
            async for message in self.socket:
                await self.frames.put(json.loads(message))
        except Exception:  # an abnormal close (1006) is the expected end here
            pass
        finally:
            self.closed.set()

    async def next_frame(self, frame_type: str, timeout: float = TIMEOUT) -> dict:
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            remaining = deadline - asyncio.get_running_loop().time()
            frame = await asyncio.wait_for(self.frames.get(), remaining)
            if frame["type"] == frame_type:
                return frame

    async def wait_closed(self, timeout: float = TIMEOUT) -> None:
        await asyncio.wait_for(self.closed.wait(), timeout)

    async def close(self):
        if self.socket is not None:
            await self.socket.close()
            await self.wait_closed()


def connect_and_locate(loop: LoopThread, client: LiveClient, daphnes: list[Daphne]) -> Daphne:
    """Connect one socket and tell which daphne process accepted it (its access log grew)."""
    before = [d.websocket_connects() for d in daphnes]
    loop.run(client.connect())
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        grown = [d for d, count in zip(daphnes, before, strict=True) if d.websocket_connects() > count]
        if len(grown) == 1:
            return grown[0]
        time.sleep(0.05)
    raise AssertionError(f"could not tell which daphne took {client.name}'s socket")


def notify_now(user, title: str) -> None:
    notify(recipient=user, kind=NotificationKind.SYSTEM, title=title)


def test_sockets_spread_over_both_daphnes_get_every_notification_and_survive_a_daphne_stop(stack):
    alice, bob = UserFactory(), UserFactory()
    cookies = {alice.pk: session_cookie(alice), bob.pk: session_cookie(bob)}
    loop = LoopThread()
    clients = [
        LiveClient(stack, cookies[user.pk], f"{name}-{tab}")
        for user, name in ((alice, "alice"), (bob, "bob"))
        for tab in (1, 2)
    ]
    owner = {client.name: (alice if client.name.startswith("alice") else bob) for client in clients}
    try:
        # (b) Four tabs connect through nginx; least_conn spreads them over both processes.
        where = {client.name: connect_and_locate(loop, client, stack.daphnes) for client in clients}
        first, second = stack.daphnes
        assert {where[c.name].port for c in clients} == {first.port, second.port}
        assert all(client.hello["user"] == str(owner[client.name].public_id) for client in clients)

        # (c) A notification made in this process reaches every tab of its user, wherever it is
        # (through Redis), and only theirs.
        notify_now(alice, "for alice, live")
        notify_now(bob, "for bob, live")
        for client in clients:
            frame = loop.run(client.next_frame("notification.new"))
            assert frame["notification"]["title"] == f"for {client.name.split('-')[0]}, live"

        # (d) A deploy stops one daphne (SIGTERM). Its sockets drop; the others stay.
        stopped = where[clients[0].name]
        survivor = second if stopped is first else first
        dropped = [c for c in clients if where[c.name] is stopped]
        kept = [c for c in clients if where[c.name] is survivor]
        assert dropped and kept
        stopped.stop()
        for client in dropped:
            loop.run(client.wait_closed())
        assert not any(client.closed.is_set() for client in kept)

        # While those tabs are away, something happens to their users.
        missed = {client.name: f"while {client.name} was away {uuid.uuid4().hex[:6]}" for client in dropped}
        for client in dropped:
            notify_now(owner[client.name], missed[client.name])

        # They reconnect through nginx, which now sends them to the surviving process ...
        for client in dropped:
            assert connect_and_locate(loop, client, [survivor]) is survivor
            # ... and re-read what they missed from the database, through nginx.
            status, _, body = stack.get("/api/v1/notifications/?unread=1", cookie=client.cookie)
            assert status == 200
            titles = [n["title"] for n in json.loads(body)["results"]]
            assert missed[client.name] in titles
            assert client.hello["unread"] == json.loads(body)["count"]

        # Live delivery works again for the reconnected tabs (and never stopped for the others).
        notify_now(alice, "for alice, after the deploy")
        notify_now(bob, "for bob, after the deploy")
        for client in clients:
            frame = loop.run(client.next_frame("notification.new"))
            # A kept tab also saw the "while ... away" push of its user's other tab first.
            while "after the deploy" not in frame["notification"]["title"]:
                frame = loop.run(client.next_frame("notification.new"))
            assert frame["notification"]["title"] == f"for {client.name.split('-')[0]}, after the deploy"
    finally:
        for client in clients:
            with contextlib.suppress(Exception):
                loop.run(client.close(), timeout=5)
        loop.close()

    # nginx's access log (written when each socket ended) names both processes for /ws/live/.
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        upstreams = stack.upstreams_in_access_log("/ws/live/")
        if all(f"127.0.0.1:{daphne.port}" in upstreams for daphne in stack.daphnes):
            break
        time.sleep(0.1)
    assert all(f"127.0.0.1:{daphne.port}" in upstreams for daphne in stack.daphnes), upstreams


# --- (e) A Celery worker behind the same stack; the status page through nginx ---------------------


def test_a_task_on_a_worker_reaches_a_socket_through_nginx_and_the_status_page_counts_it(
    redis_url, transactional_db, static_root, tmp_path
):
    from config.status import live_sockets_by_process
    from tests.ops.processes import Worker, private_queue, remove_queue_keys, run_site_snippet

    queue = private_queue()
    env = {**production_settings(static_root), "CELERY_QUEUE": queue}
    alice = UserFactory()
    staff = UserFactory(is_staff=True)
    loop = LoopThread()
    client = None
    try:
        with contextlib.ExitStack() as stack_of:
            daphnes = [stack_of.enter_context(daphne_process(tmp_path, **env)) for _ in range(2)]
            site = render_site(tmp_path / "nginx", upstream_ports=[d.port for d in daphnes], static_root=static_root)
            stack_of.enter_context(nginx_process(site))
            stack = Stack(site, daphnes, ssl.create_default_context(cafile=str(site.certificate.ca_pem)))
            worker = Worker(server_env(**env), tmp_path / "worker.log").start()
            stack_of.callback(worker.stop)
            worker.wait_ready()

            # Given alice's tab connected through nginx to one of the two daphnes
            client = LiveClient(stack, session_cookie(alice), "alice")
            holder = connect_and_locate(loop, client, daphnes)

            # When a task on the worker notifies her (the site queued it, as beat or a view would)
            run_site_snippet(
                "import sys\nfrom config.celery import app\n"
                "app.send_task('notifications.tasks.notify_user_task',"
                " args=[int(sys.argv[1]), 'system', sys.argv[2]])\n",
                server_env(**env),
                str(alice.pk),
                "from the worker, through nginx",
            )
            # Then the frame reaches her socket (worker -> Redis -> the daphne holding it -> nginx)
            frame = loop.run(client.next_frame("notification.new", timeout=60))
            assert frame["notification"]["title"] == "from the worker, through nginx"

            # And the staff status page, through nginx, counts her socket on that process
            status, _, body = stack.get("/admin/status/?format=json", cookie=session_cookie(staff))
            assert status == 200
            data = json.loads(body)
            counts = {row["process"].rsplit(":", 1)[1]: row["count"] for row in data["live_sockets"]["processes"]}
            assert counts.get(str(holder.process.pid)) == 1
            assert data["live_sockets"]["total"] == 1
            assert data["celery"]["queue"] == queue and data["celery"]["length"] == 0
            # (the test process reads the same Redis keys)
            assert sum(row["count"] for row in live_sockets_by_process()[0]) == 1

            loop.run(client.close(), timeout=5)
            client = None
            deadline = time.monotonic() + TIMEOUT
            while time.monotonic() < deadline and sum(r["count"] for r in live_sockets_by_process()[0]) != 0:
                time.sleep(0.1)
            assert sum(row["count"] for row in live_sockets_by_process()[0]) == 0
    finally:
        if client is not None:
            with contextlib.suppress(Exception):
                loop.run(client.close(), timeout=5)
        loop.close()
        remove_queue_keys(redis_url, queue)
