import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from experts.models import ExpertProfile
from experts.tests.factories import CategoryFactory, ExpertProfileFactory, UserFactory

pytestmark = pytest.mark.django_db

Status = ExpertProfile.Status


def url(name, *args):
    return reverse(f"api:experts-{name}", args=args)


def application(*categories, **overrides):
    data = {
        "headline": "Databases and SQL",
        "bio": "I build database systems for a living.",
        "categories": [c.pk for c in categories],
        "languages": "English, German",
        "availability_note": "Fridays",
    }
    data.update(overrides)
    return data


@pytest.mark.parametrize(
    ("method", "name", "args"),
    [("get", "categories", ()), ("get", "list", ()), ("get", "detail", (1,)), ("get", "me", ()), ("post", "me", ())],
)
def test_every_endpoint_needs_credentials(method, name, args):
    response = getattr(APIClient(), method)(url(name, *args))
    assert response.status_code == 401
    assert "detail" in response.json()


def test_categories_lists_only_active_ones(api_of, ada, maths, closed):
    body = api_of(ada).get(url("categories")).json()
    assert [c["slug"] for c in body] == ["mathematics"]


def test_the_directory_is_weighted_and_filterable(api_of, ada, maths, physics):
    ExpertProfileFactory(headline="one perfect", rating_count=1, rating_sum=5, categories=[maths])
    ExpertProfileFactory(headline="twenty great", rating_count=20, rating_sum=96, categories=[physics])
    ExpertProfileFactory(headline="pending", status=Status.PENDING, categories=[maths])

    body = api_of(ada).get(url("list")).json()
    physics_only = api_of(ada).get(url("list"), {"category": "physics", "sort": "sessions"}).json()

    assert [e["headline"] for e in body["results"]] == ["twenty great", "one perfect"]
    first = body["results"][0]
    assert first["rating_average"] == "4.8" and first["rating_count"] == 20
    assert first["categories"][0]["slug"] == "physics"
    assert first["languages"] == ["English", "Italian"]
    assert "email" not in first["user"] and "id" not in first["user"]
    assert [e["headline"] for e in physics_only["results"]] == ["twenty great"]


@pytest.mark.parametrize("params", [{"sort": "worst"}, {"q": "x" * 121}, {"category": "no slug!"}])
def test_bad_directory_filters_are_400_json(api_of, ada, params):
    response = api_of(ada).get(url("list"), params)
    assert response.status_code == 400
    assert response.json()["detail"] and response.json()["errors"]


def test_an_expert_is_visible_once_approved(api_of, ada, eve):
    approved = ExpertProfileFactory(rating_count=0)
    pending = ExpertProfileFactory(user=ada, status=Status.PENDING)

    shown = api_of(eve).get(url("detail", approved.pk))
    hidden = api_of(eve).get(url("detail", pending.pk))
    own = api_of(ada).get(url("detail", pending.pk))

    assert shown.status_code == 200
    assert shown.json()["rating_average"] is None
    assert shown.json()["recent_feedback"] == []
    assert hidden.status_code == 404 and hidden.json() == {"detail": "No such expert.", "code": "not_found"}
    assert own.status_code == 200


def test_apply_read_and_edit_my_profile(api_of, ada, maths, physics):
    api = api_of(ada)
    assert api.get(url("me")).status_code == 404

    created = api.post(url("me"), application(maths), format="json")
    patched = api.patch(url("me"), {"headline": "SQL tuning", "categories": [physics.pk]}, format="json")
    again = api.post(url("me"), application(maths), format="json")

    assert created.status_code == 201
    assert created.json()["status"] == "pending"
    assert patched.status_code == 200
    assert patched.json()["headline"] == "SQL tuning"
    assert [c["slug"] for c in patched.json()["categories"]] == ["physics"]
    assert patched.json()["bio"] == "I build database systems for a living."
    assert again.status_code == 409 and again.json()["code"] == "already_applied"
    assert api.get(url("me")).json()["headline"] == "SQL tuning"


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"headline": ""}, "headline"),
        ({"headline": "h" * 121}, "headline"),
        ({"bio": None}, "bio"),
        ({"categories": []}, "categories"),
        ({"categories": "maths"}, "categories"),
        ({"categories": [999_999]}, "categories"),
        ({"categories": ["closed"]}, "categories"),
        ({"categories": [1, 2, 3, 4, 5, 6]}, "categories"),
        ({"languages": "l" * 201}, "languages"),
    ],
)
def test_a_bad_application_is_400_by_field_and_stores_nothing(api_of, ada, maths, closed, payload, field):
    if payload.get("categories") == ["closed"]:
        payload = {"categories": [closed.pk]}
    response = api_of(ada).post(url("me"), application(maths, **payload), format="json")

    assert response.status_code == 400
    assert field in response.json()["errors"]
    assert response.json()["detail"]
    assert not ExpertProfile.objects.exists()


def test_an_approved_expert_adding_an_area_is_409_needs_review(api_of, ada, maths, physics):
    ExpertProfileFactory(user=ada, categories=[maths])
    response = api_of(ada).patch(url("me"), {"categories": [maths.pk, physics.pk]}, format="json")
    assert response.status_code == 409
    assert response.json()["code"] == "needs_review"
    assert "categories" in response.json()["errors"]


def test_patching_without_a_profile_is_404(api_of, ada):
    assert api_of(ada).patch(url("me"), {"headline": "x"}, format="json").status_code == 404


def test_me_never_reaches_someone_elses_profile(api_of, ada, eve, maths):
    theirs = ExpertProfileFactory(user=eve, headline="Eve's", status=Status.PENDING, categories=[maths])

    assert api_of(ada).get(url("me")).status_code == 404
    response = api_of(ada).patch(url("me"), {"headline": "Hijack", "id": theirs.pk, "user": eve.pk}, format="json")

    assert response.status_code == 404
    theirs.refresh_from_db()
    assert theirs.headline == "Eve's"


def test_status_and_review_fields_cannot_be_set_by_the_applicant(api_of, ada, maths):
    api_of(ada).post(url("me"), {**application(maths), "status": "approved", "rating_count": 99}, format="json")
    profile = ExpertProfile.objects.get(user=ada)
    assert profile.status == Status.PENDING and profile.rating_count == 0


def test_the_directory_query_count_is_constant(api_of, ada, django_assert_num_queries):
    ExpertProfileFactory()
    api = api_of(ada)
    with django_assert_num_queries(3):  # count, page, categories
        api.get(url("list"))
    for _ in range(10):
        ExpertProfileFactory(categories=[CategoryFactory(), CategoryFactory()], user=UserFactory())
    with django_assert_num_queries(3):
        api.get(url("list"))


def test_the_schema_documents_the_experts_api_without_warnings(settings):
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)

    paths = schema["paths"]
    assert {"/api/v1/categories/", "/api/v1/experts/", "/api/v1/experts/me/", "/api/v1/experts/{id}/"} <= set(paths)
    assert set(paths["/api/v1/experts/me/"]) >= {"get", "post", "patch"}
