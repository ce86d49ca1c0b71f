import pytest
from django.urls import reverse

from accounts.tests.factories import StaffFactory
from social.models import Report
from social.tests.factories import BlockFactory, FriendRequestFactory, ReportFactory, UserFactory, make_friends

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client(client):
    staff = StaffFactory()
    client.force_login(staff)
    client.staff = staff
    return client


@pytest.mark.parametrize(
    ("model", "query"),
    [
        ("friendrequest", {"status__exact": "pending"}),
        ("friendship", {}),
        ("block", {}),
        ("report", {"handled__exact": "0", "reason__exact": "spam"}),
        ("report", {"reported_active": "no"}),
    ],
)
def test_staff_can_list_and_filter_every_social_model(staff_client, model, query):
    FriendRequestFactory()
    make_friends(UserFactory(), UserFactory())
    BlockFactory()
    ReportFactory()

    response = staff_client.get(reverse(f"admin:social_{model}_changelist"), query)

    assert response.status_code == 200


def test_a_report_opens_in_the_admin(staff_client):
    report = ReportFactory(details="Spam links")
    response = staff_client.get(reverse("admin:social_report_change", args=[report.pk]))
    assert response.status_code == 200
    assert "Spam links" in response.content.decode()


def test_the_mark_handled_action(staff_client):
    reports = [ReportFactory(), ReportFactory()]

    response = staff_client.post(
        reverse("admin:social_report_changelist"),
        {"action": "mark_handled", "_selected_action": [r.pk for r in reports]},
        follow=True,
    )

    assert "Marked 2 reports handled." in response.content.decode()
    assert Report.objects.filter(handled=True, handled_by=staff_client.staff).count() == 2


def test_the_deactivate_action_deactivates_the_reported_account(staff_client):
    spammer = UserFactory(email="spammer@uni.example")
    report = ReportFactory(reported=spammer)

    response = staff_client.post(
        reverse("admin:social_report_changelist"),
        {"action": "deactivate_reported_accounts", "_selected_action": [report.pk]},
        follow=True,
    )

    assert "Deactivated 1 account: spammer@uni.example." in response.content.decode()
    spammer.refresh_from_db()
    report.refresh_from_db()
    assert not spammer.is_active
    assert report.handled


def test_a_student_cannot_reach_the_moderation_queue(client):
    client.force_login(UserFactory())
    response = client.get(reverse("admin:social_report_changelist"))
    assert response.status_code == 302
