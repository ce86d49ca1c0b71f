"""Replies and reactions on the live socket: a reply through "message.send", a refused one as an
error frame, a reaction pushed live to every member's tabs and brought back by a resync."""

import pytest
from channels.db import database_sync_to_async

from chat import services
from chat.models import Message
from chat.tests.factories import client_id, direct_between, send
from chat.tests.test_consumers_chat import TIMEOUT, connect, frames, people  # noqa: F401 - fixture

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]


async def test_a_reply_over_the_socket_is_acked_with_its_quote(people):  # noqa: F811
    ada, bob, _, conversation = people
    original = await database_sync_to_async(send)(bob, conversation, "Coffee?")
    ws = await connect(ada)

    await ws.send_json_to(
        {
            "type": "message.send",
            "conversation": conversation.pk,
            "body": "Yes please",
            "client_id": client_id(),
            "reply_to": original.pk,
        }
    )

    got = await frames(ws, 2)
    assert got["message.ack"]["message"]["reply_to"]["excerpt"] == "Coffee?"
    assert got["message.new"]["message"]["reply_to"]["id"] == original.pk
    await ws.disconnect()


@pytest.mark.parametrize("reply_to", ["foreign", 99_999_999, "x", [1], True])
async def test_a_reply_to_a_message_of_another_conversation_is_an_error_frame(people, reply_to):  # noqa: F811
    ada, bob, eve, conversation = people
    if reply_to == "foreign":
        foreign = await database_sync_to_async(direct_between)(bob, eve)
        reply_to = (await database_sync_to_async(send)(eve, foreign, "theirs")).pk
    ws = await connect(ada)
    cid = client_id()

    await ws.send_json_to(
        {"type": "message.send", "conversation": conversation.pk, "body": "hi", "client_id": cid, "reply_to": reply_to}
    )

    error = await ws.receive_json_from(timeout=TIMEOUT)
    assert (error["type"], error["code"], error["client_id"]) == ("error", "invalid_reply_to", cid)
    assert error["field"] == "reply_to"  # the refusal's field: the input the client got wrong
    assert not await database_sync_to_async(Message.objects.filter(conversation=conversation).exists)()
    await ws.disconnect()


async def test_a_reaction_reaches_every_members_tabs_and_a_resync_after_being_away(people):  # noqa: F811
    ada, bob, _, conversation = people
    message = await database_sync_to_async(send)(ada, conversation, "Passed the exam!")
    ada_tab, bob_tab = await connect(ada), await connect(bob)

    await database_sync_to_async(services.set_reaction)(user=bob, message_id=message.pk, emoji="🎉", on=True)

    for tab in (ada_tab, bob_tab):
        event = await tab.receive_json_from(timeout=TIMEOUT)
        assert event["type"] == "message.updated"
        assert event["message"]["reactions"][0]["emoji"] == "🎉"
        assert event["message"]["reactions"][0]["user_public_ids"] == [str(bob.public_id)]
    await ada_tab.disconnect()

    # Ada is away while Bob changes his mind; her resync from the change cursor brings it.
    cursor = event["message"]["change_seq"]
    await database_sync_to_async(services.set_reaction)(user=bob, message_id=message.pk, emoji="🎉", on=False)
    back = await connect(ada)
    await back.send_json_to({"type": "resync", "conversations": {str(conversation.pk): {"seq": 1, "changes": cursor}}})
    batch = await back.receive_json_from(timeout=TIMEOUT)
    assert batch["type"] == "message.batch"
    assert [(m["id"], m["reactions"]) for m in batch["changes"]] == [(message.pk, [])]
    assert batch["change_seq"] == cursor + 1
    for ws in (bob_tab, back):
        await ws.disconnect()
