"""A Python twin of the browser's chat client, for tests against real daphne processes.

`LiveChatClient` holds one live socket (`/ws/live/`, session cookie + Origin, as a browser
does) and follows static/js/live.js and static/js/chat.js rule for rule:

- every message goes out as `{"type": "message.send", conversation, body, client_id}` and
  stays in an outbox until a stored copy of it (ack, push or resync batch) is accepted;
- `accept()` is chat.js's: a known id is dropped (deduplication), a seq past `last_seq + 1`
  starts a resync instead of being shown, and `last_seq` only grows;
- on every "hello" (each (re)connect) it sends one `resync` per conversation it shows, with
  the last seq it has, then resends the whole outbox (same client_id: the server answers a
  retry with the stored message);
- "message.batch" ends the resync (and asks again when `more`, or when a message held back
  while it ran is still missing: the answer was read before that message was stored), a
  resync that gets no answer stops holding messages back after 5 s (and asks again if it held
  one), a `rate_limited` error resends after 2 s, any other error for a client_id is final
  (the message is "Not sent");
- a dropped socket reconnects with live.js's backoff (exponential, full jitter above a floor),
  a late pong closes the socket, and server pings are answered;
- a close with 4401 (signed out) is final: no reconnect, `signed_out` is set (live.js goes to
  the login page).

Two things differ from a browser tab, on purpose: the client may be given several servers
(it moves to the next when one refuses a connection, like a load balancer whose backend died),
and the backoff floor and ceiling are parameters so tests need not wait live.js's 1 to 30 s.
Everything runs on one background thread; the test thread calls `send`, `wait_until` and
reads `view`.

A server given as `https://host:port` is reached over TLS (wss://, e.g. through nginx), with
`ssl_context` (default: the system's trust store) and the URL's host as the TLS server name.
The client also keeps what live.js hands to the rest of the page: each "hello" frame (with the
unread count) in `hello_frames`, and each live "notification.new" in `notifications`.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import os
import random
import select
import socket
import ssl
import struct
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
OP_TEXT, OP_CLOSE, OP_PING, OP_PONG = 0x1, 0x8, 0x9, 0xA

# static/js/live.js and static/js/chat.js
MIN_DELAY_S = 1.0
MAX_DELAY_S = 30.0
DEFAULT_HEARTBEAT_S = 25.0
PONG_TIMEOUT_S = 10.0
RESYNC_ANSWER_TIMEOUT_S = 5.0
RATE_LIMIT_RETRY_S = 2.0
HANDSHAKE_TIMEOUT_S = 10.0
CLOSE_SIGNED_OUT = 4401
TRACE_LENGTH = 60


class HandshakeRefused(ConnectionError):
    pass


def parse_frame(buffer: bytes) -> tuple[int, bytes, bytes] | None:
    """One WebSocket frame off the front of `buffer` (RFC 6455 5.2), masked (a client's) or not
    (a server's): (opcode, payload, the rest), or None until the whole frame is there."""
    if len(buffer) < 2:
        return None
    opcode, masked, length, offset = buffer[0] & 0x0F, buffer[1] & 0x80, buffer[1] & 0x7F, 2
    if length == 126:
        if len(buffer) < 4:
            return None
        (length,), offset = struct.unpack("!H", buffer[2:4]), 4
    elif length == 127:
        if len(buffer) < 10:
            return None
        (length,), offset = struct.unpack("!Q", buffer[2:10]), 10
    mask_length = 4 if masked else 0
    end = offset + mask_length + length
    if len(buffer) < end:
        return None
    payload = buffer[offset + mask_length : end]
    if masked:
        mask = buffer[offset : offset + 4]
        payload = bytes(byte ^ mask[i % 4] for i, byte in enumerate(payload))
    return opcode, payload, buffer[end:]


class _Socket:
    """One client WebSocket (RFC 6455) over a TCP socket, or TLS for an https:// or wss://
    base URL, read without blocking."""

    def __init__(self, base_url: str, *, headers: dict[str, str], ssl_context: ssl.SSLContext | None = None):
        parts = urlsplit(base_url)
        self.tls = parts.scheme in ("https", "wss")
        host, port = parts.hostname or "127.0.0.1", parts.port or (443 if self.tls else 80)
        self.sock = socket.create_connection((host, port), timeout=HANDSHAKE_TIMEOUT_S)
        if self.tls:
            context = ssl_context or ssl.create_default_context()
            try:
                self.sock = context.wrap_socket(self.sock, server_hostname=host)
            except BaseException:
                self.sock.close()
                raise
        key = base64.b64encode(os.urandom(16)).decode()
        request = [
            "GET /ws/live/ HTTP/1.1",
            f"Host: {host}:{port}",
            "Upgrade: websocket",
            "Connection: Upgrade",
            f"Sec-WebSocket-Key: {key}",
            "Sec-WebSocket-Version: 13",
            *(f"{name}: {value}" for name, value in headers.items()),
            "",
            "",
        ]
        try:
            self.sock.sendall("\r\n".join(request).encode("latin-1"))
            response = b""
            while b"\r\n\r\n" not in response:
                chunk = self.sock.recv(4096)
                if not chunk:
                    raise HandshakeRefused("connection closed during the handshake")
                response += chunk
        except BaseException:
            self.sock.close()
            raise
        head, _, self.buffer = response.partition(b"\r\n\r\n")
        status = head.split(b"\r\n", 1)[0].decode("latin-1")
        expected = base64.b64encode(hashlib.sha1((key + GUID).encode()).digest()).decode()
        if " 101 " not in status or f"sec-websocket-accept: {expected}".lower() not in head.decode().lower():
            self.sock.close()
            raise HandshakeRefused(status)
        self.sock.settimeout(HANDSHAKE_TIMEOUT_S)  # reads happen only when select() says readable

    def fileno(self) -> int:
        return self.sock.fileno()

    def pending(self) -> int:
        """Bytes TLS has already decrypted and holds for us: select() cannot see them, so the
        reader treats them as readable. Always 0 on a plain socket."""
        return self.sock.pending() if self.tls else 0

    def read_available(self) -> list[tuple[int, bytes]]:
        """Call when select() says readable (or pending() > 0): the frames now complete. Raises
        ConnectionError when the peer closed the TCP stream."""
        if self.tls:
            return self._read_available_tls()
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionError("socket closed by the server")
        self.buffer += chunk
        return self.buffered_frames()

    def _read_available_tls(self) -> list[tuple[int, bytes]]:
        # Readable raw bytes may be half a TLS record or a record with no application data
        # (a TLS 1.3 session ticket): read without blocking, so that never stalls the loop.
        self.sock.setblocking(False)
        try:
            try:
                chunk = self.sock.recv(65536)
            except ssl.SSLWantReadError:
                return self.buffered_frames()
            if not chunk:
                raise ConnectionError("socket closed by the server")
            # Drain what TLS decrypted beyond that read: select() would not report it.
            while (waiting := self.sock.pending()) > 0:
                more = self.sock.recv(waiting)
                if not more:
                    break
                chunk += more
        finally:
            self.sock.settimeout(HANDSHAKE_TIMEOUT_S)
        self.buffer += chunk
        return self.buffered_frames()

    def buffered_frames(self) -> list[tuple[int, bytes]]:
        frames = []
        while (frame := self._parse_one()) is not None:
            frames.append(frame)
        return frames

    def _parse_one(self) -> tuple[int, bytes] | None:
        parsed = parse_frame(self.buffer)
        if parsed is None:
            return None
        opcode, payload, self.buffer = parsed
        return opcode, payload

    def send(self, opcode: int, payload: bytes) -> None:
        mask = os.urandom(4)
        header = bytes([0x80 | opcode])
        if len(payload) < 126:
            header += bytes([0x80 | len(payload)])
        elif len(payload) < 65536:
            header += bytes([0x80 | 126]) + struct.pack("!H", len(payload))
        else:
            header += bytes([0x80 | 127]) + struct.pack("!Q", len(payload))
        masked = bytes(byte ^ mask[i % 4] for i, byte in enumerate(payload))
        self.sock.sendall(header + mask + masked)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.send(OP_CLOSE, struct.pack("!H", 1000))
        self.sock.close()


@dataclass
class ConversationView:
    """What one conversation page shows: stored messages by id, and how far it is complete."""

    last_seq: int = 0
    messages: dict[int, dict] = field(default_factory=dict)  # id -> message payload
    resyncing: bool = False
    resync_deadline: float = 0.0
    held_seq: int = 0  # the newest seq held back while a resync ran (chat.js heldSeq)
    duplicates_dropped: int = 0
    sources: dict[int, str] = field(default_factory=dict)  # id -> "ack" | "push" | "batch"

    def ordered(self) -> list[dict]:
        return sorted(self.messages.values(), key=lambda message: message["seq"])


class LiveChatClient:
    """One signed-in user with one live socket showing some conversations (see module docs)."""

    def __init__(
        self,
        *,
        name: str,
        servers: list[str],
        session_cookie: str,
        conversations: Iterable[int],
        cookie_name: str = "sessionid",
        min_delay: float = MIN_DELAY_S,
        max_delay: float = MAX_DELAY_S,
        ssl_context: ssl.SSLContext | None = None,
    ):
        self.name = name
        self.servers = list(servers)
        self.server_index = 0
        self.cookie = f"{cookie_name}={session_cookie}"
        self.views = {int(cid): ConversationView() for cid in conversations}
        self.min_delay, self.max_delay = min_delay, max_delay
        self.ssl_context = ssl_context  # for https:// servers; None: the system's trust store
        self.outbox: dict[str, dict] = {}  # client_id -> frame, until a stored copy is accepted
        self.acks: dict[str, dict] = {}  # client_id -> the last "message.ack" for it
        self.failed: dict[str, dict] = {}  # client_id -> the final error frame
        self.errors: list[dict] = []
        self.hellos: list[str] = []  # the server of each "hello", in order
        self.hello_frames: list[dict] = []  # each "hello" itself (user, unread, chat_unread, …)
        self.notifications: list[dict] = []  # each live "notification.new" frame, in order
        self.connect_failures = 0
        self.disconnects = 0
        self.signed_out_at: float | None = None  # monotonic time of a close with CLOSE_SIGNED_OUT
        self.user_id: str | None = None  # the user's public_id (UUID string)
        # What this client saw and did, newest last (for a failure's message): hello, each
        # message with its source and verdict, each resync with its cursor, each batch's seqs.
        self.trace: deque[str] = deque(maxlen=TRACE_LENGTH)
        self._lock = threading.RLock()
        self._ws: _Socket | None = None
        self._online = False
        self._attempt = 0
        self._next_connect = 0.0
        self._heartbeat = DEFAULT_HEARTBEAT_S
        self._ping_at = float("inf")
        self._pong_deadline = float("inf")
        self._retries: list[tuple[float, str]] = []  # (when, client_id) after rate_limited
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"live-client-{name}", daemon=True)

    # --- used by tests -----------------------------------------------------------------------

    def start(self) -> LiveChatClient:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
        with self._lock:
            if self._ws is not None:
                self._ws.close()
                self._ws = None
            self._online = False

    def send(self, conversation: int, body: str) -> str:
        """Queue a message (chat.js's composer submit) and send it now if the socket is open."""
        client_id = uuid.uuid4().hex
        frame = {"type": "message.send", "conversation": conversation, "body": body, "client_id": client_id}
        with self._lock:
            self.outbox[client_id] = frame
            self._send(frame)
        return client_id

    @property
    def online(self) -> bool:
        with self._lock:
            return self._online

    @property
    def signed_out(self) -> bool:
        with self._lock:
            return self.signed_out_at is not None

    @property
    def server(self) -> str:
        return self.servers[self.server_index]

    def view(self, conversation: int) -> list[dict]:
        with self._lock:
            return self.views[conversation].ordered()

    def pending(self) -> list[str]:
        with self._lock:
            return list(self.outbox)

    def wait_until(self, predicate: Callable[[], bool], timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                raise AssertionError(f"{self.name}: {what} not within {timeout} s ({self.describe()})")
            time.sleep(0.02)

    def describe(self) -> str:
        with self._lock:
            views = {cid: (v.last_seq, len(v.messages), v.resyncing) for cid, v in self.views.items()}
            return (
                f"online={self._online} server={self.server} hellos={len(self.hellos)} "
                f"outbox={len(self.outbox)} failed={len(self.failed)} views(last_seq, count, resyncing)={views} "
                f"errors={[e.get('code') for e in self.errors]}\n  trace: {' | '.join(self.trace)}"
            )

    def _note(self, what: str) -> None:
        self.trace.append(f"{time.monotonic() % 1000:.3f} {what}")

    # --- the client's thread -----------------------------------------------------------------

    def _run(self) -> None:
        while not self._stop.is_set():
            ws = self._ws
            if ws is None:
                if self.signed_out_at is not None:
                    time.sleep(0.01)
                elif time.monotonic() >= self._next_connect:
                    self._connect()
                else:
                    time.sleep(0.01)
                continue
            with self._lock:  # the TLS object is used by one thread at a time
                try:
                    decrypted = ws is self._ws and ws.pending() > 0
                except (OSError, ValueError):
                    decrypted = False
            try:
                readable = [ws] if decrypted else select.select([ws], [], [], 0.02)[0]
            except (OSError, ValueError):
                self._dropped()
                continue
            with self._lock:
                try:
                    frames = ws.read_available() if readable and ws is self._ws else []
                except OSError:
                    self._dropped()
                    continue
                for opcode, payload in frames:
                    if self._ws is None:
                        break
                    self._on_frame(opcode, payload)
                if self._ws is not None:
                    self._on_timers()

    def _connect(self) -> None:
        server = self.servers[self.server_index]
        try:
            ws = _Socket(server, headers={"Origin": server, "Cookie": self.cookie}, ssl_context=self.ssl_context)
        except OSError:  # refused, reset, timed out, or a handshake the server declined
            with self._lock:
                self.connect_failures += 1
                self.server_index = (self.server_index + 1) % len(self.servers)
                self._schedule_reconnect()
            return
        with self._lock:
            self._ws = ws
            self._ping_at = time.monotonic() + self._heartbeat
            for opcode, payload in ws.buffered_frames():  # "hello" may have come with the handshake
                if self._ws is None:
                    break
                self._on_frame(opcode, payload)

    def _dropped(self) -> None:
        """live.js's "close" handler: offline, and reconnect after a backoff delay."""
        with self._lock:
            if self._ws is not None:
                with contextlib.suppress(OSError):
                    self._ws.sock.close()
            self._ws = None
            self._online = False
            self.disconnects += 1
            self._ping_at = self._pong_deadline = float("inf")
            self._schedule_reconnect()

    def _schedule_reconnect(self) -> None:
        # live.js backoffDelay(): "full jitter" above a floor, ceiling doubling per attempt.
        ceiling = min(self.max_delay, self.min_delay * 2**self._attempt)
        self._attempt += 1
        self._next_connect = time.monotonic() + self.min_delay + random.random() * max(0.0, ceiling - self.min_delay)

    def _send(self, frame: dict) -> bool:
        """live.js send(): true if the frame went out on an open socket."""
        if self._ws is None:
            return False
        try:
            self._ws.send(OP_TEXT, json.dumps(frame).encode())
        except OSError:
            return False
        return True

    def _on_frame(self, opcode: int, payload: bytes) -> None:
        if opcode == OP_PING:
            with contextlib.suppress(OSError):
                self._ws.send(OP_PONG, payload)
            return
        if opcode == OP_CLOSE:
            code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else None
            if code == CLOSE_SIGNED_OUT:
                self.signed_out_at = time.monotonic()
            self._dropped()
            return
        if opcode != OP_TEXT:
            return
        try:
            event = json.loads(payload)
        except ValueError:
            return
        if not isinstance(event, dict) or not isinstance(event.get("type"), str):
            return
        self._ping_at = time.monotonic() + self._heartbeat  # any traffic proves the line is alive
        self._pong_deadline = float("inf")
        self._on_event(event)

    def _on_timers(self) -> None:
        now = time.monotonic()
        if now >= self._pong_deadline:  # no pong in time: the connection is dead
            self._dropped()
            return
        if now >= self._ping_at:
            self._ping_at = float("inf")
            if self._send({"type": "ping"}):
                self._pong_deadline = now + PONG_TIMEOUT_S
        for conversation_id, conversation in self.views.items():
            if conversation.resyncing and now >= conversation.resync_deadline:
                self._note("resync answer timed out")
                conversation.resyncing = False  # an answer that never came must not hold messages back
                if self._behind(conversation):
                    self._resync(conversation_id)
        due = [client_id for when, client_id in self._retries if when <= now]
        self._retries = [(when, client_id) for when, client_id in self._retries if when > now]
        for client_id in due:
            if client_id in self.outbox:
                self._send(self.outbox[client_id])

    def _on_event(self, event: dict) -> None:
        kind = event["type"]
        if kind == "hello":
            self._attempt = 0
            self._online = True
            self.user_id = event.get("user")
            if isinstance(event.get("heartbeat"), int | float) and event["heartbeat"] > 0:
                self._heartbeat = float(event["heartbeat"])
            self.hellos.append(self.server)
            self.hello_frames.append(event)
            self._note(f"hello from {self.server}")
            # chat.js "live:hello": catch up from the database, then resend what was never acked.
            for conversation_id, view in self.views.items():
                view.resyncing = False
                self._resync(conversation_id)
            for frame in list(self.outbox.values()):
                self._send(frame)
        elif kind == "message.new":
            self._accept(event["message"], "push")
        elif kind == "notification.new":
            self.notifications.append(event)
        elif kind == "message.ack":
            self.acks[event["client_id"]] = event
            if event.get("conversation") in self.views:
                self._accept(event["message"], "ack")
        elif kind == "message.batch":
            conversation_id = event.get("conversation")
            view = self.views.get(conversation_id)
            if view is None:
                return
            view.resyncing = False
            seqs = [m["seq"] for m in event["messages"]]
            self._note(f"batch c{conversation_id} seqs={seqs} more={event.get('more')}")
            for message in event["messages"]:
                self._accept(message, "batch")
            if event.get("more") or self._behind(view):
                self._resync(conversation_id)
        elif kind == "error":
            self.errors.append(event)
            client_id = event.get("client_id")
            if not client_id or client_id not in self.outbox:
                return
            if event.get("code") == "rate_limited":
                self._retries.append((time.monotonic() + RATE_LIMIT_RETRY_S, client_id))
                return
            self.failed[client_id] = event
            del self.outbox[client_id]

    @staticmethod
    def _behind(view: ConversationView) -> bool:
        """chat.js behind(): a message held back during the last resync is still not shown."""
        return not view.resyncing and view.held_seq > view.last_seq

    def _resync(self, conversation_id: int) -> None:
        if not self._online:
            return
        view = self.views[conversation_id]
        view.resyncing = self._send({"type": "resync", "conversations": {str(conversation_id): view.last_seq}})
        self._note(f"resync c{conversation_id} after {view.last_seq} sent={view.resyncing}")
        view.resync_deadline = time.monotonic() + RESYNC_ANSWER_TIMEOUT_S

    def _accept(self, message: dict, source: str) -> None:
        """chat.js accept(): show a stored message once, in order; a gap starts a resync."""
        view = self.views.get(message.get("conversation"))
        if view is None:
            return
        if message["id"] in view.messages:
            view.duplicates_dropped += 1
            view.messages[message["id"]] = message  # an edit or a tombstone replaces the text
            return
        if message["seq"] > view.last_seq + 1:
            where = f"c{message['conversation']} #{message['seq']}"
            self._note(f"{source} {where} gap after {view.last_seq}, held={view.resyncing}")
            if not view.resyncing:
                self._resync(message["conversation"])  # a gap: the database fills it in order
            else:  # the running resync may have read the database before this was stored
                view.held_seq = max(view.held_seq, message["seq"])
            return
        if source != "batch":
            self._note(f"{source} c{message['conversation']} #{message['seq']} shown")
        view.messages[message["id"]] = message
        view.sources[message["id"]] = source
        if message.get("client_id") in self.outbox:
            del self.outbox[message["client_id"]]
        view.last_seq = max(view.last_seq, message["seq"])
