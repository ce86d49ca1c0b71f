"""Fixtures of the social tests."""

import pytest
from rest_framework.test import APIClient

from social.tests.factories import UserFactory


@pytest.fixture
def ada(db):
    return UserFactory(first_name="Ada", last_name="Lovelace", email="ada@uni.example")


@pytest.fixture
def bob(db):
    return UserFactory(first_name="Bob", last_name="Babbage", email="bob@uni.example")


@pytest.fixture
def eve(db):
    """A third student who tries to touch what is not hers."""
    return UserFactory(first_name="Eve", last_name="Intruder", email="eve@uni.example")


@pytest.fixture
def client_of(client):
    """client_of(user): the Django test client logged in as that user."""

    def login(user):
        client.force_login(user)
        return client

    return login


@pytest.fixture
def api_of():
    """api_of(user): a DRF client authenticated as that user."""

    def make(user):
        api = APIClient()
        api.force_authenticate(user)
        return api

    return make
