"""Frames and API bodies that used to kill a socket with 1011 or answer 500 (issue 12, item 5):
the input gate (config.inputs) answers each with an error frame / a 400 with `errors`."""

import json

import pytest
from channels.db import database_sync_to_async
from rest_framework.test import APIClient

from accounts.tests.factories import DEFAULT_PASSWORD, UserFactory
from chat.models import Message
from chat.tests.factories import client_id, direct_between
from live import consumer as live_consumer
from tests.security.live_sockets import TIMEOUT, next_frame, socket_of

DEEP = "[" * 30_000 + "]" * 30_000


@pytest.fixture
def pair(transactional_db):
    ada = UserFactory(first_name="Ada", last_name="Lovelace")
    bob = UserFactory(first_name="Bob", last_name="Babbage")
    return ada, bob, direct_between(ada, bob)


async def _still_open(ws) -> None:
    await ws.send_json_to({"type": "ping"})
    assert await next_frame(ws) == {"type": "pong"}


@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("frame", "code"),
    [
        (json.dumps({"type": "typing", "conversation": "²"}), "invalid_conversation"),
        (json.dumps({"type": "read", "conversation": "٣", "seq": 1}), "invalid_conversation"),
        (json.dumps({"type": "resync", "conversations": {"²": 0}}), "invalid_conversation"),
        (DEEP, "too_deep"),
        ('{"type": "ping", "x": ' + "[" * 40 + "]" * 40 + "}", "too_deep"),
        ('{"type": "message.send", "conversation": 1, "body": "\\ud800", "client_id": "abcdefgh1"}', "invalid_text"),
        ('{"type": "ping\\udfff"}', "invalid_text"),
        ('{"type": "read", "conversation": 1, "seq": NaN}', "malformed_json"),
    ],
    ids=["superscript-two", "arabic-three", "resync-key", "30000-deep", "41-deep", "lone-surrogate", "in-type", "nan"],
)
async def test_a_frame_the_gate_refuses_gets_an_error_frame_counts_as_bad_and_the_socket_stays_open(pair, frame, code):
    ada, _bob, _conversation = pair
    ws = await socket_of(ada)
    try:
        await ws.send_to(text_data=frame)

        error = await next_frame(ws)
        assert error["type"] == "error"
        assert error["code"] == code
        assert error["detail"]
        await _still_open(ws)
    finally:
        await ws.disconnect()


@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
async def test_refused_frames_count_toward_the_bad_frame_limit(pair):
    ada, _bob, _conversation = pair
    ws = await socket_of(ada)

    for _ in range(live_consumer.BAD_FRAME_LIMIT):
        await ws.send_to(text_data=json.dumps({"type": "typing", "conversation": "²"}))
    for _ in range(live_consumer.BAD_FRAME_LIMIT):
        assert (await ws.receive_json_from(timeout=TIMEOUT))["code"] == "invalid_conversation"

    closing = await ws.receive_output(timeout=TIMEOUT)
    assert closing == {"type": "websocket.close", "code": live_consumer.CLOSE_TOO_MANY_BAD_FRAMES}


@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
async def test_a_message_with_a_lone_surrogate_is_refused_and_nothing_is_stored(pair):
    ada, _bob, conversation = pair
    ws = await socket_of(ada)
    try:
        # json.dumps would escape the surrogate too; the frame is written out to show what goes.
        frame = json.dumps({"type": "message.send", "conversation": conversation.pk, "client_id": client_id()})
        await ws.send_to(text_data=frame[:-1] + ', "body": "hi \\ud800"}')

        assert (await next_frame(ws))["code"] == "invalid_text"
        assert await database_sync_to_async(Message.objects.filter(conversation=conversation).count)() == 0
    finally:
        await ws.disconnect()


# --- The API ----------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    "path", ["/api/v1/auth/token/", "/api/v1/auth/token/refresh/", "/api/v1/auth/logout/", "/api/v1/auth/register/"]
)
@pytest.mark.parametrize(
    "body",
    [DEEP, '{"email": ' + "[" * 40 + "]" * 40 + "}", '{"email": "\\ud800@x.example", "password": "x"}'],
    ids=["30000-deep", "41-deep", "lone-surrogate"],
)
def test_an_anonymous_body_the_gate_refuses_is_a_400_with_errors(path, body):
    response = APIClient().post(path, data=body, content_type="application/json")

    assert response.status_code == 400
    assert response["Content-Type"].startswith("application/json")
    payload = response.json()
    assert payload["detail"]
    assert payload["errors"]


@pytest.mark.django_db
def test_a_signed_in_body_the_gate_refuses_is_a_400_and_changes_nothing():
    ada = UserFactory(first_name="Ada")
    api = APIClient()
    api.force_authenticate(ada)

    response = api.patch("/api/v1/me/", data='{"first_name": "\\ud800"}', content_type="application/json")

    assert response.status_code == 400
    assert response.json()["errors"]
    ada.refresh_from_db()
    assert ada.first_name == "Ada"


@pytest.mark.django_db
def test_a_json_body_past_the_upload_limit_is_a_400(settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000

    response = APIClient().post(
        "/api/v1/auth/token/",
        data=json.dumps({"email": "a@b.example", "password": "x" * 2000}),
        content_type="application/json",
    )

    assert response.status_code == 400
    assert response.json()["errors"]


@pytest.mark.django_db
def test_an_ordinary_json_body_still_works():
    UserFactory(email="ada@uni.example")

    response = APIClient().post(
        "/api/v1/auth/token/",
        data=json.dumps({"email": "ada@uni.example", "password": DEFAULT_PASSWORD}),
        content_type="application/json",
    )

    assert response.status_code == 200, response.content
    assert response.json()["access"]


@pytest.mark.django_db
@pytest.mark.parametrize("notification_id", ["²", "٣", str(2**64)])
def test_a_notification_id_in_another_script_is_a_404_not_a_500(notification_id):
    api = APIClient()
    api.force_authenticate(UserFactory())

    response = api.post(f"/api/v1/notifications/{notification_id}/read/")

    assert response.status_code == 404


@pytest.mark.django_db
@pytest.mark.parametrize("body", ["null", "[]", '["email"]', "1", '"email"', "true"])
@pytest.mark.parametrize(
    ("method", "path"),
    [("patch", "/api/v1/me/"), ("post", "/api/v1/experts/me/"), ("post", "/api/v1/auth/token/")],
)
def test_a_body_that_is_not_an_object_is_a_400_and_changes_nothing(method, path, body):
    ada = UserFactory(first_name="Ada")
    api = APIClient()
    api.force_authenticate(ada)

    response = getattr(api, method)(path, data=body, content_type="application/json")

    assert response.status_code == 400, response.content
    payload = response.json()
    assert payload["detail"] == "JSON parse error - The body must be a JSON object of fields."
    assert payload["errors"]
    ada.refresh_from_db()
    assert ada.first_name == "Ada"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/api/v1/experts/me/", {"headline": "Maths", "bio": "Proofs", "categories": [2**64]}),
        ("/api/v1/help/requests/", {"category": 2**64, "title": "Help", "description": "Please"}),
    ],
    ids=["expert-categories", "help-category"],
)
def test_an_id_past_the_largest_database_id_is_a_field_error_not_a_500(path, body):
    api = APIClient()
    api.force_authenticate(UserFactory())

    response = api.post(path, data=body, format="json")

    assert response.status_code == 400, response.content
    assert response.json()["errors"]


@pytest.mark.django_db
def test_a_page_past_the_largest_integer_is_a_404():
    api = APIClient()
    api.force_authenticate(UserFactory())

    response = api.get("/api/v1/notifications/", {"page": str(2**64)})

    assert response.status_code == 404
    assert response.json()["detail"]
