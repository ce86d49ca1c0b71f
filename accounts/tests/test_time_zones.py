"""The user's time zone: offered by the browser at sign-up, kept in the profile, active on
every page they open (config.middleware.TimeZoneMiddleware)."""

import pytest
from django.contrib.auth.models import AnonymousUser
from django.http import HttpResponse
from django.test import RequestFactory
from django.urls import reverse
from django.utils import timezone

from accounts.models import User
from accounts.tests.factories import UserFactory
from config.middleware import TimeZoneMiddleware

pytestmark = pytest.mark.django_db

STRONG = "a-long-unusual-passphrase-42"
SIGN_UP = {
    "first_name": "Kenji",
    "last_name": "Sato",
    "email": "kenji@example.edu",
    "password1": STRONG,
    "password2": STRONG,
}


def test_the_sign_up_page_carries_a_hidden_zone_field_and_the_script_that_fills_it(client):
    html = client.get(reverse("accounts:register")).content.decode()

    assert 'type="hidden" name="time_zone"' in html and "data-browser-zone" in html
    assert "js/timezone.js" in html


def test_signing_up_keeps_the_zone_the_browser_reported(client):
    client.post(reverse("accounts:register"), {**SIGN_UP, "time_zone": "Asia/Tokyo"})

    assert User.objects.get(email="kenji@example.edu").time_zone == "Asia/Tokyo"


@pytest.mark.parametrize("reported", ["", "Mars/Olympus_Mons", "asia/tokyo", "x" * 64], ids=repr)
def test_an_unknown_or_missing_browser_zone_falls_back_to_the_site_default(client, settings, reported):
    # Given a browser without JavaScript, or one that reports a name this server does not know
    settings.TIME_ZONE = "UTC"

    # When the student signs up
    response = client.post(reverse("accounts:register"), {**SIGN_UP, "time_zone": reported})

    # Then the account exists (a hidden field is nothing to correct) with the site's zone
    assert response.status_code == 302
    assert User.objects.get(email="kenji@example.edu").time_zone == "UTC"


def test_the_api_sign_up_takes_a_zone_and_refuses_an_unknown_one(client):
    from rest_framework.test import APIClient

    api = APIClient()
    body = {"email": "kenji@example.edu", "password": STRONG, "first_name": "Kenji", "last_name": "Sato"}

    refused = api.post(reverse("api:register"), {**body, "time_zone": "Mars/Base"}, format="json")
    created = api.post(reverse("api:register"), {**body, "time_zone": "America/Los_Angeles"}, format="json")

    assert refused.status_code == 400 and "time_zone" in refused.json()["errors"]
    assert created.status_code == 202  # "check your inbox", whether or not the address was free
    assert User.objects.get(email="kenji@example.edu").time_zone == "America/Los_Angeles"


def test_the_profile_keeps_the_zone_editable_and_offers_the_browsers(client):
    user = UserFactory(time_zone="UTC")
    client.force_login(user)

    html = client.get(reverse("accounts:profile_edit")).content.decode()

    assert 'name="time_zone"' in html and 'value="Asia/Tokyo"' in html
    assert "data-browser-zone-offer" in html


def _zone_seen_by_a_page(user, path="/"):
    request = RequestFactory().get(path)
    request.user = user
    middleware = TimeZoneMiddleware(lambda request: HttpResponse(timezone.get_current_timezone_name()))
    return middleware(request).content.decode()


def test_pages_of_a_signed_in_user_render_in_their_zone_and_the_zone_does_not_leak():
    tokyo = UserFactory(time_zone="Asia/Tokyo")

    assert _zone_seen_by_a_page(tokyo) == "Asia/Tokyo"
    assert timezone.get_current_timezone_name() == "UTC"  # the next request starts clean


def test_anonymous_visitors_and_the_api_see_the_site_default(settings):
    settings.TIME_ZONE = "UTC"
    tokyo = UserFactory(time_zone="Asia/Tokyo")

    assert _zone_seen_by_a_page(AnonymousUser()) == "UTC"
    assert _zone_seen_by_a_page(tokyo, "/api/v1/help/requests/") == "UTC"


def test_a_zone_name_the_server_no_longer_knows_falls_back_instead_of_failing():
    stale = UserFactory(time_zone="UTC")
    User.objects.filter(pk=stale.pk).update(time_zone="Atlantis/Capital")
    stale.refresh_from_db()

    assert _zone_seen_by_a_page(stale) == "UTC"
