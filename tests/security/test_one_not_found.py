"""Chat's one access rule, pinned (issue 15): a conversation you are not an active member of
does not exist for you. A removed member, a member who left, a student the owner blocked and
a stranger each get, on every path (API, page, live frame), exactly the answer an unknown id
gets: the same status and body, before any other refusal (no 403/409 that would say it exists).
"""

import uuid

import pytest
from channels.db import database_sync_to_async
from django.test import Client
from django.urls import reverse

from accounts import services as account_services
from accounts.tests.factories import UserFactory
from chat import services
from chat.tests.factories import befriend
from social import services as social_services
from tests.security.live_sockets import socket_of
from tests.security.world import UNKNOWN_ID

OUTSIDERS = ("removed", "left", "blocked", "stranger")


def build_room():
    """A group of ada's with bob; cleo was removed, dan left, eve was never in it and ada
    blocked her, frank is a stranger."""
    ada, bob, cleo, dan, eve, frank = (UserFactory() for _ in range(6))
    for person in (bob, cleo, dan, eve):
        befriend(ada, person)
    group = services.create_group(owner=ada, name="Secret room", members=[bob, cleo, dan])
    services.send_message(sender=ada, conversation_id=group.pk, body="secret", client_id=uuid.uuid4().hex)
    services.remove_member(actor=ada, conversation_id=group.pk, user=cleo)
    services.leave_group(user=dan, conversation_id=group.pk)
    social_services.block_user(blocker=ada, blocked=eve)
    return group.pk, {"removed": cleo, "left": dan, "blocked": eve, "stranger": frank}


def api_answers(user, conversation_id):
    client = Client(raise_request_exception=False)
    auth = {"HTTP_AUTHORIZATION": f"Bearer {account_services.issue_api_tokens(user=user)['access']}"}
    body = {"body": "hi", "client_id": "fixed-client-id-1"}
    answers = [
        client.get(reverse("api:chat-conversation", args=[conversation_id]), **auth),
        client.get(reverse("api:chat-messages", args=[conversation_id]), **auth),
        client.post(reverse("api:chat-messages", args=[conversation_id]), body, "application/json", **auth),
        client.post(reverse("api:chat-read", args=[conversation_id]), {"seq": 1}, "application/json", **auth),
        client.post(reverse("api:chat-leave", args=[conversation_id]), {}, "application/json", **auth),
        client.get(reverse("api:chat-members", args=[conversation_id]), **auth),
    ]
    return [(a.status_code, a.json()) for a in answers]


def page_answers(user, conversation_id):
    client = Client(raise_request_exception=False)
    client.force_login(user)
    answers = [
        client.get(reverse("chat:conversation", args=[conversation_id])),
        client.post(reverse("chat:send", args=[conversation_id]), {"body": "hi", "client_id": "fixed-client-id-2"}),
        client.post(reverse("chat:leave", args=[conversation_id])),
    ]
    return [a.status_code for a in answers]


@pytest.mark.django_db
@pytest.mark.parametrize("who", OUTSIDERS)
def test_the_api_and_the_pages_answer_an_outsider_as_for_an_unknown_conversation(who):
    group, people = build_room()
    person = people[who]

    api, api_unknown = api_answers(person, group), api_answers(person, UNKNOWN_ID)
    pages, pages_unknown = page_answers(person, group), page_answers(person, UNKNOWN_ID)

    assert api == api_unknown and {status for status, _ in api} == {404}, api
    assert pages == pages_unknown == [404] * len(pages), pages


def frames_for(conversation_id):
    return [
        {"type": "message.send", "conversation": conversation_id, "body": "hi", "client_id": uuid.uuid4().hex},
        {"type": "typing", "conversation": conversation_id},
        {"type": "read", "conversation": conversation_id, "seq": 1},
    ]


async def error_frames(ws, frames):
    answers = []
    for frame in frames:
        await ws.send_json_to(frame)
        while True:
            answer = await ws.receive_json_from(timeout=3)
            if answer["type"] == "error":
                answers.append({k: v for k, v in answer.items() if k not in {"conversation", "client_id"}})
                break
    return answers


@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
@pytest.mark.parametrize("who", OUTSIDERS)
async def test_a_live_frame_from_an_outsider_is_answered_as_for_an_unknown_conversation(who):
    group, people = await database_sync_to_async(build_room)()
    ws = await socket_of(people[who])

    about_group = await error_frames(ws, frames_for(group))
    about_nothing = await error_frames(ws, frames_for(UNKNOWN_ID))

    assert about_group == about_nothing
    assert {frame["code"] for frame in about_group} == {"not_found"}, about_group
    await ws.disconnect()
