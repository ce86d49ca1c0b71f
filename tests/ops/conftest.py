"""Fixtures of the ops tests: the help-desk cast (requester, expert, category)."""

import pytest
from cryptography.fernet import Fernet

from experts.tests.factories import CategoryFactory, ExpertProfileFactory, StaffFactory, UserFactory


@pytest.fixture(autouse=True)
def _ops_settings(settings, tmp_path):
    settings.HELPDESK_DOCUMENT_KEYS = [Fernet.generate_key().decode()]
    settings.HELPDESK_DOCUMENT_ROOT = str(tmp_path / "help-documents")


@pytest.fixture
def category(db):
    return CategoryFactory(name="Linear Algebra", slug="linear-algebra")


@pytest.fixture
def requester(db):
    return UserFactory(first_name="Ada", last_name="Lovelace", email="ada.ops@uni.example")


@pytest.fixture
def expert(db, category):
    profile = ExpertProfileFactory(
        user=UserFactory(first_name="Grace", last_name="Expert", email="grace.ops@uni.example"),
        categories=[category],
    )
    return profile.user


@pytest.fixture
def staff(db):
    return StaffFactory(first_name="Sam", last_name="Staff")
