"""Every live frame type, for every kind of sender (issue 12, the standing battery).

The frame types come from the consumer's registry (live.consumer.FRAME_HANDLERS), so a new
frame type is in this matrix the moment it is registered: without a probe in PROBES (the frame
a client would send, aimed at the room's group) its rows fail and say so. For each type:

- the group's owner and another member are answered (no error frame; the expected answer);
- a non-member is refused with an error frame or gets only their own data: no frame about the
  group but errors, none of its text, nothing reaches its members;
- an anonymous client never gets a socket to send it on (refused at connect);
- a deactivated member's open socket is closed with 4401 when the account is deactivated and
  cannot come back; and when the revocation message was lost, any frame that reads or writes
  closes the socket instead of being answered (the heartbeat alone answers "pong", no data).
"""

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from channels.db import database_sync_to_async

from accounts import services as account_services
from accounts.models import User
from accounts.tests.factories import UserFactory
from chat import services
from chat.models import Message
from chat.tests.factories import befriend
from live import access as live_access
from live import consumer as live_consumer
from tests.security.live_sockets import TIMEOUT, communicator, open_socket, session_cookie

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]

SECRET_BODY = "the secret formula is 42"
SECRET_NAME = "Secret engine lab"
QUIET = 0.3


@dataclass(frozen=True)
class Room:
    owner: User
    member: User
    deactivated: User  # a member, deactivated during the test
    outsider: User
    group: int


@dataclass(frozen=True)
class Probe:
    """The frame of one type a client sends about the room's group, and what a member gets."""

    frame: Callable[[Room], dict]
    member_answer: str | None  # the frame type a member's socket answers with (None: no reply)
    touches_data: bool = True  # False only for the heartbeat: it reads and writes nothing


PROBES: dict[str, Probe] = {
    "ping": Probe(lambda room: {"type": "ping"}, "pong", touches_data=False),
    "message.send": Probe(
        lambda room: {"type": "message.send", "conversation": room.group, "body": "hi", "client_id": uuid.uuid4().hex},
        "message.ack",
    ),
    "resync": Probe(lambda room: {"type": "resync", "conversations": {str(room.group): 0}}, "message.batch"),
    "typing": Probe(lambda room: {"type": "typing", "conversation": room.group}, None),
    "read": Probe(lambda room: {"type": "read", "conversation": room.group, "seq": 1}, None),
    "presence.query": Probe(lambda room: {"type": "presence.query"}, "presence.state"),
    "chat.unread.query": Probe(lambda room: {"type": "chat.unread.query"}, "chat.unread"),
}

FRAME_TYPES = sorted(live_consumer.FRAME_HANDLERS)


def probe_for(frame_type: str) -> Probe:
    if frame_type not in PROBES:
        pytest.fail(f"the live frame type {frame_type!r} has no probe: add one to PROBES in {__name__}")
    return PROBES[frame_type]


async def test_every_registered_frame_type_has_a_probe_and_every_probe_a_handler():
    assert set(PROBES) == set(live_consumer.FRAME_HANDLERS)


@pytest.fixture
def room(transactional_db) -> Room:
    owner = UserFactory(first_name="Ada", last_name="Owner")
    member = UserFactory(first_name="Bob", last_name="Member")
    deactivated = UserFactory(first_name="Dan", last_name="Deactivated")
    outsider = UserFactory(first_name="Eve", last_name="Outsider")
    for friend in (member, deactivated):
        befriend(owner, friend)
    group = services.create_group(owner=owner, name=SECRET_NAME, members=[member, deactivated])
    services.send_message(sender=owner, conversation_id=group.pk, body=SECRET_BODY, client_id=uuid.uuid4().hex)
    return Room(owner=owner, member=member, deactivated=deactivated, outsider=outsider, group=group.pk)


async def socket_of(user):
    ws, _hello = await open_socket(cookie=await database_sync_to_async(session_cookie)(user))
    return ws


async def answers_until_pong(ws) -> tuple[list[dict], int | None]:
    """Every frame the socket sends until the pong of a ping sent now, or its close code."""
    await ws.send_json_to({"type": "ping"})
    frames = []
    while True:
        output = await ws.receive_output(timeout=TIMEOUT)
        if output["type"] == "websocket.close":
            return frames, output.get("code")
        frame = json.loads(output["text"])
        if frame["type"] == "pong":
            return frames, None
        frames.append(frame)


def assert_nothing_of_the_group(frames: list[dict], room: Room) -> None:
    text = json.dumps(frames)
    assert SECRET_BODY not in text and SECRET_NAME not in text, text
    for frame in frames:
        if frame.get("conversation") == room.group:
            assert frame["type"] == "error", frame
        if frame["type"] == "presence.state":
            group_people = {str(user.public_id) for user in (room.owner, room.member, room.deactivated)}
            assert not set(frame["online"]) & group_people, frame
        if frame["type"] == "chat.unread":
            assert frame["count"] == 0, frame


USER_REFERENCES = {"user", "online", "sender_public_id", "user_public_ids"}


def assert_users_by_public_id(value, key: str | None = None) -> None:
    """Every user a frame names is their public id, a UUID string: never an integer pk, and a
    user object ({public_id, name, initials}) has no second id."""
    if isinstance(value, dict):
        if "initials" in value:
            assert "id" not in value and uuid.UUID(value["public_id"]), value
        for name, item in value.items():
            if name == "type" and key is None:
                continue
            assert_users_by_public_id(item, name)
    elif isinstance(value, list):
        for item in value:
            assert_users_by_public_id(item, key)
    elif key in USER_REFERENCES and value is not None:
        assert isinstance(value, str) and uuid.UUID(value), (key, value)


async def drain(ws) -> None:
    while not await ws.receive_nothing(timeout=QUIET):
        await ws.receive_output()


# --- the rows ----------------------------------------------------------------------------------


@pytest.mark.parametrize("frame_type", FRAME_TYPES)
@pytest.mark.parametrize("role", ["owner", "member"])
async def test_a_member_is_answered(room, frame_type, role):
    probe = probe_for(frame_type)
    ws = await socket_of(room.owner if role == "owner" else room.member)

    await ws.send_json_to(probe.frame(room))

    frames, closed = await answers_until_pong(ws)
    assert closed is None
    assert not [frame for frame in frames if frame["type"] == "error"], frames
    assert_users_by_public_id(frames)
    if probe.member_answer is not None:
        assert probe.member_answer in {frame["type"] for frame in frames} | {"pong"}, frames
    await ws.disconnect()


@pytest.mark.parametrize("frame_type", FRAME_TYPES)
async def test_a_non_member_is_refused_and_learns_nothing(room, frame_type):
    probe = probe_for(frame_type)
    watcher = await socket_of(room.member)  # online, and watching for anything Eve causes
    ws = await socket_of(room.outsider)
    messages_before = await database_sync_to_async(Message.objects.filter(conversation_id=room.group).count)()

    await ws.send_json_to(probe.frame(room))

    frames, closed = await answers_until_pong(ws)
    assert closed is None
    assert_nothing_of_the_group(frames, room)
    if "conversation" in json.dumps(probe.frame(room)):
        assert [frame["code"] for frame in frames if frame["type"] == "error"] == ["not_found"], frames
    assert await watcher.receive_nothing(timeout=QUIET)
    assert await database_sync_to_async(Message.objects.filter(conversation_id=room.group).count)() == messages_before
    for socket_ in (ws, watcher):
        await socket_.disconnect()


@pytest.mark.parametrize("frame_type", FRAME_TYPES)
async def test_an_anonymous_client_gets_no_socket_to_send_it_on(room, frame_type):
    probe_for(frame_type)

    connected, _ = await communicator().connect(timeout=TIMEOUT)

    assert not connected


@pytest.mark.parametrize("frame_type", FRAME_TYPES)
async def test_a_deactivated_members_socket_is_closed_and_cannot_come_back(room, frame_type):
    probe_for(frame_type)
    watcher = await socket_of(room.owner)
    cookie = await database_sync_to_async(session_cookie)(room.deactivated)
    ws, _ = await open_socket(cookie=cookie)
    await drain(watcher)  # the presence of Dan coming online

    await database_sync_to_async(account_services.deactivate_account)(user=room.deactivated)

    closing = await ws.receive_output(timeout=TIMEOUT)
    assert closing == {"type": "websocket.close", "code": live_access.CLOSE_SIGNED_OUT}
    connected, _ = await communicator(cookie=cookie).connect(timeout=TIMEOUT)
    assert not connected
    await drain(watcher)  # Dan going offline, at most
    await watcher.disconnect()


@pytest.mark.parametrize("frame_type", FRAME_TYPES)
async def test_a_deactivated_members_socket_that_missed_its_revocation_answers_nothing_that_touches_data(
    room, frame_type
):
    probe = probe_for(frame_type)
    ws = await socket_of(room.deactivated)
    watcher = await socket_of(room.owner)
    messages_before = await database_sync_to_async(Message.objects.filter(conversation_id=room.group).count)()
    # Deactivated behind the services' back: no revocation message is sent at all.
    await database_sync_to_async(User.objects.filter(pk=room.deactivated.pk).update)(is_active=False)

    await ws.send_json_to(probe.frame(room))

    if probe.touches_data:
        output = await ws.receive_output(timeout=TIMEOUT)
        assert output == {"type": "websocket.close", "code": live_access.CLOSE_SIGNED_OUT}, output
    else:
        frames, closed = await answers_until_pong(ws)
        assert closed is None
        assert frames == [], frames
    assert await watcher.receive_nothing(timeout=QUIET)
    assert await database_sync_to_async(Message.objects.filter(conversation_id=room.group).count)() == messages_before
    await watcher.disconnect()
