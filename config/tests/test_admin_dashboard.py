"""The admin's name and the figures on its index (config/admin_site.py, config/dashboard.py)."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from config import dashboard
from experts.tests.factories import CategoryFactory, StaffFactory, UserFactory
from helpdesk.models import HelpRequest, HelpRequestStatus, MeetingState
from social.tests.factories import ReportFactory

pytestmark = pytest.mark.django_db


def make_request(category, *, created, status=HelpRequestStatus.OPEN, **fields):
    request = HelpRequest.objects.create(
        requester=UserFactory(), category=category, title="Help", description="Please", status=status, **fields
    )
    # created_at is auto_now_add: set it the way a past submission would have.
    HelpRequest.objects.filter(pk=request.pk).update(created_at=created)
    return request


@pytest.fixture
def now():
    return timezone.now()


def test_open_requests_are_counted_per_category_biggest_first(now):
    algebra, writing = CategoryFactory(name="Linear Algebra"), CategoryFactory(name="Academic Writing")
    for _ in range(3):
        make_request(algebra, created=now)
    make_request(writing, created=now)
    make_request(writing, created=now, status=HelpRequestStatus.CANCELLED)

    rows = dashboard.open_by_category()

    assert [(row["name"], row["count"]) for row in rows] == [("Linear Algebra", 3), ("Academic Writing", 1)]
    assert rows[0]["url"].endswith(f"status__exact=open&category__id__exact={algebra.pk}")


def test_waiting_time_is_the_median_and_the_oldest_of_the_open_requests(now):
    category = CategoryFactory()
    for hours in (1, 2, 3, 10):
        make_request(category, created=now - timedelta(hours=hours))
    make_request(category, created=now - timedelta(days=9), status=HelpRequestStatus.COMPLETED)

    waiting = dashboard.waiting_times(now)

    assert waiting["count"] == 4
    assert waiting["median"] == timedelta(hours=2, minutes=30)
    assert waiting["oldest"] == timedelta(hours=10)


def test_no_open_request_means_no_waiting_time(now):
    assert dashboard.waiting_times(now) == {"count": 0, "median": None, "oldest": None}


def test_pending_reports_and_failed_meetings_are_counted(now):
    ReportFactory()
    ReportFactory(handled=True, handled_at=now)
    category = CategoryFactory()
    expert = UserFactory()
    make_request(
        category, created=now, status=HelpRequestStatus.SCHEDULED, expert=expert, meeting_state=MeetingState.FAILED
    )
    make_request(
        category, created=now, status=HelpRequestStatus.SCHEDULED, expert=expert, meeting_state=MeetingState.CREATED
    )

    assert dashboard.pending_reports(now)["count"] == 1
    assert dashboard.failed_meetings()["count"] == 1


def test_requests_per_day_cover_the_last_two_weeks_up_to_today(now):
    category = CategoryFactory()
    make_request(category, created=now)
    make_request(category, created=now)
    make_request(category, created=now - timedelta(days=3))
    make_request(category, created=now - timedelta(days=20))  # before the window

    trend = dashboard.requests_per_day(now)

    assert len(trend.bars) == 14
    assert trend.bars[-1].day.date() == timezone.localdate(now)
    assert [bar.count for bar in trend.bars][-4:] == [1, 0, 0, 2]
    assert trend.total == 3 and trend.peak == 2
    tallest = trend.bars[-1]
    assert tallest.y + tallest.height == trend.height and tallest.height == trend.height - 2
    assert trend.bars[-2].height == 0


def test_the_admin_is_named_lyceum_and_its_index_shows_the_figures_and_the_chart(client, now):
    make_request(CategoryFactory(name="Programming"), created=now - timedelta(hours=5))
    ReportFactory()
    client.force_login(StaffFactory())

    response = client.get(reverse("admin:index"))

    content = response.content.decode()
    assert response.status_code == 200
    assert "<title>Lyceum administration | Lyceum administration</title>" in content
    assert '<div id="site-name"><a href="/admin/">Lyceum administration</a></div>' in content
    assert "Django administration" not in content
    assert "Open help requests" in content and "Programming" in content and "5 h" in content
    assert 'id="dash-reports"' in content and "Reports pending" in content
    assert '<svg class="dash-chart"' in content and content.count('<rect class="dash-bar"') == 14
    assert "<script" not in content.split('id="dashboard-title"')[1].split("</section>")[0]


def test_students_do_not_see_the_figures(client):
    client.force_login(UserFactory())

    response = client.get(reverse("admin:index"))

    assert response.status_code == 302 and "/admin/login/" in response["Location"]
