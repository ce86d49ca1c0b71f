"""Sentry receives real error reports, without personal data.

A local HTTP server (sentry_sink.SentrySink) stands in for Sentry's ingest: the SDK in a real
daphne process, a real Celery worker, or a process running a task eagerly sends it the same
envelopes it would send to sentry.io, and the tests read them byte for byte.
"""

import re
import urllib.error
import urllib.request
from http.cookies import SimpleCookie
from urllib.parse import urlencode

import pytest
from django.conf import settings
from django.test import Client

from accounts.tests.factories import UserFactory
from chat.tests.wsclient import WebSocketClient
from config import status
from config.sentry import EMAIL_MASK, FILTERED, scrub_event
from tests.ops.processes import (
    celery_worker,
    private_queue,
    remove_queue_keys,
    run_site_snippet,
    worker_env,
)
from tests.ops.sentry_sink import SentrySink, exception_types
from tests.servers import daphne_server, server_env

EMAIL = "ada.lovelace.sentry@example.org"


def test_before_send_drops_cookies_credentials_and_email_addresses():
    event = {
        "request": {
            "url": "https://lyceum.example/help/",
            "cookies": {"sessionid": "s3ss10n"},
            "headers": {"Cookie": "sessionid=s3ss10n", "Authorization": "Bearer t0k3n", "X-CSRFToken": "c5rf"},
            "query_string": "ticket=t1ck3t&page=2&password=hunter2",
            "env": {"REMOTE_ADDR": "203.0.113.9"},
        },
        "user": {"id": "7", "email": EMAIL, "ip_address": "203.0.113.9"},
        "exception": {"values": [{"type": "ValueError", "value": f"no account for {EMAIL}"}]},
        "extra": {"form": {"email": EMAIL, "password": "hunter2", "new_password1": "hunter3"}},
        "breadcrumbs": {"values": [{"message": f"login failed for {EMAIL.upper()}"}]},
    }

    scrubbed = repr(scrub_event(event, {}))

    for secret in ("s3ss10n", "t0k3n", "c5rf", "t1ck3t", "hunter2", "hunter3", "203.0.113.9"):
        assert secret not in scrubbed
    assert EMAIL not in scrubbed.lower()
    assert EMAIL_MASK in scrubbed and FILTERED in scrubbed
    assert event["user"] == {"id": "7"}  # the id stays: it is how staff find the account
    assert "page=2" in event["request"]["query_string"]


def test_sentry_is_off_without_a_dsn():
    import sentry_sdk

    assert settings.SENTRY_DSN == ""
    assert not sentry_sdk.get_client().is_active()


@pytest.mark.django_db(transaction=True)
def test_an_unhandled_error_in_a_daphne_view_reaches_sentry_without_personal_data():
    # Given a staff member signed in (a real session row and cookie) and a daphne process
    # reporting to the local Sentry, tracing every request
    staff = UserFactory(email=EMAIL, is_staff=True)
    browser = Client()
    browser.force_login(staff)
    session_key = browser.cookies[settings.SESSION_COOKIE_NAME].value
    with (
        SentrySink() as sink,
        daphne_server(
            SENTRY_DSN=sink.dsn,
            SENTRY_ENVIRONMENT="ops-test",
            SENTRY_RELEASE="lyceum@0.0.0-test",
            SENTRY_TRACES_SAMPLE_RATE="1.0",
        ) as url,
    ):
        # The status page offers the check (a form with its CSRF token) since Sentry is on
        cookie = f"{settings.SESSION_COOKIE_NAME}={session_key}"
        with urllib.request.urlopen(urllib.request.Request(f"{url}/admin/status/", headers={"Cookie": cookie})) as page:
            html = page.read().decode()
            csrf_value = SimpleCookie(page.headers["Set-Cookie"])["csrftoken"].value
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html).group(1)
        assert "Send a test error to Sentry" in html

        # When the staff-only check fails unhandled, with credentials in the request
        request = urllib.request.Request(
            f"{url}/admin/status/sentry-check/?password=hunter2-in-url&next={EMAIL}",
            data=urlencode({"csrfmiddlewaretoken": token, "password": "hunter2-in-body", "email": EMAIL}).encode(),
            headers={
                "Cookie": f"{cookie}; csrftoken={csrf_value}",
                "Origin": url,
                "Authorization": "Bearer api-secret-token-value",
                "X-Forwarded-For": "203.0.113.77",
            },
        )
        with pytest.raises(urllib.error.HTTPError) as failure:
            urllib.request.urlopen(request, timeout=30)
        assert failure.value.code == 500

        # (the live socket still works with Sentry's ASGI middleware around the WebSocket stack)
        port = int(url.rsplit(":", 1)[1])
        live = WebSocketClient("127.0.0.1", port, "/ws/live/", headers={"Origin": url, "Cookie": cookie})
        assert live.recv_json()["type"] == "hello"
        live.close()

        # Then Sentry gets the error, with the environment and release from the environment
        event = sink.wait_for_event(lambda e: "SentryCheckError" in exception_types(e))
        transaction = sink.wait_for_item("transaction", lambda t: "sentry-check" in t.get("transaction", ""))
        raw = sink.raw_bytes()

    assert event["environment"] == "ops-test"
    assert event["release"] == "lyceum@0.0.0-test"
    assert "/admin/status/sentry-check/" in event["request"]["url"]
    assert event["exception"]["values"][-1]["value"].endswith(f"by {EMAIL_MASK}")
    # the Django integration reported it (and tracing at rate 1.0 sent the request's transaction)
    assert event["exception"]["values"][-1]["mechanism"]["type"] == "django"
    assert transaction["contexts"]["trace"]["status"] == "internal_error"
    # and nothing personal left the process: no cookie, session, e-mail, password, token or IP
    assert "cookies" not in event["request"]
    lowered = raw.lower()
    secrets = (session_key, csrf_value, token, "hunter2-in-url", "hunter2-in-body", "api-secret-token-value")
    secrets += ("203.0.113.77",)
    for secret in secrets:
        assert secret.lower().encode() not in lowered, secret
    assert EMAIL.encode() not in lowered
    assert "email" not in event.get("user", {})  # send_default_pii=False: no user data at all


SEND_FAILING_TASK = """
import sys
import sentry_sdk
from notifications.tasks import notify_user_task
try:
    notify_user_task.delay(int(sys.argv[1]), "no-such-kind", "Hello " + sys.argv[2])
except Exception as exc:  # eager: the task's error propagates here after Sentry saw it
    print("raised", type(exc).__name__)
sentry_sdk.flush(timeout=10)
"""


@pytest.mark.django_db(transaction=True)
def test_an_error_in_an_eagerly_run_celery_task_reaches_sentry():
    # Given a process without a broker (tasks run in-process, as in the embedded mode)
    user = UserFactory(email=EMAIL)
    with SentrySink() as sink:
        env = server_env(SENTRY_DSN=sink.dsn, SENTRY_ENVIRONMENT="ops-test")
        for name in ("REDIS_URL", "CELERY_BROKER_URL", "REDIS_KEY_PREFIX"):
            env.pop(name, None)
        # When a task fails (an unknown notification kind is refused by the service)
        out = run_site_snippet(SEND_FAILING_TASK, env, str(user.pk), EMAIL)
        assert "raised ValidationError" in out

        # Then Sentry gets it from the Celery integration, with the address masked
        event = sink.wait_for_event(lambda e: "ValidationError" in exception_types(e))
        raw = sink.raw_bytes()
    assert event["exception"]["values"][-1]["mechanism"]["type"] == "celery"
    assert event["transaction"] == "notifications.tasks.notify_user_task"
    assert EMAIL.encode() not in raw.lower()


@pytest.mark.services
@pytest.mark.django_db(transaction=True)
def test_an_error_in_a_task_on_a_real_worker_reaches_sentry(tmp_path, redis_url):
    user = UserFactory(email=EMAIL)
    queue = private_queue()
    try:
        with SentrySink() as sink:
            env = worker_env(queue, SENTRY_DSN=sink.dsn, SENTRY_ENVIRONMENT="ops-test")
            with celery_worker(env, tmp_path / "worker.log") as worker:
                # When the site queues a task that fails on the worker
                run_site_snippet(SEND_FAILING_TASK, env, str(user.pk), EMAIL)
                # Then the worker's SDK reports it
                event = sink.wait_for_event(lambda e: "ValidationError" in exception_types(e), timeout=60)
                log = worker.log()
            raw = sink.raw_bytes()
    finally:
        remove_queue_keys(redis_url, queue)
    assert f".> {queue}" in log
    # and the worker's task_failure signal listed it for the admin status page (same Redis)
    failures, _ = status.recent_task_failures()
    assert any(row["task"] == "notifications.tasks.notify_user_task" for row in failures)
    assert event["exception"]["values"][-1]["mechanism"]["type"] == "celery"
    assert event["transaction"] == "notifications.tasks.notify_user_task"
    assert event["environment"] == "ops-test"
    assert EMAIL.encode() not in raw.lower()
