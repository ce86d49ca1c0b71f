"""The API's declared throttles apply: per client address for anonymous callers, per user for
signed-in ones, and the scoped sign-up throttle on its own."""

import pytest
from django.conf import settings
from django.urls import reverse
from rest_framework.test import APIClient
from rest_framework.throttling import SimpleRateThrottle, UserRateThrottle

from accounts.tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def declared_limit(scope: str) -> int:
    """How many requests the REST_FRAMEWORK setting allows in one window of `scope`."""
    count, _ = SimpleRateThrottle.parse_rate(None, settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"][scope])
    return count


def test_token_attempts_from_one_address_are_refused_past_the_anonymous_rate():
    # given one client address trying a different account each time (no axes lock-out applies)
    client = APIClient(REMOTE_ADDR="203.0.113.7")
    url = reverse("api:token_obtain_pair")
    limit = declared_limit("anon")
    # when it tries as many times as the anonymous rate allows, every attempt is answered
    for n in range(limit):
        answer = client.post(url, {"email": f"guess{n}@example.edu", "password": "wrong-guess"}, format="json")
        assert answer.status_code == 401, (n, answer.status_code)
    # then the next one is throttled, with Retry-After, and says so in JSON
    throttled = client.post(url, {"email": "one-more@example.edu", "password": "wrong-guess"}, format="json")
    assert throttled.status_code == 429
    assert int(throttled["Retry-After"]) > 0
    assert "throttled" in throttled.json()["detail"]


def test_a_forged_forwarded_for_header_does_not_reset_the_anonymous_counter(monkeypatch):
    monkeypatch.setattr(SimpleRateThrottle, "THROTTLE_RATES", {**SimpleRateThrottle.THROTTLE_RATES, "anon": "2/min"})
    client = APIClient(REMOTE_ADDR="203.0.113.8")
    url = reverse("api:token_obtain_pair")
    for n in range(2):
        client.post(
            url, {"email": f"x{n}@example.edu", "password": "p"}, format="json", HTTP_X_FORWARDED_FOR=f"10.0.0.{n}"
        )
    throttled = client.post(url, {"email": "x@example.edu", "password": "p"}, HTTP_X_FORWARDED_FOR="10.0.0.99")
    assert throttled.status_code == 429


def test_another_address_has_its_own_anonymous_allowance(monkeypatch):
    monkeypatch.setattr(SimpleRateThrottle, "THROTTLE_RATES", {**SimpleRateThrottle.THROTTLE_RATES, "anon": "1/min"})
    url = reverse("api:token_obtain_pair")
    first = APIClient(REMOTE_ADDR="203.0.113.9")
    first.post(url, {"email": "a@example.edu", "password": "p"}, format="json")
    assert first.post(url, {"email": "a@example.edu", "password": "p"}, format="json").status_code == 429
    other = APIClient(REMOTE_ADDR="203.0.113.10")
    assert other.post(url, {"email": "a@example.edu", "password": "p"}, format="json").status_code == 401


def test_a_signed_in_user_is_throttled_per_user_whatever_the_address(monkeypatch):
    monkeypatch.setattr(UserRateThrottle, "THROTTLE_RATES", {**UserRateThrottle.THROTTLE_RATES, "user": "3/min"})
    user = UserFactory()
    url = reverse("api:me")
    for n in range(3):
        client = APIClient(REMOTE_ADDR=f"198.51.100.{n}")
        client.force_authenticate(user)
        assert client.get(url).status_code == 200
    client = APIClient(REMOTE_ADDR="198.51.100.50")
    client.force_authenticate(user)
    assert client.get(url).status_code == 429
    # a different user is not affected
    someone_else = APIClient(REMOTE_ADDR="198.51.100.50")
    someone_else.force_authenticate(UserFactory())
    assert someone_else.get(url).status_code == 200


def test_the_declared_default_throttles_are_the_anonymous_and_user_rates():
    from rest_framework.throttling import AnonRateThrottle

    from config import throttling

    assert settings.REST_FRAMEWORK["DEFAULT_THROTTLE_CLASSES"] == [
        "config.throttling.AnonRateThrottle",
        "config.throttling.UserRateThrottle",
    ]
    assert issubclass(throttling.AnonRateThrottle, AnonRateThrottle)
    assert issubclass(throttling.UserRateThrottle, UserRateThrottle)
    assert declared_limit("anon") > 0 and declared_limit("user") > declared_limit("anon")


def test_the_sign_up_throttle_still_applies_on_its_own(settings):
    settings.RATELIMIT_SIGN_UP = "2/h"
    client = APIClient(REMOTE_ADDR="203.0.113.11")
    for _ in range(2):
        assert client.post(reverse("api:register"), {}, format="json").status_code == 400
    assert client.post(reverse("api:register"), {}, format="json").status_code == 429


def test_a_counter_that_straddled_its_expiry_never_gives_a_negative_retry_after(monkeypatch, rf):
    """django-ratelimit reports time_left -1 when its add and incr straddled an expiry: the
    sign-up limit answers Retry-After 0, not -1 ("try again in -1 seconds")."""
    from accounts import ratelimits

    monkeypatch.setattr(ratelimits, "count_attempt", lambda request, **kwargs: {"should_limit": True, "time_left": -1})

    assert ratelimits.sign_up_usage(rf.post("/accounts/signup/")) == (True, 0)
