"""Redis (the cache) is down: what the HTTP side answers. Never a 500.

The cache points at a port where nothing listens, through a real redis-py client (Django's
Redis cache), so every cache call raises what an outage raises. The pages and the API's writes
carry on without the cache (a hint: the send rate, the API's throttles, each skipped with one
warning line); the login lock-out still holds (django-axes counts in the database).
"""

import logging
import socket
import uuid

import pytest
from django.conf import settings
from django.test import Client, override_settings
from django.urls import reverse
from rest_framework.test import APIClient

from accounts.tests.factories import DEFAULT_PASSWORD
from chat.models import Message
from chat.tests.factories import befriend, direct_between
from experts.tests.factories import CategoryFactory, ExpertProfileFactory, StaffFactory, UserFactory
from helpdesk.models import HelpRequest, HelpRequestStatus
from helpdesk.tests.factories import submit
from social.models import FriendRequest

pytestmark = pytest.mark.django_db


@pytest.fixture
def cache_down():
    """CACHES (and REDIS_URL, which /readyz and the status page read) at a closed port."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed again: connections are refused
    url = f"redis://127.0.0.1:{port}/0"
    caches = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": url,
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        }
    }
    with override_settings(CACHES=caches, REDIS_URL=url):
        yield


@pytest.fixture
def browser():
    """A page client that answers a view's unhandled error as the 500 a user would get."""
    return Client(raise_request_exception=False)


def _api(user=None) -> APIClient:
    api = APIClient(raise_request_exception=False)
    if user is not None:
        api.force_authenticate(user)
    return api


def _warnings(caplog) -> list[str]:
    return [record.getMessage() for record in caplog.records if record.levelno == logging.WARNING]


def test_the_pages_answer_without_the_cache(cache_down, browser, ada, bob):
    befriend(ada, bob)
    conversation = direct_between(ada, bob)

    assert browser.get(reverse("home")).status_code == 200
    assert browser.get(reverse("accounts:register")).status_code == 200
    assert browser.get(reverse("accounts:login")).status_code == 200
    wrong = browser.post(reverse("accounts:login"), {"username": ada.email, "password": "not her password"})
    right = browser.post(reverse("accounts:login"), {"username": ada.email, "password": DEFAULT_PASSWORD})
    assert wrong.status_code == 400 and right.status_code == 302
    assert browser.get(reverse("home")).status_code == 200
    assert browser.get(reverse("chat:list")).status_code == 200
    assert browser.get(reverse("chat:conversation", args=[conversation.pk])).status_code == 200
    sent = browser.post(reverse("chat:send", args=[conversation.pk]), {"body": "page send", "client_id": uuid.uuid4().hex})
    assert sent.status_code == 302
    assert Message.objects.filter(conversation=conversation, body="page send").exists()
    assert browser.get(reverse("notifications:list")).status_code == 200


def test_the_login_lock_out_still_holds_without_the_cache(cache_down, browser, ada):
    url = reverse("accounts:login")
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert browser.post(url, {"username": ada.email, "password": "a wrong guess"}).status_code == 400

    assert browser.post(url, {"username": ada.email, "password": "a wrong guess"}).status_code == 429
    assert browser.post(url, {"username": ada.email, "password": DEFAULT_PASSWORD}).status_code == 429


def test_the_apis_writes_are_served_with_a_warning_for_each_skipped_throttle(
    cache_down, ada, bob, caplog, helpdesk_settings
):
    befriend(ada, bob)
    conversation = direct_between(ada, bob)
    category = CategoryFactory()
    grace = ExpertProfileFactory(user=UserFactory(first_name="Grace"), categories=[category]).user
    waiting = submit(bob, category)
    cleo = UserFactory(first_name="Cleo")

    token = _api().post(reverse("api:token_obtain_pair"), {"email": ada.email, "password": DEFAULT_PASSWORD})
    sent = _api(ada).post(
        reverse("api:chat-messages", args=[conversation.pk]), {"body": "api send", "client_id": uuid.uuid4().hex}
    )
    asked = _api(ada).post(reverse("api:social-friend-requests"), {"to": str(cleo.public_id)}, format="json")
    help_request = _api(ada).post(
        reverse("api:helpdesk-requests"),
        {"category": category.pk, "title": "Stuck", "description": "On eigenvalues"},
        format="multipart",
    )
    accepted = _api(grace).post(reverse("api:helpdesk-accept", kwargs={"public_id": waiting.public_id}))

    assert token.status_code == 200 and "access" in token.json()
    assert sent.status_code == 201 and Message.objects.filter(body="api send").exists()
    assert asked.status_code == 201 and FriendRequest.objects.filter(from_user=ada, to_user=cleo).exists()
    assert help_request.status_code == 201 and HelpRequest.objects.filter(requester=ada).exists()
    assert accepted.status_code == 200
    waiting.refresh_from_db()
    assert waiting.status == HelpRequestStatus.ACCEPTED
    warnings = _warnings(caplog)
    assert any(line.startswith("API throttle anon skipped, cache unavailable") for line in warnings), warnings
    assert any(line.startswith("API throttle user skipped, cache unavailable") for line in warnings), warnings


def test_the_back_office_login_and_status_page_answer_and_readyz_says_redis(cache_down, browser):
    staff = StaffFactory()

    assert browser.get("/admin/login/").status_code == 200
    assert browser.post("/admin/login/", {"username": staff.email, "password": DEFAULT_PASSWORD}).status_code == 302
    assert browser.get(reverse("admin-status")).status_code == 200
    ready = browser.get(reverse("readyz"))
    assert ready.status_code == 503
    assert ready.json()["checks"]["redis"].startswith("error:")
