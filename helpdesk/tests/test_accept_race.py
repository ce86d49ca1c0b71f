"""Two experts accept the same request at the same moment: exactly one wins, the other gets a
clear message. Real threads with their own database connections, on SQLite and on MariaDB."""

import threading

import pytest
from django.db import connection

from helpdesk import services
from helpdesk.models import HelpRequest, HelpRequestEvent, HelpRequestStatus
from helpdesk.services import HelpdeskRefusal
from helpdesk.tests.factories import submit
from notifications.models import Notification, NotificationKind


def race(experts, request_id):
    barrier = threading.Barrier(len(experts))
    results: dict[int, object] = {}

    def attempt(expert):
        try:
            barrier.wait(timeout=10)
            services.accept_help_request(expert=expert, request_id=request_id)
            results[expert.pk] = "won"
        except HelpdeskRefusal as error:
            results[expert.pk] = error
        except Exception as error:
            results[expert.pk] = error
        finally:
            connection.close()

    threads = [threading.Thread(target=attempt, args=(expert,)) for expert in experts]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


def assert_exactly_one_winner(ada, help_request, experts, results):
    winners = [pk for pk, result in results.items() if result == "won"]
    losers = [result for result in results.values() if result != "won"]
    assert len(winners) == 1, results
    assert all(isinstance(r, HelpdeskRefusal) and r.code == "not_open" for r in losers), losers
    assert all("already accepted" in r.message for r in losers)
    help_request.refresh_from_db()
    assert (help_request.status, help_request.expert_id) == (HelpRequestStatus.ACCEPTED, winners[0])
    assert HelpRequestEvent.objects.filter(request=help_request, action="accepted").count() == 1
    assert Notification.objects.filter(recipient=ada, kind=NotificationKind.HELP_REQUEST_ACCEPTED).count() == 1


@pytest.mark.django_db(transaction=True)
def test_two_experts_accepting_at_once_on_this_database(ada, category, make_expert):
    experts = [make_expert(f"Racer{i}") for i in range(2)]
    help_request = submit(ada, category)

    results = race(experts, help_request.public_id)

    assert_exactly_one_winner(ada, help_request, experts, results)


@pytest.mark.django_db(transaction=True)
def test_four_experts_accepting_at_once_on_mariadb(mysql_database, ada, category, make_expert):
    experts = [make_expert(f"Racer{i}") for i in range(4)]
    help_request = submit(ada, category)

    results = race(experts, help_request.public_id)

    assert_exactly_one_winner(ada, help_request, experts, results)


@pytest.mark.django_db(transaction=True)
def test_one_expert_accepting_two_requests_at_once_cannot_pass_the_cap(ada, category, make_expert):
    expert = make_expert("Busy", max_active_requests=1)
    first, second = submit(ada, category), submit(ada, category)
    barrier = threading.Barrier(2)
    results = []

    def attempt(request_id):
        try:
            barrier.wait(timeout=10)
            services.accept_help_request(expert=expert, request_id=request_id)
            results.append("won")
        except HelpdeskRefusal as error:
            results.append(error.code)
        finally:
            connection.close()

    threads = [threading.Thread(target=attempt, args=(r.public_id,)) for r in (first, second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert sorted(results) == ["cap_reached", "won"]
    assert HelpRequest.objects.filter(expert=expert).count() == 1
