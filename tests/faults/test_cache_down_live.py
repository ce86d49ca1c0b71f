"""Redis (the cache) goes down under an open live socket of an API login.

An API login's logout is remembered only in the cache (live.access), so while the cache cannot
be reached that socket's credential cannot be checked: its frames are not served on a guess
(fail closed), and the socket is not told "signed out" either (it was not). It closes with
1013 "try again later", one warning line and no traceback; the client reconnects with its
backoff (a live ticket is a 503 until the cache is back). A browser session's socket does not
need the cache (the session is a database row) and carries on.
"""

import json
import logging
import socket

import pytest
from channels.db import database_sync_to_async
from django.test import override_settings

from accounts.tests.factories import UserFactory
from chat.models import Message
from chat.tests.factories import client_id, direct_between
from live import access, handshake
from tests.security.live_sockets import TIMEOUT, session_cookie, ticket_socket_of
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


@pytest.fixture
def ada(transactional_db):
    return UserFactory(first_name="Ada", last_name="Lovelace")


@pytest.fixture
def bob(transactional_db):
    return UserFactory(first_name="Bob", last_name="Babbage")


def _send_frame(conversation_id: int, body: str) -> str:
    return json.dumps({"type": "message.send", "conversation": conversation_id, "body": body, "client_id": client_id()})


async def _close_code(ws) -> int | None:
    output = await ws.receive_output(timeout=TIMEOUT)
    while output["type"] != "websocket.close":
        output = await ws.receive_output(timeout=TIMEOUT)
    return output.get("code")


def test_an_api_logins_credential_cannot_be_checked_without_the_cache(ada):
    credential = access.ticket_credential(user=ada, auth_hash=ada.get_session_auth_hash(), login="a-login")

    with override_settings(CACHES=_closed_port_caches()), pytest.raises(access.CredentialUnchecked):
        access.credential_holds(credential)


@pytest.mark.asyncio
async def test_an_api_logins_socket_closes_to_try_again_later_and_stores_nothing(ada, bob, caplog):
    conversation = await database_sync_to_async(direct_between)(ada, bob)
    ws = await ticket_socket_of(ada, login="a-login")

    with override_settings(CACHES=_closed_port_caches()):
        await ws.send_to(text_data=_send_frame(conversation.pk, "while the cache is down"))
        code = await _close_code(ws)

    assert code == handshake.CLOSE_TRY_AGAIN_LATER  # not CLOSE_SIGNED_OUT: it was not signed out
    assert not await database_sync_to_async(Message.objects.filter(conversation=conversation).exists)()
    lines = [r for r in caplog.records if r.name == "live.consumer" and r.levelno == logging.WARNING]
    assert [r.getMessage().startswith(f"live socket of user {ada.pk} closed") for r in lines] == [True], lines
    assert all(r.exc_info is None for r in caplog.records if r.levelno >= logging.WARNING)


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
