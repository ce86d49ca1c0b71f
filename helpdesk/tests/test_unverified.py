"""An account whose e-mail address is not confirmed submits no help request (API and page)."""

import pytest
from django.urls import reverse

from experts.tests.factories import UserFactory
from helpdesk.models import HelpRequest

pytestmark = pytest.mark.django_db


def test_an_unconfirmed_account_cannot_submit_a_help_request(category, client_of, api_of):
    newcomer = UserFactory(email_verified_at=None)
    body = {"category": category.pk, "title": "Stuck", "description": "On eigenvalues"}
    no_slots = {
        "slots-TOTAL_FORMS": "5",
        "slots-INITIAL_FORMS": "0",
        "slots-MIN_NUM_FORMS": "0",
        "slots-MAX_NUM_FORMS": "5",
    }

    response = api_of(newcomer).post(reverse("api:helpdesk-requests"), body, format="multipart")
    page = client_of(newcomer).post(reverse("helpdesk:new"), {**body, **no_slots})

    assert response.status_code == 403 and response.json()["code"] == "unverified"
    assert page.status_code == 400 and "Confirm your e-mail address first" in page.content.decode()
    assert not HelpRequest.objects.exists()
