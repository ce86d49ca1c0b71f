"""What one live connect costs the database, from the handshake to "hello" (through the real
ASGI stack: Origin check, session authentication, consumer). Every statement of the socket path
runs on the live pool (live.db), where watch_statements sees it. The count is pinned: a burst
of connects pays it once per socket (docs/benchmarks.md, "A burst of connects")."""

import asyncio
import threading

import pytest
import pytest_asyncio
from channels.db import database_sync_to_async
from channels.routing import get_default_application
from channels.testing import WebsocketCommunicator
from django.contrib.auth import get_user_model
from django.test import Client

from chat import services as chat_services
from chat.tests.factories import UserFactory, befriend, send
from live import presence
from live.db import live_db, pool_size, watch_statements
from notifications.tests.factories import NotificationFactory

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]

application = get_default_application()
TIMEOUT = 3


def _world():
    ada = UserFactory(email="ada@uni.example", first_name="Ada")
    bob = UserFactory(email="bob@uni.example", first_name="Bob")
    cleo = UserFactory(email="cleo@uni.example", first_name="Cleo")
    befriend(ada, bob)
    befriend(ada, cleo)
    send(bob, chat_services.open_direct_conversation(user=bob, other=ada))
    NotificationFactory.create_batch(2, recipient=ada)
    client = Client()
    client.force_login(ada)
    return f"sessionid={client.cookies['sessionid'].value}".encode()


async def _connect_and_count(cookie: bytes) -> tuple[WebsocketCommunicator, dict, list[str]]:
    statements: list[str] = []

    def record(execute, sql, params, many, context):
        statements.append(sql)
        return execute(sql, params, many, context)

    ws = WebsocketCommunicator(
        application,
        "/ws/live/",
        headers=[(b"host", b"127.0.0.1:8000"), (b"origin", b"http://127.0.0.1:8000"), (b"cookie", cookie)],
    )
    with watch_statements(record):
        ok, _ = await ws.connect(timeout=TIMEOUT)
        assert ok
        hello = await ws.receive_json_from(timeout=TIMEOUT)
    return ws, hello, statements


def _open_a_connection(barrier: threading.Barrier) -> None:
    barrier.wait(timeout=TIMEOUT)  # every pool thread takes one call
    get_user_model().objects.filter(pk=0).exists()


@pytest_asyncio.fixture(autouse=True)
async def _warm_pool(transactional_db):
    """Every pool thread has its connection open: what the backend runs once per new connection
    (MariaDB: SELECT VERSION(), @@sql_mode...) is not a connect's cost."""
    barrier = threading.Barrier(pool_size())
    await asyncio.gather(*(live_db(_open_a_connection)(barrier) for _ in range(pool_size())))


@pytest.fixture(autouse=True)
def _nobody_online():
    presence.reset_local()
    yield
    presence.reset_local()


async def test_a_connect_that_brings_the_user_online_costs_four_statements():
    # session, user (the handshake); credential check with every hello count; the friends with
    # their public ids (who to tell), one statement
    cookie = await database_sync_to_async(_world)()

    ws, hello, statements = await _connect_and_count(cookie)

    assert hello["type"] == "hello" and (hello["unread"], hello["chat_unread"]) == (2, 1)
    assert len(statements) == 4, "\n".join(statements)
    await ws.disconnect()


async def test_a_second_tab_costs_three_statements():
    # already online: nobody to tell, so no audience read
    cookie = await database_sync_to_async(_world)()
    first, _hello, _statements = await _connect_and_count(cookie)

    second, hello, statements = await _connect_and_count(cookie)

    assert (hello["unread"], hello["chat_unread"]) == (2, 1)
    assert len(statements) == 3, "\n".join(statements)
    await second.disconnect()
    await first.disconnect()
