"""An API login's logout is a database row (live.models.RevokedLogin): written in the logout's
transaction, read in the check's one statement (never the cache), kept until every token of the
login has expired, then removed by the next logouts (live.access.forget_expired_logins)."""

from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.test import override_settings
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from live import access
from live.models import RevokedLogin

pytestmark = pytest.mark.django_db

# A cache nobody listens at: a check that read it would fail or guess.
NO_CACHE = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": "redis://127.0.0.1:9/0"}}


@pytest.fixture
def user():
    return get_user_model().objects.create_user(email="ada@example.edu", password="a-long-passphrase-1")


def _ticket_credential(user, login="a-login") -> access.LiveCredential:
    return access.ticket_credential(user=user, auth_hash=user.get_session_auth_hash(), login=login)


def _logout(user, login="a-login") -> None:
    with transaction.atomic():
        access.revoke_live_sockets(user_id=user.pk, login=login)


def test_a_logout_is_one_row_until_the_refresh_tokens_of_its_login_have_expired(user, settings):
    before = timezone.now()

    _logout(user)

    row = RevokedLogin.objects.get(login="a-login")
    lifetime = settings.SIMPLE_JWT["REFRESH_TOKEN_LIFETIME"]
    assert row.user_id == user.pk
    assert before + lifetime <= row.expires_at <= timezone.now() + lifetime


def test_a_second_logout_of_the_same_login_does_not_fail_and_keeps_one_row(user):
    _logout(user)
    RevokedLogin.objects.update(expires_at=timezone.now() + timedelta(minutes=1))

    _logout(user)

    assert RevokedLogin.objects.count() == 1
    assert RevokedLogin.objects.get().expires_at > timezone.now() + timedelta(days=1)  # the later expiry


def test_a_logout_rolled_back_leaves_no_row(user):
    with pytest.raises(RuntimeError), transaction.atomic():
        access.revoke_live_sockets(user_id=user.pk, login="a-login")
        raise RuntimeError("the blacklisting failed")

    assert not RevokedLogin.objects.exists()


def test_the_check_of_a_ticket_socket_is_one_statement_that_reads_no_cache(user):
    credential = _ticket_credential(user)

    with override_settings(CACHES=NO_CACHE), CaptureQueriesContext(connection) as queries:
        holds = access.credential_holds(credential)
    assert holds
    assert len(queries) == 1

    _logout(user)
    with override_settings(CACHES=NO_CACHE), CaptureQueriesContext(connection) as queries:
        holds = access.credential_holds(credential)
    assert not holds
    assert len(queries) == 1
    assert access.credential_holds(_ticket_credential(user, login="another-login"))  # only that login


def test_the_hellos_read_ends_a_logged_out_login_in_its_one_statement(user):
    credential = _ticket_credential(user)

    def expressions(user):
        return {}

    assert access.read_if_credential_holds(credential, expressions) == {}
    _logout(user)
    with override_settings(CACHES=NO_CACHE), CaptureQueriesContext(connection) as queries:
        read = access.read_if_credential_holds(credential, expressions)
    assert read is None
    assert len(queries) == 1
    assert access.read_if_credential_holds(_ticket_credential(user, login="another-login"), expressions) == {}


def test_expired_rows_go_a_bounded_batch_at_a_time(user):
    past, future = timezone.now() - timedelta(seconds=1), timezone.now() + timedelta(days=1)
    RevokedLogin.objects.bulk_create(
        [RevokedLogin(login=f"old-{i}", user=user, expires_at=past) for i in range(5)]
        + [RevokedLogin(login="current", user=user, expires_at=future)]
    )

    assert access.forget_expired_logins(batch=3) == 3
    assert access.forget_expired_logins(batch=3) == 2
    assert access.forget_expired_logins(batch=3) == 0

    assert list(RevokedLogin.objects.values_list("login", flat=True)) == ["current"]


def test_a_logout_removes_expired_rows_after_its_commit(user, django_capture_on_commit_callbacks):
    RevokedLogin.objects.create(login="old", user=user, expires_at=timezone.now() - timedelta(seconds=1))

    with django_capture_on_commit_callbacks(execute=True):
        _logout(user, login="new")

    assert list(RevokedLogin.objects.values_list("login", flat=True)) == ["new"]
