"""The live "hello" reads its counts in one statement that the ORM builds once per process and that
then runs with each socket's user id and session key as parameters (live.access). These tests
hold it to the selectors the counts come from, for several users and states, on one prepared
statement, and check that the same statement still ends a revoked credential."""

import pytest
from django.contrib.sessions.models import Session
from django.db.models import Exists, IntegerField
from django.db.models.expressions import RawSQL
from django.test import Client
from django.utils import timezone

from chat import selectors as chat_selectors
from chat import services as chat_services
from chat.tests.factories import UserFactory, befriend, direct_between, send
from live import access
from live.consumer import HELLO_COUNTS, SignedOut, _hello_hop, register_hello_count
from notifications import selectors as notification_selectors
from notifications.tests.factories import NotificationFactory
from social.models import Friendship

pytestmark = pytest.mark.django_db


def _credential(user) -> access.LiveCredential:
    client = Client()
    client.force_login(user)
    return access.session_credential(user=user, session_key=client.session.session_key)


def _hello(user, credential) -> dict:
    parts, _went_online, _audience = _hello_hop(credential, user)
    return parts


def _selectors_counts(user) -> dict:
    return {
        "unread": notification_selectors.unread_count_for_user_id(user_id=user.pk),
        "chat_unread": chat_selectors.unread_conversations_count(user=user),
    }


def _hello_counts(user, credential) -> dict:
    hello = _hello(user, credential)
    return {"unread": hello["unread"], "chat_unread": hello["chat_unread"]}


def test_the_hellos_counts_are_the_selectors_counts_for_every_user_and_state():
    # given: ada with unread direct and group conversations and notifications, bob who read
    # his and muted the group, cleo who left it, dan with an unanswered message request, eve
    # with nothing
    ada, bob, cleo, dan, eve = (UserFactory(first_name=name) for name in ("Ada", "Bob", "Cleo", "Dan", "Eve"))
    for friend in (bob, cleo):
        befriend(ada, friend)
    direct = direct_between(bob, ada)
    send(bob, direct)
    group = chat_services.create_group(owner=ada, name="Study", members=[bob, cleo])
    message = send(ada, group)
    send(cleo, group)
    chat_services.set_muted(user=bob, conversation_id=group.pk, muted=True)
    chat_services.mark_read(user=bob, conversation_id=direct.pk, seq=direct.last_seq + 1)
    chat_services.leave_group(user=cleo, conversation_id=group.pk)
    send(bob, group)
    request = chat_services.open_direct_conversation(user=ada, other=dan)
    send(ada, request)
    NotificationFactory.create_batch(3, recipient=ada)
    NotificationFactory(recipient=ada, read_at=timezone.now())
    NotificationFactory(recipient=dan)
    people = [ada, bob, cleo, dan, eve]
    credentials = {user.pk: _credential(user) for user in people}

    # when / then: every user, in turn, and again after the counts changed
    for user in people:
        assert _hello_counts(user, credentials[user.pk]) == _selectors_counts(user), user.first_name
    assert _hello_counts(ada, credentials[ada.pk]) == {"unread": 3, "chat_unread": 2}
    chat_services.mark_read(user=ada, conversation_id=group.pk, seq=message.seq + 10)
    chat_services.accept_message_request(user=dan, conversation_id=request.pk)
    NotificationFactory(recipient=eve)
    for user in reversed(people):
        assert _hello_counts(user, credentials[user.pk]) == _selectors_counts(user), user.first_name


def test_the_hello_is_one_statement(django_assert_num_queries):
    user = UserFactory()
    credential = _credential(user)
    _hello(user, credential)  # the first hello of the process may build the statement

    with django_assert_num_queries(1):
        _hello(user, credential)


def test_the_hello_signs_out_a_changed_password():
    user = UserFactory()
    credential = _credential(user)
    user.set_password("a-new-long-password")
    user.save()

    with pytest.raises(SignedOut):
        _hello(user, credential)


def test_the_hello_signs_out_an_ended_session():
    user = UserFactory()
    credential = _credential(user)
    Session.objects.filter(session_key=credential.session_key).delete()

    with pytest.raises(SignedOut):
        _hello(user, credential)


def test_the_hello_signs_out_a_deactivated_user_but_not_another_users_socket():
    user, other = UserFactory(), UserFactory()
    credential, others = _credential(user), _credential(other)
    user.is_active = False
    user.save()

    with pytest.raises(SignedOut):
        _hello(user, credential)
    assert _hello(other, others)["unread"] == 0


# --- Only integers are read raw -------------------------------------------------------------------


def test_a_hello_count_that_is_not_a_queryset_is_refused_at_registration():
    before = dict(HELLO_COUNTS)

    with pytest.raises(TypeError, match="QuerySet"):
        register_hello_count("friends", lambda user: Exists(Friendship.objects.filter(user_low_id=user.pk)))

    assert before == HELLO_COUNTS


def test_the_prepared_read_refuses_an_expression_that_is_not_an_integer():
    user = UserFactory()

    with pytest.raises(TypeError, match=r"'has_friends'.*BooleanField"):
        access.read_if_credential_holds(
            _credential(user), lambda user: {"has_friends": Exists(Friendship.objects.filter(user_low_id=user.pk))}
        )


def test_the_prepared_read_gives_ints_whatever_the_cursor_returns():
    # given: an integer expression whose raw value is a float on SQLite and a Decimal on MariaDB
    user = UserFactory()

    read = access.read_if_credential_holds(
        _credential(user), lambda user: {"two": RawSQL("2.0", (), output_field=IntegerField())}
    )

    assert read == {"two": 2}
    assert type(read["two"]) is int
