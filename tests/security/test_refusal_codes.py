"""Every refusal of the API names a code, and so does every field error in it (config.api):
a client tells refusals apart by `code` and `error_codes`, never by parsing a sentence.

The walk: every API route of the URLconf, as its owner, with bodies and queries that are wrong
in every way the schema lets us guess (each documented field a nested list, an unknown
field, no body at all), and the answers' shape checked wherever they refuse. Then the
refusals our own code raises as field errors (sign-up, profile, help-desk slots and
documents, sessions, ratings), each with its named code."""

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone
from drf_spectacular.generators import SchemaGenerator
from rest_framework.test import APIClient

from accounts.tests.factories import UserFactory
from tests.security.test_idor_matrix import ROUTES, path_for, world  # noqa: F401 - the world fixture
from tests.security.world import World

pytestmark = pytest.mark.django_db

API_ROUTES = [route for route in ROUTES if route.is_api and route.name]
BODY_METHODS = ("post", "put", "patch")


def assert_coded(body: dict, status_code: int) -> None:
    """The one refusal shape with its codes: `code` always; `error_codes` beside `errors`, the
    same keys and one non-empty code per message."""
    assert isinstance(body.get("code"), str) and body["code"], (status_code, body)
    if status_code == 400:
        assert "errors" in body, body
    if "errors" in body:
        assert set(body["error_codes"]) == set(body["errors"]), body
        for field, messages in body["errors"].items():
            codes = body["error_codes"][field]
            assert len(codes) == len(messages), body
            assert all(isinstance(code, str) and code for code in codes), body


def _schema_path(route) -> str:
    return route.path({kwarg: f"{{{kwarg}}}" for kwarg, _ in route.parameters})


def _bad_values(operation: dict, components: dict) -> dict:
    """Each documented field of the JSON body set to a value no field takes."""
    media = operation.get("requestBody", {}).get("content", {})
    schema = (media.get("application/json") or next(iter(media.values()), {})).get("schema", {})
    if "$ref" in schema:
        schema = components.get(schema["$ref"].rsplit("/", 1)[-1], {})
    return {name: [[{"x": 1}]] for name in schema.get("properties", {})} | {"unknown_field": [[1]]}


def test_every_api_refusal_names_its_code_and_each_field_errors_code(world: World):  # noqa: F811
    schema = SchemaGenerator().get_schema(request=None, public=True)
    components = schema["components"]["schemas"]
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {world.tokens['owner']}")
    refused: dict[int, int] = {}
    field_codes: set[str] = set()
    for route in API_ROUTES:
        item = schema["paths"].get(_schema_path(route), {})
        url = path_for(route, world)
        for method, operation in item.items():
            if method in BODY_METHODS:
                tries = [
                    getattr(api, method)(url, _bad_values(operation, components), format="json"),
                    getattr(api, method)(url, {}, format="json"),
                ]
            elif method == "get" and any(p.get("in") == "query" for p in operation.get("parameters", [])):
                query = {p["name"]: "[[x" for p in operation["parameters"] if p.get("in") == "query"}
                tries = [api.get(url, query)]
            else:
                continue
            for answer in tries:
                if 400 <= answer.status_code < 500 and answer["Content-Type"].startswith("application/json"):
                    body = answer.json()
                    try:
                        assert_coded(body, answer.status_code)
                    except AssertionError as error:
                        raise AssertionError(f"{method.upper()} {url}: {body}") from error
                    refused[answer.status_code] = refused.get(answer.status_code, 0) + 1
                    field_codes |= {code for codes in body.get("error_codes", {}).values() for code in codes}
    # the walk reached refusals of many kinds, field errors with DRF's codes among them
    assert refused.get(400, 0) >= 40, refused
    assert {"required", "invalid", "not_a_list"} & field_codes, field_codes


def test_a_framework_refusal_names_its_code():
    anonymous = APIClient()
    assert anonymous.get(reverse("api:me")).json()["code"] == "not_authenticated"
    assert anonymous.get("/api/v1/no-such-thing/").json()["code"] == "not_found"


def test_a_serializer_refusal_keeps_drfs_codes():
    api = APIClient()
    api.force_authenticate(UserFactory())
    body = api.post(reverse("api:chat-conversations"), {"members": "nope"}, format="json").json()
    assert_coded(body, 400)
    assert body["error_codes"]["name"] == ["required"]


def _signed_in(user=None) -> APIClient:
    api = APIClient()
    api.force_authenticate(user or UserFactory())
    return api


def test_a_profile_refusal_names_its_own_code():
    user = UserFactory()
    answer = _signed_in(user).patch(reverse("api:me"), {"email": "new@example.edu"}, format="json")
    body = answer.json()
    assert answer.status_code == 400 and body["code"] == "email_read_only"
    assert body["error_codes"] == {"email": ["email_read_only"]}

    body = _signed_in(user).patch(reverse("api:me"), {"university": "", "course": "Algebra"}, format="json").json()
    assert_coded(body, 400)
    assert body["error_codes"] == {"course": ["course_without_university"]}


def test_a_sign_up_refusal_names_each_fields_code():
    answer = APIClient().post(
        reverse("api:register"),
        {"email": "new@example.edu", "password": "short", "first_name": "A", "last_name": "B", "course": "Algebra"},
        format="json",
    )
    body = answer.json()
    assert answer.status_code == 400, body
    assert_coded(body, 400)
    assert body["error_codes"]["course"] == ["course_without_university"]
    assert "password_too_short" in body["error_codes"]["password"]
    assert body["code"] == "invalid"  # the errors differ: the refusal as a whole is `invalid`


def test_a_help_request_refusal_names_the_slot_and_file_codes(settings):
    from experts.tests.factories import CategoryFactory

    category = CategoryFactory()
    past = timezone.now() - dt.timedelta(days=1)
    answer = _signed_in().post(
        reverse("api:helpdesk-requests"),
        {
            "category": category.pk,
            "title": "Stuck on eigenvalues",
            "description": "I cannot find the eigenvalues of a 3x3 matrix.",
            "times_note": "",
            "slots": [{"start": past.isoformat(), "end": (past + dt.timedelta(hours=1)).isoformat()}],
        },
        format="json",
    )
    body = answer.json()
    assert answer.status_code == 400, body
    assert_coded(body, 400)
    assert body["error_codes"]["slots"] == ["slot_in_past"], body
    assert body["code"] == "slot_in_past"
