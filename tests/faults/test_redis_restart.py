"""Redis dies mid-conversation and comes back empty: nothing sent before, during or after is
lost, and nothing shows twice.

Two daphne processes use a private redis-server (channel layer and cache). Ada and Cleo hold
their sockets on daphne 1, Bob on daphne 2. Redis is SIGKILLed and started again on the same
port with nothing in it (no persistence): group subscriptions and the rate-limit counters are
gone. A send during the outage is either acked (stored) or refused (error frame or closed
socket); the client then keeps it in its outbox and resends it after reconnecting, as chat.js
does. Within 10 s of Redis answering again, every member's view holds every message once, in
seq order, exactly as the database has them. Runs on SQLite (embedded) and on MariaDB.
"""

import time

import pytest
import redis

from tests.faults.processes import daphnes
from tests.faults.scenario import Chat

pytestmark = pytest.mark.django_db(transaction=True)

RECOVERY_WITHIN = 10


def test_every_message_survives_a_redis_restart_mid_conversation(private_redis, daphne_env, room):
    with daphnes(2, **daphne_env) as (first, second):
        servers = {"ada": [first.url, second.url], "bob": [second.url, first.url], "cleo": [first.url, second.url]}
        try:
            with Chat(room, servers) as chat:
                cleo = chat.clients["cleo"]
                chat.wait_online()
                chat.wait_synced_with_database()

                # Given a conversation going on across both processes
                started = time.monotonic()
                chat.say_round("before 1")
                chat.say_round("before 2")
                chat.wait_converged(since=started, within=RECOVERY_WITHIN, what="before the outage")

                # When Redis dies, and Ada and Bob keep sending while Cleo only reads
                senders = {name: chat.clients[name] for name in ("ada", "bob")}
                drops = {name: client.disconnects for name, client in senders.items()}
                refused = {name: client.connect_failures for name, client in senders.items()}
                private_redis.kill()
                during = [
                    chat.say(name, conversation, f"during from {name} in {conversation}")
                    for name in senders
                    for conversation in room.conversations_of(name)
                ]
                # Each send during the outage is acked (stored) or refused by an error frame or a
                # closed socket; a dropped client meets the outage again when it reconnects.
                for sent in during:
                    client = senders[sent.sender]
                    client.wait_until(
                        lambda c=client, s=sent: (
                            s.client_id in c.acks
                            or any(e.get("client_id") == s.client_id for e in c.errors)
                            or c.disconnects > drops[s.sender]
                        ),
                        20,
                        f"{sent.body!r} acked or refused",
                    )
                for name, client in senders.items():
                    if client.disconnects > drops[name]:
                        client.wait_until(
                            lambda c=client, r=refused[name]: c.connect_failures > r, 20, "a reconnect refused"
                        )
                assert cleo.online, "a reader's socket stays open through the outage"
                recovered = private_redis.start()
                chat.say_round("after")

                # Then within 10 s of recovery every member sees every message exactly once
                took = chat.wait_converged(since=recovered, within=RECOVERY_WITHIN, what="after recovery")
                chat.assert_exactly_once()
                print(
                    f"converged {took:.2f} s after Redis came back; hellos: "
                    f"{ {n: len(c.hellos) for n, c in chat.clients.items()} }"
                )
        except AssertionError as exc:
            raise AssertionError(
                f"{exc}\n--- daphne 1 ---\n{first.output()}\n--- daphne 2 ---\n{second.output()}"
            ) from exc


def test_a_member_who_kept_the_socket_open_gets_the_first_message_after_redis_returns(private_redis, daphne_env, room):
    """The quiet case: nobody sends during the outage, so no socket drops. After Redis is back
    and both processes have subscribed their users' groups again, each tells its sockets to
    catch up (a second "hello" on the same socket: live.layer's RESUBSCRIBED), and Bob
    sends one message: Ada and Cleo, connected all along, must still get it live."""
    with daphnes(2, **daphne_env) as (first, second):
        servers = {"ada": [first.url], "bob": [second.url], "cleo": [first.url]}
        try:
            with Chat(room, servers) as chat:
                ada, cleo = chat.clients["ada"], chat.clients["cleo"]
                chat.wait_online()
                chat.wait_synced_with_database()
                started = time.monotonic()
                chat.say_round("before")
                chat.wait_converged(since=started, within=RECOVERY_WITHIN, what="before the outage")

                # Given Redis died and came back, and every user's group is subscribed again
                private_redis.kill()
                recovered = private_redis.start()
                _wait_subscribed(private_redis.url, daphne_env["REDIS_KEY_PREFIX"], room.users.values())
                assert ada.online and cleo.online and ada.disconnects == cleo.disconnects == 0
                for client in (ada, cleo):  # the same socket, told to catch up
                    client.wait_until(lambda c=client: len(c.hellos) == 2, RECOVERY_WITHIN, "a catch-up hello")
                assert ada.disconnects == cleo.disconnects == 0

                # When Bob (on the other process) sends one message to the group
                chat.say("bob", room.group, "first words after the outage")

                # Then Ada and Cleo see it within 10 s of recovery, once
                chat.wait_converged(since=recovered, within=RECOVERY_WITHIN, what="after recovery")
                chat.assert_exactly_once()
        except AssertionError as exc:
            raise AssertionError(
                f"{exc}\n--- daphne 1 ---\n{first.output()}\n--- daphne 2 ---\n{second.output()}"
            ) from exc


def _wait_subscribed(url: str, prefix: str, users, timeout: float = RECOVERY_WITHIN, processes: int = 2) -> None:
    """Until the restarted Redis has every server process subscribed to the live layer's
    fan-out channel again (live.layer: one subscriber connection per process; the
    users' groups are kept by each process itself)."""
    from live.layer import FANOUT_CHANNEL

    channel = f"{prefix}{FANOUT_CHANNEL}"
    client = redis.Redis.from_url(url, socket_timeout=2)
    deadline = time.monotonic() + timeout
    try:
        while True:
            counts = dict(client.pubsub_numsub(channel))
            if counts.get(channel.encode(), 0) >= processes:
                return
            if time.monotonic() > deadline:
                raise AssertionError(f"fan-out not re-subscribed by {processes} processes within {timeout} s: {counts}")
            time.sleep(0.05)
    finally:
        client.close()
