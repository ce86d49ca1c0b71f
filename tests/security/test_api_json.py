"""Every answer under /api/ is JSON, and every refusal has the documented shape: `detail`,
`code` always, and `errors` on every 400 with `error_codes` beside it (a code per message)."""

import pytest
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from accounts.tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def signed_in() -> APIClient:
    api = APIClient()
    api.force_authenticate(UserFactory())
    return api


def assert_json_error(answer, status_code: int) -> dict:
    assert answer.status_code == status_code, answer.content[:300]
    assert answer["Content-Type"].startswith("application/json"), answer["Content-Type"]
    body = answer.json()
    assert isinstance(body["detail"], str) and body["detail"]
    assert isinstance(body["code"], str) and body["code"]
    if "errors" in body:
        assert {field: len(messages) for field, messages in body["errors"].items()} == {
            field: len(codes) for field, codes in body["error_codes"].items()
        }
        assert all(isinstance(code, str) and code for codes in body["error_codes"].values() for code in codes)
    if status_code == 400:
        assert isinstance(body["errors"], dict) and body["errors"]
        assert all(
            isinstance(messages, list) and all(isinstance(m, str) for m in messages)
            for messages in body["errors"].values()
        )
    return body


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/chat/conversations/abc/",  # a value that does not fit <id:pk>
        "/api/v1/help/requests/not-a-uuid/",  # nor <uuid:public_id>
        "/api/v1/notifications/²/read/",
        "/api/v1/no-such-thing/",
        "/api/",
        "/api/v2/me/",
    ],
)
@pytest.mark.parametrize("who", ["anonymous", "signed-in"])
def test_a_path_that_matches_no_route_is_a_json_404(path, who):
    api = signed_in() if who == "signed-in" else APIClient()
    assert_json_error(api.get(path), 404)
    assert_json_error(api.post(path, {}, format="json"), 404)


def test_an_html_page_that_is_not_found_is_still_html(client):
    answer = client.get("/chat/abc/")
    assert answer.status_code == 404 and answer["Content-Type"].startswith("text/html")


def test_a_browser_asking_for_html_gets_json_from_the_api():
    api = signed_in()
    answer = api.get(reverse("api:me"), HTTP_ACCEPT="text/html,application/xhtml+xml,*/*;q=0.8")
    assert answer.status_code == 200 and answer["Content-Type"].startswith("application/json")


def test_a_body_too_large_for_django_is_a_json_400(settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    answer = signed_in().patch(reverse("api:me"), {"bio": "x" * 5000}, format="json")
    assert_json_error(answer, 400)


def test_an_unhandled_error_is_a_json_500(monkeypatch):
    from accounts import api as accounts_api

    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(accounts_api.MeView, "get", broken)
    client = Client(raise_request_exception=False)
    client.force_login(UserFactory())
    answer = client.get(reverse("api:me"))
    assert answer.status_code == 500 and answer.json() == {"detail": "Internal Server Error.", "code": "server_error"}


def test_malformed_json_is_a_400_with_errors():
    answer = signed_in().generic("PATCH", reverse("api:me"), "{not json", content_type="application/json")
    body = assert_json_error(answer, 400)
    assert body["errors"] == {"non_field_errors": [body["detail"]]}


def test_a_refusal_a_view_answers_itself_carries_errors():
    # the avatar view answers a missing file itself, not through a serializer
    answer = signed_in().post(reverse("api:me_avatar"), {}, format="multipart")
    assert_json_error(answer, 400)


def test_a_field_error_lists_the_field():
    answer = signed_in().post(reverse("api:chat-conversations"), {"members": "nope"}, format="json")
    body = assert_json_error(answer, 400)
    assert {"name", "members"} <= set(body["errors"])


def test_a_rule_refusal_keeps_its_code_and_gains_errors():
    answer = signed_in().post(reverse("api:chat-messages", args=[1]), {"body": "hi", "client_id": "x"}, format="json")
    body = assert_json_error(answer, 400)
    assert body["code"] == "invalid_client_id"


def test_a_validation_error_from_a_service_without_fields_has_a_string_detail():
    from config.api import error_body

    body = error_body({"detail": ["One.", "Two."]}, 400)
    assert body == {
        "detail": "One. Two.",
        "code": "invalid",
        "errors": {"non_field_errors": ["One. Two."]},
        "error_codes": {"non_field_errors": ["invalid"]},
    }
