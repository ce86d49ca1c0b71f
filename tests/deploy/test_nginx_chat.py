"""Chat through nginx: the production shape on this machine, and a deploy in the middle of it.

nginx (deploy/nginx/lyceum.conf, TLS with a trustme CA the clients trust) in front of two
daphne processes in production mode, and a Celery worker on a private queue, all on this run's
MariaDB and Redis. Ada, Bob and Cleo (a 1-on-1 between Ada and Bob, a group of the three) each
hold one `tests.clients.LiveChatClient` (chat.js's twin: outbox, client ids, resync on every
hello, dedup) connected to nginx over wss://. nginx's least_conn spreads them over both
processes; they chat. Then the process without Bob is stopped as a deploy stops it (SIGTERM),
with messages in flight and Bob still sending; its clients reconnect through nginx to the
survivor. Every member's view must hold every message exactly once, in seq order, and a
notification made meanwhile by a task on the worker must reach each user (live, or in the
unread count of the next "hello", and in the list fetched through nginx).

A second test, in both modes and without nginx, pins the client's TLS reading: frames that TLS
has already decrypted, which select() cannot see, are read too.

The stack test is services only (it skips without REDIS_URL), e.g.

    DATABASE_URL=mysql://root@127.0.0.1:3306/lyceum REDIS_URL=redis://127.0.0.1:6379/0 \\
        .venv/bin/pytest -q tests/deploy/test_nginx_chat.py
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import select
import socket
import ssl
import struct
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import Future
from dataclasses import dataclass

import pytest

from notifications.models import Notification
from notifications.selectors import unread_count_for_user_id
from tests.clients import GUID, OP_TEXT, _Socket
from tests.deploy.nginx_stack import NGINX, SKIP_NO_NGINX, Daphne, daphne_process, nginx_process, render_site
from tests.deploy.test_nginx_stack import Stack, production_settings, static_root  # noqa: F401
from tests.faults.scenario import Chat, make_room
from tests.ops.processes import Worker, private_queue, remove_queue_keys, run_site_snippet
from tests.servers import server_env

NAMES = ("ada", "bob", "cleo")
CONNECT_WITHIN = 15
RECOVERY_WITHIN = 20  # from SIGTERM to every view complete (daphne's own shutdown included)
BOB_WHILE_STOPPING = 6  # at most: more would drain his socket's send bucket (10 at once, then 2 a second)
NOTIFY_WITHIN = 30  # a fresh process queues the task, the worker runs it, Redis carries the push

SEND_NOTIFICATIONS = """
import sys
from config.celery import app
for user_id in sys.argv[2:]:
    app.send_task("notifications.tasks.notify_user_task", args=[int(user_id), "system", sys.argv[1]])
"""


@dataclass
class WorkerStack:
    stack: Stack
    site_env: dict[str, str]  # what a site process of this stack runs with (queues on the worker)


@pytest.fixture
def chat_stack(redis_url, transactional_db, static_root, tmp_path) -> Iterator[WorkerStack]:  # noqa: F811
    """nginx (TLS) -> two daphnes, and a Celery worker; the daphnes queue their tasks (chat's
    unread e-mails, notification e-mails) on the worker's private queue too."""
    queue = private_queue()
    env = {**production_settings(static_root), "CELERY_QUEUE": queue}
    try:
        with contextlib.ExitStack() as stack_of:
            daphnes = [stack_of.enter_context(daphne_process(tmp_path, **env)) for _ in range(2)]
            site = render_site(tmp_path / "nginx", upstream_ports=[d.port for d in daphnes], static_root=static_root)
            stack_of.enter_context(nginx_process(site))
            worker = Worker(server_env(**env), tmp_path / "worker.log").start()
            stack_of.callback(worker.stop)
            worker.wait_ready()
            stack = Stack(site, daphnes, ssl.create_default_context(cafile=str(site.certificate.ca_pem)))
            yield WorkerStack(stack, server_env(**env))
    finally:
        remove_queue_keys(redis_url, queue)


def _located(daphnes: list[Daphne], before: list[int], name: str) -> Daphne:
    """The one daphne whose access log gained a WebSocket handshake since `before`."""
    deadline = time.monotonic() + CONNECT_WITHIN
    while time.monotonic() < deadline:
        grown = [d for d, count in zip(daphnes, before, strict=True) if d.websocket_connects() > count]
        if len(grown) == 1:
            return grown[0]
        time.sleep(0.05)
    raise AssertionError(f"could not tell which daphne took {name}'s socket")


@pytest.mark.services
@pytest.mark.skipif(not NGINX.exists(), reason=SKIP_NO_NGINX)
def test_chat_through_nginx_spreads_over_two_daphnes_and_a_deploy_stop_loses_nothing(chat_stack):
    stack = chat_stack.stack
    room = make_room()
    users = room.users
    chat = Chat(room, {name: [stack.site.https_url] for name in NAMES}, ssl_context=stack.ssl_context)
    bob = chat.clients["bob"]
    started = []
    try:
        # Given the three friends connected through nginx one after the other (so each
        # handshake shows in exactly one daphne's access log): least_conn uses both processes.
        where: dict[str, Daphne] = {}
        for name in NAMES:
            client = chat.clients[name]
            before = [d.websocket_connects() for d in stack.daphnes]
            client.start()
            started.append(client)
            client.wait_until(lambda c=client: c.online, CONNECT_WITHIN, "online through nginx")
            where[name] = _located(stack.daphnes, before, name)
            assert client.hello_frames[-1]["user"] == str(users[name].public_id)
        assert {d.port for d in where.values()} == {d.port for d in stack.daphnes}, {
            name: d.port for name, d in where.items()
        }
        chat.wait_synced_with_database()

        # and a conversation going on across both processes, through nginx
        began = time.monotonic()
        chat.say_round("before 1")
        chat.say_round("before 2")
        chat.wait_converged(since=began, within=RECOVERY_WITHIN, what="before the deploy")

        # When the process without Bob is stopped as a deploy stops it (SIGTERM), with
        # messages in flight from everyone ...
        stopped = next(d for d in stack.daphnes if d is not where["bob"])
        survivor = where["bob"]
        away = [name for name in NAMES if where[name] is stopped]
        assert away, "the stopped process held nobody"
        survivor_connects = survivor.websocket_connects()
        chat.say_round("in flight")
        stop_began = time.monotonic()
        exit_code = []
        stopping = threading.Thread(target=lambda: exit_code.append(stopped.stop()), name="deploy-stop")
        stopping.start()
        # ... and Bob keeps sending while it shuts down (each send waits for its ack) ...
        during = 0
        while stopped.process.poll() is None and during < BOB_WHILE_STOPPING:
            sent = chat.say("bob", room.group if during % 2 else room.direct, f"while stopping {during}")
            bob.wait_until(lambda s=sent: s.client_id not in bob.pending(), 10, "ack from the surviving process")
            during += 1
        stopping.join(timeout=30)
        assert stopped.process.poll() is not None, "daphne did not stop"
        chat.say("bob", room.direct, "while you were away (direct)")
        chat.say("bob", room.group, "while you were away (group)")

        # ... and a task on the worker notifies all three meanwhile. The fresh process that
        # queues it boots Django (10-18 s on a loaded 2-core CI machine), so it runs beside the
        # chat's recovery instead of eating RECOVERY_WITHIN, and is waited for further down.
        title = f"During the deploy {uuid.uuid4().hex[:8]}"
        notifying = _in_thread(
            run_site_snippet, SEND_NOTIFICATIONS, chat_stack.site_env, title, *(str(users[name].pk) for name in NAMES)
        )

        # Then the clients of the stopped process are back through nginx, on the survivor
        for name in away:
            client = chat.clients[name]
            client.wait_until(lambda c=client: len(c.hellos) >= 2 and c.online, RECOVERY_WITHIN, "reconnected")
        deadline = time.monotonic() + CONNECT_WITHIN
        while survivor.websocket_connects() < survivor_connects + len(away) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert survivor.websocket_connects() >= survivor_connects + len(away)  # the stopped one is gone
        chat.say_round("after")

        # and every member sees every message exactly once, in seq order
        took = chat.wait_converged(since=stop_began, within=RECOVERY_WITHIN, what="after the deploy stop")
        chat.assert_exactly_once()
        assert len(bob.hellos) == 1, "Bob's process kept running: his socket never dropped"
        assert sum(1 for s in chat.sent if s.body.startswith("while stopping")) == during

        # and the worker's notification reached each user: live, or counted in a later hello.
        notifying.result(timeout=NOTIFY_WITHIN)
        deadline = time.monotonic() + NOTIFY_WITHIN
        while Notification.objects.filter(title=title).count() < len(NAMES) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert Notification.objects.filter(title=title).count() == len(NAMES), "the worker did not run the tasks"
        expected = {name: unread_count_for_user_id(user_id=users[name].pk) for name in NAMES}

        def live(client) -> bool:
            return title in {frame["notification"]["title"] for frame in client.notifications}

        def counted(client, name) -> bool:  # a hello after the reconnect counts it as unread
            return any(hello["unread"] >= expected[name] > 0 for hello in client.hello_frames[1:])

        how = {}
        for name in NAMES:
            client = chat.clients[name]
            client.wait_until(
                lambda c=client, n=name: live(c) or counted(c, n), NOTIFY_WITHIN, "the notification of the deploy"
            )
            how[name] = "live" if live(client) else "hello"
            status, _, body = stack.get("/api/v1/notifications/?unread=1", cookie=client.cookie)
            assert status == 200
            assert title in [n["title"] for n in json.loads(body)["results"]]
        assert title in {f["notification"]["title"] for f in bob.notifications}, "Bob never lost his socket"
        print(
            f"{len(chat.sent)} messages, {during} sent by Bob while daphne stopped; clients of the stopped "
            f"process: {away} (daphne exit {exit_code}); views complete {took:.2f} s after SIGTERM; "
            f"notification reached them: {how}"
        )
    finally:
        for client in started:
            client.stop()


def _in_thread(function, *args) -> Future:
    """`function(*args)` on a thread of its own; its Future gives the result or raises its error."""
    future: Future = Future()

    def run() -> None:
        try:
            future.set_result(function(*args))
        except BaseException as exc:  # handed to the test thread by the Future
            future.set_exception(exc)

    threading.Thread(target=run, name=function.__name__, daemon=True).start()
    return future


# --- The client's TLS reading, without nginx ------------------------------------------------------


def _text_frame(payload: bytes) -> bytes:
    """A server's (unmasked) text frame."""
    size = len(payload)
    if size < 126:
        head = bytes([0x80 | OP_TEXT, size])
    elif size < 65536:
        head = bytes([0x80 | OP_TEXT, 126]) + struct.pack("!H", size)
    else:
        head = bytes([0x80 | OP_TEXT, 127]) + struct.pack("!Q", size)
    return head + payload


def test_the_chat_client_reads_every_frame_over_tls_even_those_tls_already_decrypted(tmp_path):
    """The 101 and a "hello" larger than the handshake's 4 KiB read come in ONE TLS record: the
    rest of the hello sits decrypted inside the TLS object, where select() never looks, and the
    server then goes quiet. The client must still read it (SSLSocket.pending()), and then a
    burst of frames larger than a TLS record (16 KiB) from one write."""
    import trustme

    authority = trustme.CA()
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert("localhost", "127.0.0.1").configure_cert(server_context)
    client_context = ssl.create_default_context()
    authority.configure_trust(client_context)

    hello = json.dumps({"type": "hello", "user": 1, "padding": "h" * 10_000}).encode()
    burst = [json.dumps({"type": "message.batch", "n": n, "padding": "m" * (n * 7_000)}).encode() for n in range(1, 9)]
    send_burst, done = threading.Event(), threading.Event()
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    def serve() -> None:
        raw, _ = listener.accept()
        with server_context.wrap_socket(raw, server_side=True) as connection:
            request = b""
            while b"\r\n\r\n" not in request:
                request += connection.recv(4096)
            key = next(
                line.split(b":", 1)[1].strip().decode()
                for line in request.split(b"\r\n")
                if line.lower().startswith(b"sec-websocket-key:")
            )
            accept = base64.b64encode(hashlib.sha1((key + GUID).encode()).digest()).decode()
            response = (
                "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                f"Sec-WebSocket-Accept: {accept}\r\n\r\n"
            )
            connection.sendall(response.encode() + _text_frame(hello))  # one record
            send_burst.wait(10)
            connection.sendall(b"".join(_text_frame(payload) for payload in burst))
            done.wait(10)

    server = threading.Thread(target=serve, daemon=True)
    server.start()
    ws = _Socket(f"https://localhost:{port}", headers={"Origin": "https://localhost"}, ssl_context=client_context)
    try:
        assert ws.tls
        received = [payload for _, payload in ws.buffered_frames()]
        from_pending = 0

        def read_until(count: int) -> None:
            nonlocal from_pending
            deadline = time.monotonic() + 5
            while len(received) < count:
                assert time.monotonic() < deadline, f"{len(received)} of {count} frames read"
                if ws.pending():
                    from_pending += 1
                elif not select.select([ws], [], [], 0.05)[0]:
                    continue
                received.extend(payload for _, payload in ws.read_available())

        read_until(1)
        assert received == [hello]
        assert from_pending >= 1, "the hello's tail should have been waiting inside TLS"
        send_burst.set()
        read_until(1 + len(burst))
        assert received == [hello, *burst]
    finally:
        done.set()
        ws.sock.close()
        listener.close()
        server.join(10)
