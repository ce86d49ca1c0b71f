"""The ways a way in ends, as a person takes them: the logout button, the API, the password pages,
the admin and its moderation action. Shared by the revocation tests (in-memory and across two
daphnes): each takes a Browser and an ApiLogin of the user and returns when the site answered."""

from django.contrib.auth.tokens import default_token_generator
from django.test import Client
from django.urls import reverse
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from rest_framework.test import APIClient

from accounts import services as account_services
from accounts.models import User
from accounts.tests.factories import DEFAULT_PASSWORD, StaffFactory
from social.tests.factories import ReportFactory

NEW_PASSWORD = "a-new-and-long-passphrase-42"


class Browser:
    """One signed-in browser of a user: its own session, its Django test client."""

    def __init__(self, user):
        self.user = user
        self.client = Client()
        self.client.force_login(user)
        self.cookie = self.client.cookies["sessionid"].value


class ApiLogin:
    """One API login of a user (a token pair) and the live tickets it buys."""

    def __init__(self, user):
        self.user = user
        self.tokens = account_services.issue_api_tokens(user=user)
        self.api = APIClient()
        self.api.credentials(HTTP_AUTHORIZATION=f"Bearer {self.tokens['access']}")

    def ticket(self) -> str:
        response = self.api.post(reverse("api:live_ticket"))
        assert response.status_code == 200, response.content
        return response.json()["ticket"]


def change_password_on_the_page(browser: Browser) -> None:
    response = browser.client.post(
        reverse("accounts:password_change"),
        {"old_password": DEFAULT_PASSWORD, "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )
    assert response.status_code == 302, response.content


def change_password_through_the_api(login: ApiLogin) -> None:
    response = login.api.post(
        reverse("api:password_change"),
        {"current_password": DEFAULT_PASSWORD, "new_password": NEW_PASSWORD},
        format="json",
    )
    assert response.status_code == 200, response.content


def reset_password(user) -> None:
    client = Client()
    uid = urlsafe_base64_encode(force_bytes(user.pk))
    token = default_token_generator.make_token(user)
    client.get(reverse("accounts:password_reset_confirm", kwargs={"uidb64": uid, "token": token}), follow=True)
    set_url = reverse("accounts:password_reset_confirm", kwargs={"uidb64": uid, "token": "set-password"})
    response = client.post(set_url, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})
    assert response.status_code == 302, response.content


def staff_client() -> Client:
    client = Client()
    client.force_login(StaffFactory())
    return client


def moderation_action(user) -> None:
    report = ReportFactory(reported=user)
    response = staff_client().post(
        reverse("admin:social_report_changelist"),
        {"action": "deactivate_reported_accounts", "_selected_action": [report.pk]},
    )
    assert response.status_code == 302, response.content


def untick_active_in_the_admin(user) -> None:
    client = staff_client()
    url = reverse("admin:accounts_user_change", args=[user.pk])
    form = client.get(url).context["adminform"].form
    data = {name: value for name, value in form.initial.items() if value is not None and name != "password"}
    data.update(
        is_active="",
        groups=[],
        user_permissions=[],
        last_login_0="",
        last_login_1="",
        date_joined_0=user.date_joined.strftime("%Y-%m-%d"),
        date_joined_1=user.date_joined.strftime("%H:%M:%S"),
    )
    data = {key: value for key, value in data.items() if not isinstance(value, bool) or value}
    response = client.post(url, data)
    assert response.status_code == 302, response.context["adminform"].form.errors if response.context else response
    assert not User.objects.get(pk=user.pk).is_active


def set_password_in_the_admin(user) -> None:
    response = staff_client().post(
        reverse("admin:auth_user_password_change", args=[user.pk]),
        {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD, "usable_password": "true"},
    )
    assert response.status_code == 302, response.content


def delete_in_the_admin(user) -> None:
    response = staff_client().post(reverse("admin:accounts_user_delete", args=[user.pk]), {"post": "yes"})
    assert response.status_code == 302, response.content


# Each ends every way in of the user.
EVERY_SOCKET_TRIGGERS = {
    "password change page": lambda browser, login: change_password_on_the_page(browser),
    "password change API": lambda browser, login: change_password_through_the_api(login),
    "password reset": lambda browser, login: reset_password(browser.user),
    "moderation action": lambda browser, login: moderation_action(browser.user),
    "admin unticks active": lambda browser, login: untick_active_in_the_admin(browser.user),
    "admin sets the password": lambda browser, login: set_password_in_the_admin(browser.user),
    "admin deletes the account": lambda browser, login: delete_in_the_admin(browser.user),
}


def log_out(browser: Browser) -> None:
    response = browser.client.post(reverse("accounts:logout"))
    assert response.status_code == 302, response.content


def api_log_out(login: ApiLogin) -> None:
    response = APIClient().post(reverse("api:logout"), {"refresh": login.tokens["refresh"]}, format="json")
    assert response.status_code == 200, response.content
