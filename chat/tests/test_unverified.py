"""An account whose e-mail address is not confirmed messages nobody: not through the API, not
through the live socket (an error frame, the socket stays open); once confirmed, it can."""

import pytest
from channels.db import database_sync_to_async
from django.urls import reverse
from rest_framework.test import APIClient

from accounts import services as account_services
from accounts import tokens
from chat import services
from chat.models import Message
from chat.tests.factories import UserFactory, client_id, direct_between
from chat.tests.test_consumers_chat import TIMEOUT, connect


def confirm(user) -> None:
    account_services.confirm_email(token=tokens.make_email_token(user=user, purpose=tokens.VERIFY, email=user.email))


@pytest.mark.django_db
def test_an_unconfirmed_account_cannot_message_through_the_api():
    newcomer, other = UserFactory(email_verified_at=None), UserFactory()
    conversation = direct_between(other, newcomer)
    api = APIClient()
    api.force_authenticate(newcomer)

    response = api.post(
        reverse("api:chat-messages", kwargs={"pk": conversation.pk}),
        {"body": "hello", "client_id": client_id()},
        format="json",
    )

    assert response.status_code == 403 and response.json()["code"] == "unverified"
    assert not Message.objects.filter(sender=newcomer).exists()


@pytest.mark.django_db
def test_once_confirmed_the_account_can_message():
    newcomer, other = UserFactory(email_verified_at=None), UserFactory()
    conversation = direct_between(other, newcomer)
    with pytest.raises(services.ChatError) as refused:
        services.send_message(sender=newcomer, conversation_id=conversation.pk, body="hi", client_id=client_id())

    confirm(newcomer)
    message, created = services.send_message(
        sender=newcomer, conversation_id=conversation.pk, body="hi", client_id=client_id()
    )

    assert refused.value.code == "unverified"
    assert created and message.body == "hi"


@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
async def test_an_unconfirmed_account_gets_an_error_frame_on_the_socket_and_can_send_once_confirmed():
    newcomer = await database_sync_to_async(UserFactory)(email_verified_at=None)
    other = await database_sync_to_async(UserFactory)()
    conversation = await database_sync_to_async(direct_between)(other, newcomer)
    ws = await connect(newcomer)
    frame = {"type": "message.send", "conversation": conversation.pk, "body": "hello", "client_id": client_id()}

    await ws.send_json_to(frame)
    refused = await ws.receive_json_from(timeout=TIMEOUT)
    await database_sync_to_async(confirm)(newcomer)  # the socket's user object is the unconfirmed one
    await ws.send_json_to({**frame, "client_id": client_id()})
    replies = {(await ws.receive_json_from(timeout=TIMEOUT))["type"] for _ in range(2)}

    assert refused["type"] == "error" and refused["code"] == "unverified"
    assert "message.ack" in replies
    await ws.disconnect()
