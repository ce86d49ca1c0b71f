"""The test client's resync rules (tests.clients.LiveChatClient, chat.js's twin) against a
scripted server, frame by frame, so the order of a race is fixed instead of left to chance.

The race (seen in tests/faults/test_daphne_kill.py under load): a gap starts a resync; while it
runs, the push of a newer message comes in and is held back ("the running resync brings it").
But the server read the database for that resync before the newer message was stored, so the
answer lacks it: unless the client asks again, the conversation's latest message never shows.
tests/js/protocol.test.js pins the same rule for chat.js.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import socket
import struct
import threading

from tests.clients import GUID, OP_TEXT, LiveChatClient, parse_frame

CONVERSATION = 7
WAIT = 10


def _message(seq: int) -> dict:
    return {"id": 100 + seq, "conversation": CONVERSATION, "seq": seq, "body": f"m{seq}", "client_id": None}


class ScriptedServer:
    """One WebSocket connection on a loopback port, driven step by step by the test."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(WAIT)
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        self.connection: socket.socket | None = None
        self.buffer = b""

    def accept(self) -> None:
        self.connection, _ = self.listener.accept()
        self.connection.settimeout(WAIT)
        request = b""
        while b"\r\n\r\n" not in request:
            request += self.connection.recv(4096)
        head, _, self.buffer = request.partition(b"\r\n\r\n")
        key = next(
            line.split(b":", 1)[1].strip().decode()
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"sec-websocket-key:")
        )
        accept = base64.b64encode(hashlib.sha1((key + GUID).encode()).digest()).decode()
        self.connection.sendall(
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            + f"Sec-WebSocket-Accept: {accept}\r\n\r\n".encode()
        )

    def send(self, frame: dict) -> None:
        payload = json.dumps(frame).encode()
        assert len(payload) < 65536
        self.connection.sendall(bytes([0x80 | OP_TEXT, 126]) + struct.pack("!H", len(payload)) + payload)

    def receive(self) -> dict:
        """The client's next text frame (masked, as a client's are)."""
        while True:
            frame = self._parse()
            if frame is not None:
                opcode, payload = frame
                if opcode == OP_TEXT:
                    return json.loads(payload)
                continue
            chunk = self.connection.recv(4096)
            assert chunk, "the client closed the connection"
            self.buffer += chunk

    def _parse(self) -> tuple[int, bytes] | None:
        parsed = parse_frame(self.buffer)
        if parsed is None:
            return None
        opcode, payload, self.buffer = parsed
        return opcode, payload

    def close(self) -> None:
        if self.connection is not None:
            with contextlib.suppress(OSError):
                self.connection.close()
        self.listener.close()


def _client(server: ScriptedServer) -> LiveChatClient:
    return LiveChatClient(
        name="ada", servers=[server.url], session_cookie="scripted", conversations=[CONVERSATION], min_delay=0.1
    )


def _resync_cursor(frame: dict) -> int:
    assert frame["type"] == "resync", frame
    return frame["conversations"][str(CONVERSATION)]


@contextlib.contextmanager
def greeted():
    """The scripted server with the client connected to it and greeted with a hello."""
    server = ScriptedServer()
    accepted = threading.Thread(target=server.accept, daemon=True)
    accepted.start()
    client = _client(server).start()
    try:
        accepted.join(WAIT)
        server.send({"type": "hello", "user": "u-ada", "unread": 0, "heartbeat": 25})
        yield server, client
    finally:
        client.stop()
        server.close()


def test_a_push_held_back_during_a_resync_whose_answer_lacks_it_is_fetched_again():
    with greeted() as (server, client):
        assert _resync_cursor(server.receive()) == 0  # the hello's catch-up is in flight ...
        # ... when the push of message 2 overtakes its answer, which was read before 2 was stored
        server.send({"type": "message.new", "conversation": CONVERSATION, "message": _message(2)})
        server.send({"type": "message.batch", "conversation": CONVERSATION, "messages": [_message(1)], "more": False})

        # The client asks again from where the answer left it, and shows 2 from that answer
        assert _resync_cursor(server.receive()) == 1
        server.send({"type": "message.batch", "conversation": CONVERSATION, "messages": [_message(2)], "more": False})
        client.wait_until(lambda: len(client.view(CONVERSATION)) == 2, WAIT, "message 2 shown")
        assert [m["seq"] for m in client.view(CONVERSATION)] == [1, 2]


def test_a_push_the_running_resync_brings_needs_no_second_resync():
    with greeted() as (server, client):
        assert _resync_cursor(server.receive()) == 0
        server.send({"type": "message.new", "conversation": CONVERSATION, "message": _message(2)})
        batch = {"type": "message.batch", "conversation": CONVERSATION, "messages": [_message(1), _message(2)]}
        server.send({**batch, "more": False})
        client.wait_until(lambda: len(client.view(CONVERSATION)) == 2, WAIT, "both shown")
        client.send(CONVERSATION, "next")
        assert server.receive()["type"] == "message.send", "no second resync before the next send"
