"""With REDIS_URL, presence is shared by every daphne process: two real daphne subprocesses."""

import time

import pytest
from django.test import Client

from chat.tests.factories import UserFactory, befriend
from chat.tests.wsclient import WebSocketClient
from tests.servers import daphne_server

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]

TIMEOUT = 10


def _socket(url: str, user) -> WebSocketClient:
    client = Client()
    client.force_login(user)
    host, port = url.removeprefix("http://").split(":")
    ws = WebSocketClient(
        host,
        int(port),
        "/ws/live/",
        headers={"Origin": url, "Cookie": f"sessionid={client.cookies['sessionid'].value}"},
        timeout=TIMEOUT,
    )
    assert ws.recv_json()["type"] == "hello"
    return ws


def _wait_for(ws: WebSocketClient, event_type: str) -> dict:
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        event = ws.recv_json()
        if event["type"] == event_type:
            return event
    raise AssertionError(f"no {event_type} within {TIMEOUT} s")


def test_a_friend_on_another_process_sees_me_online_then_offline(redis_url):
    ada = UserFactory(first_name="Ada", last_name="Lovelace")
    bob = UserFactory(first_name="Bob", last_name="Babbage")
    eve = UserFactory(first_name="Eve", last_name="Intruder")
    befriend(ada, bob)
    with daphne_server() as first, daphne_server() as second:
        bob_ws = _socket(first, bob)
        eve_ws = _socket(first, eve)
        try:
            bob_ws.send_json({"type": "presence.query"})
            assert _wait_for(bob_ws, "presence.state")["online"] == []
            eve_ws.send_json({"type": "presence.query"})
            assert _wait_for(eve_ws, "presence.state")["online"] == []

            ada_ws = _socket(second, ada)  # another process
            assert _wait_for(bob_ws, "presence") == {"type": "presence", "user": str(ada.public_id), "online": True}
            bob_ws.send_json({"type": "presence.query"})
            assert _wait_for(bob_ws, "presence.state")["online"] == [str(ada.public_id)]
            eve_ws.send_json({"type": "presence.query"})
            assert _wait_for(eve_ws, "presence.state")["online"] == []  # not a friend: nothing

            ada_ws.close()
            assert _wait_for(bob_ws, "presence") == {"type": "presence", "user": str(ada.public_id), "online": False}
            # Eve never got a presence event: her next frame is the answer to her own ping.
            eve_ws.send_json({"type": "ping"})
            assert eve_ws.recv_json() == {"type": "pong"}
        finally:
            bob_ws.close()
            eve_ws.close()
