"""Fixtures of the chat tests."""

import pytest
from rest_framework.test import APIClient

from chat.tests.factories import UserFactory


@pytest.fixture
def ada(db):
    return UserFactory(first_name="Ada", last_name="Lovelace", email="ada@uni.example")


@pytest.fixture
def bob(db):
    return UserFactory(first_name="Bob", last_name="Babbage", email="bob@uni.example")


@pytest.fixture
def cleo(db):
    return UserFactory(first_name="Cleo", last_name="Patra", email="cleo@uni.example")


@pytest.fixture
def eve(db):
    """A student who tries to touch what is not hers."""
    return UserFactory(first_name="Eve", last_name="Intruder", email="eve@uni.example")


@pytest.fixture
def client_of(client):
    def login(user):
        client.force_login(user)
        return client

    return login


@pytest.fixture
def api_of():
    def make(user):
        api = APIClient()
        api.force_authenticate(user)
        return api

    return make


@pytest.fixture(autouse=True)
def _private_attachment_root(settings, tmp_path):
    """Chat files of a test go to its own tmp dir (never the project's private-media)."""
    settings.CHAT_ATTACHMENT_ROOT = str(tmp_path / "chat-files")
    settings.MEDIA_ROOT = str(tmp_path / "media")
