"""One timestamp format in every answer a client reads: the API's serializers, the API's
hand-built payloads and the socket's frames all write UTC ISO 8601 ending in `Z`, whatever
zone the reader lives in (issue 13, "one timestamp format")."""

import re
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from django.test import Client
from django.utils import timezone

from accounts.tests.factories import UserFactory
from chat.tests.factories import client_id, direct_between
from config.timezones import api_timestamp
from tests.security.live_sockets import next_frame, socket_of

ISO_Z = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{6})?Z$")
KEYS = {"created_at", "edited_at", "joined_at", "last_message_at", "date_joined", "read_at", "updated_at"}


def _timestamps(value, path=""):
    if isinstance(value, dict):
        for key, child in value.items():
            if key in KEYS and child is not None:
                yield f"{path}.{key}", child
            yield from _timestamps(child, f"{path}.{key}")
    elif isinstance(value, list):
        for index, child in enumerate(value):
            yield from _timestamps(child, f"{path}[{index}]")


def test_api_timestamp_is_utc_with_z_in_any_active_zone():
    moment = datetime(2026, 3, 29, 1, 30, tzinfo=UTC)
    with timezone.override(ZoneInfo("Asia/Tokyo")):
        assert api_timestamp(moment) == "2026-03-29T01:30:00Z"
    assert api_timestamp(moment.astimezone(ZoneInfo("America/Los_Angeles"))) == "2026-03-29T01:30:00Z"
    assert api_timestamp(None) is None


@pytest.mark.django_db
def test_every_timestamp_the_api_answers_a_user_in_tokyo_ends_in_z():
    ada = UserFactory(time_zone="Asia/Tokyo")
    bob = UserFactory(time_zone="America/Los_Angeles")
    conversation = direct_between(ada, bob)
    browser = Client()
    browser.force_login(ada)
    sent = browser.post(
        f"/api/v1/chat/conversations/{conversation.pk}/messages/",
        {"body": "hi", "client_id": client_id()},
        content_type="application/json",
    )
    assert sent.status_code == 201, sent.content

    answers = [sent.json()]
    messages = f"/api/v1/chat/conversations/{conversation.pk}/messages/"
    for path in ["/api/v1/chat/conversations/", messages, "/api/v1/me/"]:
        answers.append(browser.get(path).json())
    bob_browser = Client()
    bob_browser.force_login(bob)
    answers.append(bob_browser.get("/api/v1/notifications/").json())

    found = [(where, text) for answer in answers for where, text in _timestamps(answer)]
    assert {where.rsplit(".", 1)[-1] for where, _ in found} >= {"created_at", "last_message_at", "date_joined"}
    assert [(where, text) for where, text in found if not ISO_Z.match(text)] == []


@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
async def test_a_live_message_frame_writes_its_times_as_the_api_does():
    from channels.db import database_sync_to_async

    ada, bob = await database_sync_to_async(lambda: (UserFactory(), UserFactory()))()
    conversation = await database_sync_to_async(direct_between)(ada, bob)
    ws = await socket_of(bob)
    try:
        sender = await socket_of(ada)
        await sender.send_json_to(
            {"type": "message.send", "conversation": conversation.pk, "body": "hi", "client_id": client_id()}
        )
        frame = await next_frame(ws)
        while frame.get("type") != "message.new":
            frame = await next_frame(ws)
        await sender.disconnect()
    finally:
        await ws.disconnect()

    found = list(_timestamps(frame))
    assert found
    assert [(where, text) for where, text in found if not ISO_Z.match(text)] == []
