"""How many statements the message paths cost: access is one query (chat.access), so edit,
delete and react pay one statement to find, authorise and lock the message (and, for a
reaction, to check blocks), and read one to find, authorise and lock the membership. Each count
includes the SAVEPOINT pair of the service's own transaction.atomic inside the test's
transaction.

Two differences by backend: a send moves the conversation's head and the read markers in one
statement on MariaDB, two on SQLite; and a locked message on MariaDB (FOR UPDATE locks every
joined row and cannot name its own) reads its sender in one more statement, so the sender's user
row is not locked (chat.access.access_message): `sender_read()`."""

import pytest
from django.db import connection

from chat import services
from chat.access import access_conversation, access_message
from chat.models import Conversation, Message
from chat.tests.factories import befriend, direct_between, send

pytestmark = pytest.mark.django_db


def sender_read() -> int:
    """1 where a locking read locks every joined row (MariaDB), else 0 (SQLite: no row locks;
    PostgreSQL, MySQL: FOR UPDATE OF the message alone)."""
    features = connection.features
    return int(features.has_select_for_update and not features.has_select_for_update_of)


@pytest.fixture
def group(ada, bob, cleo):
    befriend(ada, bob)
    befriend(ada, cleo)
    return services.create_group(owner=ada, name="Lab", members=[bob, cleo])


@pytest.fixture
def outsider(eve):
    return eve


def test_access_to_a_conversation_is_one_query(ada, group, django_assert_num_queries):
    with django_assert_num_queries(1):
        conversation, membership = access_conversation(user=ada, conversation_id=group.pk)
    with django_assert_num_queries(1):
        locked, _ = access_conversation(user=ada, conversation_id=group.pk, for_update=True)

    assert conversation.pk == locked.pk == group.pk
    assert membership.user_id == ada.pk and membership.conversation is conversation


def test_access_to_a_message_is_one_query(ada, bob, group, django_assert_num_queries):
    message = send(ada, group)

    with django_assert_num_queries(1):
        found = access_message(user=bob, message_id=message.pk, for_update=True)
    with django_assert_num_queries(sender_read()):
        assert (found.sender.pk, found.conversation.pk) == (ada.pk, group.pk)  # joined, not fetched


def test_an_outsider_is_refused_in_one_query_as_for_an_unknown_id(ada, group, outsider, django_assert_num_queries):
    message = send(ada, group)

    with django_assert_num_queries(1), pytest.raises(Conversation.DoesNotExist):
        access_conversation(user=outsider, conversation_id=group.pk, for_update=True)
    with django_assert_num_queries(1), pytest.raises(Message.DoesNotExist):
        access_message(user=outsider, message_id=message.pk, for_update=True)
    with pytest.raises(Message.DoesNotExist):
        access_message(user=outsider, message_id=message.pk + 1000)


def test_a_member_who_left_is_refused_like_a_stranger(ada, bob, group):
    message = send(ada, group)
    services.leave_group(user=bob, conversation_id=group.pk)

    with pytest.raises(Conversation.DoesNotExist):
        access_conversation(user=bob, conversation_id=group.pk)
    with pytest.raises(Message.DoesNotExist):
        access_message(user=bob, message_id=message.pk)


def _send_statements() -> int:
    # savepoint, lock + sender active + members, insert, head, markers, release; MySQL/MariaDB
    # move the head and the markers in one multi-table UPDATE
    return 5 if connection.vendor == "mysql" else 6


def test_a_group_send_costs_five_statements_on_mariadb_and_six_on_sqlite(ada, group, django_assert_num_queries):
    with django_assert_num_queries(_send_statements()):
        send(ada, group)


def test_a_direct_send_costs_five_statements_on_mariadb_and_six_on_sqlite(ada, bob, django_assert_num_queries):
    conversation = direct_between(ada, bob)
    send(ada, conversation)

    with django_assert_num_queries(_send_statements()):
        send(ada, conversation)


def test_an_edit_costs_seven_statements(ada, group, django_assert_num_queries):
    message = send(ada, group)

    # savepoint, access + lock, change counter (update, read), save, push recipients, release
    with django_assert_num_queries(7 + sender_read()):
        services.edit_message(user=ada, message_id=message.pk, body="Edited")


def test_a_delete_costs_ten_statements(ada, bob, group, django_assert_num_queries):
    message = send(ada, group)
    services.set_reaction(user=bob, message_id=message.pk, emoji="👍", on=True)

    # savepoint, access + lock, change counter (2), save, attachments, reactions (delete, count),
    # push recipients, release
    with django_assert_num_queries(10 + sender_read()):
        services.delete_message(user=ada, message_id=message.pk)


def test_a_reaction_costs_fourteen_statements(ada, bob, group, django_assert_num_queries):
    message = send(ada, group)

    # savepoint, access + lock (+ the block check), exists, (savepoint, insert, release), count,
    # change counter (2), change seq, refresh, reactions, push recipients, release
    with django_assert_num_queries(14 + sender_read()):
        services.set_reaction(user=bob, message_id=message.pk, emoji="👍", on=True)


def test_a_reaction_in_a_direct_conversation_costs_the_same_as_in_a_group(ada, bob, django_assert_num_queries):
    # the block check of a direct conversation is read with the lock, not after it
    conversation = direct_between(ada, bob)
    message = send(ada, conversation)

    with django_assert_num_queries(14 + sender_read()):
        services.set_reaction(user=bob, message_id=message.pk, emoji="👍", on=True)


def test_a_read_costs_four_statements(ada, bob, group, django_assert_num_queries):
    send(ada, group)
    send(ada, group)

    # savepoint, access + lock of the membership, save, release
    with django_assert_num_queries(4):
        services.mark_read(user=bob, conversation_id=group.pk, seq=1)
