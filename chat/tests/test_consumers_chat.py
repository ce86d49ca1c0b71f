"""Chat frames on the live socket, through the full ASGI stack (Origin check, session auth)."""

import asyncio
import json

import pytest
from channels.db import database_sync_to_async
from channels.routing import get_default_application
from channels.testing import WebsocketCommunicator
from django.test import Client

from chat import frames as chat_frames
from chat import services
from chat.models import Membership, Message
from chat.tests.factories import UserFactory, befriend, client_id, direct_between

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]

application = get_default_application()
TIMEOUT = 3


def _cookie(user) -> bytes:
    client = Client()
    client.force_login(user)
    return f"sessionid={client.cookies['sessionid'].value}".encode()


async def connect(user) -> WebsocketCommunicator:
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
    return ws


async def frames(ws, n: int) -> dict[str, dict]:
    """The next n frames, by type (their order across the ack and the push is not fixed)."""
    got = {}
    for _ in range(n):
        frame = await ws.receive_json_from(timeout=TIMEOUT)
        got[frame["type"]] = frame
    return got


@pytest.fixture
def people(transactional_db):
    ada = UserFactory(first_name="Ada", last_name="Lovelace")
    bob = UserFactory(first_name="Bob", last_name="Babbage")
    eve = UserFactory(first_name="Eve", last_name="Intruder")
    conversation = direct_between(ada, bob)
    return ada, bob, eve, conversation


async def test_a_sent_message_is_acked_and_pushed_to_every_members_tab(people):
    ada, bob, _, conversation = people
    ada_ws, bob_tab1, bob_tab2 = await connect(ada), await connect(bob), await connect(bob)
    cid = client_id()

    await ada_ws.send_json_to(
        {"type": "message.send", "conversation": conversation.pk, "body": "Hi Bob", "client_id": cid}
    )

    mine = await frames(ada_ws, 2)
    ack, echo = mine["message.ack"], mine["message.new"]
    assert (ack["client_id"], ack["seq"], ack["conversation"]) == (cid, 1, conversation.pk)
    assert echo["message"]["id"] == ack["id"]
    for tab in (bob_tab1, bob_tab2):
        event = await tab.receive_json_from(timeout=TIMEOUT)
        assert event["type"] == "message.new"
        assert event["message"]["body"] == "Hi Bob"
        assert event["message"]["sender"]["name"] == "Ada Lovelace"
    for ws in (ada_ws, bob_tab1, bob_tab2):
        await ws.disconnect()


async def test_a_retried_send_is_acked_with_the_same_message_and_stored_once(people):
    ada, _, _, conversation = people
    ws = await connect(ada)
    frame = {"type": "message.send", "conversation": conversation.pk, "body": "once", "client_id": client_id()}

    await ws.send_json_to(frame)
    first = (await frames(ws, 2))["message.ack"]
    await ws.send_json_to(frame)
    second = await ws.receive_json_from(timeout=TIMEOUT)

    assert second["type"] == "message.ack" and second["id"] == first["id"]
    assert await database_sync_to_async(Message.objects.count)() == 1
    assert await ws.receive_nothing(timeout=0.2)
    await ws.disconnect()


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"conversation": "foreign"}, "not_found"),
        ({"conversation": 99_999_999}, "not_found"),
        ({"conversation": None}, "invalid_conversation"),
        ({"conversation": [1]}, "invalid_conversation"),
        ({"body": "x" * 4001}, "body_too_long"),
        ({"body": "   "}, "empty_body"),
        ({"body": {"html": "<b>"}}, "invalid_body"),
        ({"client_id": "no"}, "invalid_client_id"),
    ],
)
async def test_bad_sends_get_an_error_frame_with_the_client_id_and_store_nothing(people, change, code):
    ada, bob, eve, conversation = people
    foreign = await database_sync_to_async(direct_between)(bob, eve)
    ws = await connect(ada)
    cid = client_id()
    frame = {"type": "message.send", "conversation": conversation.pk, "body": "Hi", "client_id": cid, **change}
    if frame["conversation"] == "foreign":
        frame["conversation"] = foreign.pk

    await ws.send_json_to(frame)

    error = await ws.receive_json_from(timeout=TIMEOUT)
    assert error["type"] == "error" and error["code"] == code
    if change.get("client_id") is None:
        assert error["client_id"] == cid
    assert await database_sync_to_async(Message.objects.count)() == 0
    await ws.disconnect()


async def test_a_flood_of_sends_is_rate_limited_with_a_clear_error(people):
    ada, _, _, conversation = people
    ws = await connect(ada)
    sent = chat_frames.SEND_BURST * 2

    for i in range(sent):
        await ws.send_json_to(
            {"type": "message.send", "conversation": conversation.pk, "body": f"m{i}", "client_id": client_id()}
        )
    received = []
    while not await ws.receive_nothing(timeout=0.5):
        received.append(await ws.receive_json_from(timeout=TIMEOUT))

    errors = [f for f in received if f["type"] == "error"]
    acks = [f for f in received if f["type"] == "message.ack"]
    assert errors and {e["code"] for e in errors} == {"rate_limited"}
    assert all(e["client_id"] for e in errors)
    assert len(acks) + len(errors) == sent
    assert await database_sync_to_async(Message.objects.count)() == len(acks) < sent
    await ws.disconnect()


async def test_resync_returns_what_was_missed_in_order_and_nothing_of_foreign_conversations(people):
    ada, bob, eve, conversation = people
    foreign = await database_sync_to_async(direct_between)(bob, eve)
    for i in range(4):
        await database_sync_to_async(services.send_message)(
            sender=bob, conversation_id=conversation.pk, body=f"missed {i}", client_id=client_id()
        )
    await database_sync_to_async(services.send_message)(
        sender=bob, conversation_id=foreign.pk, body="secret", client_id=client_id()
    )
    ws = await connect(ada)

    await ws.send_json_to({"type": "resync", "conversations": {str(conversation.pk): 1, str(foreign.pk): 0}})

    batch = await ws.receive_json_from(timeout=TIMEOUT)
    refused = await ws.receive_json_from(timeout=TIMEOUT)
    assert batch["type"] == "message.batch" and batch["more"] is False
    assert [m["seq"] for m in batch["messages"]] == [2, 3, 4]
    assert [m["body"] for m in batch["messages"]] == ["missed 1", "missed 2", "missed 3"]
    assert refused == {
        "type": "error",
        "code": "not_found",
        "detail": "No such conversation.",
        "conversation": foreign.pk,
    }
    assert "secret" not in json.dumps(refused)
    await ws.disconnect()


@pytest.mark.parametrize(
    "conversations", [None, [], {}, {"x": 1}, {"1": -1}, {"1": "2"}, {str(i): 0 for i in range(1, 60)}]
)
async def test_malformed_resync_frames_get_an_error(people, conversations):
    ada, *_ = people
    ws = await connect(ada)

    await ws.send_json_to({"type": "resync", "conversations": conversations})

    error = await ws.receive_json_from(timeout=TIMEOUT)
    assert error["type"] == "error" and error["code"] in {"invalid_resync", "invalid_conversation"}
    await ws.disconnect()


async def test_typing_reaches_the_other_member_only_and_is_throttled(people):
    ada, bob, _, conversation = people
    ada_ws, bob_ws = await connect(ada), await connect(bob)

    await ada_ws.send_json_to({"type": "typing", "conversation": conversation.pk})
    await ada_ws.send_json_to({"type": "typing", "conversation": conversation.pk})

    event = await bob_ws.receive_json_from(timeout=TIMEOUT)
    assert event == {
        "type": "typing",
        "conversation": conversation.pk,
        "user": {"public_id": str(ada.public_id), "name": "Ada Lovelace", "initials": ada.initials},
    }
    assert await bob_ws.receive_nothing(timeout=0.3)
    assert await ada_ws.receive_nothing(timeout=0.1)
    await ada_ws.disconnect()
    await bob_ws.disconnect()


async def test_typing_or_reading_someone_elses_conversation_is_refused(people):
    _, _, eve, conversation = people
    ws = await connect(eve)

    await ws.send_json_to({"type": "typing", "conversation": conversation.pk})
    typing_error = await ws.receive_json_from(timeout=TIMEOUT)
    await ws.send_json_to({"type": "read", "conversation": conversation.pk, "seq": 1})
    read_error = await ws.receive_json_from(timeout=TIMEOUT)

    assert typing_error["code"] == read_error["code"] == "not_found"
    await ws.disconnect()


async def test_read_moves_the_marker_and_the_other_side_sees_it(people):
    ada, bob, _, conversation = people
    await database_sync_to_async(services.send_message)(
        sender=ada, conversation_id=conversation.pk, body="Seen?", client_id=client_id()
    )
    ada_ws, bob_ws = await connect(ada), await connect(bob)

    await bob_ws.send_json_to({"type": "read", "conversation": conversation.pk, "seq": 1})

    seen = await ada_ws.receive_json_from(timeout=TIMEOUT)
    assert seen == {"type": "read", "conversation": conversation.pk, "user": str(bob.public_id), "seq": 1}
    membership = await database_sync_to_async(Membership.objects.get)(conversation=conversation, user=bob)
    assert membership.last_read_seq == 1
    await ada_ws.disconnect()
    await bob_ws.disconnect()


async def test_a_group_message_reaches_all_members_and_not_others(transactional_db):
    owner, a, b, outsider = await database_sync_to_async(UserFactory.create_batch)(4)
    for member in (a, b):
        await database_sync_to_async(befriend)(owner, member)
    group = await database_sync_to_async(services.create_group)(owner=owner, name="Lab", members=[a, b])
    sockets = {u.pk: await connect(u) for u in (owner, a, b, outsider)}

    await sockets[a.pk].send_json_to(
        {"type": "message.send", "conversation": group.pk, "body": "hello lab", "client_id": client_id()}
    )

    await frames(sockets[a.pk], 2)
    for member in (owner, b):
        event = await sockets[member.pk].receive_json_from(timeout=TIMEOUT)
        assert event["type"] == "message.new" and event["message"]["body"] == "hello lab"
    assert await sockets[outsider.pk].receive_nothing(timeout=0.3)
    await asyncio.gather(*(ws.disconnect() for ws in sockets.values()))
