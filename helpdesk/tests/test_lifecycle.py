"""helpdesk.services.lifecycle: every state change is one transition() that checks the map,
writes the timeline and shows the change live; writes only add what is theirs (issue 15 review).

Live pushes are read from the layer (CountingLayer, the test double of live.layer's
fan-out), so what is checked is what a browser would receive."""

import ast
from datetime import timedelta
from pathlib import Path

import pytest

from helpdesk import services
from helpdesk.models import HelpRequest, HelpRequestEvent, HelpRequestStatus
from helpdesk.tests.factories import accepted, scheduled, session_times, submit
from notifications.models import Notification, NotificationKind

S = HelpRequestStatus
SERVICES = Path(__file__).resolve().parents[1] / "services"


def events(publishes, kind: str) -> list[tuple[set[str], dict]]:
    return [(set(groups), message["event"]) for groups, message in publishes if message["event"]["type"] == kind]


def changed(publishes) -> list[dict]:
    return [event for _, event in events(publishes, "helpdesk.request.changed")]


@pytest.fixture
def pushed_by(counting_layer, django_capture_on_commit_callbacks):
    """pushed_by(call): what `call()` publishes live once its transaction commits."""

    def run(call):
        counting_layer.clear()
        with django_capture_on_commit_callbacks(execute=True):
            call()
        return list(counting_layer)

    return run


@pytest.mark.django_db
def test_accepting_and_scheduling_at_once_announces_the_final_state_once(ada, grace, category, pushed_by):
    help_request = submit(ada, category)
    start, end = session_times()

    pushed = pushed_by(
        lambda: services.accept_help_request(expert=grace, request_id=help_request.public_id, start=start, end=end)
    )

    # No "accepted" step: the scheduled request, pending its meeting; then the (eager) meeting task's
    assert [(event["status"], event["meeting_state"]) for event in changed(pushed)] == [
        (S.SCHEDULED, "pending"),
        (S.SCHEDULED, "created"),
    ]
    assert len(events(pushed, "helpdesk.queue.removed")) == 1


@pytest.mark.django_db
def test_a_release_puts_the_request_back_in_the_queue_and_tells_its_people(ada, grace, alan, category, pushed_by):
    help_request = accepted(ada, category, grace)

    pushed = pushed_by(
        lambda: services.release_help_request(expert=grace, request_id=help_request.public_id, note="Ill today")
    )

    added = events(pushed, "helpdesk.queue.added")
    assert len(added) == 1 and f"user.{alan.pk}" in added[0][0]
    assert [event["status"] for event in changed(pushed)] == [S.OPEN]


@pytest.mark.django_db
def test_an_expired_request_leaves_the_queue_and_its_requesters_page_updates(ada, grace, category, pushed_by):
    help_request = submit(ada, category)  # in grace's queue

    pushed = pushed_by(lambda: services.expire_stale_requests(older_than=timedelta(0)))

    assert len(events(pushed, "helpdesk.queue.removed")) == 1
    [(groups, event)] = events(pushed, "helpdesk.request.changed")
    assert groups == {f"user.{ada.pk}"} and event == {
        "type": "helpdesk.request.changed",
        "request": str(help_request.public_id),
        "status": S.EXPIRED,
        "meeting_state": help_request.meeting_state,
    }


@pytest.mark.django_db
@pytest.mark.parametrize(("who", "count"), [("requester", 1), ("staff", 2)])
def test_a_cancellation_is_one_rule_for_the_requester_and_for_staff(ada, grace, staff, category, who, count):
    help_request = accepted(ada, category, grace)

    if who == "requester":
        services.cancel_help_request(requester=ada, request_id=help_request.public_id, note="Solved it")
    else:
        services.staff_cancel_help_request(staff=staff, request_id=help_request.public_id, note="Solved it")

    help_request.refresh_from_db()
    assert help_request.status == S.CANCELLED
    entry = HelpRequestEvent.objects.filter(request=help_request).latest("created_at")
    assert (entry.action, entry.from_status, entry.to_status, entry.note) == (
        HelpRequestEvent.Action.CANCELLED,
        S.ACCEPTED,
        S.CANCELLED,
        "Solved it",
    )
    told = Notification.objects.filter(kind=NotificationKind.HELP_REQUEST_CANCELLED, recipient__in=[ada, grace]).count()
    assert told == count  # the requester tells the expert; staff tell both


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("action", "message"),
    [
        ("release", "A completed request cannot be released."),
        ("schedule", "A scheduled request cannot be scheduled."),
    ],
)
def test_the_map_is_the_one_state_rule_of_the_experts_actions(ada, grace, category, action, message):
    help_request = scheduled(ada, category, grace)
    if action == "release":
        help_request.status = S.COMPLETED  # completed: nothing to release
        help_request.save(update_fields=["status"])
        call = lambda: services.release_help_request(expert=grace, request_id=help_request.public_id, note="x")  # noqa: E731
    else:
        start, end = session_times(48)
        call = lambda: services.schedule_session(  # noqa: E731
            expert=grace, request_id=help_request.public_id, start=start, end=end
        )

    with pytest.raises(services.HelpdeskRefusal) as refused:
        call()

    assert (refused.value.code, refused.value.status, str(refused.value.message)) == (
        "illegal_transition",
        409,
        message,
    )


@pytest.mark.django_db
def test_someone_elses_request_is_not_found_before_its_state_is_refused(ada, grace, alan, category):
    help_request = scheduled(ada, category, grace)
    help_request.status = S.COMPLETED
    help_request.save(update_fields=["status"])

    with pytest.raises(HelpRequest.DoesNotExist):  # 404, not the 409 the state would earn
        services.release_help_request(expert=alan, request_id=help_request.public_id, note="x")


def _calls(tree: ast.AST, name: str) -> list[int]:
    return [
        node.lineno
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", None)) == name
    ]


def test_only_the_lifecycle_pushes_a_request_change_or_sets_a_status():
    offenders = []
    for path in sorted(SERVICES.glob("*.py")):
        if path.name == "lifecycle.py":
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        offenders += [f"{path.name}:{line} push_changed_on_commit" for line in _calls(tree, "push_changed_on_commit")]
        offenders += [
            f"{path.name}:{node.lineno} .status ="
            for node in ast.walk(tree)
            if isinstance(node, ast.Assign) and any(getattr(t, "attr", None) == "status" for t in node.targets)
        ]
    assert offenders == [], "change a status with lifecycle.transition(); it announces the change"
