"""Local stand-ins that can hold an answer while a test kills the client process.

- HoldingSMTPServer: aiosmtpd on loopback; with hold_first=True the first DATA command blocks
  (before the "250 accepted") until the test releases it. A message whose client vanished while
  held is not accepted (a real MTA does not deliver a message it never acknowledged... and our
  worker never saw the 250 either), so it is counted in `abandoned`, not in `accepted`.
- holding_graph_stub: helpdesk's HTTPS Graph stub whose first createOrGet blocks until released.
  When released, the stub finishes its work (the meeting now exists in "Graph") even though the
  caller is gone: the worst case, a meeting created whose answer never reached the worker.
"""

from __future__ import annotations

import asyncio
import contextlib
import email
import email.policy
import threading
from collections.abc import Iterator
from dataclasses import dataclass

from aiosmtpd.controller import Controller

from helpdesk.tests.graph_stub import GraphStub
from tests.servers import free_port


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    subject: str


class HoldingHandler:
    def __init__(self, hold_first: bool) -> None:
        self.hold_first = hold_first
        self.accepted: list[Received] = []
        self.abandoned: list[Received] = []
        self.data_commands = 0
        self.entered = threading.Event()
        self.release = threading.Event()

    async def handle_DATA(self, server, session, envelope):
        self.data_commands += 1
        message = email.message_from_bytes(envelope.original_content, policy=email.policy.default)
        received = Received(envelope.mail_from, list(envelope.rcpt_tos), str(message["Subject"]))
        if self.hold_first and self.data_commands == 1:
            self.entered.set()
            try:
                while not self.release.is_set():
                    await asyncio.sleep(0.05)
            except asyncio.CancelledError:  # aiosmtpd cancels the session when the client dies
                self.abandoned.append(received)
                raise
            transport = server.transport
            if transport is None or transport.is_closing():
                self.abandoned.append(received)
                return "451 Client gone before acceptance"
        self.accepted.append(received)
        return "250 Message accepted for delivery"


@contextlib.contextmanager
def holding_smtp_server(*, hold_first: bool = False) -> Iterator[tuple[HoldingHandler, str]]:
    """Yields the handler and an EMAIL_URL pointing at the server."""
    handler = HoldingHandler(hold_first)
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield handler, f"smtp://127.0.0.1:{port}?timeout=30"
    finally:
        handler.release.set()
        controller.stop()


class GraphHold:
    def __init__(self) -> None:
        self.armed = False
        self.entered = threading.Event()
        self.release = threading.Event()
        self.lost_answers = 0


@contextlib.contextmanager
def holding_graph_stub(*, hold_first: bool = True) -> Iterator[tuple[GraphStub, GraphHold]]:
    hold = GraphHold()
    hold.armed = hold_first
    with GraphStub() as stub:
        base = stub._server.RequestHandlerClass

        class HoldingHandler(base):
            def _create_or_get(self, path: str, raw_body: bytes) -> None:
                if hold.armed:
                    hold.armed = False
                    hold.entered.set()
                    hold.release.wait(120)
                try:
                    super()._create_or_get(path, raw_body)
                except OSError:  # the caller was killed: the answer is lost, the meeting exists
                    hold.lost_answers += 1
                    self.close_connection = True

        stub._server.RequestHandlerClass = HoldingHandler
        try:
            yield stub, hold
        finally:
            hold.release.set()


def graph_env(stub: GraphStub) -> dict[str, str]:
    """The stub's Django settings as environment variables for a worker process."""
    return {name: str(value) for name, value in stub.settings().items()}
