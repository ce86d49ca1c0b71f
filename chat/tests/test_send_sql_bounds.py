"""The send's one locking statement (chat.services.send_sql) reads a conversation's members
as one JSON array. MariaDB bounds JSON_ARRAYAGG by group_concat_max_len and cuts what is
longer: sometimes into invalid JSON (the send fails), sometimes at an element, into a valid
array with members missing (a group send that skips members; a direct conversation whose other
side, and so its block, is not seen). The statement carries its own bound on MariaDB, so the
largest group reads whole whatever the session's group_concat_max_len says (a server
configured lower, a connection whose session variables were reset)."""

import pytest
from django.contrib.auth.hashers import make_password
from django.db import connection, transaction

from accounts.models import User
from chat.models import GROUP_MEMBER_LIMIT, Conversation, Membership
from chat.services import send_sql

pytestmark = pytest.mark.django_db


def largest_group() -> tuple[Conversation, list[int]]:
    password = make_password(None)
    users = User.objects.bulk_create(
        User(email=f"member{n}@uni.example", first_name=f"M{n}", password=password) for n in range(GROUP_MEMBER_LIMIT)
    )
    group = Conversation.objects.create(kind=Conversation.Kind.GROUP, name="Everyone", created_by=users[0])
    Membership.objects.bulk_create(Membership(conversation=group, user=user) for user in users)
    return group, [user.pk for user in users]


@pytest.mark.parametrize("session_limit", [1024, 14])
def test_the_largest_group_reads_every_member_whatever_the_sessions_group_concat_max_len(session_limit):
    if connection.vendor != "mysql" or not connection.mysql_is_mariadb:
        pytest.skip("only MariaDB bounds JSON_ARRAYAGG by group_concat_max_len")
    group, user_ids = largest_group()
    with connection.cursor() as cursor:
        cursor.execute("SET SESSION group_concat_max_len = %s", [session_limit])
    try:
        with transaction.atomic():
            conversation, _, members = send_sql.lock_conversation(group.pk, sender_id=user_ids[-1])
            membership, member_ids, _ = send_sql.memberships_for_send(conversation, user_ids[-1], members)
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SET SESSION group_concat_max_len = 16777216")

    assert sorted(member_ids) == sorted(user_ids)
    assert membership.user_id == user_ids[-1]
