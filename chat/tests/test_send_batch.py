"""chat.services.send_messages: the live socket's sends, several in one transaction, each with
the outcome it would have had on its own (send_message)."""

import asyncio
import threading

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
    batched.MAX_WAIT_SECONDS = 60  # only the count starts a second call here, not the clock

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


def test_one_client_id_twice_in_a_batch_goes_in_arrival_order(ada, bob, cleo):
    low, high = direct_between(ada, bob), direct_between(ada, cleo)
    assert low.pk < high.pk  # the batch's lock order would put `low` first
    reused = client_id()

    results = services.send_messages([TextSend(ada, high.pk, "first", reused), TextSend(ada, low.pk, "second", reused)])

    assert results[0][0].conversation_id == high.pk and results[0][1] is True
    assert isinstance(results[1], ChatError) and results[1].code == "duplicate_client_id"


def test_a_refused_send_splits_its_batch_instead_of_sending_everything_alone(ada, bob, commits):
    pairs = [direct_between(UserFactory(), bob) for _ in range(4)]
    senders = [pair.memberships.exclude(user=bob).get().user for pair in pairs]
    commits.clear()

    results = services.send_messages(
        [TextSend(sender, pair.pk, "hi", client_id()) for sender, pair in zip(senders, pairs, strict=True)]
        + [TextSend(ada, 2**62, "nowhere", client_id())]  # sorts last: fails after the others
    )

    assert all(created for _message, created in results[:4])
    assert isinstance(results[4], Conversation.DoesNotExist)
    assert len(commits) == 1  # the four honest sends again together, not one by one


def test_an_after_commit_failure_does_not_store_a_batch_twice(ada, bob, cleo, monkeypatch):
    pair, other = direct_between(ada, bob), direct_between(cleo, bob)
    hooks = []

    def failing_hook(*args):
        hooks.append(args)
        raise RuntimeError("a hook failed after the commit")

    monkeypatch.setattr(message_services, "schedule_unread_email", failing_hook)

    results = services.send_messages(
        [TextSend(ada, pair.pk, "a", client_id()), TextSend(cleo, other.pk, "b", client_id())]
    )

    assert [created for _message, created in results] == [True, True]
    assert Message.objects.filter(conversation__in=[pair, other]).count() == 2


def test_an_unexpected_failure_of_one_send_is_that_send_s_alone(ada, bob, monkeypatch):
    from django.db import OperationalError

    pair = direct_between(ada, bob)
    stranger = UserFactory()
    real_cleaned = message_services._cleaned_send

    def cleaned(sender, *args, **kwargs):
        if sender == stranger:
            raise OperationalError("the re-read of an unconfirmed account failed")
        return real_cleaned(sender, *args, **kwargs)

    monkeypatch.setattr(message_services, "_cleaned_send", cleaned)

    results = _send_all((ada, pair, "a"), (stranger, pair, "b"), (bob, pair, "c"))

    assert isinstance(results[1], OperationalError)
    assert results[0][1] is True and results[2][1] is True


def test_a_slow_call_does_not_hold_up_the_next_items_for_long():
    release = threading.Event()

    def handle(items):
        if items == ["slow"]:
            release.wait(5)  # e.g. a lock wait on one hot conversation
        return items

    batched = Batched(handle, concurrency=lambda: 4)

    async def main():
        first = asyncio.ensure_future(batched("slow"))
        await asyncio.sleep(0.02)
        others = [asyncio.ensure_future(batched(number)) for number in range(3)]
        done, _pending = await asyncio.wait(others, timeout=2)
        release.set()
        await first
        return len(done)

    assert asyncio.run(main()) == 3


def test_an_item_whose_caller_is_gone_before_its_call_is_not_run():
    release = threading.Event()
    ran = []

    def handle(items):
        ran.extend(items)
        if "first" in items:
            release.wait(5)
        return items

    batched = Batched(handle, concurrency=lambda: 1)

    async def main():
        first = asyncio.ensure_future(batched("first"))
        await asyncio.sleep(0.02)
        queued = asyncio.ensure_future(batched("gone"))
        await asyncio.sleep(0.02)
        queued.cancel()
        release.set()
        await first
        await asyncio.sleep(0.1)

    asyncio.run(main())
    assert ran == ["first"]
