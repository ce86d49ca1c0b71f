import pytest
from django.urls import reverse

from accounts.tests.factories import StaffFactory
from chat.tests.factories import direct_between, send

pytestmark = pytest.mark.django_db


def test_staff_browse_conversations_and_search_messages(client, ada, bob):
    conversation = direct_between(ada, bob)
    send(ada, conversation, "findable words")
    client.force_login(StaffFactory())

    conversations = client.get(reverse("admin:chat_conversation_changelist"))
    detail = client.get(reverse("admin:chat_conversation_change", args=[conversation.pk]))
    search = client.get(reverse("admin:chat_message_changelist"), {"q": "findable"})
    deleted = client.get(reverse("admin:chat_message_changelist"), {"deleted": "yes", "kind": "text"})

    assert conversations.status_code == detail.status_code == 200
    assert "findable words" in search.content.decode()
    assert "findable words" not in deleted.content.decode()
