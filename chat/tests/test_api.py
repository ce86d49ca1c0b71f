"""The chat JSON API: conversations, messages (idempotent send), members, and 404 for others."""

import uuid

import pytest
from django.urls import reverse

from chat import services
from chat.models import Membership, Message
from chat.tests.factories import UserFactory, befriend, direct_between, send

pytestmark = pytest.mark.django_db


def url(name, *args):
    return reverse(f"api:{name}", args=args)


def test_conversations_list_with_unread_and_the_other_person(api_of, ada, bob):
    send(bob, direct_between(ada, bob), "hi")

    response = api_of(ada).get(url("chat-conversations"))

    assert response.status_code == 200
    assert response.json()["count"] == 1
    (row,) = response.json()["results"]
    assert row["title"] == "Bob Babbage" and row["unread"] == 1
    assert row["other"]["public_id"] == str(bob.public_id)
    assert row["last_message"]["body"] == "hi"


def test_open_direct_then_send_idempotently_and_page_messages(api_of, ada, bob):
    befriend(ada, bob)
    api = api_of(ada)

    opened = api.post(url("chat-direct"), {"user": str(bob.public_id)}, format="json")
    pk = opened.json()["id"]
    payload = {"body": "Hello via API", "client_id": uuid.uuid4().hex}
    first = api.post(url("chat-messages", pk), payload, format="json")
    retry = api.post(url("chat-messages", pk), payload, format="json")
    page = api.get(url("chat-messages", pk))
    since = api.get(url("chat-messages", pk), {"after": 1})

    assert opened.status_code == 200
    assert first.status_code == 201 and retry.status_code == 200
    assert first.json()["id"] == retry.json()["id"] and first.json()["seq"] == 1
    assert [m["body"] for m in page.json()["results"]] == ["Hello via API"] and page.json()["more"] is False
    assert since.json()["results"] == []
    assert Message.objects.count() == 1


def test_bad_sends_are_4xx_with_a_code(api_of, ada, bob, settings):
    conversation = direct_between(ada, bob)
    api = api_of(ada)

    blank = api.post(url("chat-messages", conversation.pk), {"body": "  ", "client_id": uuid.uuid4().hex})
    huge = api.post(url("chat-messages", conversation.pk), {"body": "x" * 4001, "client_id": uuid.uuid4().hex})
    bad_id = api.post(url("chat-messages", conversation.pk), {"body": "hi", "client_id": "no"})
    settings.CHAT_SEND_RATE = (0, 60)
    fast = api.post(url("chat-messages", conversation.pk), {"body": "hi", "client_id": uuid.uuid4().hex})

    assert blank.status_code == 400 and blank.json()["code"] == "empty_body"
    assert huge.status_code == 400 and "detail" in huge.json()
    assert bad_id.status_code == 400 and bad_id.json()["code"] == "invalid_client_id"
    assert fast.status_code == 429 and fast.json()["code"] == "rate_limited"
    assert not Message.objects.exists()


def test_groups_members_rename_mute_and_leave(api_of, ada, bob, cleo):
    befriend(ada, bob)
    befriend(ada, cleo)
    api = api_of(ada)

    created = api.post(url("chat-conversations"), {"name": "Lab", "members": [str(bob.public_id)]}, format="json")
    pk = created.json()["id"]
    added = api.post(url("chat-members", pk), {"users": [str(cleo.public_id)]}, format="json")
    promoted = api.post(url("chat-member-promote", pk, bob.public_id))
    removed = api.delete(url("chat-member", pk, cleo.public_id))
    patched = api.patch(url("chat-conversation", pk), {"name": "Lab 2", "muted": True}, format="json")
    left = api_of(bob).post(url("chat-leave", pk))

    assert created.status_code == 201 and len(created.json()["members"]) == 2
    assert added.status_code == 200 and len(added.json()) == 3
    assert promoted.json()["role"] == "admin"
    assert removed.status_code == 204
    assert patched.json()["title"] == "Lab 2" and patched.json()["muted"] is True
    assert left.status_code == 204


def test_edit_delete_and_read(api_of, ada, bob):
    conversation = direct_between(ada, bob)
    message = send(ada, conversation, "tpyo")

    edited = api_of(ada).patch(url("chat-message", message.pk), {"body": "typo"}, format="json")
    by_other = api_of(bob).patch(url("chat-message", message.pk), {"body": "nope"}, format="json")
    read = api_of(bob).post(url("chat-read", conversation.pk), {"seq": 1}, format="json")
    deleted = api_of(ada).delete(url("chat-message", message.pk))

    assert edited.json()["body"] == "typo" and edited.json()["edited_at"]
    assert by_other.status_code == 403 and by_other.json()["code"] == "not_sender"
    assert read.json()["unread"] == 0
    assert deleted.json()["deleted"] is True and deleted.json()["body"] == ""


def test_every_endpoint_is_404_for_someone_elses_conversation_or_message(api_of, ada, bob, eve):
    conversation = direct_between(ada, bob)
    message = send(ada, conversation, "private")
    api = api_of(eve)
    pk = conversation.pk

    calls = [
        api.get(url("chat-conversation", pk)),
        api.patch(url("chat-conversation", pk), {"muted": True}, format="json"),
        api.get(url("chat-messages", pk)),
        api.get(url("chat-messages", pk), {"after": 0}),
        api.post(url("chat-messages", pk), {"body": "x", "client_id": uuid.uuid4().hex}, format="json"),
        api.post(url("chat-read", pk), {"seq": 1}, format="json"),
        api.post(url("chat-accept", pk)),
        api.post(url("chat-leave", pk)),
        api.get(url("chat-members", pk)),
        api.post(url("chat-members", pk), {"users": [str(eve.public_id)]}, format="json"),
        api.delete(url("chat-member", pk, bob.public_id)),
        api.post(url("chat-member-promote", pk, bob.public_id)),
        api.patch(url("chat-message", message.pk), {"body": "hacked"}, format="json"),
        api.delete(url("chat-message", message.pk)),
    ]

    assert [c.status_code for c in calls] == [404] * len(calls)
    assert all("detail" in c.json() for c in calls)
    message.refresh_from_db()
    assert message.body == "private" and message.deleted_at is None
    assert not Membership.objects.filter(user=eve).exists()
    assert Message.objects.count() == 1


def test_the_api_needs_authentication(client):
    assert client.get(url("chat-conversations")).status_code in (401, 403)


def test_the_schema_documents_the_chat_endpoints(api_of, ada):
    response = api_of(ada).get(reverse("api:schema"), {"format": "json"})

    assert response.status_code == 200
    paths = response.json()["paths"]
    assert "/api/v1/chat/conversations/{id}/messages/" in paths


def test_message_requests_via_api(api_of, ada, bob):
    conversation = services.open_direct_conversation(user=bob, other=ada)
    send(bob, conversation, "hello")

    requests = api_of(ada).get(url("chat-conversations"), {"requests": "1"})
    accepted = api_of(ada).post(url("chat-accept", conversation.pk))

    assert [r["id"] for r in requests.json()["results"]] == [conversation.pk]
    assert accepted.json()["accepted"] is True


def test_the_conversation_list_pages_past_a_hundred_instead_of_stopping_there(
    api_of, ada, django_assert_max_num_queries
):
    for _ in range(105):
        direct_between(ada, UserFactory())
    api = api_of(ada)

    first = api.get(url("chat-conversations"), {"page_size": 100}).json()
    with django_assert_max_num_queries(12):
        second = api.get(first["next"]).json()

    assert first["count"] == 105
    assert len(first["results"]) == 100
    assert len(second["results"]) == 5 and second["next"] is None
    assert len({row["id"] for row in first["results"] + second["results"]}) == 105
    assert len(api.get(url("chat-conversations")).json()["results"]) == 20
    assert len(api.get(url("chat-conversations"), {"page_size": 5000}).json()["results"]) == 100
