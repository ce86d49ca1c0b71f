"""A student's profile page (/people/<public_id>/): what it shows, and to whom."""

import re

import pytest
from django.urls import reverse

from accounts import services as account_services
from accounts.tests import imagedata
from social import services
from social.tests.factories import UserFactory

pytestmark = pytest.mark.django_db

EDIT_BUTTON = '<a class="btn btn-outline-primary" href="/accounts/profile/edit/">'


@pytest.fixture(autouse=True)
def _private_media_root(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")
    settings.STORAGES = {**settings.STORAGES, "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"}}


def test_the_profile_page_shows_the_student(ada, bob, client_of):
    account_services.update_profile(user=ada, bio="Poet of numbers.", interests="engines, poetry , ,music")
    account_services.set_avatar(user=ada, upload=imagedata.upload(imagedata.picture("JPEG")))

    response = client_of(bob).get(ada.get_absolute_url())

    assert response.status_code == 200
    html = response.content.decode()
    assert "Ada Lovelace" in html
    assert "University of Bologna" in html and "Computer Engineering" in html
    assert "Poet of numbers." in html
    assert re.findall(r'<li class="chip">([^<]+)</li>', html) == ["engines", "poetry", "music"]
    ada.refresh_from_db()
    assert ada.avatar.url in html
    assert EDIT_BUTTON not in html  # someone else's profile
    assert 'style="' not in html and "<style" not in html  # the CSP has no 'unsafe-inline' for styles


def test_ones_own_profile_offers_the_edit_button(ada, client_of):
    assert EDIT_BUTTON in client_of(ada).get(ada.get_absolute_url()).content.decode()


def test_profiles_need_a_signed_in_viewer(ada, client):
    response = client.get(ada.get_absolute_url())
    assert response.status_code == 302
    assert response.url.startswith(reverse("accounts:login"))


def test_an_unknown_or_inactive_profile_is_404(ada, client_of):
    client = client_of(ada)
    gone = UserFactory(is_active=False)
    assert client.get(gone.get_absolute_url()).status_code == 404
    unknown = reverse("social:profile", kwargs={"public_id": "00000000-0000-0000-0000-000000000000"})
    assert client.get(unknown).status_code == 404
    assert client.get("/people/not-a-uuid/").status_code == 404


@pytest.mark.parametrize("direction", ["blocked-by-them", "blocked-them"])
def test_a_block_either_way_makes_the_profile_a_404(ada, eve, client_of, direction):
    # given Ada blocked Eve (or Eve blocked Ada)
    blocker, blocked = (ada, eve) if direction == "blocked-by-them" else (eve, ada)
    services.block_user(blocker=blocker, blocked=blocked)
    # when Eve opens Ada's profile, then it does not exist for her, as for an unknown student
    assert client_of(eve).get(ada.get_absolute_url()).status_code == 404
