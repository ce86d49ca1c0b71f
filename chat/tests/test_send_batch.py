"""chat.services.send_messages: the live socket's sends, several in one transaction, each with
the outcome it would have had on its own (send_message)."""

import asyncio

import pytest
from django.db import connection

from chat import services
from chat.models import Conversation, Message
from chat.services import ChatError, TextSend
from chat.services import messages as message_services
from chat.tests.factories import UserFactory, befriend, client_id, direct_between, send
from live.db import Batched
from social.models import Block

pytestmark = pytest.mark.django_db(transaction=True)


def _group(owner, *members, name="Study group"):
    for member in members:
        befriend(owner, member)
    return services.create_group(owner=owner, name=name, members=members)


def _send_all(*sends):
    """send_messages of (sender, conversation, body) triples, each with a new client_id."""
    return services.send_messages(
        [TextSend(sender, conversation.pk, body, client_id()) for sender, conversation, body in sends]
    )


@pytest.fixture
def commits(monkeypatch):
    """The COMMITs the database ran (execute_wrapper does not see them: they are a connection
    call), counted at Django's public commit door."""
    counted = []
    real_commit = connection.commit

    def commit():
        counted.append(1)
        real_commit()

    monkeypatch.setattr(connection, "commit", commit)
    return counted


def test_a_batch_stores_every_send_in_one_transaction(ada, bob, cleo, commits):
    pair = direct_between(ada, bob)
    group = _group(ada, bob, cleo)
    commits.clear()

    results = _send_all((ada, pair, "one"), (bob, group, "two"), (cleo, group, "three"), (bob, pair, "four"))

    assert [(message.body, created) for message, created in results] == [
        ("one", True),
        ("two", True),
        ("three", True),
        ("four", True),
    ]
    assert len(commits) == 1
    # Each conversation's sends keep their order in the batch.
    assert list(Message.objects.filter(conversation=pair).order_by("seq").values_list("seq", "body")) == [
        (1, "one"),
        (2, "four"),
    ]
    assert list(
        Message.objects.filter(conversation=group, kind=Message.Kind.TEXT)
        .order_by("seq")
        .values_list("body", flat=True)
    ) == ["two", "three"]
    assert Conversation.objects.get(pk=pair.pk).last_seq == 2


def test_a_refused_send_does_not_cost_the_others_their_message(ada, bob, cleo):
    pair = direct_between(ada, bob)
    stranger = UserFactory()
    cleo_and_bob = direct_between(cleo, bob)
    Block.objects.create(blocker=bob, blocked=cleo)

    results = _send_all(
        (ada, pair, "kept"), (stranger, pair, "not a member"), (cleo, cleo_and_bob, "blocked"), (bob, pair, "kept too")
    )

    assert results[0][0].body == "kept" and results[3][0].body == "kept too"
    assert isinstance(results[1], Conversation.DoesNotExist)
    assert isinstance(results[2], ChatError) and results[2].code == "blocked"
    assert list(Message.objects.filter(conversation=pair).order_by("seq").values_list("seq", "body")) == [
        (1, "kept"),
        (2, "kept too"),
    ]
    assert not Message.objects.filter(conversation=cleo_and_bob).exists()


def test_a_retried_client_id_is_answered_with_the_stored_message_in_a_batch(ada, bob):
    pair = direct_between(ada, bob)
    stored = send(ada, pair, "first", cid="retry-0001")
    again = client_id()

    results = services.send_messages(
        [
            TextSend(ada, pair.pk, "first", "retry-0001"),
            TextSend(bob, pair.pk, "new", again),
            TextSend(bob, pair.pk, "new", again),  # the same send twice in one batch
        ]
    )

    assert results[0] == (stored, False)
    message, created = results[1]
    assert created is True and message.body == "new"
    assert results[2] == (message, False)
    assert Message.objects.filter(conversation=pair).count() == 2


def test_each_send_of_a_batch_counts_once_against_its_rate(ada, bob, settings):
    settings.CHAT_SEND_RATE = (2, 60)
    pair = direct_between(ada, bob)

    results = services.send_messages(
        [
            TextSend(ada, pair.pk, "one", client_id()),
            TextSend(ada, 0, "no such conversation", client_id()),  # refused, falls back: counted once
            TextSend(ada, pair.pk, "three", client_id()),
        ]
    )

    assert results[0][1] is True
    assert isinstance(results[1], Conversation.DoesNotExist)
    assert isinstance(results[2], ChatError) and results[2].code == "rate_limited"
    assert list(Message.objects.filter(conversation=pair).values_list("body", flat=True)) == ["one"]


def test_input_refusals_are_the_same_as_a_single_send(ada, bob):
    pair = direct_between(ada, bob)

    results = services.send_messages(
        [
            TextSend(ada, pair.pk, "", client_id()),
            TextSend(ada, pair.pk, "ok", "x" * 65),
            TextSend(ada, "7", "ok", None),
        ]
    )

    for result in results:
        assert isinstance(result, ChatError)
    with pytest.raises(ChatError) as alone:
        services.send_message(sender=ada, conversation_id=pair.pk, body="", client_id=client_id())
    assert results[0].code == alone.value.code
    assert not Message.objects.filter(conversation=pair).exists()


def test_a_batch_that_fails_inside_its_transaction_is_sent_again_send_by_send(ada, bob, monkeypatch):
    pair = direct_between(ada, bob)
    real_store = message_services._store
    failures = []

    def store_failing_once(*args):
        if not failures:
            failures.append(1)
            real_store(*args)  # written, then the transaction fails: rolled back
            raise RuntimeError("lost connection")
        return real_store(*args)

    monkeypatch.setattr(message_services, "_store", store_failing_once)

    results = services.send_messages(
        [TextSend(ada, pair.pk, "a", client_id()), TextSend(bob, pair.pk, "b", client_id())]
    )

    assert [(message.seq, message.body, created) for message, created in results] == [(1, "a", True), (2, "b", True)]
    assert Message.objects.filter(conversation=pair).count() == 2


def test_batched_calls_gather_while_one_is_on_the_pool():
    calls = []

    def handle(items):
        calls.append(list(items))
        return [ValueError(item) if item == "bad" else item.upper() for item in items]

    batched = Batched(handle, concurrency=lambda: 1)

    async def main():
        return await asyncio.gather(*(batched(item) for item in ["a", "b", "bad", "c"]), return_exceptions=True)

    results = asyncio.run(main())

    assert results[:2] == ["A", "B"] and results[3] == "C"
    assert isinstance(results[2], ValueError)
    assert calls[0] == ["a"]  # the first goes out at once
    assert calls[1] == ["b", "bad", "c"]  # the others waited for it, together


def test_a_second_batch_starts_only_once_half_a_batch_waits():
    started = []

    def handle(items):
        started.append(len(items))
        return items

    batched = Batched(handle, concurrency=lambda: 2, max_items=4)

    async def main():
        return await asyncio.gather(*(batched(item) for item in range(7)))

    assert asyncio.run(main()) == list(range(7))
    # 0 alone at once; 1 waits (one is running, fewer than 2 wait); 2 makes two waiting: the
    # second call takes 1 and 2; the rest gather behind them.
    assert started[:2] == [1, 2]
    assert sum(started) == 7 and max(started) <= 4


def test_a_batched_function_that_fails_or_miscounts_answers_every_caller():
    def failing(items):
        raise ValueError("database gone")

    def short(items):
        return items[:-1]

    async def main(batched):
        return await asyncio.gather(*(batched(item) for item in range(3)), return_exceptions=True)

    failed = asyncio.run(main(Batched(failing, concurrency=lambda: 1)))
    miscounted = asyncio.run(main(Batched(short, concurrency=lambda: 1)))

    assert all(isinstance(result, ValueError) for result in failed)
    assert all(isinstance(result, RuntimeError) for result in miscounted)
