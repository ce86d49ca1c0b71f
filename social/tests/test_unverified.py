"""An account whose e-mail address is not confirmed sends no friend request (API and page)."""

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from social.models import FriendRequest
from social.tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def test_an_unconfirmed_account_cannot_send_friend_requests(client):
    newcomer, other = UserFactory(email_verified_at=None), UserFactory()
    api = APIClient()
    api.force_authenticate(newcomer)
    client.force_login(newcomer)

    response = api.post(reverse("api:social-friend-requests"), {"to": str(other.public_id)}, format="json")
    page = client.post(reverse("social:send_request", kwargs={"public_id": other.public_id}), {"note": ""})

    assert response.status_code == 403 and response.json()["code"] == "unverified"
    assert page.status_code == 400 and "Confirm your e-mail address first" in page.content.decode()
    assert not FriendRequest.objects.exists()


def test_a_confirmed_account_can_send_friend_requests():
    sender, other = UserFactory(), UserFactory()
    api = APIClient()
    api.force_authenticate(sender)

    response = api.post(reverse("api:social-friend-requests"), {"to": str(other.public_id)}, format="json")

    assert response.status_code == 201
