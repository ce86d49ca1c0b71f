"""Chat test data: friends, conversations and messages built through the services."""

import uuid

from accounts.tests.factories import UserFactory  # noqa: F401 - re-exported for chat tests
from chat import services
from social.models import Friendship


def befriend(a, b) -> None:
    low, high = Friendship.ordered_ids(a.pk, b.pk)
    Friendship.objects.get_or_create(user_low_id=low, user_high_id=high)


def client_id() -> str:
    return uuid.uuid4().hex


def direct_between(a, b):
    befriend(a, b)
    return services.open_direct_conversation(user=a, other=b)


def send(sender, conversation, body="Hello", cid=None):
    message, _ = services.send_message(
        sender=sender, conversation_id=conversation.pk, body=body, client_id=cid or client_id()
    )
    return message
