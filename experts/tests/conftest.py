"""Fixtures of the experts tests."""

import pytest
from rest_framework.test import APIClient

from experts.tests.factories import CategoryFactory, StaffFactory, UserFactory


@pytest.fixture
def ada(db):
    return UserFactory(first_name="Ada", last_name="Lovelace", email="ada@uni.example")


@pytest.fixture
def eve(db):
    """A student who tries to touch what is not hers."""
    return UserFactory(first_name="Eve", last_name="Intruder", email="eve@uni.example")


@pytest.fixture
def staff(db):
    return StaffFactory(first_name="Sam", last_name="Staff", email="sam@lyceum.example")


@pytest.fixture
def maths(db):
    return CategoryFactory(name="Mathematics", slug="mathematics")


@pytest.fixture
def physics(db):
    return CategoryFactory(name="Physics", slug="physics")


@pytest.fixture
def closed(db):
    return CategoryFactory(name="Alchemy", slug="alchemy", is_active=False)


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
