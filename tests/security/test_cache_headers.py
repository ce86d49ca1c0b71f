"""What a signed-in person is shown, and every API answer, is `Cache-Control: private`."""

import pytest
from django.test import Client
from django.urls import reverse
from django.utils.cache import get_max_age
from rest_framework.test import APIClient

from accounts.tests.factories import UserFactory
from tests.security.routes import all_routes

pytestmark = pytest.mark.django_db


def directives(response) -> set[str]:
    return {part.strip() for part in response.get("Cache-Control", "").split(",") if part.strip()}


SIGNED_IN_PAGES = sorted(
    {reverse(route.name) for route in all_routes() if route.name and not route.parameters and not route.is_admin}
)


@pytest.mark.parametrize("path", SIGNED_IN_PAGES)
def test_every_page_a_signed_in_student_gets_is_private(path):
    client = Client()
    client.force_login(UserFactory())
    answer = client.get(path)
    assert "private" in directives(answer), (path, answer.status_code, answer.get("Cache-Control"))
    assert "public" not in directives(answer)


def test_a_visitor_page_is_not_marked_private():
    answer = Client().get(reverse("home"))
    assert "private" not in directives(answer)


@pytest.mark.parametrize("who", ["token", "anonymous"])
def test_api_answers_are_private_for_token_users_and_anonymous_callers(who):
    api = APIClient()
    if who == "token":
        user = UserFactory()
        token = api.post(
            reverse("api:token_obtain_pair"), {"email": user.email, "password": "correct-horse-battery"}, format="json"
        ).json()["access"]
        assert "private" in directives(api.post(reverse("api:token_obtain_pair"), {}, format="json"))
        api.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
        answer = api.get(reverse("api:me"))
        assert answer.status_code == 200
    else:
        answer = api.get(reverse("api:me"))
        assert answer.status_code == 401
    assert "private" in directives(answer)


def test_no_store_set_by_a_view_is_kept(client):
    # the health checks are never_cache (no-store); a signed-in user's answer keeps it
    client.force_login(UserFactory())
    answer = client.get(reverse("healthz"))
    assert {"private", "no-store"} <= directives(answer)
    assert get_max_age(answer) == 0
