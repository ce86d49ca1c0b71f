"""Fixtures of the help-desk tests (the meetings tests share them harmlessly)."""

import pytest
from cryptography.fernet import Fernet
from django.test import override_settings

from experts.tests.factories import CategoryFactory, ExpertProfileFactory, StaffFactory, UserFactory

TEST_KEY = Fernet.generate_key().decode()


@pytest.fixture(autouse=True)
def _helpdesk_settings(helpdesk_settings):
    """Every help-desk test runs with the root conftest's helpdesk_settings."""


@pytest.fixture(autouse=True)
def _fresh_meeting_provider():
    try:
        from helpdesk.meetings import memory_provider
    except ImportError:  # helpdesk/meetings.py not there yet
        yield None
        return
    memory_provider.reset()
    yield memory_provider
    memory_provider.reset()


@pytest.fixture
def provider(_fresh_meeting_provider):
    if _fresh_meeting_provider is None:
        pytest.skip("helpdesk.meetings (InMemoryMeetingProvider) is missing")
    return _fresh_meeting_provider


@pytest.fixture
def category(db):
    return CategoryFactory(name="Linear Algebra", slug="linear-algebra")


@pytest.fixture
def other_category(db):
    return CategoryFactory(name="Organic Chemistry", slug="organic-chemistry")


@pytest.fixture
def make_expert(db, category):
    def make(first_name="Grace", categories=None, max_active_requests=3, **kwargs):
        profile = ExpertProfileFactory(
            user=UserFactory(first_name=first_name, last_name="Expert"),
            categories=categories if categories is not None else [category],
            max_active_requests=max_active_requests,
            **kwargs,
        )
        return profile.user

    return make


@pytest.fixture
def grace(make_expert):
    """A verified expert in `category`."""
    return make_expert("Grace")


@pytest.fixture
def alan(make_expert):
    """A second verified expert in `category`."""
    return make_expert("Alan")


@pytest.fixture
def chemist(make_expert, other_category):
    """A verified expert, but in another category."""
    return make_expert("Marie", categories=[other_category])


@pytest.fixture
def staff(db):
    return StaffFactory(first_name="Sam", last_name="Staff")


@pytest.fixture
def counting_layer():
    """The live publishes of a test, one (groups, message) per publish (test_live_push.CountingLayer)."""
    from helpdesk.tests.test_live_push import PUBLISHES

    PUBLISHES.clear()
    with override_settings(CHANNEL_LAYERS={"default": {"BACKEND": "helpdesk.tests.test_live_push.CountingLayer"}}):
        yield PUBLISHES
    PUBLISHES.clear()
