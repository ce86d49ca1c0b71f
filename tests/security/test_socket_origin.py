"""The live socket's Origin check compares the whole origin — scheme, host and port — with the
socket's own origin or CSRF_TRUSTED_ORIGINS, as Django's CSRF check does (issue 12, item 7)."""

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator

from accounts.tests.factories import UserFactory
from tests.security.live_sockets import TIMEOUT, application, session_cookie

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]


@pytest.fixture
def cookie(transactional_db):
    return session_cookie(UserFactory())


async def _connects(cookie: str, *, origin: str, host: str = "127.0.0.1:8000", extra=()) -> bool:
    headers = [(b"host", host.encode()), (b"origin", origin.encode()), (b"cookie", f"sessionid={cookie}".encode())]
    ws = WebsocketCommunicator(application, "/ws/live/", headers=[*headers, *extra])
    connected, _ = await ws.connect(timeout=TIMEOUT)
    if connected:
        await ws.disconnect()
    return connected


@pytest.mark.parametrize(
    ("origin", "host", "accepted"),
    [
        ("http://127.0.0.1:8000", "127.0.0.1:8000", True),
        ("http://localhost", "localhost", True),
        ("https://127.0.0.1:8000", "127.0.0.1:8000", False),  # another scheme
        ("http://127.0.0.1:9999", "127.0.0.1:8000", False),  # another port
        ("http://127.0.0.1", "127.0.0.1:8000", False),  # the default port is another port
        ("http://localhost:8000", "127.0.0.1:8000", False),  # another (allowed) host
        ("http://evil.example", "evil.example", False),  # a host not in ALLOWED_HOSTS
        ("http://127.0.0.1:8000", "", False),  # no Host to compare with
    ],
)
async def test_only_the_sockets_own_whole_origin_is_accepted(cookie, origin, host, accepted):
    assert await _connects(cookie, origin=origin, host=host) is accepted


async def test_behind_a_tls_proxy_the_origin_must_be_https(cookie, settings):
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    proxied = [(b"x-forwarded-proto", b"https")]

    assert await _connects(cookie, origin="https://127.0.0.1:8000", extra=proxied)
    assert not await _connects(cookie, origin="http://127.0.0.1:8000", extra=proxied)


async def test_a_trusted_origin_is_accepted_whole_and_only_whole(cookie, settings):
    settings.CSRF_TRUSTED_ORIGINS = ["https://app.example.com", "https://*.lyceum.example"]

    assert await _connects(cookie, origin="https://app.example.com")
    assert await _connects(cookie, origin="https://chat.lyceum.example")
    assert not await _connects(cookie, origin="http://app.example.com")  # scheme
    assert not await _connects(cookie, origin="https://app.example.com:8443")  # port
    assert not await _connects(cookie, origin="http://chat.lyceum.example")  # the pattern's scheme
    assert not await _connects(cookie, origin="https://lyceum.example.evil")


async def test_a_ticket_without_origin_still_connects(transactional_db):
    from accounts import services as account_services

    user = await database_sync_to_async(UserFactory)()
    ticket = await database_sync_to_async(account_services.issue_live_ticket)(user=user)
    ws = WebsocketCommunicator(application, f"/ws/live/?ticket={ticket}", headers=[(b"host", b"127.0.0.1:8000")])

    connected, _ = await ws.connect(timeout=TIMEOUT)

    assert connected
    await ws.disconnect()
