"""The chat every multi-process and fault test plays, and what "nothing lost" means for it.

Ada, Bob and Cleo are friends; Ada and Bob share a 1-on-1 conversation and all three a group.
Each holds a `tests.clients.LiveChatClient` (the Python twin of chat.js) against real daphne
processes. `Chat.say` records every message a client sends; `Chat.wait_converged` waits until
each member's view holds every one of them, and `Chat.assert_exactly_once` then compares every
view with the database: the same messages, in seq order 1, 2, 3…, each sent message stored
once and shown once.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from django.conf import settings
from django.test import Client

from accounts.tests.factories import UserFactory
from chat import services
from chat.models import Message
from chat.tests.factories import befriend
from tests.clients import LiveChatClient

# Tests reconnect faster than live.js's 1 s floor / 30 s ceiling: same algorithm, shorter waits.
CLIENT_MIN_DELAY = 0.2
CLIENT_MAX_DELAY = 2.0


@dataclass
class Room:
    users: dict  # name -> User
    direct: int  # Ada and Bob
    group: int  # Ada, Bob and Cleo
    members: dict[int, list[str]] = field(default_factory=dict)

    def conversations_of(self, name: str) -> list[int]:
        return [cid for cid, names in self.members.items() if name in names]


def make_room() -> Room:
    ada = UserFactory(first_name="Ada", last_name="Lovelace", email="ada.faults@uni.example")
    bob = UserFactory(first_name="Bob", last_name="Babbage", email="bob.faults@uni.example")
    cleo = UserFactory(first_name="Cleo", last_name="Patra", email="cleo.faults@uni.example")
    for one, other in ((ada, bob), (ada, cleo), (bob, cleo)):
        befriend(one, other)
    direct = services.open_direct_conversation(user=ada, other=bob)
    group = services.create_group(owner=ada, name="Fault line", members=[bob, cleo])
    return Room(
        users={"ada": ada, "bob": bob, "cleo": cleo},
        direct=direct.pk,
        group=group.pk,
        members={direct.pk: ["ada", "bob"], group.pk: ["ada", "bob", "cleo"]},
    )


def session_cookie(user) -> str:
    """A real session row in the shared test database, as after a log-in."""
    client = Client()
    client.force_login(user)
    return client.cookies[settings.SESSION_COOKIE_NAME].value


@dataclass
class Sent:
    sender: str
    conversation: int
    client_id: str
    body: str


class Chat:
    """The clients of a room and every message they were asked to send."""

    def __init__(self, room: Room, servers: dict[str, list[str]], *, ssl_context=None):
        """`ssl_context`: what the clients trust for https:// servers (e.g. nginx's test CA)."""
        self.room = room
        self.sent: list[Sent] = []
        self.clients = {
            name: LiveChatClient(
                name=name,
                servers=servers[name],
                session_cookie=session_cookie(user),
                conversations=room.conversations_of(name),
                cookie_name=settings.SESSION_COOKIE_NAME,
                min_delay=CLIENT_MIN_DELAY,
                max_delay=CLIENT_MAX_DELAY,
                ssl_context=ssl_context,
            )
            for name, user in room.users.items()
        }

    def __enter__(self) -> Chat:
        for client in self.clients.values():
            client.start()
        return self

    def __exit__(self, *exc) -> None:
        for client in self.clients.values():
            client.stop()

    def say(self, name: str, conversation: int, body: str) -> Sent:
        sent = Sent(name, conversation, self.clients[name].send(conversation, body), body)
        self.sent.append(sent)
        return sent

    def say_round(self, label: str, names=("ada", "bob", "cleo")) -> None:
        """Each named member sends one message to each of their conversations, without waiting."""
        for name in names:
            for conversation in self.room.conversations_of(name):
                self.say(name, conversation, f"{label} from {name} in {conversation}")

    def wait_online(self, timeout: float = 15) -> None:
        for client in self.clients.values():
            client.wait_until(lambda c=client: c.online, timeout, "online")

    def wait_synced_with_database(self, timeout: float = 10) -> None:
        """Each view holds what the database has now (e.g. the group's "created" line)."""
        for conversation, names in self.room.members.items():
            last = Message.objects.filter(conversation_id=conversation).count()
            for name in names:
                client = self.clients[name]
                client.wait_until(
                    lambda c=client, cid=conversation, n=last: len(c.view(cid)) >= n, timeout, "initial sync"
                )

    # --- "nothing lost, nothing twice" -----------------------------------------------------

    def _complete(self) -> bool:
        for client in self.clients.values():
            if client.pending():
                return False
        for conversation, names in self.room.members.items():
            wanted = {s.client_id for s in self.sent if s.conversation == conversation}
            first = None
            for name in names:
                view = self.clients[name].view(conversation)
                ids = [m["id"] for m in view]
                if [m["seq"] for m in view] != list(range(1, len(view) + 1)):
                    return False
                if not wanted <= {m["client_id"] for m in view}:
                    return False
                if first is None:
                    first = ids
                elif ids != first:
                    return False
        return True

    def wait_converged(self, *, since: float, within: float, what: str) -> float:
        """Wait until every member's view holds every sent message; returns the seconds it
        took counted from `since` (a time.monotonic()), failing past `within`."""
        deadline = since + within
        while not self._complete():
            if time.monotonic() > deadline:
                state = "\n".join(client.describe() for client in self.clients.values())
                raise AssertionError(f"{what}: views not complete within {within} s of the reference point\n{state}")
            time.sleep(0.05)
        return time.monotonic() - since

    def assert_exactly_once(self) -> None:
        for client in self.clients.values():
            assert not client.failed, f"{client.name}: sends refused for good: {list(client.failed.values())}"
        for conversation, names in self.room.members.items():
            stored = list(Message.objects.filter(conversation_id=conversation).order_by("seq"))
            assert [m.seq for m in stored] == list(range(1, len(stored) + 1)), "seqs must be 1..N without gaps"
            sent = [s for s in self.sent if s.conversation == conversation]
            by_client_id = {}
            for message in stored:
                if message.client_id:
                    assert message.client_id not in by_client_id, f"client_id {message.client_id} stored twice"
                    by_client_id[message.client_id] = message
            texts = [m for m in stored if m.kind == Message.Kind.TEXT]
            assert len(texts) == len(sent), f"{len(sent)} messages sent, {len(texts)} stored in {conversation}"
            for s in sent:
                message = by_client_id.get(s.client_id)
                assert message is not None, f"{s.sender}'s {s.body!r} was never stored"
                assert message.body == s.body
                assert message.sender_id == self.room.users[s.sender].pk
            stored_ids = [m.pk for m in stored]
            for name in names:
                view = self.clients[name].view(conversation)
                assert [m["id"] for m in view] == stored_ids, f"{name}'s view of {conversation} differs from the DB"
                bodies = [m["body"] for m in view]
                assert len(bodies) == len(set(bodies)), f"{name} shows a message twice in {conversation}"
