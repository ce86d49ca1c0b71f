"""One of two server processes (daphne, and again uvicorn: the same application) is stopped as a
deploy stops it (SIGTERM, then SIGKILL after a grace period), or killed outright, in the middle of
a conversation: its clients reconnect to the other process and miss nothing, and nothing shows
twice. (daphne drops its sockets without a close frame; uvicorn closes each with 1012 first.)

Ada and Cleo hold their sockets on process 1, Bob on process 2; the processes share a private
Redis and this run's database. While process 1 goes away, messages are in flight from all three
and Bob keeps sending: what Ada and Cleo could not receive live comes back through the resync
on their "hello" from process 2, and what they sent without an ack goes again with the same
client_id (stored once). Runs on SQLite (embedded) and on MariaDB.
"""

import time

import pytest

from tests.faults.processes import servers as server_processes
from tests.faults.scenario import Chat

pytestmark = pytest.mark.django_db(transaction=True)

RECOVERY_WITHIN = 10
DEPLOY_GRACE = 2  # seconds between SIGTERM and SIGKILL


@pytest.mark.parametrize("server", ["daphne", "uvicorn"])
@pytest.mark.parametrize("stop", ["deploy", "crash"])
def test_clients_of_a_stopped_server_reconnect_to_the_other_and_miss_nothing(server, stop, daphne_env, room):
    """deploy: SIGTERM, SIGKILL after DEPLOY_GRACE s if still running; crash: SIGKILL at once."""
    with server_processes(2, server, **daphne_env) as (first, second):
        servers = {"ada": [first.url, second.url], "bob": [second.url, first.url], "cleo": [first.url, second.url]}
        try:
            with Chat(room, servers) as chat:
                ada, bob, cleo = chat.clients["ada"], chat.clients["bob"], chat.clients["cleo"]
                chat.wait_online()
                chat.wait_synced_with_database()
                assert {ada.server, cleo.server, bob.server} == {first.url, second.url}

                # Given a conversation going on across both processes
                started = time.monotonic()
                chat.say_round("before 1")
                chat.say_round("before 2")
                chat.wait_converged(since=started, within=RECOVERY_WITHIN, what="before the deploy")

                # When process 1 is stopped with messages in flight from everyone ...
                chat.say_round("in flight")
                stopped = time.monotonic()
                signal_used = first.deploy_stop(grace=DEPLOY_GRACE) if stop == "deploy" else first.crash()
                # ... and Bob keeps talking while Ada and Cleo are away
                chat.say("bob", room.direct, "while you were away (direct)")
                chat.say("bob", room.group, "while you were away (group)")
                for client in (ada, cleo):
                    client.wait_until(
                        lambda c=client: len(c.hellos) >= 2 and c.hellos[-1] == second.url,
                        RECOVERY_WITHIN,
                        "reconnected to process 2",
                    )
                chat.say_round("after")

                # Then every member sees every message exactly once, in seq order
                took = chat.wait_converged(since=stopped, within=RECOVERY_WITHIN + DEPLOY_GRACE, what="after")
                chat.assert_exactly_once()
                assert len(bob.hellos) == 1, "Bob's process kept running: his socket never dropped"
                print(f"{server} 1 ended by {signal_used}; views complete {took:.2f} s after the stop began")
        except AssertionError as exc:
            raise AssertionError(
                f"{exc}\n--- {server} 1 ---\n{first.output()}\n--- {server} 2 ---\n{second.output()}"
            ) from exc
