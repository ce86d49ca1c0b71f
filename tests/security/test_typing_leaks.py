"""Typing frames reach only who may see them (issue 12, item 7): never across a block, never
from a member removed a moment ago."""

import pytest
from channels.db import database_sync_to_async

from accounts.tests.factories import UserFactory
from chat import frames, services
from chat.tests.factories import befriend
from social import services as social_services
from tests.security.live_sockets import next_frame, socket_of

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]

QUIET = 0.3  # seconds a socket must stay silent to count as "got nothing"


@pytest.fixture
def group(transactional_db):
    """Ada's group with Bob and Cleo."""
    ada = UserFactory(first_name="Ada", last_name="Lovelace")
    bob = UserFactory(first_name="Bob", last_name="Babbage")
    cleo = UserFactory(first_name="Cleo", last_name="Patra")
    befriend(ada, bob)
    befriend(ada, cleo)
    conversation = services.create_group(owner=ada, name="Lab", members=[bob, cleo])
    return ada, bob, cleo, conversation


@pytest.fixture
def no_typing_throttle(monkeypatch):
    monkeypatch.setattr(frames, "TYPING_MIN_INTERVAL_SECONDS", 0.0)


async def _typing(ws, conversation) -> None:
    await ws.send_json_to({"type": "typing", "conversation": conversation.pk})


async def test_a_blocked_members_typing_does_not_reach_the_blocker_in_a_group(group):
    ada, bob, cleo, conversation = group
    await database_sync_to_async(social_services.block_user)(blocker=ada, blocked=bob)
    ada_ws, bob_ws, cleo_ws = await socket_of(ada), await socket_of(bob), await socket_of(cleo)

    await _typing(bob_ws, conversation)

    typing = await next_frame(cleo_ws)
    assert (typing["type"], typing["user"]["public_id"]) == ("typing", str(bob.public_id))
    assert await ada_ws.receive_nothing(timeout=QUIET)
    for ws in (ada_ws, bob_ws, cleo_ws):
        await ws.disconnect()


async def test_the_blockers_typing_does_not_reach_the_blocked_either(group):
    ada, bob, cleo, conversation = group
    await database_sync_to_async(social_services.block_user)(blocker=ada, blocked=bob)
    ada_ws, bob_ws, cleo_ws = await socket_of(ada), await socket_of(bob), await socket_of(cleo)

    await _typing(ada_ws, conversation)

    assert (await next_frame(cleo_ws))["user"]["public_id"] == str(ada.public_id)
    assert await bob_ws.receive_nothing(timeout=QUIET)
    for ws in (ada_ws, bob_ws, cleo_ws):
        await ws.disconnect()


async def test_a_block_made_while_the_sockets_are_open_counts_at_once(group, no_typing_throttle):
    ada, bob, cleo, conversation = group
    ada_ws, bob_ws, cleo_ws = await socket_of(ada), await socket_of(bob), await socket_of(cleo)
    await _typing(bob_ws, conversation)
    assert (await next_frame(ada_ws))["user"]["public_id"] == str(bob.public_id)
    assert (await next_frame(cleo_ws))["user"]["public_id"] == str(bob.public_id)

    await database_sync_to_async(social_services.block_user)(blocker=ada, blocked=bob)
    await _typing(bob_ws, conversation)

    assert (await next_frame(cleo_ws))["user"]["public_id"] == str(bob.public_id)
    assert await ada_ws.receive_nothing(timeout=QUIET)
    for ws in (ada_ws, bob_ws, cleo_ws):
        await ws.disconnect()


async def test_a_removed_members_typing_reaches_nobody_and_is_refused(group, no_typing_throttle):
    ada, bob, cleo, conversation = group
    ada_ws, bob_ws, cleo_ws = await socket_of(ada), await socket_of(bob), await socket_of(cleo)
    await _typing(bob_ws, conversation)  # while a member: the others see it
    assert (await next_frame(ada_ws))["user"]["public_id"] == str(bob.public_id)
    assert (await next_frame(cleo_ws))["user"]["public_id"] == str(bob.public_id)

    await database_sync_to_async(services.remove_member)(actor=ada, conversation_id=conversation.pk, user=bob)
    for ws in (ada_ws, bob_ws, cleo_ws):  # the "members changed" events of the removal
        while await ws.receive_nothing(timeout=QUIET) is False:
            await ws.receive_output()
    await _typing(bob_ws, conversation)

    refused = await next_frame(bob_ws)
    assert (refused["type"], refused["code"]) == ("error", "not_found")
    assert await ada_ws.receive_nothing(timeout=QUIET)
    assert await cleo_ws.receive_nothing(timeout=QUIET)
    for ws in (ada_ws, bob_ws, cleo_ws):
        await ws.disconnect()
