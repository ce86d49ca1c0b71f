"""Project-wide test setup and the fixtures every app's tests share (the students ada, bob and
eve; client_of and api_of). Fixtures of one app live in <app>/tests/conftest.py."""

import os

import pytest

from config.celery import app as celery_app

# Playwright's sync API runs an event loop in the test thread; Django's ORM calls from that
# thread are still synchronous and safe here.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


@pytest.fixture(autouse=True, scope="session")
def _celery_eager_in_tests():
    """Tests run tasks in-process unless a test starts a real worker itself."""
    celery_app.conf.task_always_eager = True
    celery_app.conf.task_eager_propagates = True
    yield


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Throttles and lockouts live in the cache: no test inherits another's counters."""
    from django.conf import settings
    from django.core.cache import cache

    if settings.REDIS_URL:
        # Never FLUSHDB a shared Redis: remove only this run's keys.
        from config import redis_client

        client = redis_client.for_cache()
        keys = list(client.scan_iter(match=f"{settings.CACHES['default']['KEY_PREFIX']}:*", count=1000))
        if keys:
            client.delete(*keys)
    else:
        cache.clear()
    from chat.services import unread_email

    unread_email._known_waiting.clear()  # what this process learned from the cache goes with it
    yield


@pytest.fixture(autouse=True)
def _fresh_busy_refusals():
    """The busy refusals' log counts per process: each test's first refusal is logged at once."""
    from live import handshake

    handshake.busy_refusals.reset()
    yield


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    """bcrypt costs ~0.4 s a hash here. The production order (bcrypt first) is asserted in
    accounts/tests/test_services.py, which overrides this for itself."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def redis_url() -> str:
    url = os.environ.get("REDIS_URL", "")
    if not url:
        pytest.skip("REDIS_URL is not set: this test needs a real Redis (make test-services)")
    return url


@pytest.fixture
def mysql_database():
    from django.db import connection

    if connection.vendor != "mysql":
        pytest.skip("DATABASE_URL does not point at MySQL/MariaDB: this test needs it (make test-services)")
    return connection


# --- The students and their clients, shared by the apps' tests ---------------------------------


@pytest.fixture
def ada(db):
    from accounts.tests.factories import UserFactory

    return UserFactory(first_name="Ada", last_name="Lovelace", email="ada@uni.example")


@pytest.fixture
def bob(db):
    from accounts.tests.factories import UserFactory

    return UserFactory(first_name="Bob", last_name="Babbage", email="bob@uni.example")


@pytest.fixture
def eve(db):
    """A student who tries to touch what is not hers."""
    from accounts.tests.factories import UserFactory

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
    from rest_framework.test import APIClient

    def make(user):
        api = APIClient()
        api.force_authenticate(user)
        return api

    return make


@pytest.fixture
def helpdesk_settings(settings, tmp_path):
    """The help desk's settings in a test: the test document key, documents in the test's tmp
    dir, the in-memory meeting provider (autouse in helpdesk/tests)."""
    from helpdesk.tests.conftest import TEST_KEY

    settings.HELPDESK_DOCUMENT_KEYS = [TEST_KEY]
    settings.HELPDESK_DOCUMENT_ROOT = str(tmp_path / "help-documents")
    settings.MEETING_PROVIDER = "memory"
    settings.SITE_URL = "https://lyceum.test"
    return settings
