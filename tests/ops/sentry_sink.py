"""A local stand-in for Sentry's ingest endpoint: a threaded HTTP server that receives the real
envelopes the SDK sends (POST /api/<project>/envelope/, gzip-compressed) and keeps them.

    with SentrySink() as sink:
        env = {"SENTRY_DSN": sink.dsn}
        ...
        event = sink.wait_for_event(lambda e: ...)
        assert secret not in sink.raw_bytes()
"""

from __future__ import annotations

import gzip
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Envelope:
    path: str
    headers: dict[str, str]
    raw: bytes  # decompressed body, exactly as the SDK serialized it
    items: list[tuple[dict[str, Any], bytes]] = field(default_factory=list)

    def events(self) -> list[dict[str, Any]]:
        return [json.loads(payload) for header, payload in self.items if header.get("type") == "event"]


def parse_envelope(raw: bytes) -> list[tuple[dict[str, Any], bytes]]:
    """Sentry's envelope format: a header line, then (item header line, payload) pairs."""
    _, _, rest = raw.partition(b"\n")
    items = []
    while rest.strip():
        header_line, _, rest = rest.partition(b"\n")
        header = json.loads(header_line)
        if "length" in header:
            payload, rest = rest[: header["length"]], rest[header["length"] :]
            rest = rest.removeprefix(b"\n")
        else:
            payload, _, rest = rest.partition(b"\n")
        items.append((header, payload))
    return items


class SentrySink:
    def __init__(self) -> None:
        self.envelopes: list[Envelope] = []
        self._lock = threading.Lock()
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if self.headers.get("Content-Encoding") == "gzip":
                    body = gzip.decompress(body)
                envelope = Envelope(self.path, dict(self.headers.items()), body, parse_envelope(body))
                with sink._lock:
                    sink.envelopes.append(envelope)
                data = b'{"id":"ok"}'
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        # A DSN naming this server: public key "testkey", project 42, plain http.
        self.dsn = f"http://testkey@127.0.0.1:{self.port}/42"
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def __enter__(self) -> SentrySink:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def events(self) -> list[dict[str, Any]]:
        with self._lock:
            return [event for envelope in self.envelopes for event in envelope.events()]

    def items_of_type(self, item_type: str) -> list[dict[str, Any]]:
        with self._lock:
            return [
                json.loads(payload)
                for envelope in self.envelopes
                for header, payload in envelope.items
                if header.get("type") == item_type
            ]

    def wait_for_item(self, item_type: str, match: Callable[[dict[str, Any]], bool], timeout: float = 30.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for item in self.items_of_type(item_type):
                if match(item):
                    return item
            time.sleep(0.1)
        raise AssertionError(f"no matching {item_type} within {timeout}s")

    def raw_bytes(self) -> bytes:
        with self._lock:
            return b"\n".join(envelope.raw for envelope in self.envelopes)

    def wait_for_event(self, match: Callable[[dict[str, Any]], bool], timeout: float = 30.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for event in self.events():
                if match(event):
                    return event
            time.sleep(0.1)
        raise AssertionError(f"no matching event within {timeout}s; got {len(self.events())} event(s)")


def exception_types(event: dict[str, Any]) -> list[str]:
    return [value.get("type", "") for value in event.get("exception", {}).get("values", [])]
