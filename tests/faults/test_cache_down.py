"""Redis (the cache) is down: what the HTTP side answers. Never a 500.

The cache points at a port where nothing listens, through a real redis-py client (Django's
Redis cache), so every cache call raises what an outage raises. The pages and the API's writes
carry on without the cache (a hint: the send rate, the API's throttles, each skipped with one
warning line); the login lock-out still holds (django-axes counts in the database). What
cannot be done safely without the cache (the sign-up and password-reset limits, a live ticket)
is a clear 503 with Retry-After, and nothing is done.
"""

import logging
import socket
import uuid

import pytest
from django.conf import settings
from django.test import Client, override_settings
from django.urls import reverse
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import RefreshToken

from accounts import services as account_services
from accounts.models import User
from accounts.tests.factories import DEFAULT_PASSWORD
from accounts.views import RESET_UNAVAILABLE_MESSAGE
from chat.models import Message
from chat.tests.factories import befriend, direct_between
from config.unavailable import RETRY_AFTER_SECONDS
from experts.tests.factories import CategoryFactory, ExpertProfileFactory, StaffFactory, UserFactory
from helpdesk.models import HelpRequest, HelpRequestStatus
from helpdesk.tests.factories import submit
from live import access as live_access
from live.handshake import CannotCheckNow
from live.models import RevokedLogin
from social.models import FriendRequest

pytestmark = pytest.mark.django_db

PASSPHRASE = "a-long-unusual-passphrase-42"


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
    page_send = {"body": "page send", "client_id": uuid.uuid4().hex}
    sent = browser.post(reverse("chat:send", args=[conversation.pk]), page_send)
    assert sent.status_code == 302
    assert Message.objects.filter(conversation=conversation, body="page send").exists()
    assert browser.get(reverse("notifications:list")).status_code == 200
    assert browser.get(reverse("social:profile", kwargs={"public_id": bob.public_id})).status_code == 200


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


def _assert_unavailable_json(response, detail: str) -> None:
    assert response.status_code == 503
    assert response.json() == {"detail": detail, "code": "unavailable"}
    assert response["Retry-After"] == str(RETRY_AFTER_SECONDS)


def test_signing_up_is_a_clear_503_on_both_doors_and_creates_no_account(cache_down, browser, caplog):
    study = {"first_name": "Grace", "last_name": "Hopper", "university": "Yale", "course": "Mathematics"}
    form = {**study, "email": "grace@example.edu", "password1": PASSPHRASE, "password2": PASSPHRASE}

    page = browser.post(reverse("accounts:register"), form)
    api = _api().post(reverse("api:register"), {**study, "email": "alan@example.edu", "password": PASSPHRASE})

    assert page.status_code == 503 and page["Retry-After"] == str(RETRY_AFTER_SECONDS)
    assert "Signing up is unavailable for a moment. Please try again in a minute." in page.content.decode()
    _assert_unavailable_json(api, "Signing up is unavailable for a moment. Please try again in a minute.")
    assert not User.objects.filter(email__in=["grace@example.edu", "alan@example.edu"]).exists()
    warnings = _warnings(caplog)
    assert sum(line.startswith("accounts.sign_up limit not counted, cache unavailable") for line in warnings) == 2


def test_a_password_reset_is_a_clear_503_and_sends_nothing(
    cache_down, browser, ada, caplog, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as callbacks:
        response = browser.post(reverse("accounts:password_reset"), {"email": ada.email})

    assert response.status_code == 503 and response["Retry-After"] == str(RETRY_AFTER_SECONDS)
    assert "Resetting a password is unavailable for a moment." in response.content.decode()
    assert callbacks == []  # no reset e-mail queued
    warnings = _warnings(caplog)
    assert any(line.startswith("accounts.password_reset.ip limit not counted") for line in warnings), warnings


def test_a_live_ticket_is_a_503_in_the_apis_shape_and_none_can_be_checked(cache_down, ada, caplog):
    response = _api(ada).post(reverse("api:live_ticket"))

    _assert_unavailable_json(response, "The live connection is unavailable for a moment. Please try again in a minute.")
    with pytest.raises(CannotCheckNow, match="live ticket not checked, cache unavailable"):
        account_services.redeem_live_ticket(ticket="t" * 43)  # the handshake is refused as busy
    warnings = _warnings(caplog)
    assert any(line.startswith("live ticket not issued, cache unavailable") for line in warnings), warnings


def test_an_api_logout_is_done_and_recorded_in_the_database(
    cache_down, ada, caplog, django_capture_on_commit_callbacks
):
    tokens = account_services.issue_api_tokens(user=ada)

    with django_capture_on_commit_callbacks(execute=True):
        response = _api().post(reverse("api:logout"), {"refresh": tokens["refresh"]})

    assert response.status_code < 300, response.content
    login = RefreshToken(tokens["refresh"], verify=False)[live_access.LOGIN_CLAIM]
    assert RevokedLogin.objects.filter(login=login, user=ada).exists()  # the socket's check reads it
    assert not [r for r in caplog.records if r.name == "live.access" and r.levelno >= logging.WARNING]


def test_a_pages_script_asking_for_json_gets_the_apis_503_with_retry_after(cache_down, browser):
    response = browser.post(
        reverse("accounts:password_reset"), {"email": "someone@example.edu"}, HTTP_ACCEPT="application/json"
    )

    _assert_unavailable_json(response, RESET_UNAVAILABLE_MESSAGE)
