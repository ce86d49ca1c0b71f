"""Who hears of a user's presence (chat.selectors.presence_audience) is read in ONE statement that
the ORM builds once per process (config.statements). These tests hold it to the plain definition
(social's friend ids, active users only, with their public ids) for several users and states."""

import pytest
from django.db import connection

from accounts.models import User
from chat import selectors as chat_selectors
from chat.tests.factories import UserFactory, befriend
from social import selectors as social_selectors
from social import services as social_services

pytestmark = pytest.mark.django_db


def _by_definition(user) -> dict:
    friends = social_selectors.friend_ids_of(user=user)
    return dict(User.objects.filter(pk__in=friends, is_active=True).values_list("pk", "public_id"))


def test_the_audience_is_the_active_friends_with_their_public_ids_in_every_state():
    # given: ada with friends on both sides of the friendship's ordered pair (created before
    # and after her), one who deactivated, one she blocked, one who blocked her, one she
    # unfriended; eve with nobody
    ada_first = UserFactory(first_name="Early")
    ada = UserFactory(first_name="Ada")
    bob, cleo, dan, fay, gus, eve = (UserFactory(first_name=n) for n in ("Bob", "Cleo", "Dan", "Fay", "Gus", "Eve"))
    for friend in (ada_first, bob, cleo, dan, fay, gus):
        befriend(ada, friend)
    befriend(bob, cleo)
    people = [ada_first, ada, bob, cleo, dan, fay, gus, eve]

    def check() -> None:
        for user in people:
            assert chat_selectors.presence_audience(user=user) == _by_definition(user), user.first_name

    check()
    assert set(chat_selectors.presence_audience(user=ada)) == {u.pk for u in (ada_first, bob, cleo, dan, fay, gus)}

    # when: the states change
    User.objects.filter(pk=cleo.pk).update(is_active=False)
    social_services.block_user(blocker=ada, blocked=dan)
    social_services.block_user(blocker=fay, blocked=ada)
    social_services.unfriend(user=ada, other=gus)

    # then
    check()
    assert set(chat_selectors.presence_audience(user=ada)) == {ada_first.pk, bob.pk}
    assert chat_selectors.presence_audience(user=eve) == {}
    assert all(type(value) is type(ada.public_id) for value in chat_selectors.presence_audience(user=ada).values())


def test_the_audience_is_one_statement_for_every_user():
    ada, bob, cleo = UserFactory(), UserFactory(), UserFactory()
    befriend(ada, bob)
    befriend(cleo, ada)
    chat_selectors.presence_audience(user=cleo)  # the statement is built (in a thread of its own)

    sent: list[str] = []

    def record(execute, sql, params, many, context):
        sent.append(sql)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(record):
        audiences = [chat_selectors.presence_audience(user=user) for user in (ada, bob, cleo)]

    assert [set(a) for a in audiences] == [{bob.pk, cleo.pk}, {ada.pk}, {ada.pk}]
    assert len(sent) == 3 and len(set(sent)) == 1  # the same statement, each user's id a parameter
