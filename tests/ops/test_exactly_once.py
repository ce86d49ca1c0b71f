"""Exactly-once proofs with REAL processes: a Celery worker killed with SIGKILL mid-task, and a
broker that is down when the site commits.

Each test runs `celery -A config worker` (solo pool) on a private queue (CELERY_QUEUE) with this
run's test database, against local stand-ins: an SMTP server that holds the first message
before accepting it, and helpdesk's HTTPS Graph stub holding the first createOrGet.

"Later" is simulated by moving the row's updated_at back past the sweep threshold (the beat
sweeps look at nothing else); the sweep itself runs on the worker, sent as beat sends it.
"""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.utils import timezone

from helpdesk.models import HelpRequest, HelpRequestEvent, MeetingState
from helpdesk.services.meetings import SWEEP_PENDING_AFTER as MEETING_SWEEP_AFTER
from notifications.models import EmailDelivery, NotificationKind
from notifications.services import SWEEP_PENDING_AFTER as EMAIL_PENDING_AFTER
from notifications.services import SWEEP_SENDING_AFTER as EMAIL_SENDING_AFTER
from tests.ops.processes import (
    PrivateRedis,
    Worker,
    private_queue,
    remove_queue_keys,
    run_site_snippet,
    wait_until,
    worker_env,
)
from tests.ops.standins import graph_env, holding_graph_stub, holding_smtp_server

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]

NOTIFY = """
import sys
from accounts.models import User
from notifications import services
notification = services.notify(recipient=User.objects.get(pk=int(sys.argv[1])), kind="system", title=sys.argv[2])
print(notification.email_delivery.pk)
"""

SUBMIT_ACCEPT_SCHEDULE = """
import sys
from datetime import timedelta
from django.utils import timezone
from accounts.models import User
from helpdesk import services
requester = User.objects.get(pk=int(sys.argv[1]))
expert = User.objects.get(pk=int(sys.argv[2]))
help_request = services.submit_help_request(
    requester=requester, category_id=int(sys.argv[3]), title="Stuck on eigenvalues",
    description="I cannot find the eigenvalues of a 3x3 matrix.", times_note="Evenings", files=[],
)
services.accept_help_request(expert=expert, request_id=help_request.public_id)
print("accepted", help_request.pk)
start = timezone.now() + timedelta(days=1)
services.schedule_session(expert=expert, request_id=help_request.public_id, start=start, end=start + timedelta(hours=1))
print("scheduled", help_request.pk)
"""

SEND_TASK = """
import sys
from config.celery import app
app.send_task(sys.argv[1], args=[int(a) for a in sys.argv[2:]])
"""


def send_task(env: dict[str, str], name: str, *args: int) -> None:
    """What beat (or a retry) does: put one task message on the broker."""
    run_site_snippet(SEND_TASK, env, name, *map(str, args))


def backdate_deliveries(**filters) -> None:
    """Move outbox rows past both sweep thresholds, as if the sweep ran 'later'."""
    past = timezone.now() - max(EMAIL_PENDING_AFTER, EMAIL_SENDING_AFTER) - timedelta(minutes=1)
    EmailDelivery.objects.filter(**filters).update(updated_at=past)


def remove_unacked_of(redis_url: str, queue: str) -> None:
    """kombu keeps a killed worker's unacknowledged message in the broker's "unacked" hash
    (restored after visibility_timeout). Remove only this test's entries from the shared Redis."""
    import redis

    client = redis.Redis.from_url(redis_url)
    try:
        for tag, raw in client.hscan_iter("unacked"):
            with_queue = json.loads(raw)
            if len(with_queue) == 3 and with_queue[2] == queue:
                client.hdel("unacked", tag)
                client.zrem("unacked_index", tag)
    finally:
        client.close()


def test_a_worker_killed_while_sending_an_email_delivers_it_exactly_once(tmp_path, redis_url):
    from notifications.tests.factories import UserFactory

    user = UserFactory(email="kill.mid.send@uni.example")
    queue = private_queue()
    with holding_smtp_server(hold_first=True) as (smtp, email_url):
        env = worker_env(queue, EMAIL_URL=email_url)
        worker = Worker(env, tmp_path / "worker.log").start()
        try:
            worker.wait_ready()
            # Given an e-mail queued by the site
            delivery_id = int(run_site_snippet(NOTIFY, env, str(user.pk), "Exactly once, please").strip())
            # When the worker is killed while the SMTP server holds the message (not yet accepted)
            assert smtp.entered.wait(60), worker.log()
            assert EmailDelivery.objects.get(pk=delivery_id).status == EmailDelivery.Status.SENDING
            worker.kill()
            smtp.release.set()
            wait_until(lambda: smtp.abandoned, timeout=10, what="the SMTP server to notice the dead client")
            assert smtp.accepted == []
            assert EmailDelivery.objects.get(pk=delivery_id).status == EmailDelivery.Status.SENDING

            # Then after a restart, the sweep (later) re-queues the stuck row and it is delivered
            worker.start().wait_ready()
            backdate_deliveries(pk=delivery_id)
            send_task(env, "notifications.tasks.sweep_pending_emails_task")
            wait_until(
                lambda: EmailDelivery.objects.get(pk=delivery_id).status == EmailDelivery.Status.SENT,
                what="the e-mail to be sent after the restart",
            )
            # A duplicate of the original task (the broker redelivers unacked messages after the
            # visibility timeout) and another sweep change nothing
            send_task(env, "notifications.tasks.send_notification_email_task", delivery_id)
            backdate_deliveries(pk=delivery_id)
            send_task(env, "notifications.tasks.sweep_pending_emails_task")
            send_task(env, "config.ping_task")
            wait_until(lambda: worker.log().count("config.ping_task") >= 2, what="the worker to drain its queue")
        finally:
            worker.stop()
            remove_unacked_of(redis_url, queue)
            remove_queue_keys(redis_url, queue)

    assert [message.rcpt_tos for message in smtp.accepted] == [["kill.mid.send@uni.example"]]
    assert "Exactly once, please" in smtp.accepted[0].subject
    delivery = EmailDelivery.objects.get(pk=delivery_id)
    assert delivery.status == EmailDelivery.Status.SENT
    assert delivery.sent_at is not None


def test_a_worker_killed_while_creating_a_meeting_leaves_exactly_one_meeting(
    tmp_path, redis_url, requester, expert, category
):
    queue = private_queue()
    with holding_graph_stub() as (stub, hold), holding_smtp_server() as (smtp, email_url):
        env = worker_env(queue, EMAIL_URL=email_url, **graph_env(stub))
        worker = Worker(env, tmp_path / "worker.log").start()
        try:
            worker.wait_ready()
            # Given a session scheduled on the site: its meeting task is queued
            out = run_site_snippet(SUBMIT_ACCEPT_SCHEDULE, env, str(requester.pk), str(expert.pk), str(category.pk))
            request_pk = int(out.split()[-1])
            # When the worker is killed while Graph holds createOrGet's answer
            assert hold.entered.wait(90), worker.log()
            worker.kill()
            hold.release.set()  # Graph finishes: the meeting exists, its answer is lost
            wait_until(lambda: hold.lost_answers == 1, timeout=10, what="the lost createOrGet answer")
            help_request = HelpRequest.objects.get(pk=request_pk)
            assert help_request.meeting_state == MeetingState.PENDING
            assert len(stub.meetings) == 1

            # Then after a restart, the meeting sweep (later) re-queues it and createOrGet with the
            # same externalId returns the meeting Graph already has
            worker.start().wait_ready()
            past = timezone.now() - MEETING_SWEEP_AFTER - timedelta(minutes=1)
            HelpRequest.objects.filter(pk=request_pk).update(updated_at=past)
            send_task(env, "helpdesk.tasks.sweep_pending_meetings_task")
            wait_until(
                lambda: HelpRequest.objects.get(pk=request_pk).meeting_state == MeetingState.CREATED,
                what="the meeting to be recorded after the restart",
            )
            # the invitation e-mail goes out once too
            wait_until(lambda: HelpRequest.objects.get(pk=request_pk).meeting_email_sent_at, what="the invitation")
        finally:
            worker.stop()
            remove_unacked_of(redis_url, queue)
            remove_queue_keys(redis_url, queue)

    help_request = HelpRequest.objects.get(pk=request_pk)
    # createOrGet's idempotency key: the scheduling attempt's id (or the request's UUID before it)
    external_id = str(getattr(help_request, "meeting_external_id", None) or help_request.public_id)
    assert list(stub.meetings) == [external_id]
    assert help_request.meeting_id == stub.meetings[external_id]["id"]
    assert help_request.meeting_join_url == stub.meetings[external_id]["joinWebUrl"]
    calls = [(call.body["externalId"], call.status) for call in stub.graph_calls]
    assert calls == [(external_id, 201), (external_id, 200)]  # created (answer lost), then got
    assert (
        HelpRequestEvent.objects.filter(request=help_request, action=HelpRequestEvent.Action.MEETING_CREATED).count()
        == 1
    )
    subjects = [m.subject for m in smtp.accepted if m.rcpt_tos == [requester.email]]
    assert len(subjects) == len(set(subjects)), subjects  # no e-mail twice, the invitation included


def test_with_the_broker_down_an_accept_succeeds_and_the_sweeps_finish_the_work_once(
    tmp_path, redis_url, requester, expert, category
):
    queue = private_queue()
    broker = PrivateRedis(tmp_path).start()
    try:
        with holding_graph_stub(hold_first=False) as (stub, _), holding_smtp_server() as (smtp, email_url):
            env = worker_env(queue, EMAIL_URL=email_url, CELERY_BROKER_URL=broker.url, **graph_env(stub))
            # Given the site's broker is down
            broker.stop()
            # When a help request is accepted and scheduled
            out = run_site_snippet(SUBMIT_ACCEPT_SCHEDULE, env, str(requester.pk), str(expert.pk), str(category.pk))
            # Then both succeed, and the pending work is in the database
            assert "accepted" in out and "scheduled" in out
            request_pk = int(out.split()[-1])
            help_request = HelpRequest.objects.get(pk=request_pk)
            assert help_request.status == "scheduled"
            assert help_request.meeting_state == MeetingState.PENDING
            # (scheduling's one e-mail is the invitation, which waits for the meeting)
            pending = EmailDelivery.objects.filter(status=EmailDelivery.Status.PENDING)
            kinds = sorted(pending.values_list("notification__kind", flat=True))
            assert kinds == [NotificationKind.HELP_REQUEST_ACCEPTED]
            pending_ids = sorted(pending.values_list("pk", flat=True))

            # When the broker comes back and beat's sweeps run (later) on a worker
            broker.start()
            worker = Worker(env, tmp_path / "worker.log").start()
            try:
                worker.wait_ready()
                backdate_deliveries(pk__in=pending_ids)
                past = timezone.now() - MEETING_SWEEP_AFTER - timedelta(minutes=1)
                HelpRequest.objects.filter(pk=request_pk).update(updated_at=past)
                send_task(env, "notifications.tasks.sweep_pending_emails_task")
                send_task(env, "helpdesk.tasks.sweep_pending_meetings_task")
                # Then the e-mails are sent and the meeting created
                wait_until(
                    lambda: (
                        set(EmailDelivery.objects.filter(pk__in=pending_ids).values_list("status", flat=True))
                        == {EmailDelivery.Status.SENT}
                    ),
                    what="the pending e-mails to be sent",
                )
                wait_until(
                    lambda: HelpRequest.objects.get(pk=request_pk).meeting_email_sent_at is not None,
                    what="the meeting and its invitation",
                )
                # and running the sweeps again sends and creates nothing more
                backdate_deliveries(pk__in=pending_ids)
                send_task(env, "notifications.tasks.sweep_pending_emails_task")
                send_task(env, "helpdesk.tasks.sweep_pending_meetings_task")
                send_task(env, "config.ping_task")
                wait_until(lambda: "config.ping_task" in worker.log() and "succeeded" in worker.log(), what="drain")
                wait_until(lambda: worker.log().count("config.ping_task") >= 2, what="the worker to drain its queue")
            finally:
                worker.stop()
    finally:
        broker.stop()

    [delivery] = EmailDelivery.objects.filter(pk__in=pending_ids).select_related("notification")
    assert delivery.notification.kind == NotificationKind.HELP_REQUEST_ACCEPTED
    assert delivery.status == EmailDelivery.Status.SENT
    to_requester = [m for m in smtp.accepted if m.rcpt_tos == [requester.email]]
    subjects = [m.subject for m in to_requester]
    assert len(subjects) == len(set(subjects)), subjects  # no e-mail twice
    # one per event, each naming the request: accepted, then the invitation
    assert len(subjects) == 2 and all("Stuck on eigenvalues" in subject for subject in subjects), subjects
    assert len(stub.meetings) == 1
    assert [call.status for call in stub.graph_calls] == [201]
