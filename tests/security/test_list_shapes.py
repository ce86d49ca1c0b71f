"""Every list of the API answers a signed-in user in one of the two documented shapes
(docs/api.md): pages `{count, next, previous, results}` wherever the schema offers `?page=`,
and a page of one says there is a next one rather than stopping at a cap."""

import pytest
from drf_spectacular.generators import SchemaGenerator
from rest_framework.test import APIClient

from accounts.tests.factories import UserFactory

pytestmark = pytest.mark.django_db

PAGE_KEYS = {"count", "next", "previous", "results"}
# A query filter some lists require (people/ needs one of four): what a client would send.
REQUIRED_QUERY = {"/api/v1/people/": {"q": "Adam"}}


def paged_lists() -> list[str]:
    schema = SchemaGenerator().get_schema(request=None, public=True)
    return sorted(
        path
        for path, item in schema["paths"].items()
        if "{" not in path
        and "get" in item
        and any(p["in"] == "query" and p["name"] == "page" for p in item["get"].get("parameters", []))
    )


PAGED = paged_lists()


def test_the_schema_offers_pages_on_the_lists_the_docs_name():
    names = " ".join(PAGED)
    for kind in ("people", "friends", "notifications", "help/requests", "chat/conversations"):
        assert kind in names, kind


@pytest.mark.parametrize("path", PAGED)
def test_every_paged_list_answers_the_page_shape(path):
    api = APIClient()
    user = UserFactory(first_name="Ada")
    UserFactory.create_batch(2, first_name="Adam")  # two to find by name: a page of one has a next
    api.force_authenticate(user)
    answer = api.get(path, {**REQUIRED_QUERY.get(path, {}), "page_size": 1})
    if answer.status_code == 403:  # the queue is for experts: its refusal is the documented one
        assert answer.json()["detail"]
        return
    assert answer.status_code == 200, answer.content[:300]
    body = answer.json()
    assert set(body) == PAGE_KEYS, (path, sorted(body))
    assert isinstance(body["results"], list) and isinstance(body["count"], int)
    assert (body["next"] is not None) == (body["count"] > 1), (path, body["count"], body["next"])
    if path == "/api/v1/people/":
        assert body["count"] == 2 and body["next"]
