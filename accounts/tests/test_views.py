import re

import pytest
from django.conf import settings as django_settings
from django.contrib.auth import SESSION_KEY
from django.contrib.auth.tokens import default_token_generator
from django.core import mail
from django.test import Client
from django.urls import reverse
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from accounts import services
from accounts.models import User
from accounts.tests import imagedata
from accounts.tests.factories import DEFAULT_PASSWORD, UserFactory

pytestmark = pytest.mark.django_db

STRONG = "a-long-unusual-passphrase-42"
NEW = "another-unusual-passphrase-77"


def _snapshot(user: User) -> dict:
    return User.objects.values().get(pk=user.pk)


def _assert_no_inline_styles(response):
    # The CSP has no 'unsafe-inline' for styles: an inline style would be ignored.
    html = response.content.decode()
    assert 'style="' not in html
    assert "<style" not in html


# --- register ----------------------------------------------------------------------------------

REGISTRATION = {
    "first_name": "Grace",
    "last_name": "Hopper",
    "email": "grace@example.edu",
    "password1": STRONG,
    "password2": STRONG,
    "university": "Yale",
    "course": "Mathematics",
}


def test_the_registration_page_shows_every_field(client):
    response = client.get(reverse("accounts:register"))
    assert response.status_code == 200
    for name in ("first_name", "last_name", "email", "password1", "password2", "university", "course"):
        assert f'name="{name}"' in response.content.decode()
    _assert_no_inline_styles(response)


def test_registering_creates_an_unconfirmed_account_and_says_check_your_inbox(
    client, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("accounts:register"), REGISTRATION, follow=True)

    user = User.objects.get(email="grace@example.edu")
    assert response.redirect_chain[-1] == (reverse("accounts:register_sent"), 302)
    assert SESSION_KEY not in client.session  # the same answer as for a taken address: nobody is logged in
    assert "Check your inbox" in response.content.decode()
    assert (user.university, user.course) == ("Yale", "Mathematics")
    assert user.email_verified_at is None
    assert user.notifications.filter(kind="welcome").exists()


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"first_name": ""}, "first_name", "This field is required."),
        ({"last_name": ""}, "last_name", "This field is required."),
        ({"email": ""}, "email", "This field is required."),
        ({"password1": "", "password2": ""}, "password1", "This field is required."),
        ({"first_name": "x" * 81}, "first_name", "at most 80 characters"),
        ({"course": "c" * 121}, "course", "at most 120 characters"),
        ({"email": "a" * 250 + "@example.edu"}, "email", "at most 254 characters"),
        ({"email": "grace@"}, "email", "Enter a valid email address."),
        ({"email": "grace example.edu"}, "email", "Enter a valid email address."),
        ({"password1": "short", "password2": "short"}, "password1", "too short"),
        ({"password1": "password123", "password2": "password123"}, "password1", "too common"),
        ({"password1": "73948261057", "password2": "73948261057"}, "password1", "entirely numeric"),
        ({"password2": STRONG + "x"}, "password2", "The two passwords do not match."),
    ],
)
def test_registration_with_bad_input_answers_400_with_the_error_and_creates_nothing(client, overrides, field, message):
    response = client.post(reverse("accounts:register"), {**REGISTRATION, **overrides})

    assert response.status_code == 400
    form = response.context["form"]
    assert field in form.errors
    assert any(message in error for error in form.errors[field])
    assert "is-invalid" in response.content.decode()
    assert not User.objects.exists()
    assert SESSION_KEY not in client.session


@pytest.mark.parametrize("spelling", ["grace@example.edu", "GRACE@EXAMPLE.EDU", "Grace@Example.Edu"])
def test_registration_with_an_address_taken_in_any_letter_case_answers_the_same(client, spelling):
    UserFactory(email="grace@example.edu")
    response = client.post(reverse("accounts:register"), {**REGISTRATION, "email": spelling})
    assert response.status_code == 302 and response.url == reverse("accounts:register_sent")
    assert User.objects.count() == 1


def test_a_signed_in_user_is_sent_home_from_the_registration_page(client, user):
    client.force_login(user)
    assert client.get(reverse("accounts:register")).url == reverse("home")


# --- log in, log out, lockout ---------------------------------------------------------------------


def test_logging_in_with_the_address_in_any_letter_case(client, user):
    response = client.post(
        reverse("accounts:login"), {"username": "ADA@Example.edu", "password": DEFAULT_PASSWORD}, follow=True
    )
    assert client.session[SESSION_KEY] == str(user.pk)
    assert "Welcome back, Ada!" in response.content.decode()


def test_the_login_page_looks_right(client):
    response = client.get(reverse("accounts:login"))
    assert response.status_code == 200
    html = response.content.decode()
    assert "auth-card" in html and 'type="email"' in html and reverse("accounts:password_reset") in html
    _assert_no_inline_styles(response)


@pytest.mark.parametrize(
    "data",
    [
        {"username": "ada@example.edu", "password": "wrong-password"},
        {"username": "nobody@example.edu", "password": DEFAULT_PASSWORD},
        {"username": "", "password": ""},
        {"username": "not-an-address", "password": DEFAULT_PASSWORD},
        {"username": "a" * 300 + "@example.edu", "password": DEFAULT_PASSWORD},
    ],
)
def test_a_failed_login_answers_400_with_a_clear_message(client, user, data):
    response = client.post(reverse("accounts:login"), data)
    assert response.status_code == 400
    assert response.context["form"].errors
    assert SESSION_KEY not in client.session


def test_wrong_credentials_get_one_message_that_does_not_say_which_part_was_wrong(client, user):
    response = client.post(reverse("accounts:login"), {"username": "ada@example.edu", "password": "nope-nope"})
    assert "That e-mail address and password do not match an account." in response.content.decode()


def test_an_inactive_user_cannot_log_in(client):
    UserFactory(email="gone@example.edu", is_active=False)
    response = client.post(reverse("accounts:login"), {"username": "gone@example.edu", "password": DEFAULT_PASSWORD})
    assert response.status_code == 400
    assert SESSION_KEY not in client.session


def test_the_login_is_locked_after_the_failure_limit_with_a_clear_429(client, user, settings):
    limit = django_settings.AXES_FAILURE_LIMIT
    url = reverse("accounts:login")
    for _ in range(limit - 1):
        assert client.post(url, {"username": "ada@example.edu", "password": "wrong-guess"}).status_code == 400

    locked = client.post(url, {"username": "ADA@example.edu", "password": "wrong-guess"})
    assert locked.status_code == 429
    minutes = int(django_settings.AXES_COOLOFF_TIME.total_seconds() // 60)
    assert f"Too many failed attempts, try again in {minutes} minutes." in locked.content.decode()
    assert locked["Retry-After"] == str(minutes * 60)

    # even the right password does not get in while locked
    right = client.post(url, {"username": "ada@example.edu", "password": DEFAULT_PASSWORD})
    assert right.status_code == 429
    assert SESSION_KEY not in client.session


def test_logging_out_needs_a_post(client, user):
    client.force_login(user)
    assert client.get(reverse("accounts:logout")).status_code == 405
    assert SESSION_KEY in client.session

    response = client.post(reverse("accounts:logout"))
    assert response.url == reverse("accounts:login")
    assert SESSION_KEY not in client.session


# --- profile ---------------------------------------------------------------------------------

EDIT_BUTTON = '<a class="btn btn-outline-primary" href="/accounts/profile/edit/">'


def test_the_old_profile_address_leads_to_the_profile_page(client, user):
    client.force_login(user)
    old = reverse("accounts:profile", kwargs={"public_id": user.public_id})
    response = client.get(old)
    assert response.status_code == 301 and response.url == user.get_absolute_url()


def test_ones_own_profile_offers_the_edit_button(client, user):
    client.force_login(user)
    assert EDIT_BUTTON in client.get(user.get_absolute_url()).content.decode()


# --- profile edit ------------------------------------------------------------------------------


def _profile_data(user: User, **overrides) -> dict:
    data = {
        "first_name": user.first_name,
        "last_name": user.last_name,
        "university": user.university,
        "course": user.course,
        "bio": user.bio,
        "interests": user.interests,
        "time_zone": user.time_zone,
    }
    data.update(overrides)
    return data


def test_the_profile_edit_page_is_prefilled(client, user):
    client.force_login(user)
    response = client.get(reverse("accounts:profile_edit"))
    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="login-email">ada@example.edu<' in html and reverse("accounts:email") in html
    assert 'enctype="multipart/form-data"' in html
    assert '<option value="Europe/Rome">' in html
    _assert_no_inline_styles(response)


def test_editing_the_profile_saves_every_field_and_the_picture(client, user):
    client.force_login(user)
    data = _profile_data(
        user,
        first_name="Augusta",
        email="Augusta@example.edu",  # not a field of this form: the address changes on its own page
        university="London",
        course="Analytical Engines",
        bio="First programmer.",
        interests="math, music",
        time_zone="Europe/London",
        avatar=imagedata.upload(imagedata.jpeg_with_metadata()),
    )
    response = client.post(reverse("accounts:profile_edit"), data)

    assert response.status_code == 302
    user.refresh_from_db()
    assert response.url == user.get_absolute_url()
    assert (user.first_name, user.email, user.course) == ("Augusta", "ada@example.edu", "Analytical Engines")
    assert user.time_zone == "Europe/London"
    assert user.avatar.name.endswith(".webp")


def test_removing_the_picture(client, user, django_capture_on_commit_callbacks):
    services.set_avatar(user=user, upload=imagedata.upload(imagedata.picture("PNG"), name="a.png"))
    client.force_login(user)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("accounts:profile_edit"), _profile_data(user, remove_avatar="on"))
    assert response.status_code == 302
    user.refresh_from_db()
    assert not user.avatar


@pytest.mark.parametrize(
    ("upload", "message"),
    [
        (imagedata.upload(b"just some text, honest", name="photo.jpg"), "not one"),
        (imagedata.upload(b"<svg xmlns='http://www.w3.org/2000/svg'/>", name="x.png"), "not one"),
        (imagedata.upload(imagedata.picture("BMP"), name="x.gif", content_type="image/gif"), "not one"),
        (imagedata.upload(imagedata.png_claiming(30000, 30000), name="bomb.png"), "too many pixels"),
        (imagedata.upload(imagedata.png_claiming(7000, 7000), name="big.png"), "too many pixels"),
    ],
    ids=["text-as-jpg", "svg", "bmp", "decompression-bomb", "over-pixel-limit"],
)
def test_a_bad_picture_answers_400_with_a_message_and_changes_nothing(client, user, upload, message):
    client.force_login(user)
    before = _snapshot(user)
    upload.seek(0)
    response = client.post(reverse("accounts:profile_edit"), _profile_data(user, first_name="Changed", avatar=upload))

    assert response.status_code == 400
    assert any(message in error for error in response.context["form"].errors["avatar"])
    assert _snapshot(user) == before


def test_a_picture_over_the_byte_limit_is_refused(client, user, settings):
    settings.AVATAR_MAX_BYTES = 2_000
    client.force_login(user)
    before = _snapshot(user)
    big = imagedata.upload(imagedata.picture("PNG", size=(300, 300), color=None) + b"\0" * 3_000, name="big.png")
    response = client.post(reverse("accounts:profile_edit"), _profile_data(user, avatar=big))
    assert response.status_code == 400
    assert "too large" in response.content.decode()
    assert _snapshot(user) == before


def test_uploading_and_removing_at_once_is_refused(client, user):
    client.force_login(user)
    data = _profile_data(user, remove_avatar="on", avatar=imagedata.upload(imagedata.picture("JPEG")))
    response = client.post(reverse("accounts:profile_edit"), data)
    assert response.status_code == 400
    assert "not both" in response.content.decode()


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"first_name": ""}, "first_name"),
        ({"last_name": "l" * 81}, "last_name"),
        ({"bio": "b" * 1001}, "bio"),
        ({"interests": "i" * 301}, "interests"),
        ({"time_zone": "Mars/Base"}, "time_zone"),
    ],
)
def test_a_bad_profile_edit_answers_400_and_changes_nothing(client, user, overrides, field):
    client.force_login(user)
    before = _snapshot(user)
    response = client.post(reverse("accounts:profile_edit"), _profile_data(user, **overrides))
    assert response.status_code == 400
    assert field in response.context["form"].errors
    assert _snapshot(user) == before
    # and the navigation bar still shows the stored name
    assert response.context["user"].first_name == "Ada"


def test_profile_edit_needs_a_signed_in_user(client):
    response = client.get(reverse("accounts:profile_edit"))
    assert response.status_code == 302
    assert response.url.startswith(reverse("accounts:login"))


# --- password change ---------------------------------------------------------------------------


def test_changing_the_password_keeps_this_session_and_ends_the_others(user, api_client):
    here, elsewhere = Client(), Client()
    for client in (here, elsewhere):
        client.post(reverse("accounts:login"), {"username": "ada@example.edu", "password": DEFAULT_PASSWORD})
        assert client.get(reverse("accounts:profile_edit")).status_code == 200
    tokens = services.issue_api_tokens(user=user)

    response = here.post(
        reverse("accounts:password_change"),
        {"old_password": DEFAULT_PASSWORD, "new_password1": NEW, "new_password2": NEW},
    )

    assert response.status_code == 302
    assert here.get(reverse("accounts:profile_edit")).status_code == 200
    signed_out = elsewhere.get(reverse("accounts:profile_edit"))
    assert signed_out.status_code == 302 and signed_out.url.startswith(reverse("accounts:login"))
    # the API tokens issued before the change stop working too
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {tokens['access']}")
    assert api_client.get(reverse("api:me")).status_code == 401
    refreshed = api_client.post(reverse("api:token_refresh"), {"refresh": tokens["refresh"]}, format="json")
    assert refreshed.status_code == 401
    user.refresh_from_db()
    assert user.check_password(NEW)


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"old_password": "wrong-one", "new_password1": NEW, "new_password2": NEW}, "old_password"),
        ({"old_password": DEFAULT_PASSWORD, "new_password1": "short", "new_password2": "short"}, "new_password2"),
        ({"old_password": DEFAULT_PASSWORD, "new_password1": NEW, "new_password2": NEW + "!"}, "new_password2"),
        ({"old_password": "", "new_password1": "", "new_password2": ""}, "old_password"),
    ],
)
def test_a_bad_password_change_answers_400_and_keeps_the_password(client, user, data, field):
    client.force_login(user)
    tokens = services.issue_api_tokens(user=user)
    response = client.post(reverse("accounts:password_change"), data)
    assert response.status_code == 400
    assert field in response.context["form"].errors
    user.refresh_from_db()
    assert user.check_password(DEFAULT_PASSWORD)
    assert services.revoke_api_tokens(user=user) == 1  # still outstanding, not revoked before
    assert tokens


# --- password reset ----------------------------------------------------------------------------


def _reset_link(message) -> str:
    match = re.search(r"https?://[^/\s]+(/accounts/password/reset/[^\s]+/)", message.body)
    assert match, message.body
    return match.group(1)


def test_a_password_reset_link_works_once(client, user, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("accounts:password_reset"), {"email": "ADA@example.edu"})
    assert response.url == reverse("accounts:password_reset_done")
    (message,) = mail.outbox
    link = _reset_link(message)

    form_page = client.get(link, follow=True)
    assert form_page.status_code == 200 and form_page.context["validlink"]
    set_password_url = form_page.redirect_chain[-1][0]
    done = client.post(set_password_url, {"new_password1": NEW, "new_password2": NEW})
    assert done.url == reverse("accounts:password_reset_complete")
    user.refresh_from_db()
    assert user.check_password(NEW)

    # the same link a second time
    again = client.get(link, follow=True)
    assert again.status_code == 400
    assert "invalid, has already been used, or has expired" in again.content.decode()


def test_the_reset_answer_is_the_same_whether_or_not_the_address_exists(
    client, user, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        known = client.post(reverse("accounts:password_reset"), {"email": "ada@example.edu"}, follow=True)
        unknown = client.post(reverse("accounts:password_reset"), {"email": "nobody@example.edu"}, follow=True)
    assert known.redirect_chain == unknown.redirect_chain == [(reverse("accounts:password_reset_done"), 302)]
    assert known.status_code == unknown.status_code == 200

    def page(response) -> str:  # minus the per-response CSP nonce and CSRF token
        return re.sub(r'"[A-Za-z0-9_+/=-]{16,}"', "", response.content.decode())

    assert page(known) == page(unknown)
    assert "Check your inbox" in unknown.content.decode()
    assert len(mail.outbox) == 1


@pytest.mark.parametrize("email", ["", "not-an-address", "a" * 250 + "@example.edu"])
def test_a_malformed_reset_address_answers_400(client, email):
    response = client.post(reverse("accounts:password_reset"), {"email": email})
    assert response.status_code == 400
    assert "email" in response.context["form"].errors
    assert not mail.outbox


def _confirm_url(user: User, token: str) -> str:
    uid = urlsafe_base64_encode(force_bytes(user.pk))
    return reverse("accounts:password_reset_confirm", kwargs={"uidb64": uid, "token": token})


@pytest.mark.parametrize("kind", ["forged", "other-user", "bad-uid", "expired"])
def test_a_bad_reset_link_answers_400_and_changes_nothing(client, user, kind, settings):
    if kind == "forged":
        url = _confirm_url(user, "cf3x2q-0123456789abcdef0123456789abcdef")
    elif kind == "other-user":
        url = _confirm_url(user, default_token_generator.make_token(UserFactory()))
    elif kind == "bad-uid":
        url = reverse("accounts:password_reset_confirm", kwargs={"uidb64": "!!!", "token": "x-y"})
    else:
        url = _confirm_url(user, default_token_generator.make_token(user))
        settings.PASSWORD_RESET_TIMEOUT = -1  # every link is older than that: this one has expired
    before = _snapshot(user)

    response = client.get(url, follow=True)
    assert response.status_code == 400
    assert not response.context["validlink"]
    posted = client.post(url.rsplit("/", 2)[0] + "/set-password/", {"new_password1": NEW, "new_password2": NEW})
    assert posted.status_code == 400
    assert _snapshot(user) == before


def test_a_reset_with_a_weak_or_mismatched_password_is_refused(client, user):
    client.get(_confirm_url(user, default_token_generator.make_token(user)), follow=True)
    set_url = _confirm_url(user, "set-password")
    weak = client.post(set_url, {"new_password1": "123", "new_password2": "123"})
    assert weak.status_code == 400 and weak.context["form"].errors
    mismatch = client.post(set_url, {"new_password1": NEW, "new_password2": STRONG})
    assert mismatch.status_code == 400
    assert "The two passwords do not match." in mismatch.content.decode()
    user.refresh_from_db()
    assert user.check_password(DEFAULT_PASSWORD)


def test_a_reset_revokes_api_tokens_and_tells_the_user(client, user, django_capture_on_commit_callbacks):
    services.issue_api_tokens(user=user)
    client.get(_confirm_url(user, default_token_generator.make_token(user)), follow=True)
    client.post(_confirm_url(user, "set-password"), {"new_password1": NEW, "new_password2": NEW})
    assert services.revoke_api_tokens(user=user) == 0  # already all revoked
    assert user.notifications.filter(kind="password_changed").exists()


def test_reset_requests_over_the_limit_for_one_address_get_the_same_answer_but_no_mail(
    client, user, settings, django_capture_on_commit_callbacks
):
    settings.RATELIMIT_PASSWORD_RESET = "2/h"
    with django_capture_on_commit_callbacks(execute=True):
        answers = [
            client.post(reverse("accounts:password_reset"), {"email": spelling}, REMOTE_ADDR=ip)
            for spelling, ip in [
                ("ada@example.edu", "10.0.0.1"),
                ("ADA@example.edu", "10.0.0.2"),
                ("Ada@Example.edu", "10.0.0.3"),
            ]
        ]
    assert {(answer.status_code, answer.url) for answer in answers} == {(302, reverse("accounts:password_reset_done"))}
    assert len(mail.outbox) == 2


def test_reset_requests_over_the_limit_from_one_client_address_send_nothing(
    client, settings, django_capture_on_commit_callbacks
):
    settings.RATELIMIT_PASSWORD_RESET = "2/h"
    people = [UserFactory() for _ in range(3)]
    with django_capture_on_commit_callbacks(execute=True):
        answers = [client.post(reverse("accounts:password_reset"), {"email": person.email}) for person in people]
    assert all(answer.status_code == 302 for answer in answers)
    assert [message.to for message in mail.outbox] == [[people[0].email], [people[1].email]]


def test_every_accounts_page_renders_without_inline_styles(client, user):
    pages = [
        reverse("accounts:register"),
        reverse("accounts:login"),
        reverse("accounts:password_reset"),
        reverse("accounts:password_reset_done"),
        reverse("accounts:password_reset_complete"),
    ]
    for url in pages:
        response = client.get(url)
        assert response.status_code == 200, url
        _assert_no_inline_styles(response)
    client.force_login(user)
    for url in [reverse("accounts:password_change"), reverse("accounts:profile_edit"), user.get_absolute_url()]:
        response = client.get(url)
        assert response.status_code == 200, url
        _assert_no_inline_styles(response)
