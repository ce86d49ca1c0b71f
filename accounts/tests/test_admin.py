import pytest
from django.urls import reverse

from accounts import services
from accounts.models import User
from accounts.tests.factories import StaffFactory, UserFactory

pytestmark = pytest.mark.django_db

STRONG = "a-long-unusual-passphrase-42"


@pytest.fixture
def admin_client(client):
    client.force_login(StaffFactory(email="staff@example.edu", university="", course=""))
    return client


def _changelist(admin_client, **params):
    response = admin_client.get(reverse("admin:accounts_user_changelist"), params)
    assert response.status_code == 200
    return {user.email for user in response.context["cl"].result_list}


def test_users_are_searchable_by_email_name_university_and_course(admin_client):
    UserFactory(email="ada@example.edu", first_name="Ada", university="Bologna", course="Physics")
    UserFactory(email="alan@example.edu", first_name="Alan", university="Cambridge", course="Mathematics")

    assert _changelist(admin_client, q="ada@") == {"ada@example.edu"}
    assert _changelist(admin_client, q="Alan") == {"alan@example.edu"}
    assert _changelist(admin_client, q="bologna") == {"ada@example.edu"}
    assert _changelist(admin_client, q="mathem") == {"alan@example.edu"}


def test_users_are_filterable_by_university_course_staff_and_active(admin_client):
    UserFactory(email="ada@example.edu", university="Bologna", course="Physics")
    UserFactory(email="alan@example.edu", university="Cambridge", course="Mathematics", is_active=False)

    assert _changelist(admin_client, university="Bologna") == {"ada@example.edu"}
    assert _changelist(admin_client, course="Mathematics") == {"alan@example.edu"}
    assert _changelist(admin_client, is_staff__exact="1") == {"staff@example.edu"}
    assert _changelist(admin_client, is_active__exact="0") == {"alan@example.edu"}


def test_staff_can_add_a_user_with_an_email_login(admin_client):
    response = admin_client.post(
        reverse("admin:accounts_user_add"),
        {
            "email": "new@example.edu",
            "first_name": "New",
            "last_name": "Student",
            "usable_password": "true",
            "password1": STRONG,
            "password2": STRONG,
        },
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    assert User.objects.get(email="new@example.edu").check_password(STRONG)


def test_adding_a_user_with_a_taken_address_in_other_letters_is_refused(admin_client):
    UserFactory(email="taken@example.edu")
    response = admin_client.post(
        reverse("admin:accounts_user_add"),
        {
            "email": "TAKEN@example.edu",
            "first_name": "A",
            "last_name": "B",
            "usable_password": "true",
            "password1": STRONG,
            "password2": STRONG,
        },
    )
    assert response.status_code == 200
    assert response.context["adminform"].form.errors["email"] == [services.EMAIL_TAKEN]
    assert User.objects.filter(email__iexact="taken@example.edu").count() == 1


def test_the_change_form_edits_profile_fields(admin_client):
    user = UserFactory(email="ada@example.edu")
    url = reverse("admin:accounts_user_change", args=[user.pk])
    assert admin_client.get(url).status_code == 200
    response = admin_client.post(
        url,
        {
            "email": "ada@example.edu",
            "first_name": "Ada",
            "last_name": "King",
            "university": "London",
            "course": "Engines",
            "bio": "",
            "interests": "",
            "time_zone": "Europe/London",
            "is_active": "on",
        },
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    user.refresh_from_db()
    assert (user.last_name, user.university, user.time_zone) == ("King", "London", "Europe/London")


def test_staff_setting_a_password_revokes_the_users_api_tokens(admin_client):
    user = UserFactory()
    services.issue_api_tokens(user=user)
    response = admin_client.post(
        reverse("admin:auth_user_password_change", args=[user.pk]),
        {"usable_password": "true", "password1": STRONG, "password2": STRONG},
    )
    assert response.status_code == 302
    user.refresh_from_db()
    assert user.check_password(STRONG)
    assert services.revoke_api_tokens(user=user) == 0  # none left outstanding
