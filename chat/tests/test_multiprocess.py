"""Two daphne processes on the machine's Redis: a user on one and a user on the other chat,
1-on-1 and in a group, and nothing is lost either way, nothing shows twice, all in seq order.

Ada and Cleo hold their live sockets on daphne 1, Bob on daphne 2; both processes share this
run's test database and Redis key prefix. The clients are `tests.clients.LiveChatClient`, the
Python twin of chat.js (acks, dedup by id, resync on gaps and reconnects).
"""

import time

import pytest

from tests.faults.processes import daphnes
from tests.faults.scenario import Chat, make_room

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]

DELIVERY_TIMEOUT = 10


def test_users_on_two_daphne_processes_chat_without_losing_a_message(redis_url):
    # Given Ada and Cleo on daphne 1 and Bob on daphne 2, all online and caught up
    room = make_room()
    with daphnes(2) as (first, second):
        servers = {"ada": [first.url], "bob": [second.url], "cleo": [first.url]}
        try:
            with Chat(room, servers) as chat:
                chat.wait_online()
                chat.wait_synced_with_database()
                ada, bob, cleo = chat.clients["ada"], chat.clients["bob"], chat.clients["cleo"]

                # When they take turns, each message crosses from one process to the other
                for turn in range(3):
                    for speaker, listeners in (("ada", ("bob",)), ("bob", ("ada",))):
                        sent = chat.say(speaker, room.direct, f"direct turn {turn} from {speaker}")
                        for listener in listeners:
                            _wait_shown(chat.clients[listener], sent)
                    for speaker, listeners in (("ada", ("bob", "cleo")), ("bob", ("ada", "cleo"))):
                        sent = chat.say(speaker, room.group, f"group turn {turn} from {speaker}")
                        for listener in listeners:
                            _wait_shown(chat.clients[listener], sent)

                # Then each arrived as a live push from the other process, not through a resync
                for sent in chat.sent:
                    for name in room.members[sent.conversation]:
                        if name != sent.sender:
                            source = _source_of(chat.clients[name], sent)
                            assert source == "push", f"{name} got {sent.body!r} by {source}"

                # When all three send at once, on both processes
                started = time.monotonic()
                for burst in range(3):
                    chat.say_round(f"burst {burst}")

                # Then every member sees every message once, in seq order, as stored
                chat.wait_converged(since=started, within=DELIVERY_TIMEOUT, what="burst")
                chat.assert_exactly_once()
                assert [len(c.hellos) for c in (ada, bob, cleo)] == [1, 1, 1], "no socket had to reconnect"
        except AssertionError as exc:
            raise AssertionError(
                f"{exc}\n--- daphne 1 ---\n{first.output()}\n--- daphne 2 ---\n{second.output()}"
            ) from exc


def _wait_shown(client, sent) -> None:
    client.wait_until(
        lambda: any(m["client_id"] == sent.client_id for m in client.view(sent.conversation)),
        DELIVERY_TIMEOUT,
        f"{sent.body!r} shown",
    )


def _source_of(client, sent) -> str:
    view = client.views[sent.conversation]
    for message_id, message in view.messages.items():
        if message["client_id"] == sent.client_id:
            return view.sources[message_id]
    return "missing"
