"""Fixtures shared by the tests under tests/."""

import pytest

from accounts.tests.factories import UserFactory
from live import access, push


@pytest.fixture
def lost_revocations(monkeypatch):
    """The channel layer drops every revocation message (it is at most once)."""
    real = push.send_to_users

    def send_to_users(user_ids, message):
        if message.get("type") != access.LIVE_REVOKE:
            real(user_ids, message)

    monkeypatch.setattr(push, "send_to_users", send_to_users)


@pytest.fixture
def ada(transactional_db):
    """A student, committed (socket tests run the consumer in other threads)."""
    return UserFactory(first_name="Ada", last_name="Lovelace")


@pytest.fixture
def bob(transactional_db):
    return UserFactory(first_name="Bob", last_name="Babbage")
