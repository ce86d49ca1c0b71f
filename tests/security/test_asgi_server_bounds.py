"""What the production ASGI servers, run exactly as their systemd units run them
(deploy/systemd/lyceum-uvicorn@.service, lyceum-daphne@.service), accept from a client before
Lyceum's own code sees it.

- A WebSocket message is bounded just above the consumer's frame limit
  (live.consumer.SERVER_MAX_MESSAGE_BYTES): a 60 KiB frame still reaches the consumer, a 1 MiB
  one is refused with close 1009 at its header, before its payload is sent, so the server
  never buffers it.
- The limit holds for the inflated size of a compressed message (permessage-deflate, uvicorn).
- A socket whose peer stops answering pings is closed (uvicorn, with short intervals).
- X-Forwarded-For moves the client address that the login lock-out (django-axes) and the
  API's throttles see only when nginx, the trusted loopback proxy, sends it; from any other
  peer uvicorn ignores it, and axes (proxy count 0: python-ipware then passes over the header)
  and the throttles (NUM_PROXIES 0) key on REMOTE_ADDR.
- No Server header names the server.
"""

import contextlib
import http.client
import json
import os
import select
import signal
import struct
import subprocess
import time

import pytest
import websockets.exceptions
import websockets.sync.client
from axes.models import AccessAttempt

from chat.tests.wsclient import WebSocketClient
from live.consumer import MAX_FRAME_CHARS, SERVER_MAX_MESSAGE_BYTES
from tests.faults.scenario import make_room, session_cookie
from tests.servers import BASE_DIR, free_port, server_env, unit_command, uvicorn_serve_command, wait_until_serving

pytestmark = pytest.mark.django_db(transaction=True)

TIMEOUT = 10
OP_TEXT, OP_CLOSE, OP_PING = 0x1, 0x8, 0x9
CLOSE_MESSAGE_TOO_BIG = 1009


class UnitServer:
    """One server process running its unit's ExecStart on a free loopback port; `replace`
    swaps option values (e.g. {"--forwarded-allow-ips": "192.0.2.1"})."""

    def __init__(self, server: str, tmp_path, replace: dict[str, str] | None = None, **env: str):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        argv = unit_command(server, self.port)
        for option, value in (replace or {}).items():
            argv[argv.index(option) + 1] = value
        self.log_path = tmp_path / f"{server}-{self.port}.log"
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(
                argv,
                cwd=BASE_DIR,
                env=server_env(**env),
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def log_records(self) -> list[dict]:
        return [json.loads(line) for line in self.log_path.read_text().splitlines() if line.startswith("{")]

    def stop(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)


@contextlib.contextmanager
def unit_server(server: str, tmp_path, replace: dict[str, str] | None = None, **env: str):
    process = UnitServer(server, tmp_path, replace, **env)
    try:
        wait_until_serving(process.url, process.process, timeout=60)
        yield process
    finally:
        process.stop()


def open_socket(server: UnitServer, cookie: str) -> WebSocketClient:
    ws = WebSocketClient(
        "127.0.0.1", server.port, "/ws/live/", headers={"Origin": server.url, "Cookie": f"sessionid={cookie}"}
    )
    ws.sock.settimeout(TIMEOUT)
    assert ws.recv_json()["type"] == "hello"
    return ws


def frame_header(length: int) -> bytes:
    """A masked text frame's header (FIN, opcode, 64-bit length) and its mask."""
    return bytes([0x80 | OP_TEXT, 0x80 | 127]) + struct.pack("!Q", length) + b"\x00\x00\x00\x00"


DROPPED = "dropped"


def close_code_within(ws: WebSocketClient, seconds: float) -> int | str | None:
    """The close code the server sends within `seconds` (pings skipped), DROPPED if it closed
    the TCP connection without one, None if the socket is still open."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not ws.buffer and not select.select([ws.sock], [], [], 0.05)[0]:
            continue
        try:
            opcode, payload = ws.recv_frame()
        except ConnectionError:
            return DROPPED
        if opcode == OP_CLOSE:
            return struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else 1005
    return None


def test_the_servers_message_limit_is_just_above_the_consumers_frame_limit():
    assert MAX_FRAME_CHARS < SERVER_MAX_MESSAGE_BYTES <= MAX_FRAME_CHARS + 4096
    uvicorn = unit_command("uvicorn", 8001)
    assert int(uvicorn[uvicorn.index("--ws-max-size") + 1]) == SERVER_MAX_MESSAGE_BYTES
    daphne = unit_command("daphne", 8001)
    for option in ("--websocket-max-message-size", "--websocket-max-frame-size"):
        assert int(daphne[daphne.index(option) + 1]) == SERVER_MAX_MESSAGE_BYTES, option
    # The image runs the same deploy/uvicorn-serve (tests/deploy/test_compose.py).
    image = uvicorn_serve_command("0.0.0.0", "8000")
    assert int(image[image.index("--ws-max-size") + 1]) == SERVER_MAX_MESSAGE_BYTES


# uvicorn (websockets) closes with 1009; daphne (autobahn) fails the connection by dropping it.
@pytest.mark.parametrize(("server", "refusal"), [("uvicorn", CLOSE_MESSAGE_TOO_BIG), ("daphne", DROPPED)])
def test_a_60_kib_frame_reaches_the_consumer_and_a_1_mib_one_is_refused_at_its_header(server, refusal, tmp_path):
    cookie = session_cookie(make_room().users["ada"])
    with unit_server(server, tmp_path) as process:
        ws = open_socket(process, cookie)
        try:
            # Given a frame just under the consumer's limit: the consumer reads it and answers
            ws.send_json({"type": "ping", "padding": "x" * (60 * 1024)})
            assert ws.recv_json() == {"type": "pong"}

            # When a client announces a 1 MiB frame and sends only its header and a first byte
            ws.sock.sendall(frame_header(1024 * 1024) + b"{")

            # Then the server closes the socket at once: it never waits for (or buffers) the
            # rest of the payload
            assert close_code_within(ws, seconds=5) == refusal
        finally:
            ws.close()
        # and the process still serves everyone else
        again = open_socket(process, cookie)
        again.close()


def test_under_uvicorn_a_socket_that_stops_answering_pings_is_closed(tmp_path):
    # Given uvicorn pinging every second and waiting one second for the pong
    fast_pings = {"--ws-ping-interval": "1", "--ws-ping-timeout": "1"}
    cookie = session_cookie(make_room().users["ada"])
    with unit_server("uvicorn", tmp_path, replace=fast_pings) as process:
        ws = open_socket(process, cookie)
        try:
            # When the client reads nothing (so it answers no ping) for a few seconds
            time.sleep(4)
            # Then the server has closed the socket: only pings, then a close or the end, remain
            ws.sock.settimeout(2)
            frames = []
            with contextlib.suppress(ConnectionError, OSError):
                while True:
                    frames.append(ws.recv_frame()[0])
                    if frames[-1] == OP_CLOSE:
                        break
            assert set(frames) <= {OP_PING, OP_CLOSE}, frames
            assert OP_PING in frames
            with pytest.raises((ConnectionError, OSError)):
                for _ in range(3):  # a closed socket: the reads end, whatever is left over
                    ws.sock.sendall(b"\x89\x80\x00\x00\x00\x00")
                    if not ws.sock.recv(1):
                        raise ConnectionError("closed")
        finally:
            ws.close()


# A public address: python-ipware (axes) passes over reserved ones such as 203.0.113.0/24.
FORGED = "93.184.216.34"


def failed_token_request(port: int, forwarded_for: str) -> int:
    """One wrong password at the API's token endpoint, with an X-Forwarded-For header."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
    try:
        connection.request(
            "POST",
            "/api/v1/auth/token/",
            body=json.dumps({"email": "target@example.edu", "password": "wrong-guess"}),
            headers={"Content-Type": "application/json", "X-Forwarded-For": forwarded_for},
        )
        response = connection.getresponse()
        response.read()
        return response.status
    finally:
        connection.close()


def client_addresses_seen(process: UnitServer) -> tuple[set[str], set[str]]:
    """The addresses axes counted failures for, and REMOTE_ADDR (the throttles' key) of the
    token requests as the request log has it."""
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        logged = {r["client"] for r in process.log_records() if r.get("path") == "/api/v1/auth/token/"}
        if logged:
            break
        time.sleep(0.1)
    return set(AccessAttempt.objects.values_list("ip_address", flat=True)), logged


def test_under_uvicorn_x_forwarded_for_from_a_peer_other_than_the_proxy_changes_no_client_address(tmp_path):
    # Given uvicorn trusting a proxy at 192.0.2.1 only; the test's loopback address is not it
    with unit_server(
        "uvicorn", tmp_path, replace={"--forwarded-allow-ips": "192.0.2.1"}, LOG_FORMAT="json", LOG_LEVEL="INFO"
    ) as process:
        # When a client sends a forged X-Forwarded-For with a failed log-in
        assert failed_token_request(process.port, FORGED) == 401
        axes_saw, throttles_saw = client_addresses_seen(process)

    # Then the lock-out and the throttles both count the peer's own address
    assert axes_saw == {"127.0.0.1"}
    assert throttles_saw == {"127.0.0.1"}


def test_under_uvicorn_x_forwarded_for_from_the_loopback_proxy_is_the_client_address(tmp_path):
    # Given the unit as it is: nginx on loopback is the trusted proxy (the test plays it)
    with unit_server("uvicorn", tmp_path, LOG_FORMAT="json", LOG_LEVEL="INFO") as process:
        assert failed_token_request(process.port, FORGED) == 401
        axes_saw, throttles_saw = client_addresses_seen(process)

    assert axes_saw == {FORGED}
    assert throttles_saw == {FORGED}


@pytest.mark.parametrize("server", ["uvicorn", "daphne"])
def test_no_server_header_names_the_asgi_server(server, tmp_path):
    with unit_server(server, tmp_path) as process:
        connection = http.client.HTTPConnection("127.0.0.1", process.port, timeout=20)
        try:
            connection.request("GET", "/healthz")
            response = connection.getresponse()
            response.read()
        finally:
            connection.close()
    assert response.status == 200
    assert response.getheader("Server") is None


@pytest.mark.parametrize("server", ["uvicorn", "daphne"])
def test_a_compressed_frame_is_bounded_by_its_inflated_size(server, tmp_path):
    # A client that negotiates permessage-deflate (websockets does by default) can send 1 MiB
    # of one letter in about a kilobyte: the limit holds for what the server would inflate.
    cookie = session_cookie(make_room().users["ada"])
    with unit_server(server, tmp_path) as process:
        with websockets.sync.client.connect(
            f"ws://127.0.0.1:{process.port}/ws/live/",
            origin=process.url,
            additional_headers={"Cookie": f"sessionid={cookie}"},
            proxy=None,
        ) as ws:
            assert json.loads(ws.recv(timeout=TIMEOUT))["type"] == "hello"
            negotiated = ws.response.headers.get("Sec-WebSocket-Extensions") or ""
            assert ("permessage-deflate" in negotiated) == (server == "uvicorn")  # daphne: no compression
            ws.send(json.dumps({"type": "ping", "padding": "x" * (1024 * 1024)}))
            with pytest.raises(websockets.exceptions.ConnectionClosed) as closed:
                while True:
                    assert json.loads(ws.recv(timeout=TIMEOUT))["type"] != "pong"
        if server == "uvicorn":
            assert closed.value.rcvd is not None and closed.value.rcvd.code == CLOSE_MESSAGE_TOO_BIG
