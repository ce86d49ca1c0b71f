"""Every page a reader is pointed at answers without a server error, and ids nobody can have are
plain 404s."""

import re
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client
from django.urls import Resolver404, resolve, reverse

from accounts.tests.factories import StaffFactory, UserFactory
from config.converters import MAX_DATABASE_ID
from tests.security.routes import all_routes

pytestmark = pytest.mark.django_db

DOCUMENTS = [settings.BASE_DIR / "README.md", *sorted((settings.BASE_DIR / "docs").rglob("*.md"))]
# A site path in the docs: `/api/v1/docs/`, (/chat/), http://127.0.0.1:8000/help/ …
LINKED_PATH = re.compile(r"(?:^|[`(\s]|https?://(?:127\.0\.0\.1|localhost)(?::\d+)?)(/[A-Za-z0-9_\-./]*)", re.MULTILINE)


def documented_paths() -> list[str]:
    """Every path of this site the README and docs/ mention that names one page (no placeholder)."""
    found: set[str] = set()
    for document in DOCUMENTS:
        for path in LINKED_PATH.findall(Path(document).read_text(encoding="utf-8")):
            path = path.rstrip(".")
            try:
                resolve(path)
            except Resolver404:
                continue  # a file path, /ws/live/, or a placeholder the resolver does not take
            found.add(path)
    return sorted(found)


def named_paths_without_arguments() -> list[str]:
    return sorted({reverse(route.name) for route in all_routes() if route.name and not route.parameters})


def viewer_client(viewer: str) -> Client:
    client = Client()
    if viewer == "student":
        client.force_login(UserFactory())
    elif viewer == "staff":
        client.force_login(StaffFactory())
    return client


def test_the_docs_name_pages_of_the_site():
    # guards the collector itself: the README's API section links the schema and both viewers
    assert {"/api/v1/schema/", "/api/v1/docs/", "/api/v1/redoc/"} <= set(documented_paths())


@pytest.mark.parametrize("viewer", ["anonymous", "student", "staff"])
@pytest.mark.parametrize("path", sorted(set(documented_paths()) | set(named_paths_without_arguments())))
def test_every_documented_or_argument_free_page_answers_without_a_server_error(path, viewer):
    answer = viewer_client(viewer).get(path)
    assert answer.status_code < 500, (path, viewer, answer.status_code)


@pytest.mark.parametrize("name", ["api:docs", "api:redoc", "api:schema"])
def test_the_api_documentation_pages_answer(name):
    assert viewer_client("anonymous").get(reverse(name)).status_code == 200


ID_ROUTES = [route for route in all_routes() if any(converter == "id" for _, converter in route.parameters)]


@pytest.mark.parametrize("too_big", [MAX_DATABASE_ID + 1, 2**64, 10**40], ids=["2^63", "2^64", "10^40"])
@pytest.mark.parametrize("route", ID_ROUTES, ids=str)
def test_an_id_past_the_largest_database_id_is_a_404(route, too_big, client):
    # given a signed-in student, and a path whose ids are all past what a BIGINT holds
    client.force_login(UserFactory())
    path = route.path(
        {
            kwarg: too_big if converter == "id" else "00000000-0000-0000-0000-000000000000"
            for kwarg, converter in route.parameters
        }
    )
    # then every method answers 404 (the path matches no route), never a 500
    for method in ("get", "post"):
        assert getattr(client, method)(path).status_code == 404, (path, method)


def test_the_largest_database_id_itself_is_an_ordinary_unknown_id(client):
    client.force_login(UserFactory())
    assert client.get(reverse("chat:conversation", args=[MAX_DATABASE_ID])).status_code == 404
    assert client.get(reverse("api:chat-conversation", args=[MAX_DATABASE_ID])).status_code == 404
