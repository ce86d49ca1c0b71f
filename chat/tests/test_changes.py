"""Edits and deletes reach a client that was away: the per-conversation change counter."""

import pytest
from django.urls import reverse

from chat import selectors, services
from chat.models import Conversation
from chat.tests.factories import direct_between, send

pytestmark = pytest.mark.django_db


def test_each_edit_and_delete_raises_the_conversation_counter(ada, bob):
    conversation = direct_between(ada, bob)
    first, second = send(ada, conversation, "one"), send(ada, conversation, "two")
    assert first.change_seq == 0
    services.edit_message(user=ada, message_id=first.pk, body="one!")
    services.delete_message(user=ada, message_id=second.pk)
    services.edit_message(user=ada, message_id=first.pk, body="one!!")
    first.refresh_from_db()
    second.refresh_from_db()
    assert Conversation.objects.get(pk=conversation.pk).change_seq == 3
    assert (first.change_seq, second.change_seq) == (3, 2)
    # An edit that changes nothing is not a change.
    services.edit_message(user=ada, message_id=first.pk, body="one!!")
    assert Conversation.objects.get(pk=conversation.pk).change_seq == 3


def test_changes_since_returns_what_changed_after_the_cursor_in_order(ada, bob):
    conversation = direct_between(ada, bob)
    messages = [send(ada, conversation, f"m{i}") for i in range(4)]
    _, cursor, more = selectors.changes_since(user=bob, conversation_id=conversation.pk, after_change=0)
    assert (cursor, more) == (0, False)
    services.edit_message(user=ada, message_id=messages[0].pk, body="edited")
    services.delete_message(user=ada, message_id=messages[2].pk)

    page, cursor, more = selectors.changes_since(user=bob, conversation_id=conversation.pk, after_change=0)
    assert [(m.pk, m.body, m.deleted_at is not None) for m in page] == [
        (messages[0].pk, "edited", False),
        (messages[2].pk, "", True),
    ]
    assert (cursor, more) == (2, False)
    assert selectors.changes_since(user=bob, conversation_id=conversation.pk, after_change=2)[0] == []


def test_changes_since_pages_with_a_cursor(ada, bob):
    conversation = direct_between(ada, bob)
    messages = [send(ada, conversation, f"m{i}") for i in range(5)]
    for message in messages:
        services.edit_message(user=ada, message_id=message.pk, body=f"{message.body} edited")
    page, cursor, more = selectors.changes_since(user=bob, conversation_id=conversation.pk, after_change=0, limit=2)
    assert ([m.pk for m in page], cursor, more) == ([messages[0].pk, messages[1].pk], 2, True)
    page, cursor, more = selectors.changes_since(
        user=bob, conversation_id=conversation.pk, after_change=cursor, limit=10
    )
    assert ([m.pk for m in page], cursor, more) == ([m.pk for m in messages[2:]], 5, False)


def test_changes_are_only_for_members(ada, bob, eve):
    conversation = direct_between(ada, bob)
    with pytest.raises(Conversation.DoesNotExist):
        selectors.changes_since(user=eve, conversation_id=conversation.pk, after_change=0)


def test_api_changed_after(ada, bob, eve, api_of):
    conversation = direct_between(ada, bob)
    message = send(ada, conversation, "typo")
    services.edit_message(user=ada, message_id=message.pk, body="fixed")
    url = reverse("api:chat-messages", args=[conversation.pk])
    answer = api_of(bob).get(url, {"changed_after": 0}).json()
    assert answer["change_seq"] == 1 and not answer["more"]
    assert [(m["id"], m["body"], m["change_seq"]) for m in answer["results"]] == [(message.pk, "fixed", 1)]
    assert api_of(bob).get(url, {"changed_after": 1}).json()["results"] == []
    assert api_of(eve).get(url, {"changed_after": 0}).status_code == 404
    assert api_of(bob).get(url, {"changed_after": -1}).status_code == 400


def test_the_conversation_page_carries_the_change_cursor(ada, bob, client_of):
    conversation = direct_between(ada, bob)
    message = send(ada, conversation, "typo")
    services.edit_message(user=ada, message_id=message.pk, body="fixed")
    page = client_of(bob).get(reverse("chat:conversation", args=[conversation.pk])).content.decode()
    assert 'data-change-seq="1"' in page
