import pytest
from rest_framework.test import APIClient

from notifications.tests.factories import UserFactory


@pytest.fixture
def user(db):
    return UserFactory(first_name="Ada", last_name="Lovelace", email="ada@uni.example")


@pytest.fixture
def other_user(db):
    return UserFactory(first_name="Mallory", email="mallory@uni.example")


@pytest.fixture
def signed_in_client(client, user):
    client.force_login(user)
    return client


@pytest.fixture
def api_client(user):
    api = APIClient()
    api.force_authenticate(user)
    return api
