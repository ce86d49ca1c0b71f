"""The university and course lists: sign-up (page and API), the profile, the suggestions and
the data migration. One university is one entry however it is typed; the first spelling shows."""

import importlib
import re

import pytest
from django.apps import apps as global_apps
from django.urls import reverse

from accounts.models import Course, University, User, study_name_key
from accounts.tests.factories import UserFactory

pytestmark = pytest.mark.django_db

PASSWORD = "a-long-unusual-passphrase-42"


def sign_up_form(**overrides) -> dict:
    data = {
        "first_name": "Grace",
        "last_name": "Hopper",
        "email": "grace@example.edu",
        "password1": PASSWORD,
        "password2": PASSWORD,
        "university": "Northbridge University",
        "course": "Computer Science",
    }
    data.update(overrides)
    return data


def api_sign_up(**overrides) -> dict:
    data = {
        "first_name": "Grace",
        "last_name": "Hopper",
        "email": "grace@example.edu",
        "password": PASSWORD,
        "university": "Northbridge University",
        "course": "Computer Science",
    }
    data.update(overrides)
    return data


def options(html: str, list_id: str) -> list[str]:
    block = re.search(rf'<datalist id="{list_id}">(.*?)</datalist>', html, re.S)
    assert block, f"no datalist {list_id}"
    return re.findall(r'<option value="([^"]*)"', block.group(1))


def option_values(html: str) -> list[str]:
    return re.findall(r'<option value="([^"]*)"', html)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Northbridge University", "  northbridge   UNIVERSITY "),
        ("Università di Bologna", "universita di bologna."),
        ("St. Mary's College", "St Marys College"),
        ("École Polytechnique", "ecole-polytechnique"),
    ],
)
def test_two_spellings_of_one_name_share_a_key(a, b):
    assert study_name_key(a) == study_name_key(b) != ""


def test_different_names_have_different_keys():
    assert study_name_key("Northbridge University") != study_name_key("Southbridge University")


# --- Sign-up page --------------------------------------------------------------------------------


def test_the_sign_up_page_offers_the_universities_students_already_named(client):
    UserFactory(university="Northbridge University", course="Physics")
    UserFactory(university="Alpine Institute of Technology", course="Robotics")

    page = client.get(reverse("accounts:register")).content.decode()

    assert options(page, "university-options") == ["Alpine Institute of Technology", "Northbridge University"]
    assert 'list="university-options"' in page and 'list="course-options"' in page


def test_signing_up_with_another_spelling_joins_the_existing_university_and_course(client):
    UserFactory(university="Northbridge University", course="Computer Science")

    response = client.post(
        reverse("accounts:register"),
        sign_up_form(university="northbridge  university", course="computer-science"),
    )

    assert response.status_code == 302
    grace = User.objects.get(email="grace@example.edu")
    assert (grace.university, grace.course) == ("Northbridge University", "Computer Science")
    assert University.objects.count() == 1
    assert Course.objects.count() == 1


def test_signing_up_with_a_new_university_adds_it_for_the_next_student(client):
    client.post(reverse("accounts:register"), sign_up_form(university="Lakeside College", course="History"))

    page = client.get(reverse("accounts:register")).content.decode()

    assert options(page, "university-options") == ["Lakeside College"]
    courses = client.get(reverse("accounts:course_options"), {"university": "lakeside college"}).content.decode()
    assert option_values(courses) == ["History"]


def test_a_course_belongs_to_its_university(client):
    UserFactory(university="Northbridge University", course="Physics")
    UserFactory(university="Lakeside College", course="Physics")

    assert Course.objects.filter(name="Physics").count() == 2
    lakeside = client.get(reverse("accounts:course_options"), {"university": "Lakeside College"}).content.decode()
    nowhere = client.get(reverse("accounts:course_options"), {"university": ""}).content.decode()
    assert option_values(lakeside) == ["Physics"]
    assert option_values(nowhere) == []


def test_a_course_without_a_university_is_refused_on_the_page(client):
    response = client.post(reverse("accounts:register"), sign_up_form(university="", course="Physics"))

    assert response.status_code == 400
    assert "a course belongs to a university" in response.content.decode()
    assert not User.objects.exists()
    assert not Course.objects.exists()


def test_a_name_of_punctuation_only_is_refused(client):
    response = client.post(reverse("accounts:register"), sign_up_form(university="?!.", course=""))

    assert response.status_code == 400
    assert "enter a name with letters or digits" in response.content.decode()


def test_the_university_suggestions_match_part_of_a_name_and_put_prefixes_first(client):
    for name in ("Northbridge University", "University of Northbridge", "Lakeside College"):
        UserFactory(university=name, course="")

    html = client.get(reverse("accounts:university_options"), {"university": "NORTH"}).content.decode()

    assert option_values(html) == ["Northbridge University", "University of Northbridge"]


def test_a_taken_address_adds_nothing_to_the_lists(client):
    UserFactory(email="grace@example.edu", university="", course="")

    client.post(reverse("accounts:register"), sign_up_form(university="Secret College", course="Stealth"))

    assert not University.objects.exists()


# --- API -----------------------------------------------------------------------------------------


def test_the_api_sign_up_stores_the_lists_spelling(api_client):
    UserFactory(university="Northbridge University", course="Computer Science")

    data = api_sign_up(university="NORTHBRIDGE university", course="computer science")
    response = api_client.post(reverse("api:register"), data, format="json")

    assert response.status_code == 202
    grace = User.objects.get(email="grace@example.edu")
    assert (grace.university, grace.course) == ("Northbridge University", "Computer Science")


def test_the_api_sign_up_refuses_a_course_without_a_university_with_a_field_error(api_client):
    response = api_client.post(reverse("api:register"), api_sign_up(university=" ", course="Physics"), format="json")

    assert response.status_code == 400
    assert "course" in response.json()["errors"]


def test_the_api_lists_universities_and_their_courses_for_anonymous_clients(api_client):
    UserFactory(university="Northbridge University", course="Physics")
    UserFactory(university="Northbridge University", course="Chemistry")
    UserFactory(university="Lakeside College", course="History")

    universities = api_client.get(reverse("api:universities"), {"q": "northbr"}).json()
    assert [u["name"] for u in universities["results"]] == ["Northbridge University"]
    northbridge = universities["results"][0]["id"]
    courses = api_client.get(reverse("api:university_courses", args=[northbridge])).json()
    assert [c["name"] for c in courses["results"]] == ["Chemistry", "Physics"]
    assert api_client.get(reverse("api:university_courses", args=[northbridge]), {"q": "phy"}).json()["count"] == 1


def test_the_api_courses_of_an_unknown_university_answer_404_json(api_client):
    response = api_client.get(reverse("api:university_courses", args=[999999]))

    assert response.status_code == 404
    assert response.json()["detail"]


def test_the_api_profile_edit_stores_the_lists_spelling(jwt_client, user):
    UserFactory(university="Northbridge University", course="Physics")

    response = jwt_client.patch(reverse("api:me"), {"university": "northbridge university", "course": "PHYSICS"})

    assert response.status_code == 200
    assert (response.json()["university"], response.json()["course"]) == ("Northbridge University", "Physics")


# --- Profile page --------------------------------------------------------------------------------


def test_the_profile_page_edits_the_university_and_course_through_the_lists(client, user):
    UserFactory(university="Northbridge University", course="Physics")
    client.force_login(user)
    page = client.get(reverse("accounts:profile_edit")).content.decode()
    assert "Northbridge University" in options(page, "university-options")

    response = client.post(
        reverse("accounts:profile_edit"),
        {
            "first_name": user.first_name,
            "last_name": user.last_name,
            "university": "Northbridge university",
            "course": "Astro-Physics",
            "bio": "",
            "interests": "",
            "time_zone": "UTC",
        },
    )

    assert response.status_code == 302
    user.refresh_from_db()
    assert (user.university, user.course) == ("Northbridge University", "Astro-Physics")
    assert set(Course.objects.filter(university__name="Northbridge University").values_list("name", flat=True)) == {
        "Physics",
        "Astro-Physics",
    }


# --- The data migration --------------------------------------------------------------------------


def test_the_migration_lists_existing_free_text_values_keeping_the_first_spelling():
    # Accounts as they were before the lists: written straight to the table, no entries.
    first = User.objects.create(email="a@example.edu", university="Northbridge Univ.", course="physics")
    second = User.objects.create(email="b@example.edu", university="NORTHBRIDGE UNIV", course="Physics ")
    lone = User.objects.create(email="c@example.edu", university="", course="Drawing")
    migration = importlib.import_module("accounts.migrations.0005_universities_and_courses")

    migration.list_existing_studies(global_apps, None)

    assert list(University.objects.values_list("name", flat=True)) == ["Northbridge Univ."]
    assert list(Course.objects.values_list("name", flat=True)) == ["physics"]
    for person in (first, second):
        person.refresh_from_db()
        assert (person.university, person.course) == ("Northbridge Univ.", "physics")
    lone.refresh_from_db()
    assert (lone.university, lone.course) == ("", "Drawing")
