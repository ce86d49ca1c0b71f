from datetime import timedelta

import pytest
from django.conf import settings as django_settings
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import AccessToken, RefreshToken

from accounts import services
from accounts.models import User
from accounts.tests import imagedata
from accounts.tests.factories import DEFAULT_PASSWORD, UserFactory

pytestmark = pytest.mark.django_db

STRONG = "a-long-unusual-passphrase-42"
NEW = "another-unusual-passphrase-77"

REGISTRATION = {
    "email": "grace@example.edu",
    "password": STRONG,
    "first_name": "Grace",
    "last_name": "Hopper",
    "university": "Yale",
    "course": "Mathematics",
}


def _snapshot(user: User) -> dict:
    return User.objects.values().get(pk=user.pk)


def _expired(token_class, user: User) -> str:
    token = token_class.for_user(user)
    token.set_exp(from_time=timezone.now() - timedelta(days=30), lifetime=timedelta(seconds=1))
    return str(token)


def _bearer(access: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {access}")
    return client


# --- register ----------------------------------------------------------------------------------


def test_register_answers_check_your_inbox_and_the_unconfirmed_account_can_log_in(api_client):
    response = api_client.post(reverse("api:register"), REGISTRATION, format="json")

    assert response.status_code == 202
    assert response.json() == {"detail": services.SIGN_UP_SENT_MESSAGE}
    tokens = api_client.post(
        reverse("api:token_obtain_pair"), {"email": "grace@example.edu", "password": REGISTRATION["password"]}
    ).json()
    me = _bearer(tokens["access"]).get(reverse("api:me")).json()
    assert (me["first_name"], me["university"], me["email_verified"]) == ("Grace", "Yale", False)


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"email": ""}, "email"),
        ({"email": "grace@"}, "email"),
        ({"email": "a" * 250 + "@example.edu"}, "email"),
        ({"first_name": ""}, "first_name"),
        ({"last_name": "x" * 81}, "last_name"),
        ({"university": "u" * 121}, "university"),
        ({"password": ""}, "password"),
        ({"password": "short"}, "password"),
        ({"password": "1234567890123"}, "password"),
        ({"password": "grace.example.edu"}, "password"),
        ({"password": "p" * 5000}, "password"),
    ],
)
def test_register_with_bad_input_answers_400_json_and_creates_nothing(api_client, overrides, field):
    response = api_client.post(reverse("api:register"), {**REGISTRATION, **overrides}, format="json")
    assert response.status_code == 400
    body = response.json()
    assert body["detail"]
    assert field in body["errors"]
    assert not User.objects.exists()


def test_register_without_a_body_answers_400(api_client):
    response = api_client.post(reverse("api:register"), {}, format="json")
    assert response.status_code == 400
    assert set(response.json()["errors"]) >= {"email", "password", "first_name", "last_name"}


@pytest.mark.parametrize("spelling", ["grace@example.edu", "GRACE@example.edu", "Grace@EXAMPLE.edu"])
def test_register_with_an_address_taken_in_any_letter_case_answers_the_same_and_creates_nothing(api_client, spelling):
    UserFactory(email="grace@example.edu")
    response = api_client.post(reverse("api:register"), {**REGISTRATION, "email": spelling}, format="json")
    assert response.status_code == 202
    assert response.json() == {"detail": services.SIGN_UP_SENT_MESSAGE}
    assert User.objects.count() == 1


def test_register_is_throttled(api_client, settings):
    settings.RATELIMIT_SIGN_UP = "2/h"
    for _ in range(2):
        assert api_client.post(reverse("api:register"), {}, format="json").status_code == 400
    throttled = api_client.post(reverse("api:register"), REGISTRATION, format="json")
    assert throttled.status_code == 429
    assert "Too many sign-ups" in throttled.json()["detail"]
    assert not User.objects.exists()
    assert not User.objects.exists()


# --- tokens ------------------------------------------------------------------------------------


def test_token_obtain_accepts_the_address_in_any_letter_case(api_client, user):
    response = api_client.post(
        reverse("api:token_obtain_pair"), {"email": "ADA@example.EDU", "password": DEFAULT_PASSWORD}, format="json"
    )
    assert response.status_code == 200
    assert set(response.json()) == {"access", "refresh"}


@pytest.mark.parametrize(
    ("data", "status"),
    [
        ({"email": "ada@example.edu", "password": "wrong"}, 401),
        ({"email": "nobody@example.edu", "password": DEFAULT_PASSWORD}, 401),
        ({"email": "", "password": ""}, 400),
        ({}, 400),
    ],
)
def test_token_obtain_refuses_bad_credentials_with_json(api_client, user, data, status):
    response = api_client.post(reverse("api:token_obtain_pair"), data, format="json")
    assert response.status_code == status
    assert response.json()["detail"]


def test_the_token_endpoint_locks_out_after_the_failure_limit_with_429_json(api_client, user):
    url = reverse("api:token_obtain_pair")
    limit = django_settings.AXES_FAILURE_LIMIT
    for _ in range(limit - 1):
        assert api_client.post(url, {"email": "ada@example.edu", "password": "guess"}, format="json").status_code == 401

    locked = api_client.post(url, {"email": "Ada@example.edu", "password": "guess"}, format="json")
    assert locked.status_code == 429
    assert locked["Content-Type"] == "application/json"
    minutes = int(django_settings.AXES_COOLOFF_TIME.total_seconds() // 60)
    assert locked.json() == {
        "detail": f"Too many failed attempts, try again in {minutes} minutes.",
        "code": "locked_out",
    }

    right = api_client.post(url, {"email": "ada@example.edu", "password": DEFAULT_PASSWORD}, format="json")
    assert right.status_code == 429


def test_failures_on_the_api_and_the_login_page_count_together(client, api_client, user):
    limit = django_settings.AXES_FAILURE_LIMIT
    for _ in range(limit - 1):
        api_client.post(reverse("api:token_obtain_pair"), {"email": "ada@example.edu", "password": "x"}, format="json")
    page = client.post(reverse("accounts:login"), {"username": "ada@example.edu", "password": "x"})
    assert page.status_code == 429


def test_refresh_rotates_and_blacklists_the_used_token(api_client, jwt_client):
    old = jwt_client.tokens["refresh"]
    first = api_client.post(reverse("api:token_refresh"), {"refresh": old}, format="json")
    assert first.status_code == 200
    assert first.json()["refresh"] != old
    assert _bearer(first.json()["access"]).get(reverse("api:me")).status_code == 200

    replay = api_client.post(reverse("api:token_refresh"), {"refresh": old}, format="json")
    assert replay.status_code == 401
    assert replay.json()["detail"]


@pytest.mark.parametrize("kind", ["forged", "expired", "access-as-refresh", "garbage", "empty"])
def test_refresh_refuses_bad_tokens(api_client, user, kind):
    tokens = services.issue_api_tokens(user=user)
    token = {
        "forged": tokens["refresh"][:-6] + "AAAAAA",
        "expired": _expired(RefreshToken, user),
        "access-as-refresh": tokens["access"],
        "garbage": "not.a.jwt",
        "empty": "",
    }[kind]
    response = api_client.post(reverse("api:token_refresh"), {"refresh": token}, format="json")
    assert response.status_code in {400, 401}
    assert response.json()["detail"]


@pytest.mark.parametrize("kind", ["forged", "expired", "garbage", "signed-with-another-key"])
def test_me_refuses_bad_access_tokens(user, kind):
    good = services.issue_api_tokens(user=user)["access"]
    if kind == "forged":
        token = good[:-6] + "AAAAAA"
    elif kind == "expired":
        token = _expired(AccessToken, user)
    elif kind == "garbage":
        token = "abc"
    else:
        import jwt

        payload = jwt.decode(good, options={"verify_signature": False})
        token = jwt.encode(payload, "another-secret-key-that-is-long-enough-1234", algorithm="HS256")
    response = _bearer(token).get(reverse("api:me"))
    assert response.status_code == 401
    assert response.json()["detail"]


# --- logout ------------------------------------------------------------------------------------


def test_logout_blacklists_the_refresh_token(api_client, jwt_client):
    refresh = jwt_client.tokens["refresh"]
    response = api_client.post(reverse("api:logout"), {"refresh": refresh}, format="json")
    assert response.status_code == 200
    assert response.json() == {"detail": "Logged out."}
    assert api_client.post(reverse("api:token_refresh"), {"refresh": refresh}, format="json").status_code == 401
    again = api_client.post(reverse("api:logout"), {"refresh": refresh}, format="json")
    assert again.status_code == 400
    assert "blacklisted" in str(again.json()["errors"]["refresh"])


@pytest.mark.parametrize("kind", ["forged", "expired", "access-token", "missing", "empty"])
def test_logout_answers_400_json_for_bad_tokens(api_client, user, kind):
    tokens = services.issue_api_tokens(user=user)
    data = {
        "forged": {"refresh": tokens["refresh"][:-6] + "AAAAAA"},
        "expired": {"refresh": _expired(RefreshToken, user)},
        "access-token": {"refresh": tokens["access"]},
        "missing": {},
        "empty": {"refresh": ""},
    }[kind]
    response = api_client.post(reverse("api:logout"), data, format="json")
    assert response.status_code == 400
    body = response.json()
    assert body["detail"] and "refresh" in body["errors"]
    # the real refresh token still works: nothing was revoked
    assert (
        api_client.post(reverse("api:token_refresh"), {"refresh": tokens["refresh"]}, format="json").status_code == 200
    )


# --- me ----------------------------------------------------------------------------------------


def test_me_shows_the_signed_in_user(jwt_client, user):
    body = jwt_client.get(reverse("api:me")).json()
    assert body["email"] == "ada@example.edu"
    assert body["public_id"] == str(user.public_id)
    assert body["avatar_url"] is None
    assert "password" not in body


def test_me_needs_authentication(api_client):
    response = api_client.get(reverse("api:me"))
    assert response.status_code == 401
    assert response.json()["detail"]


def test_patch_me_updates_profile_fields_and_ignores_read_only_ones(jwt_client, user):
    response = jwt_client.patch(
        reverse("api:me"),
        {
            "bio": "Engines.",
            "interests": "math, poetry",
            "time_zone": "Europe/London",
            "public_id": "x",
            "is_staff": True,
        },
        format="json",
    )
    assert response.status_code == 200
    assert response.json()["interest_list"] == ["math", "poetry"]
    user.refresh_from_db()
    assert (user.bio, user.time_zone, user.is_staff) == ("Engines.", "Europe/London", False)
    assert response.json()["public_id"] == str(user.public_id)


def test_patch_me_cannot_change_the_login_address(jwt_client, user):
    before = _snapshot(user)
    response = jwt_client.patch(reverse("api:me"), {"email": "Countess@Example.edu", "bio": "new"}, format="json")
    assert response.status_code == 400
    assert "/api/v1/me/email/" in response.json()["errors"]["email"][0]
    assert _snapshot(user) == before


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"first_name": ""}, "first_name"),
        ({"last_name": "l" * 81}, "last_name"),
        ({"email": "nope"}, "email"),
        ({"bio": "b" * 1001}, "bio"),
        ({"interests": "i" * 301}, "interests"),
        ({"time_zone": "Mars/Base"}, "time_zone"),
        ({"course": None}, "course"),
    ],
)
def test_patch_me_with_bad_input_answers_400_and_changes_nothing(jwt_client, user, data, field):
    before = _snapshot(user)
    response = jwt_client.patch(reverse("api:me"), data, format="json")
    assert response.status_code == 400
    assert field in response.json()["errors"]
    assert _snapshot(user) == before


# --- avatar ------------------------------------------------------------------------------------


def test_uploading_an_avatar(jwt_client, user):
    response = jwt_client.post(
        reverse("api:me_avatar"),
        {"avatar": imagedata.upload(imagedata.picture("PNG"), name="me.png")},
        format="multipart",
    )
    assert response.status_code == 200
    user.refresh_from_db()
    assert user.avatar.name.endswith(".webp")
    assert response.json()["avatar_url"].endswith(user.avatar.url)

    removed = jwt_client.delete(reverse("api:me_avatar"))
    assert removed.status_code == 200 and removed.json()["avatar_url"] is None


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"avatar": imagedata.upload(b"plain text", name="a.jpg")}, "not one"),
        ({"avatar": imagedata.upload(imagedata.png_claiming(30000, 30000), name="b.png")}, "too many pixels"),
        ({"avatar": imagedata.upload(imagedata.png_claiming(7000, 7000), name="c.png")}, "too many pixels"),
        ({}, "Choose an image"),
    ],
    ids=["text-as-jpg", "decompression-bomb", "over-pixel-limit", "missing"],
)
def test_a_bad_avatar_upload_answers_400_and_changes_nothing(jwt_client, user, data, message):
    services.set_avatar(user=user, upload=imagedata.upload(imagedata.picture("JPEG")))
    before = _snapshot(user)
    for value in data.values():
        value.seek(0)
    response = jwt_client.post(reverse("api:me_avatar"), data, format="multipart")
    assert response.status_code == 400
    assert message in str(response.json())
    assert _snapshot(user) == before


def test_an_avatar_over_the_byte_limit_is_refused(jwt_client, user, settings):
    settings.AVATAR_MAX_BYTES = 1_000
    upload = imagedata.upload(imagedata.picture("PNG") + b"\0" * 2_000, name="big.png")
    response = jwt_client.post(reverse("api:me_avatar"), {"avatar": upload}, format="multipart")
    assert response.status_code == 400
    assert "too large" in str(response.json()["errors"]["avatar"])
    user.refresh_from_db()
    assert not user.avatar


# --- password ----------------------------------------------------------------------------------


def test_changing_the_password_revokes_old_tokens_and_returns_new_ones(api_client, jwt_client, user):
    old = jwt_client.tokens
    response = jwt_client.post(
        reverse("api:password_change"), {"current_password": DEFAULT_PASSWORD, "new_password": NEW}, format="json"
    )
    assert response.status_code == 200
    body = response.json()

    assert _bearer(old["access"]).get(reverse("api:me")).status_code == 401  # CHECK_REVOKE_TOKEN
    assert api_client.post(reverse("api:token_refresh"), {"refresh": old["refresh"]}, format="json").status_code == 401
    assert _bearer(body["access"]).get(reverse("api:me")).status_code == 200
    user.refresh_from_db()
    assert user.check_password(NEW)


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"current_password": "wrong", "new_password": NEW}, "current_password"),
        ({"current_password": DEFAULT_PASSWORD, "new_password": "short"}, "new_password"),
        ({"current_password": DEFAULT_PASSWORD, "new_password": "ada.example.edu"}, "new_password"),
        ({"current_password": DEFAULT_PASSWORD, "new_password": ""}, "new_password"),
        ({}, "current_password"),
    ],
)
def test_a_bad_password_change_answers_400_and_changes_nothing(jwt_client, user, data, field):
    before = _snapshot(user)
    response = jwt_client.post(reverse("api:password_change"), data, format="json")
    assert response.status_code == 400
    assert field in response.json()["errors"]
    assert _snapshot(user) == before
    assert jwt_client.get(reverse("api:me")).status_code == 200


def test_the_password_endpoint_needs_authentication(api_client):
    response = api_client.post(reverse("api:password_change"), {"current_password": "a", "new_password": NEW})
    assert response.status_code == 401


# --- live ticket -------------------------------------------------------------------------------


def test_a_live_ticket_is_issued_for_a_jwt_and_redeemed_once(jwt_client, user):
    response = jwt_client.post(reverse("api:live_ticket"))
    assert response.status_code == 200
    body = response.json()
    assert body["expires_in"] == 30
    assert body["url"] == f"/ws/live/?ticket={body['ticket']}"
    redeemed_user, credential = services.redeem_live_ticket(ticket=body["ticket"])
    assert redeemed_user == user
    assert credential.login  # the API login of the JWT the ticket was bought with
    assert services.redeem_live_ticket(ticket=body["ticket"]) is None


def test_the_access_token_of_a_logged_out_login_buys_no_live_ticket(jwt_client, user):
    logged_out = jwt_client.post(reverse("api:logout"), {"refresh": jwt_client.tokens["refresh"]}, format="json")
    assert logged_out.status_code < 300, logged_out.content

    response = jwt_client.post(reverse("api:live_ticket"))  # its access token has not expired yet

    assert response.status_code == 401
    assert response.json()["code"] == "token_not_valid"
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    other = APIClient()  # another login of the same user still gets one
    other.credentials(HTTP_AUTHORIZATION=f"Bearer {services.issue_api_tokens(user=user)['access']}")
    assert other.post(reverse("api:live_ticket")).status_code == 200


def test_a_live_ticket_needs_a_jwt(client, api_client, user):
    assert api_client.post(reverse("api:live_ticket")).status_code == 401
    client.force_login(user)  # a session alone is not enough: browsers use the session on the socket
    assert client.post(reverse("api:live_ticket")).status_code == 401


# --- schema ------------------------------------------------------------------------------------


def test_the_openapi_schema_generates_without_warnings(tmp_path):
    target = tmp_path / "schema.yaml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(target))
    schema = target.read_text()
    for path in ("/api/v1/auth/register/", "/api/v1/auth/token/", "/api/v1/me/avatar/", "/api/v1/live/ticket/"):
        assert path in schema


def test_a_logout_ends_the_logins_access_token_on_every_endpoint(jwt_client, user):
    assert jwt_client.get(reverse("api:me")).status_code == 200
    logged_out = jwt_client.post(reverse("api:logout"), {"refresh": jwt_client.tokens["refresh"]}, format="json")
    assert logged_out.status_code < 300, logged_out.content

    response = jwt_client.get(reverse("api:me"))  # the access token has not expired

    assert response.status_code == 401
    assert response.json()["code"] == "token_not_valid"
    other = APIClient()  # another login of the same user is not touched
    other.credentials(HTTP_AUTHORIZATION=f"Bearer {services.issue_api_tokens(user=user)['access']}")
    assert other.get(reverse("api:me")).status_code == 200
