"""The live socket through the real ASGI stack (Origin check, session/ticket auth, routing)."""

import json

import pytest
from channels.db import database_sync_to_async
from channels.layers import InMemoryChannelLayer, get_channel_layer
from channels.routing import get_default_application
from channels.testing import WebsocketCommunicator
from django.test import Client

from accounts import services as account_services
from live import consumer as live_consumer
from live import push
from notifications import services as notification_services
from notifications.models import NotificationKind
from notifications.tests.factories import NotificationFactory, UserFactory

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]

# settings.ASGI_APPLICATION (config.asgi.application): the Origin check and live
# authentication run in front of the consumer exactly as under daphne.
application = get_default_application()

GOOD_ORIGIN = b"http://127.0.0.1:8000"
TIMEOUT = 3


def session_cookie_for(user) -> bytes:
    client = Client()
    client.force_login(user)
    return f"sessionid={client.cookies['sessionid'].value}".encode()


@pytest.fixture
def live_user(transactional_db):
    return UserFactory(email="live@uni.example", first_name="Live")


@pytest.fixture
def live_cookie(live_user) -> bytes:
    return session_cookie_for(live_user)


def communicator(path: str = "/ws/live/", *, origin: bytes | None = GOOD_ORIGIN, cookie: bytes | None = None):
    headers = [(b"host", b"127.0.0.1:8000")]
    if origin is not None:
        headers.append((b"origin", origin))
    if cookie is not None:
        headers.append((b"cookie", cookie))
    return WebsocketCommunicator(application, path, headers=headers)


async def connected(cookie: bytes) -> tuple[WebsocketCommunicator, dict]:
    ws = communicator(cookie=cookie)
    ok, _ = await ws.connect(timeout=TIMEOUT)
    assert ok, "the socket should have been accepted"
    hello = await ws.receive_json_from(timeout=TIMEOUT)
    return ws, hello


async def test_a_signed_in_browser_with_a_good_origin_connects_and_gets_hello(live_user, live_cookie, settings):
    await database_sync_to_async(NotificationFactory.create_batch)(2, recipient=live_user)

    ws, hello = await connected(live_cookie)

    assert hello == {
        "type": "hello",
        "user": str(live_user.public_id),
        "unread": 2,
        "chat_unread": 0,
        "heartbeat": settings.LIVE_HEARTBEAT_SECONDS,
    }
    await ws.disconnect()


@pytest.mark.parametrize(
    "origin",
    [None, b"http://evil.example", b"null", b"https://127.0.0.1.evil.example", b"ftp://127.0.0.1", b""],
    ids=["no-origin", "evil", "null", "lookalike", "bad-scheme", "empty"],
)
async def test_a_missing_or_foreign_origin_is_refused(live_cookie, origin):
    ws = communicator(origin=origin, cookie=live_cookie)

    ok, _ = await ws.connect(timeout=TIMEOUT)

    assert not ok


async def test_an_anonymous_browser_is_refused(transactional_db):
    ws = communicator(cookie=None)

    ok, _ = await ws.connect(timeout=TIMEOUT)

    assert not ok


async def test_a_forged_session_cookie_is_refused(transactional_db):
    ws = communicator(cookie=b"sessionid=forged0123456789abcdefghijklmnopq")

    ok, _ = await ws.connect(timeout=TIMEOUT)

    assert not ok


async def test_a_deactivated_users_session_is_refused(live_user, live_cookie):
    live_user.is_active = False
    await database_sync_to_async(live_user.save)(update_fields=["is_active"])

    ok, _ = await communicator(cookie=live_cookie).connect(timeout=TIMEOUT)

    assert not ok


async def test_a_live_ticket_works_once_without_origin(live_user):
    ticket = await database_sync_to_async(account_services.issue_live_ticket)(user=live_user)

    first = communicator(f"/ws/live/?ticket={ticket}", origin=None)
    ok, _ = await first.connect(timeout=TIMEOUT)
    assert ok
    hello = await first.receive_json_from(timeout=TIMEOUT)
    assert hello["user"] == str(live_user.public_id)

    reuse = communicator(f"/ws/live/?ticket={ticket}", origin=None)
    reused_ok, _ = await reuse.connect(timeout=TIMEOUT)
    assert not reused_ok
    await first.disconnect()


@pytest.mark.parametrize("ticket", ["forged-ticket-0123456789abcdef", "", "x" * 500, "%00%0a"])
async def test_a_forged_or_malformed_ticket_is_refused(transactional_db, ticket):
    ok, _ = await communicator(f"/ws/live/?ticket={ticket}", origin=None).connect(timeout=TIMEOUT)

    assert not ok


async def test_a_ticket_with_a_foreign_origin_is_refused(live_user):
    ticket = await database_sync_to_async(account_services.issue_live_ticket)(user=live_user)

    ok, _ = await communicator(f"/ws/live/?ticket={ticket}", origin=b"http://evil.example").connect(timeout=TIMEOUT)

    assert not ok


async def test_notify_reaches_the_recipients_socket_with_the_unread_count(live_user, live_cookie):
    ws, _ = await connected(live_cookie)

    notification = await database_sync_to_async(notification_services.notify)(
        recipient=live_user, kind=NotificationKind.SYSTEM, title="Live!", body="Now.", url="/x/"
    )

    event = await ws.receive_json_from(timeout=TIMEOUT)
    assert event["type"] == "notification.new"
    assert event["unread"] == 1
    assert event["notification"]["id"] == notification.pk
    assert event["notification"]["title"] == "Live!"

    await database_sync_to_async(notification_services.mark_read)(user=live_user, notification_id=notification.pk)

    read = await ws.receive_json_from(timeout=TIMEOUT)
    assert read == {"type": "notification.read", "ids": [notification.pk], "all": False, "unread": 0}
    await ws.disconnect()


async def test_every_tab_of_the_user_gets_the_event_and_nobody_else(live_user, live_cookie):
    other = await database_sync_to_async(UserFactory)()
    other_cookie = await database_sync_to_async(session_cookie_for)(other)
    tab1, _ = await connected(live_cookie)
    tab2, _ = await connected(live_cookie)
    stranger, _ = await connected(other_cookie)

    await database_sync_to_async(notification_services.notify)(recipient=live_user, kind="system", title="Both tabs")

    assert (await tab1.receive_json_from(timeout=TIMEOUT))["notification"]["title"] == "Both tabs"
    assert (await tab2.receive_json_from(timeout=TIMEOUT))["notification"]["title"] == "Both tabs"
    assert await stranger.receive_nothing(timeout=0.5)
    for ws in (tab1, tab2, stranger):
        await ws.disconnect()


async def test_a_ping_gets_a_pong(live_cookie):
    ws, _ = await connected(live_cookie)

    await ws.send_json_to({"type": "ping"})

    assert await ws.receive_json_from(timeout=TIMEOUT) == {"type": "pong"}
    await ws.disconnect()


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        ("{not json", "malformed_json"),
        ("[1, 2]", "not_an_object"),
        ('"ping"', "not_an_object"),
        ("{}", "missing_type"),
        ('{"type": 7}', "missing_type"),
        ('{"type": "launch.missiles"}', "unknown_type"),
        (json.dumps({"type": "ping", "pad": "x" * (64 * 1024)}), "frame_too_large"),
    ],
)
async def test_a_bad_frame_gets_an_error_frame_and_the_socket_stays_open(live_cookie, frame, code):
    ws, _ = await connected(live_cookie)

    await ws.send_to(text_data=frame)

    error = await ws.receive_json_from(timeout=TIMEOUT)
    assert error["type"] == "error"
    assert error["code"] == code
    assert error["detail"]
    await ws.send_json_to({"type": "ping"})
    assert await ws.receive_json_from(timeout=TIMEOUT) == {"type": "pong"}
    await ws.disconnect()


async def test_a_binary_frame_gets_an_error_frame(live_cookie):
    ws, _ = await connected(live_cookie)

    await ws.send_to(bytes_data=b"\x00\x01")

    assert (await ws.receive_json_from(timeout=TIMEOUT))["code"] == "binary_frame"
    await ws.disconnect()


async def test_a_flood_of_bad_frames_closes_the_socket_with_4400(live_cookie):
    ws, _ = await connected(live_cookie)

    for _ in range(live_consumer.BAD_FRAME_LIMIT):
        await ws.send_to(text_data="garbage")
    errors = [await ws.receive_json_from(timeout=TIMEOUT) for _ in range(live_consumer.BAD_FRAME_LIMIT)]
    closing = await ws.receive_output(timeout=TIMEOUT)

    assert all(error["type"] == "error" for error in errors)
    assert closing == {"type": "websocket.close", "code": live_consumer.CLOSE_TOO_MANY_BAD_FRAMES}


async def test_disconnect_leaves_the_users_group(live_user, live_cookie):
    ws, _ = await connected(live_cookie)
    layer = get_channel_layer()
    if not isinstance(layer, InMemoryChannelLayer):
        pytest.skip("group membership is only inspectable on the in-memory layer")
    assert layer.groups.get(push.user_group(live_user.pk))

    await ws.disconnect()

    assert not layer.groups.get(push.user_group(live_user.pk))


async def test_a_feature_adds_a_frame_type_by_registering_a_handler(live_cookie):
    @live_consumer.frame_handler("test.echo")
    async def echo(consumer, frame):
        await consumer.send_json({"type": "test.echoed", "text": frame.get("text")})

    try:
        ws, _ = await connected(live_cookie)
        await ws.send_json_to({"type": "test.echo", "text": "hi"})
        assert await ws.receive_json_from(timeout=TIMEOUT) == {"type": "test.echoed", "text": "hi"}
        await ws.disconnect()
    finally:
        live_consumer.FRAME_HANDLERS.pop("test.echo", None)


async def test_registering_a_second_handler_for_a_type_is_an_error(transactional_db):
    with pytest.raises(ValueError, match="already registered"):
        live_consumer.frame_handler("ping")(lambda consumer, frame: None)


async def test_when_the_layer_resubscribed_the_socket_gets_a_new_hello_with_fresh_counts(live_user, live_cookie):
    """live.layer tells every local channel RESUBSCRIBED after its Redis subscription
    came back: events published meanwhile never came, so the socket gets a new "hello" (the
    client's cue to catch up from the database) with the counts as they are now."""
    from live.layer import RESUBSCRIBED

    ws, hello = await connected(live_cookie)
    try:
        assert hello["unread"] == 0
        await database_sync_to_async(NotificationFactory)(recipient=live_user)  # missed while deaf
        await get_channel_layer().group_send(push.user_group(live_user.pk), {"type": RESUBSCRIBED})
        again = await ws.receive_json_from(timeout=TIMEOUT)
        assert again["type"] == "hello"
        assert (again["user"], again["unread"]) == (str(live_user.public_id), 1)
        assert again.keys() == hello.keys()
    finally:
        await ws.disconnect()
