import pytest
from django.apps import apps
from django.contrib.auth.hashers import identify_hasher
from django.core import mail
from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken

from accounts import services
from accounts.models import User
from accounts.tests import imagedata
from accounts.tests.factories import DEFAULT_PASSWORD, UserFactory

pytestmark = pytest.mark.django_db


def _notifications():
    # Looked up by name: accounts sits below notifications and does not import it in tests.
    return apps.get_model("notifications", "Notification").objects


STRONG = "a-long-unusual-passphrase-42"


def _register(**overrides) -> User:
    data = {
        "email": "Grace.Hopper@Example.EDU",
        "password": STRONG,
        "first_name": "Grace",
        "last_name": "Hopper",
        "university": "Yale",
        "course": "Mathematics",
    }
    data.update(overrides)
    return services.register_user(**data)


# --- register_user -----------------------------------------------------------------------------


def test_register_user_creates_an_account_and_welcomes_it(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        user = _register()

    assert user.email == "Grace.Hopper@example.edu"  # the domain is normalised, the local part kept
    assert user.check_password(STRONG)
    assert (user.university, user.course) == ("Yale", "Mathematics")
    assert user.email_verified_at is None
    welcome, confirm = user.notifications.order_by("id")
    assert welcome.kind == "welcome" and "Grace" in welcome.title
    assert confirm.kind == "email_verify"


def test_passwords_are_hashed_with_bcrypt_first_in_the_project_settings(settings):
    from config import settings as project_settings

    assert project_settings.PASSWORD_HASHERS[0] == "django.contrib.auth.hashers.BCryptSHA256PasswordHasher"
    settings.PASSWORD_HASHERS = project_settings.PASSWORD_HASHERS
    user = _register()
    assert identify_hasher(user.password).algorithm == "bcrypt_sha256"


@pytest.mark.parametrize(
    "spelling", ["grace.hopper@example.edu", "GRACE.HOPPER@EXAMPLE.EDU", " Grace.Hopper@example.edu "]
)
def test_register_user_with_an_address_taken_in_any_letter_case_creates_nothing_and_tells_the_owner(spelling):
    owner = _register()
    assert _register(email=spelling) is None
    assert User.objects.count() == 1
    assert owner.notifications.filter(kind="address_in_use").count() == 1


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"password": "short"}, "password"),
        ({"password": "1234567890123"}, "password"),
        ({"password": "password1234"}, "password"),
        ({"password": "grace.hopper.example"}, "password"),  # too like the address
        ({"email": "not-an-address"}, "email"),
        ({"email": ""}, "email"),
        ({"first_name": ""}, "first_name"),
        ({"last_name": "   "}, "last_name"),
        ({"first_name": "x" * 81}, "first_name"),
        ({"university": "u" * 121}, "university"),
        ({"email": "a" * 250 + "@example.edu"}, "email"),
    ],
)
def test_register_user_refuses_bad_input_and_creates_nothing(overrides, field):
    with pytest.raises(ValidationError) as caught:
        _register(**overrides)
    assert field in caught.value.message_dict
    assert not User.objects.exists()
    assert not _notifications().exists()


# --- update_profile ----------------------------------------------------------------------------


def test_update_profile_saves_the_given_fields():
    user = UserFactory()
    services.update_profile(user=user, bio="Loves compilers.", interests="robotics, jazz", time_zone="Europe/Rome")
    user.refresh_from_db()
    assert user.bio == "Loves compilers."
    assert user.interest_list == ["robotics", "jazz"]
    assert user.time_zone == "Europe/Rome"


def test_update_profile_cannot_change_the_login_address():
    user = UserFactory(email="mine@example.edu")
    with pytest.raises(TypeError):
        services.update_profile(user=user, email="other@example.edu")
    user.refresh_from_db()
    assert user.email == "mine@example.edu"


@pytest.mark.parametrize(
    "fields",
    [
        {"bio": "b" * 1001},
        {"time_zone": "Mars/Olympus_Mons"},
        {"first_name": ""},
        {"interests": "i" * 301},
    ],
)
def test_update_profile_refuses_bad_values_and_changes_nothing(fields):
    user = UserFactory()
    before = User.objects.values().get(pk=user.pk)
    with pytest.raises(ValidationError):
        services.update_profile(user=user, **fields)
    assert User.objects.values().get(pk=user.pk) == before


def test_update_profile_refuses_fields_that_are_not_profile_fields():
    user = UserFactory()
    with pytest.raises(TypeError):
        services.update_profile(user=user, is_staff=True)
    user.refresh_from_db()
    assert not user.is_staff


# --- avatars -----------------------------------------------------------------------------------


def test_set_avatar_stores_a_webp_under_a_random_name():
    user = UserFactory()
    services.set_avatar(user=user, upload=imagedata.upload(imagedata.picture("PNG"), name="../../etc/passwd.png"))
    user.refresh_from_db()
    assert user.avatar.name.startswith(f"avatars/{user.public_id}/")
    assert user.avatar.name.endswith(".webp")
    assert "passwd" not in user.avatar.name
    assert default_storage.exists(user.avatar.name)


def test_replacing_an_avatar_deletes_the_old_file_after_commit(django_capture_on_commit_callbacks):
    user = UserFactory()
    services.set_avatar(user=user, upload=imagedata.upload(imagedata.picture("JPEG")))
    old_name = user.avatar.name

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        services.set_avatar(user=user, upload=imagedata.upload(imagedata.picture("PNG"), name="b.png"))
    assert default_storage.exists(old_name)  # still there until the transaction commits
    for callback in callbacks:
        callback()

    assert not default_storage.exists(old_name)
    assert default_storage.exists(user.avatar.name)


def test_remove_avatar_clears_the_field_and_deletes_the_file(django_capture_on_commit_callbacks):
    user = UserFactory()
    services.set_avatar(user=user, upload=imagedata.upload(imagedata.picture("JPEG")))
    name = user.avatar.name
    with django_capture_on_commit_callbacks(execute=True):
        services.remove_avatar(user=user)
    user.refresh_from_db()
    assert not user.avatar
    assert not default_storage.exists(name)


def test_a_bad_upload_changes_neither_the_avatar_nor_the_storage():
    user = UserFactory()
    services.set_avatar(user=user, upload=imagedata.upload(imagedata.picture("JPEG")))
    name = user.avatar.name
    _, before = default_storage.listdir(f"avatars/{user.public_id}")

    with pytest.raises(ValidationError):
        services.set_avatar(user=user, upload=imagedata.upload(imagedata.png_claiming(30000, 30000), name="x.png"))

    user.refresh_from_db()
    assert user.avatar.name == name
    assert default_storage.listdir(f"avatars/{user.public_id}")[1] == before


# --- passwords and tokens ----------------------------------------------------------------------


def test_change_password_revokes_every_refresh_token_and_tells_the_user(django_capture_on_commit_callbacks):
    user = UserFactory()
    services.issue_api_tokens(user=user)
    services.issue_api_tokens(user=user)
    other = UserFactory()
    services.issue_api_tokens(user=other)

    with django_capture_on_commit_callbacks(execute=True):
        services.change_password(user=user, new_password=STRONG)

    user.refresh_from_db()
    assert user.check_password(STRONG)
    assert BlacklistedToken.objects.filter(token__user=user).count() == 2
    assert not BlacklistedToken.objects.filter(token__user=other).exists()
    assert user.notifications.filter(kind="password_changed").count() == 1


def test_change_password_refuses_a_weak_password_and_keeps_the_old_one():
    user = UserFactory()
    services.issue_api_tokens(user=user)
    with pytest.raises(ValidationError) as caught:
        services.change_password(user=user, new_password="12345")
    assert "new_password" in caught.value.message_dict
    user.refresh_from_db()
    assert user.check_password(DEFAULT_PASSWORD)
    assert not BlacklistedToken.objects.exists()
    assert not _notifications().exists()


def test_blacklist_refresh_token_refuses_forged_and_reused_tokens():
    user = UserFactory()
    refresh = services.issue_api_tokens(user=user)["refresh"]
    services.blacklist_refresh_token(refresh=refresh)
    assert BlacklistedToken.objects.filter(token__jti__isnull=False).count() == 1

    with pytest.raises(ValidationError):
        services.blacklist_refresh_token(refresh=refresh)
    with pytest.raises(ValidationError):
        services.blacklist_refresh_token(refresh=refresh[:-4] + "AAAA")
    assert OutstandingToken.objects.count() == 1


# --- password reset ----------------------------------------------------------------------------


def test_request_password_reset_mails_a_link_after_commit(django_capture_on_commit_callbacks, settings):
    settings.SITE_URL = "https://lyceum.example"
    user = UserFactory(email="Ada@example.edu", first_name="Ada")
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        assert services.request_password_reset(email="ADA@example.edu") == 1
    assert not mail.outbox  # nothing leaves before the commit
    for callback in callbacks:
        callback()

    (message,) = mail.outbox
    assert message.to == [user.email]
    assert "Reset your Lyceum password" in message.subject
    assert "https://lyceum.example/accounts/password/reset/" in message.body
    html, mimetype = message.alternatives[0]
    assert mimetype == "text/html"
    assert "Choose a new password" in html


@pytest.mark.parametrize("case", ["unknown", "inactive", "unusable"])
def test_request_password_reset_sends_nothing_for_no_usable_account(case, django_capture_on_commit_callbacks):
    if case == "inactive":
        UserFactory(email="ghost@example.edu", is_active=False)
    elif case == "unusable":
        user = UserFactory(email="ghost@example.edu")
        user.set_unusable_password()
        user.save()
    with django_capture_on_commit_callbacks(execute=True):
        assert services.request_password_reset(email="ghost@example.edu") == 0
    assert not mail.outbox


# --- live tickets ------------------------------------------------------------------------------


def test_a_live_ticket_is_redeemed_once():
    user = UserFactory()
    ticket = services.issue_live_ticket(user=user)
    redeemed_user, credential = services.redeem_live_ticket(ticket=ticket)
    assert (redeemed_user, credential.user_id) == (user, user.pk)
    assert services.redeem_live_ticket(ticket=ticket) is None


def test_of_two_racing_redeems_only_the_one_that_deletes_the_ticket_wins(monkeypatch):
    user = UserFactory()
    ticket = services.issue_live_ticket(user=user)
    real_cache = services.cache
    stale = {}

    class RacingCache:
        """The second redeemer read the ticket before the first deleted it."""

        def get(self, key):
            if key in stale:
                return stale[key]
            value = real_cache.get(key)
            stale[key] = value
            return value

        def delete(self, key):
            return real_cache.delete(key)

    monkeypatch.setattr(services, "cache", RacingCache())
    results = [services.redeem_live_ticket(ticket=ticket), services.redeem_live_ticket(ticket=ticket)]
    assert [result and result[0] for result in results] == [user, None]


@pytest.mark.parametrize(
    "ticket", ["", "short", "x" * 500, "../../etc/passwd", "a b c d e f g h i j k l m n o p", None]
)
def test_a_malformed_live_ticket_is_refused(ticket):
    assert services.redeem_live_ticket(ticket=ticket) is None


def test_a_live_ticket_of_an_inactive_user_is_refused():
    user = UserFactory()
    ticket = services.issue_live_ticket(user=user)
    User.objects.filter(pk=user.pk).update(is_active=False)
    assert services.redeem_live_ticket(ticket=ticket) is None


def test_a_live_ticket_expires(settings):
    import time

    settings.LIVE_TICKET_SECONDS = 1
    ticket = services.issue_live_ticket(user=UserFactory())
    time.sleep(1.2)
    assert services.redeem_live_ticket(ticket=ticket) is None


def test_a_registration_racing_for_the_same_address_answers_like_a_taken_one_not_a_500(monkeypatch):
    # Given another request registered the address between our check and our insert
    UserFactory(email="grace.hopper@example.edu")
    real_check = services.selectors.email_in_use
    calls = []

    def check_that_misses_the_first_time(**kwargs):
        calls.append(kwargs)
        return False if len(calls) == 1 else real_check(**kwargs)

    monkeypatch.setattr(services.selectors, "email_in_use", check_that_misses_the_first_time)

    # When we insert, the database's case-insensitive unique index refuses it
    result = _register()

    # Then it is the same quiet answer as for a taken address
    assert result is None
    assert User.objects.count() == 1
