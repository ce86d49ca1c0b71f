"""The one door for live pushes after a write: live.push.push_on_commit.

(a) a rolled-back transaction pushes nothing; (b) an event for N users is ONE publish on the
layer (the help desk's queue push for every eligible expert included). That no module but the
door hands a push to transaction.on_commit is tests/test_live_package.py's rule.
"""

import pytest
from channels.layers import InMemoryChannelLayer
from django.db import transaction

from helpdesk.tests.factories import submit
from live.push import push_on_commit

PUBLISHES: list[tuple[list[str], dict]] = []


class CountingLayer(InMemoryChannelLayer):
    """Our test double of live.layer's fan-out: records each one-publish call."""

    def group_send_many_sync(self, groups, message) -> None:
        PUBLISHES.append((list(groups), message))


def test_a_rolled_back_transaction_pushes_nothing(db, counting_layer, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(RuntimeError), transaction.atomic():
        push_on_commit([1, 2], {"type": "probe"})
        raise RuntimeError("the write failed")
    assert counting_layer == []


def test_an_event_for_many_users_is_one_publish(db, counting_layer, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        push_on_commit([3, 1, 2, 1], {"type": "probe"})
        assert counting_layer == []  # not before commit
    assert len(counting_layer) == 1
    groups, message = counting_layer[0]
    assert groups == ["user.3", "user.1", "user.2"]  # each user once
    assert message["event"] == {"type": "probe"}


def test_the_help_desk_queue_push_is_one_publish_for_every_expert(
    ada, category, make_expert, counting_layer, django_capture_on_commit_callbacks
):
    experts = [make_expert(first_name=f"Expert{n}") for n in range(5)]
    with django_capture_on_commit_callbacks(execute=True):
        submit(ada, category)
    added = [
        (groups, message) for groups, message in counting_layer if message["event"]["type"] == "helpdesk.queue.added"
    ]
    assert len(added) == 1
    assert sorted(added[0][0]) == sorted(f"user.{expert.pk}" for expert in experts)
