"""The directory's university and course filters match part of a name, in any letter case and
without its accents or punctuation, on the page, in the API and in the selector; run these with
DATABASE_URL=mysql://… too (LIKE and collations differ there)."""

import pytest
from django.core.paginator import Paginator
from django.urls import reverse
from rest_framework.test import APIClient

from accounts import services as account_services
from social import selectors
from social.tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def names(people) -> list[str]:
    return sorted(person.get_full_name() for person in people)


@pytest.fixture
def campus(db):
    viewer = UserFactory(first_name="Vera", last_name="Viewer", university="Lakeside College", course="History")
    UserFactory(first_name="Nora", last_name="North", university="Northbridge University", course="Computer Science")
    UserFactory(first_name="Otto", last_name="Other", university="University of Northbridge", course="Physics")
    UserFactory(first_name="Ugo", last_name="Uni", university="Università di Bologna", course="Ingegneria Informatica")
    UserFactory(first_name="Lea", last_name="Lake", university="Lakeside College", course="Computer Science")
    return viewer


@pytest.mark.parametrize(
    ("university", "found"),
    [
        ("northbridge", ["Nora North", "Otto Other"]),
        ("NORTHBRIDGE UNIVERSITY", ["Nora North"]),
        ("bridge", ["Nora North", "Otto Other"]),
        ("universita", ["Ugo Uni"]),
        ("Università di Bologna", ["Ugo Uni"]),
        ("lake-side", ["Lea Lake"]),
        ("nowhere", []),
        ("!!!", []),
    ],
)
def test_the_university_filter_matches_part_of_a_name_in_any_case(campus, university, found):
    assert names(selectors.search_directory(viewer=campus, university=university)) == found


def test_the_course_filter_matches_part_of_a_name_and_combines_with_the_university(campus):
    assert names(selectors.search_directory(viewer=campus, course="computer")) == ["Lea Lake", "Nora North"]
    assert names(selectors.search_directory(viewer=campus, university="north", course="science")) == ["Nora North"]
    assert names(selectors.search_directory(viewer=campus, university="lake", course="physics")) == []


def test_a_profile_change_moves_a_student_between_universities_in_the_directory(campus):
    nora = UserFactory(first_name="Nina", last_name="New", university="Lakeside College", course="")
    account_services.update_profile(user=nora, university="northbridge university", course="")

    assert names(selectors.search_directory(viewer=campus, university="northbridge")) == [
        "Nina New",
        "Nora North",
        "Otto Other",
    ]


@pytest.mark.parametrize("population", [3, 25])
def test_a_partial_name_search_costs_four_queries_whatever_the_number_of_results(
    campus, django_assert_num_queries, population
):
    for _ in range(population):
        UserFactory(university="Northbridge University", course="Computer Science")

    with django_assert_num_queries(4):  # the matching university and course names, the count, the page
        page = Paginator(selectors.search_directory(viewer=campus, university="northbr", course="comp"), 20).get_page(1)
        rows = [(p.get_full_name(), p.relationship, p.university) for p in page.object_list]

    assert page.paginator.count == population + 1
    assert len(rows) == min(population + 1, 20)


def test_the_directory_page_finds_northbridge_by_part_of_its_name(client, campus):
    client.force_login(campus)

    response = client.get(reverse("social:directory"), {"university": "northbridge"})

    assert response.status_code == 200
    body = response.content.decode()
    assert "Nora North" in body and "Otto Other" in body
    assert "Ugo Uni" not in body and "Lea Lake" not in body


def test_the_directory_api_finds_northbridge_by_part_of_its_name(campus):
    client = APIClient()
    client.force_authenticate(campus)

    response = client.get(reverse("api:social-directory"), {"university": "northbridge", "course": "COMPUTER"})

    assert response.status_code == 200
    assert [person["full_name"] for person in response.json()["results"]] == ["Nora North"]
    assert response.json()["results"][0]["university"] == "Northbridge University"


def test_past_the_names_limit_the_filter_still_finds_everyone(campus, monkeypatch):
    monkeypatch.setattr(selectors, "NAMES_LIMIT", 1)  # "north" matches two universities

    assert names(selectors.search_directory(viewer=campus, university="northbridge")) == ["Nora North", "Otto Other"]
