"""The staff-only status page: /admin/status/ (config/status_view.py)."""

import json
import time
import urllib.request

import pytest
from django.conf import settings
from django.test import Client

from helpdesk.models import MeetingState
from helpdesk.tests.factories import scheduled
from notifications.models import EmailDelivery, NotificationKind
from notifications.tasks import notify_user_task
from notifications.tests.factories import NotificationFactory, UserFactory
from tests.ops.processes import private_queue, remove_queue_keys, run_site_snippet, wait_until, worker_env
from tests.servers import daphne_server

URL = "/admin/status/"


def status_json(client) -> dict:
    response = client.get(URL, {"format": "json"})
    assert response.status_code == 200
    return response.json()


@pytest.mark.django_db
def test_anonymous_and_non_staff_are_sent_to_the_admin_login(client):
    assert client.get(URL).status_code == 302
    assert client.get(URL)["Location"].startswith("/admin/login/")

    client.force_login(UserFactory(is_staff=False))
    response = client.get(URL, {"format": "json"})
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")
    assert client.post("/admin/status/sentry-check/").status_code == 302  # never raises for them


@pytest.mark.django_db
def test_the_admin_index_links_to_the_status_page(client, staff):
    client.force_login(staff)
    page = client.get("/admin/").content.decode()
    assert f'href="{URL}"' in page


@pytest.mark.django_db
def test_the_sentry_check_only_answers_a_post(client, staff):
    client.force_login(staff)
    assert client.get("/admin/status/sentry-check/").status_code == 405
    assert "Sentry is off" in client.get(URL).content.decode()


@pytest.mark.django_db
def test_staff_see_the_e_mail_outbox_and_meetings_as_the_database_has_them(client, staff, requester, expert, category):
    # Given an outbox with 2 pending, 1 failed and 1 sent e-mail
    S = EmailDelivery.Status
    for state in (S.PENDING, S.PENDING, S.FAILED, S.SENT):
        notification = NotificationFactory(recipient=requester, kind=NotificationKind.SYSTEM)
        EmailDelivery.objects.create(
            notification=notification, status=state, last_error="SMTP 554: rejected" if state == S.FAILED else ""
        )
    # and a scheduled help request whose meeting is still being created (its task not run yet:
    # the test transaction never commits, so on_commit never queues it)
    help_request = scheduled(requester, category, expert)
    assert help_request.meeting_state == MeetingState.PENDING
    expected_pending = EmailDelivery.objects.filter(status=S.PENDING).count()

    client.force_login(staff)
    data = status_json(client)

    assert data["emails"]["pending"] == expected_pending
    assert data["emails"]["failed"] == 1
    assert data["emails"]["sent"] == 1
    assert data["emails"]["latest_failed"][0]["last_error"] == "SMTP 554: rejected"
    assert data["meetings"]["pending"] == 1
    assert data["meetings"]["latest"][0]["public_id"] == str(help_request.public_id)
    assert data["celery"]["queue"] == settings.CELERY_TASK_DEFAULT_QUEUE

    page = client.get(URL).content.decode()
    assert "SMTP 554: rejected" in page
    assert f"/admin/helpdesk/helprequest/{help_request.pk}/change/" in page


@pytest.mark.django_db
def test_a_failed_task_is_listed(client, staff):
    # When a task fails where Celery records failures (apply without propagation runs the same
    # tracer and task_failure signal as a worker; with .delay() in eager mode the error is
    # raised to the caller instead, so the embedded site lists nothing)
    user = UserFactory()
    result = notify_user_task.apply(args=(user.pk, "no-such-kind", "Hi"), throw=False)
    assert result.failed()

    client.force_login(staff)
    failures = status_json(client)["failed_tasks"]["latest"]
    assert failures[0]["task"] == "notifications.tasks.notify_user_task"
    assert failures[0]["id"] == result.id
    assert "Unknown notification kind" in failures[0]["error"]
    assert "notifications.tasks.notify_user_task" in client.get(URL).content.decode()


def _open_live_socket(port: int, user):
    from chat.tests.wsclient import WebSocketClient

    client = Client()
    client.force_login(user)
    ws = WebSocketClient(
        "127.0.0.1",
        port,
        "/ws/live/",
        headers={"Origin": f"http://127.0.0.1:{port}", "Cookie": f"sessionid={client.cookies['sessionid'].value}"},
    )
    ws.recv_json()  # the hello frame: the socket is accepted
    return ws


def _status_from(url: str, staff) -> dict:
    client = Client()
    client.force_login(staff)
    request = urllib.request.Request(
        f"{url}{URL}?format=json", headers={"Cookie": f"sessionid={client.cookies['sessionid'].value}"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)


@pytest.mark.django_db(transaction=True)
def test_a_daphne_process_counts_its_open_sockets(staff):
    """Embedded (no Redis) the page shows the serving process's own count; with Redis, every
    process's published count (one process here: the one serving the page)."""
    users = [UserFactory() for _ in range(3)]
    with daphne_server() as url:
        port = int(url.rsplit(":", 1)[1])
        sockets = [_open_live_socket(port, user) for user in users]
        data = wait_until(lambda: (d := _status_from(url, staff))["live_sockets"]["total"] == 3 and d, what="3 sockets")
        assert [row["count"] for row in data["live_sockets"]["processes"]] == [3]
        sockets.pop().close()
        wait_until(lambda: _status_from(url, staff)["live_sockets"]["total"] == 2, what="2 sockets after a close")
        for ws in sockets:
            ws.close()
        wait_until(lambda: _status_from(url, staff)["live_sockets"]["total"] == 0, what="0 sockets")


@pytest.mark.services
@pytest.mark.django_db(transaction=True)
def test_each_daphne_process_publishes_its_count_with_a_ttl(client, staff, redis_url):
    # Given two daphne processes (a 3 s TTL so a dead process disappears quickly)
    users = [UserFactory() for _ in range(3)]
    client.force_login(staff)
    with daphne_server(LIVE_SOCKETS_TTL="3") as first, daphne_server(LIVE_SOCKETS_TTL="3") as second:
        first_port, second_port = (int(u.rsplit(":", 1)[1]) for u in (first, second))
        # When one holds one socket and the other two
        sockets = [_open_live_socket(first_port, users[0])]
        sockets += [_open_live_socket(second_port, user) for user in users[1:]]

        # Then this (third) process's status page lists both processes' counts from Redis
        def counts():
            rows = status_json(client)["live_sockets"]["processes"]
            return sorted(row["count"] for row in rows)

        wait_until(lambda: counts() == [1, 2], what="counts [1, 2]")
        # and the heartbeat keeps them while the sockets stay open, past the TTL
        time.sleep(4)
        assert counts() == [1, 2]
        for ws in sockets:
            ws.close()
        wait_until(lambda: counts() == [0, 0], what="counts [0, 0]")
    # When the processes are gone their keys expire: nothing is left to report
    wait_until(lambda: counts() == [], timeout=10, what="expired keys")


@pytest.mark.services
@pytest.mark.django_db
def test_the_celery_queue_length_is_the_brokers(client, staff, redis_url, settings):
    # Given three tasks waiting on a private queue that no worker consumes
    queue = private_queue()
    settings.CELERY_TASK_DEFAULT_QUEUE = queue
    settings.CELERY_TASK_ALWAYS_EAGER = False
    try:
        run_site_snippet(
            "from config.celery import ping_task\nfor _ in range(3): ping_task.delay('', 'x')\n",
            worker_env(queue),
        )
        client.force_login(staff)
        celery = status_json(client)["celery"]
        assert celery == {"queue": queue, "length": 3, "error": "", "eager": False}
        page = client.get(URL).content.decode()
        assert queue in page
    finally:
        remove_queue_keys(redis_url, queue)


@pytest.mark.django_db
def test_an_unreachable_broker_is_reported_not_raised(client, staff, settings):
    settings.CELERY_TASK_ALWAYS_EAGER = False
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:9/0"  # nothing listens on the discard port
    client.force_login(staff)
    celery = status_json(client)["celery"]
    assert celery["length"] is None
    assert celery["error"].startswith("broker unreachable")
