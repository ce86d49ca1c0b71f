"""Live frames added for resync of edits/deletes, presence and the navbar's unread badge."""

import asyncio

import pytest
from channels.db import database_sync_to_async
from channels.routing import get_default_application
from channels.testing import WebsocketCommunicator
from django.test import Client

from chat import services
from chat.tests.factories import UserFactory, befriend, direct_between, send
from live import presence
from social.models import Block, Friendship

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]

application = get_default_application()
TIMEOUT = 3


@pytest.fixture(autouse=True)
def _fresh_presence():
    presence.reset_local()
    yield
    presence.reset_local()


def _cookie(user) -> bytes:
    client = Client()
    client.force_login(user)
    return f"sessionid={client.cookies['sessionid'].value}".encode()


async def connect(user) -> tuple[WebsocketCommunicator, dict]:
    cookie = await database_sync_to_async(_cookie)(user)
    ws = WebsocketCommunicator(
        application,
        "/ws/live/",
        headers=[(b"host", b"127.0.0.1:8000"), (b"origin", b"http://127.0.0.1:8000"), (b"cookie", cookie)],
    )
    ok, _ = await ws.connect(timeout=TIMEOUT)
    assert ok
    hello = await ws.receive_json_from(timeout=TIMEOUT)
    assert hello["type"] == "hello"
    return ws, hello


async def next_of_type(ws, frame_type: str) -> dict:
    while True:
        frame = await ws.receive_json_from(timeout=TIMEOUT)
        if frame["type"] == frame_type:
            return frame


@pytest.fixture
def people(transactional_db):
    ada = UserFactory(first_name="Ada", last_name="Lovelace")
    bob = UserFactory(first_name="Bob", last_name="Babbage")
    eve = UserFactory(first_name="Eve", last_name="Intruder")
    conversation = direct_between(ada, bob)
    return ada, bob, eve, conversation


# --- Resync with changes --------------------------------------------------------------------------


async def test_resync_brings_edits_and_deletes_made_while_away(people):
    ada, bob, _, conversation = people

    def history():
        first = send(ada, conversation, "first")
        second = send(ada, conversation, "second")
        third = send(ada, conversation, "third")
        return first, second, third

    first, second, _third = await database_sync_to_async(history)()
    # Bob's page saw seq 3 and change 0; then, while he was offline:
    await database_sync_to_async(services.edit_message)(user=ada, message_id=first.pk, body="first (fixed)")
    await database_sync_to_async(services.delete_message)(user=ada, message_id=second.pk)
    ws, _ = await connect(bob)
    await ws.send_json_to({"type": "resync", "conversations": {str(conversation.pk): {"seq": 3, "changes": 0}}})
    batch = await next_of_type(ws, "message.batch")
    assert batch["messages"] == [] and batch["more"] is False
    assert [(m["id"], m["body"], m["deleted"]) for m in batch["changes"]] == [
        (first.pk, "first (fixed)", False),
        (second.pk, "", True),
    ]
    assert (batch["change_seq"], batch["changes_more"]) == (2, False)
    # Nothing more once caught up.
    await ws.send_json_to({"type": "resync", "conversations": {str(conversation.pk): {"seq": 3, "changes": 2}}})
    batch = await next_of_type(ws, "message.batch")
    assert batch["changes"] == [] and batch["change_seq"] == 2
    await ws.disconnect()


async def test_the_old_resync_form_is_unchanged(people):
    ada, bob, _, conversation = people
    await database_sync_to_async(send)(ada, conversation, "hi")
    ws, _ = await connect(bob)
    await ws.send_json_to({"type": "resync", "conversations": {str(conversation.pk): 0}})
    batch = await next_of_type(ws, "message.batch")
    assert set(batch) == {"type", "conversation", "messages", "more"}
    assert [m["body"] for m in batch["messages"]] == ["hi"]
    await ws.disconnect()


async def test_resync_refuses_bad_change_cursors_and_other_peoples_conversations(people):
    _ada, _bob, eve, conversation = people
    ws, _ = await connect(eve)
    for bad in ({"seq": 0, "changes": -1}, {"seq": 0, "changes": "1"}, {"seq": 0}, {"changes": 0}):
        await ws.send_json_to({"type": "resync", "conversations": {str(conversation.pk): bad}})
        error = await next_of_type(ws, "error")
        assert error["code"] == "invalid_resync"
    await ws.send_json_to({"type": "resync", "conversations": {str(conversation.pk): {"seq": 0, "changes": 0}}})
    error = await next_of_type(ws, "error")
    assert (error["code"], error["conversation"]) == ("not_found", conversation.pk)
    await ws.disconnect()


async def test_live_edit_events_carry_the_change_seq(people):
    ada, bob, _, conversation = people
    message = await database_sync_to_async(send)(ada, conversation, "typo")
    ws, _ = await connect(bob)
    await database_sync_to_async(services.edit_message)(user=ada, message_id=message.pk, body="fixed")
    event = await next_of_type(ws, "message.updated")
    assert (event["message"]["body"], event["message"]["change_seq"]) == ("fixed", 1)
    await ws.disconnect()


# --- Presence ------------------------------------------------------------------------------------


async def test_friends_see_a_member_come_online_and_go_offline(people):
    ada, bob, _eve, _ = people
    bob_ws, _ = await connect(bob)
    await bob_ws.send_json_to({"type": "presence.query"})
    state = await next_of_type(bob_ws, "presence.state")
    assert state["online"] == []  # Ada is not connected; Bob's own socket is not listed

    ada_ws, _ = await connect(ada)
    event = await next_of_type(bob_ws, "presence")
    assert event == {"type": "presence", "user": str(ada.public_id), "online": True}
    await bob_ws.send_json_to({"type": "presence.query"})
    assert (await next_of_type(bob_ws, "presence.state"))["online"] == [str(ada.public_id)]

    # A second tab is no news; closing one of two tabs is no news either.
    ada_tab2, _ = await connect(ada)
    await ada_tab2.disconnect()
    await ada_ws.disconnect()
    event = await next_of_type(bob_ws, "presence")
    assert event == {"type": "presence", "user": str(ada.public_id), "online": False}
    await bob_ws.disconnect()


async def test_presence_never_reaches_non_friends_or_blocked_users(people):
    ada, bob, eve, _ = people
    eve_ws, _ = await connect(eve)
    await eve_ws.send_json_to({"type": "presence.query"})
    assert (await next_of_type(eve_ws, "presence.state"))["online"] == []
    ada_ws, _ = await connect(ada)
    await eve_ws.send_json_to({"type": "presence.query"})
    assert (await next_of_type(eve_ws, "presence.state"))["online"] == []  # Ada is online, not Eve's friend
    assert await eve_ws.receive_nothing(timeout=0.5)  # and no "presence" push either

    # Bob blocks Ada: the friendship ends, Bob no longer sees her (nor she him).
    def block():
        Block.objects.create(blocker=bob, blocked=ada)
        low, high = Friendship.ordered_ids(ada.pk, bob.pk)
        Friendship.objects.filter(user_low_id=low, user_high_id=high).delete()

    await database_sync_to_async(block)()
    bob_ws, _ = await connect(bob)
    await bob_ws.send_json_to({"type": "presence.query"})
    assert (await next_of_type(bob_ws, "presence.state"))["online"] == []
    await ada_ws.send_json_to({"type": "presence.query"})
    assert (await next_of_type(ada_ws, "presence.state"))["online"] == []
    for ws in (ada_ws, bob_ws, eve_ws):
        await ws.disconnect()


async def test_presence_events_only_go_to_sockets_that_asked(people):
    ada, bob, _, _ = people
    bob_ws, _ = await connect(bob)  # never sends presence.query
    ada_ws, _ = await connect(ada)
    await database_sync_to_async(send)(ada, people[3], "hello")
    frame = await bob_ws.receive_json_from(timeout=TIMEOUT)
    assert frame["type"] == "message.new"  # not a presence frame first
    for ws in (ada_ws, bob_ws):
        await ws.disconnect()


async def test_an_expired_socket_stops_counting(people, settings):
    ada, _bob, _, _ = people
    settings.CHAT_PRESENCE_TTL_SECONDS = 3
    ada_ws, _ = await connect(ada)
    assert presence.online_among([ada.pk]) == {ada.pk}
    await asyncio.sleep(3.5)  # no heartbeat ping: the entry expired (a process that died)
    assert presence.online_among([ada.pk]) == set()
    await ada_ws.send_json_to({"type": "ping"})
    assert (await next_of_type(ada_ws, "pong"))["type"] == "pong"
    assert presence.online_among([ada.pk]) == {ada.pk}  # the heartbeat renewed it
    await ada_ws.disconnect()


async def test_friends_hear_a_member_whose_entry_expired_come_back_with_a_heartbeat(people, settings):
    ada, bob, _, _ = people
    settings.CHAT_PRESENCE_TTL_SECONDS = 1
    bob_ws, _ = await connect(bob)
    await bob_ws.send_json_to({"type": "presence.query"})
    await next_of_type(bob_ws, "presence.state")
    ada_ws, _ = await connect(ada)
    assert (await next_of_type(bob_ws, "presence"))["online"] is True
    await asyncio.sleep(1.5)  # no heartbeat: Ada's entry expired, Bob's query would say offline
    assert presence.online_among([ada.pk]) == set()

    await ada_ws.send_json_to({"type": "ping"})
    await next_of_type(ada_ws, "pong")

    event = await next_of_type(bob_ws, "presence")
    assert event == {"type": "presence", "user": str(ada.public_id), "online": True}
    await ada_ws.send_json_to({"type": "ping"})  # renewed in place now: no news
    await next_of_type(ada_ws, "pong")
    assert await bob_ws.receive_nothing(timeout=0.3)
    for ws in (ada_ws, bob_ws):
        await ws.disconnect()


# --- Unread badge --------------------------------------------------------------------------------


async def test_hello_and_unread_query_count_unread_conversations(people):
    ada, bob, eve, conversation = people

    def setup():
        befriend(bob, eve)
        send(ada, conversation, "one")
        send(ada, conversation, "two")
        other = services.open_direct_conversation(user=eve, other=bob)
        send(eve, other, "three")
        return other

    other = await database_sync_to_async(setup)()
    ws, hello = await connect(bob)
    assert hello["chat_unread"] == 2
    await database_sync_to_async(services.mark_read)(user=bob, conversation_id=other.pk, seq=1)
    await ws.send_json_to({"type": "chat.unread.query"})
    assert (await next_of_type(ws, "chat.unread"))["count"] == 1
    await ws.disconnect()
