"""Redis (the cache) goes down under open live sockets.

The check of a socket's credential reads only the database: a browser session is its
django_session row, an API login's logout a live.models.RevokedLogin row (live.access). So while
the cache cannot be reached a ticket socket goes on sending and reading, and a logout made
meanwhile still closes a socket of that login at its next frame (4401), even when the
LIVE_REVOKE message never reached it. Only a new ticket waits for the cache (a 503 until it is
back, tests/faults/test_cache_down.py).
"""

import json
import logging
import socket

import pytest
from channels.db import database_sync_to_async
from django.test import override_settings
from django.urls import reverse
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import RefreshToken

from accounts import services as account_services
from chat.models import Message
from chat.tests.factories import client_id, direct_between
from live import access
from tests.security.live_sockets import TIMEOUT, communicator, session_cookie, ticket_socket_of
from tests.security.live_sockets import open_socket as open_live_socket

pytestmark = pytest.mark.django_db(transaction=True)


def _closed_port_caches() -> dict:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed again: connections are refused
    return {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{port}/0",
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        }
    }


def _send_frame(conversation_id: int, body: str) -> str:
    return json.dumps({"type": "message.send", "conversation": conversation_id, "body": body, "client_id": client_id()})


async def _close_code(ws) -> int | None:
    output = await ws.receive_output(timeout=TIMEOUT)
    while output["type"] != "websocket.close":
        output = await ws.receive_output(timeout=TIMEOUT)
    return output.get("code")


async def _answer_to(ws) -> dict:
    frame = await ws.receive_json_from(timeout=TIMEOUT)
    while frame.get("type") not in {"message.ack", "message", "error"}:
        frame = await ws.receive_json_from(timeout=TIMEOUT)
    return frame


def test_an_api_logins_credential_is_checked_without_the_cache(ada):
    credential = access.ticket_credential(user=ada, auth_hash=ada.get_session_auth_hash(), login="a-login")

    with override_settings(CACHES=_closed_port_caches()):
        assert access.credential_holds(credential)


@pytest.mark.asyncio
async def test_an_api_logins_socket_carries_on_without_the_cache(ada, bob, caplog):
    conversation = await database_sync_to_async(direct_between)(ada, bob)
    ws = await ticket_socket_of(ada, login="a-login")

    with override_settings(CACHES=_closed_port_caches()):
        await ws.send_to(text_data=_send_frame(conversation.pk, "while the cache is down"))
        frame = await _answer_to(ws)

    assert frame["type"] != "error", frame
    assert await database_sync_to_async(Message.objects.filter(body="while the cache is down").exists)()
    assert all(r.exc_info is None for r in caplog.records if r.levelno >= logging.WARNING)
    await ws.disconnect()


def _log_out_through_the_api(tokens: dict) -> None:
    response = APIClient().post(reverse("api:logout"), {"refresh": tokens["refresh"]}, format="json")
    assert response.status_code < 300, response.content


@pytest.mark.asyncio
async def test_a_logout_while_the_cache_is_down_closes_its_socket_that_missed_the_message(ada, bob, lost_revocations):
    conversation = await database_sync_to_async(direct_between)(ada, bob)
    tokens = await database_sync_to_async(account_services.issue_api_tokens)(user=ada)
    login = RefreshToken(tokens["refresh"])[access.LOGIN_CLAIM]
    ws = await ticket_socket_of(ada, login=login)

    with override_settings(CACHES=_closed_port_caches()):
        await database_sync_to_async(_log_out_through_the_api)(tokens)
        assert await ws.receive_nothing(timeout=0.2)  # the message was lost: nothing closed it
        await ws.send_to(text_data=_send_frame(conversation.pk, "after my logout"))
        code = await _close_code(ws)

    assert code == access.CLOSE_SIGNED_OUT
    assert not await database_sync_to_async(Message.objects.filter(conversation=conversation).exists)()


@pytest.mark.asyncio
async def test_a_browser_sessions_socket_carries_on_without_the_cache(ada, bob):
    conversation = await database_sync_to_async(direct_between)(ada, bob)
    ws, _hello = await open_live_socket(cookie=await database_sync_to_async(session_cookie)(ada))

    with override_settings(CACHES=_closed_port_caches()):
        await ws.send_to(text_data=_send_frame(conversation.pk, "session socket"))
        frame = await ws.receive_json_from(timeout=TIMEOUT)
        while frame.get("type") not in {"message.ack", "message", "error"}:
            frame = await ws.receive_json_from(timeout=TIMEOUT)

    assert frame["type"] != "error", frame
    assert await database_sync_to_async(Message.objects.filter(body="session socket").exists)()
    await ws.disconnect()


@pytest.mark.asyncio
async def test_a_ticket_handshake_while_the_cache_is_down_is_refused_as_busy_and_the_ticket_kept(ada, caplog):
    """Not a refusal for a bad ticket (403): the client retries with its backoff; the ticket,
    not read, is still good once the cache answers again."""

    ticket = await database_sync_to_async(account_services.issue_live_ticket)(user=ada, login="a-login")

    with override_settings(CACHES=_closed_port_caches()), caplog.at_level(logging.WARNING):
        ws = communicator(ticket=ticket)
        connected, code = await ws.connect(timeout=TIMEOUT)

    assert (connected, code) == (False, 1013)  # RFC 6455 "try again later"
    assert any("refused as busy: live ticket not checked, cache unavailable" in r.getMessage() for r in caplog.records)
    ws, hello = await open_live_socket(ticket=ticket)
    assert hello["type"] == "hello"
    await ws.disconnect()
