"""The live socket under uvicorn, the other production ASGI server (deploy/systemd/lyceum-uvicorn@.service):
the same `config.asgi:application` and consumer as under daphne, reached through real sockets.

One uvicorn process with the unit's options (uvloop, httptools, the websockets implementation)
on this run's database: a browser's session cookie opens the socket, "hello" comes first, a
message is acked to its sender and pushed to the other member; a foreign Origin is refused at
the handshake; logging out on the site (a POST to the same process) closes that session's
socket with 4401 while the other user's stays open. The graceful stop (SIGTERM closes every
socket, the clients reconnect to another process and miss nothing) is
tests/faults/test_daphne_kill.py, run under both servers. Runs on SQLite (embedded) and on
MariaDB + Redis.
"""

import contextlib
import http.client
import os
import select
import signal
import struct
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from http.cookies import SimpleCookie
from types import SimpleNamespace
from urllib.parse import urlencode

import pytest

from chat.tests.wsclient import HandshakeRefused, WebSocketClient
from tests.faults.processes import servers
from tests.faults.scenario import make_room, session_cookie
from tests.servers import BASE_DIR, free_port, server_env, unit_command, wait_until_serving

pytestmark = pytest.mark.django_db(transaction=True)

TIMEOUT = 10
OP_CLOSE = 0x8
CLOSE_SIGNED_OUT = 4401


@pytest.fixture
def uvicorn(django_db_setup):
    with servers(1, "uvicorn") as (process,):
        yield process


def open_socket(server, cookie: str, *, origin: str | None = None) -> WebSocketClient:
    headers = {"Origin": origin or server.url, "Cookie": f"sessionid={cookie}"}
    return WebSocketClient("127.0.0.1", server.port, "/ws/live/", headers=headers, timeout=TIMEOUT)


def next_of_type(ws: WebSocketClient, frame_type: str) -> dict:
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        frame = ws.recv_json()
        if frame["type"] == frame_type:
            return frame
    raise AssertionError(f"no {frame_type} frame within {TIMEOUT} s")


def close_code(ws: WebSocketClient, within: float) -> int | None:
    """The code of the close frame the server sends within `within` s (None: still open)."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if not ws.buffer and not select.select([ws.sock], [], [], 0.05)[0]:
            continue
        opcode, payload = ws.recv_frame()
        if opcode == OP_CLOSE:
            return struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else 1005
    return None


def log_out_on_the_site(server, cookie: str) -> int:
    """What the navbar's logout button does, against the server process itself: a page for the
    CSRF cookie, then the POST with its token. Returns the POST's status."""
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=TIMEOUT)
    try:
        connection.request("GET", "/", headers={"Cookie": f"sessionid={cookie}"})
        response = connection.getresponse()
        response.read()
        jar = SimpleCookie()
        for header in response.headers.get_all("Set-Cookie") or []:
            jar.load(header)
        token = jar["csrftoken"].value
        connection.request(
            "POST",
            "/accounts/logout/",
            body=urlencode({"csrfmiddlewaretoken": token}),
            headers={
                "Cookie": f"sessionid={cookie}; csrftoken={token}",
                "Content-Type": "application/x-www-form-urlencoded",
                "Origin": server.url,
            },
        )
        response = connection.getresponse()
        response.read()
        return response.status
    finally:
        connection.close()


def test_under_uvicorn_a_session_socket_says_hello_and_a_message_is_acked_and_delivered(uvicorn):
    # Given Ada and Bob, each with a browser session and a live socket on the uvicorn process
    room = make_room()
    ada = open_socket(uvicorn, session_cookie(room.users["ada"]))
    bob = open_socket(uvicorn, session_cookie(room.users["bob"]))
    try:
        assert ada.recv_json()["type"] == "hello"
        assert bob.recv_json()["type"] == "hello"

        # When Ada sends a message in their conversation
        client_id = str(uuid.uuid4())
        ada.send_json({"type": "message.send", "conversation": room.direct, "body": "Hi Bob", "client_id": client_id})

        # Then she gets the ack, and Bob the message, as under daphne
        ack = next_of_type(ada, "message.ack")
        assert ack["client_id"] == client_id and ack["seq"] >= 1
        pushed = next_of_type(bob, "message.new")
        assert pushed["message"]["body"] == "Hi Bob"
        assert pushed["message"]["client_id"] == client_id
        assert pushed["message"]["id"] == ack["id"]
    finally:
        ada.close()
        bob.close()


def test_under_uvicorn_a_foreign_origin_is_refused_at_the_handshake(uvicorn):
    room = make_room()
    cookie = session_cookie(room.users["ada"])

    with pytest.raises(HandshakeRefused, match="403"):
        open_socket(uvicorn, cookie, origin="http://evil.example")

    own = open_socket(uvicorn, cookie)  # the same cookie from the site's own origin connects
    assert own.recv_json()["type"] == "hello"
    own.close()


def test_under_uvicorn_logging_out_closes_that_sessions_socket_and_no_other(uvicorn):
    # Given Ada's and Bob's sockets, open
    room = make_room()
    ada_cookie = session_cookie(room.users["ada"])
    ada = open_socket(uvicorn, ada_cookie)
    bob = open_socket(uvicorn, session_cookie(room.users["bob"]))
    try:
        assert ada.recv_json()["type"] == "hello"
        assert bob.recv_json()["type"] == "hello"

        # When Ada logs out on the site
        assert log_out_on_the_site(uvicorn, ada_cookie) == 302
        done = time.monotonic()

        # Then her socket closes as signed out within a second or two; Bob's still answers
        assert close_code(ada, within=2.0) == CLOSE_SIGNED_OUT, "Ada's socket did not close as signed out"
        assert time.monotonic() - done < 2.0
        bob.send_json({"type": "ping"})
        assert next_of_type(bob, "pong") == {"type": "pong"}
    finally:
        ada.close()
        bob.close()


def test_uvicorns_limit_concurrency_refuses_http_with_503_and_never_a_websocket(tmp_path):
    """Why the units and the image leave --limit-concurrency unset (docs/deploy-aws.md, "The
    ASGI server"): uvicorn counts each open WebSocket (a connection and a task) against it, but
    checks it for plain HTTP requests only. At the bound every page, API call and health check
    gets 503 while further sockets still open: it would take a full process out of the proxy's
    rotation without bounding its sockets."""
    assert "--limit-concurrency" not in unit_command("uvicorn", 8001)
    room = make_room()
    cookies = [session_cookie(room.users[name]) for name in ("ada", "bob")]
    port = free_port()
    server = SimpleNamespace(port=port, url=f"http://127.0.0.1:{port}")
    with open(tmp_path / "uvicorn.log", "wb") as log:
        process = subprocess.Popen(
            [*unit_command("uvicorn", port)[:-1], "--limit-concurrency", "2", "config.asgi:application"],
            cwd=BASE_DIR,
            env=server_env(),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    sockets = []
    try:
        wait_until_serving(server.url, process, timeout=60)
        # Given two open sockets: the bound of 2
        for cookie in cookies:
            sockets.append(open_socket(server, cookie))
            assert sockets[-1].recv_json()["type"] == "hello"

        # When a third socket and a health check come
        sockets.append(open_socket(server, cookies[0]))
        third = sockets[-1].recv_json()
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(f"{server.url}/healthz", timeout=TIMEOUT)

        # Then the socket opens (hello) and the health check is refused with 503
        assert third["type"] == "hello"
        assert refused.value.code == 503
        assert refused.value.read() == b"Service Unavailable"
    finally:
        for ws in sockets:
            ws.close()
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=20)
