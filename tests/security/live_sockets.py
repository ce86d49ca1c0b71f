"""Live sockets for the security tests: the whole ASGI stack (Origin check, session or ticket
authentication, the consumer) through channels.testing.WebsocketCommunicator, as under daphne."""

from __future__ import annotations

from channels.db import database_sync_to_async
from channels.routing import get_default_application
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.test import Client

from accounts import services as account_services

application = get_default_application()

HOST = b"127.0.0.1:8000"
ORIGIN = b"http://127.0.0.1:8000"
TIMEOUT = 3


def session_cookie(user) -> str:
    """A real session of `user` (a row in the test database), as after logging in."""
    client = Client()
    client.force_login(user)
    return client.cookies[settings.SESSION_COOKIE_NAME].value


def communicator(*, cookie: str | None = None, ticket: str | None = None, origin: bytes | None = ORIGIN):
    headers = [(b"host", HOST)]
    if origin is not None:
        headers.append((b"origin", origin))
    if cookie is not None:
        headers.append((b"cookie", f"{settings.SESSION_COOKIE_NAME}={cookie}".encode()))
    path = f"/ws/live/?ticket={ticket}" if ticket else "/ws/live/"
    return WebsocketCommunicator(application, path, headers=headers)


async def open_socket(*, cookie: str | None = None, ticket: str | None = None) -> tuple[WebsocketCommunicator, dict]:
    """An accepted socket and its "hello"."""
    ws = communicator(cookie=cookie, ticket=ticket)
    connected, _ = await ws.connect(timeout=TIMEOUT)
    assert connected, "the socket should have been accepted"
    hello = await ws.receive_json_from(timeout=TIMEOUT)
    assert hello["type"] == "hello"
    return ws, hello


async def socket_of(user) -> WebsocketCommunicator:
    """A browser tab of `user` (a fresh session), past its "hello"."""
    ws, _ = await open_socket(cookie=await database_sync_to_async(session_cookie)(user))
    return ws


async def ticket_socket_of(user, *, login: str | None = None) -> WebsocketCommunicator:
    """An API client's socket of `user`, opened with a live ticket (of API login `login`)."""
    ticket = await database_sync_to_async(account_services.issue_live_ticket)(user=user, login=login)
    ws, _ = await open_socket(ticket=ticket)
    return ws


async def next_frame(ws: WebsocketCommunicator, *, skip: tuple[str, ...] = ("presence",)) -> dict:
    """The next text frame, passing over the frame types in `skip`."""
    while True:
        frame = await ws.receive_json_from(timeout=TIMEOUT)
        if frame.get("type") not in skip:
            return frame


async def closed_with(ws: WebsocketCommunicator, *, timeout: float = TIMEOUT) -> int | None:
    """The close code the server ended the socket with, passing over the frames before it."""
    while True:
        output = await ws.receive_output(timeout=timeout)
        if output["type"] == "websocket.close":
            return output.get("code")
