import pytest
from django.urls import reverse

from experts.models import ExpertProfile
from experts.tests.factories import CategoryFactory, ExpertProfileFactory, UserFactory
from notifications.models import Notification, NotificationKind

pytestmark = pytest.mark.django_db

Status = ExpertProfile.Status
CHANGELIST = "admin:experts_expertprofile_changelist"


@pytest.fixture
def staff_client(client, staff):
    client.force_login(staff)
    return client


@pytest.mark.parametrize(
    ("name", "query"),
    [
        ("admin:experts_category_changelist", {"is_active__exact": "1"}),
        (CHANGELIST, {"status__exact": "pending"}),
        (CHANGELIST, {"q": "lovelace"}),
        ("admin:experts_category_add", {}),
    ],
)
def test_staff_can_list_filter_and_search(staff_client, ada, name, query):
    maths = CategoryFactory(name="Mathematics")
    ExpertProfileFactory(user=ada, status=Status.PENDING, categories=[maths], rating_count=2, rating_sum=9)
    ExpertProfileFactory()
    response = staff_client.get(reverse(name), query)
    assert response.status_code == 200


def test_the_changelist_shows_status_areas_and_rating(staff_client, ada):
    ExpertProfileFactory(user=ada, categories=[CategoryFactory(name="Mathematics")], rating_count=2, rating_sum=9)
    html = staff_client.get(reverse(CHANGELIST)).content.decode()
    assert "Mathematics" in html and "4.5 ★ (2)" in html and "Approved" in html


def test_a_profile_opens_with_review_fields_read_only(staff_client):
    profile = ExpertProfileFactory(status=Status.PENDING)
    response = staff_client.get(reverse("admin:experts_expertprofile_change", args=[profile.pk]))
    assert response.status_code == 200
    assert 'name="status"' not in response.content.decode()
    assert 'name="reviewed_by"' not in response.content.decode()


def test_approve_action_approves_notifies_and_reports(staff_client, staff):
    pending = [ExpertProfileFactory(status=Status.PENDING) for _ in range(2)]
    already = ExpertProfileFactory()

    response = staff_client.post(
        reverse(CHANGELIST),
        {"action": "approve_selected", "_selected_action": [p.pk for p in [*pending, already]]},
        follow=True,
    )

    html = response.content.decode()
    assert "Approved 2 applications; the applicants were notified." in html
    assert "Skipped 1" in html and "already approved" in html
    assert ExpertProfile.objects.filter(status=Status.APPROVED, reviewed_by=staff).count() == 2
    assert Notification.objects.filter(kind=NotificationKind.EXPERT_APPROVED).count() == 2


def test_reject_action_asks_for_a_note_then_rejects_and_notifies(staff_client):
    profile = ExpertProfileFactory(status=Status.PENDING)
    selected = {"action": "reject_selected", "_selected_action": [profile.pk]}

    confirm_page = staff_client.post(reverse(CHANGELIST), selected)
    empty_note = staff_client.post(reverse(CHANGELIST), {**selected, "confirm": "yes", "review_note": " "})
    too_long = staff_client.post(reverse(CHANGELIST), {**selected, "confirm": "yes", "review_note": "n" * 501})
    profile.refresh_from_db()
    assert profile.status == Status.PENDING
    done = staff_client.post(
        reverse(CHANGELIST), {**selected, "confirm": "yes", "review_note": "Please add references."}, follow=True
    )

    assert confirm_page.status_code == 200 and "Note to the applicants" in confirm_page.content.decode()
    assert empty_note.status_code == 400 and too_long.status_code == 400
    assert "Rejected 1 application; the applicant was notified." in done.content.decode()
    profile.refresh_from_db()
    assert profile.status == Status.REJECTED and profile.review_note == "Please add references."
    notification = Notification.objects.get(kind=NotificationKind.EXPERT_REJECTED)
    assert notification.recipient == profile.user and notification.body == "Please add references."


@pytest.mark.parametrize("action", ["approve_selected", "reject_selected"])
def test_the_review_actions_need_staff(client, action):
    student = UserFactory()
    profile = ExpertProfileFactory(status=Status.PENDING)
    client.force_login(student)

    response = client.post(
        reverse(CHANGELIST),
        {"action": action, "_selected_action": [profile.pk], "confirm": "yes", "review_note": "x"},
    )

    assert response.status_code == 302 and "/admin/login/" in response["Location"]
    profile.refresh_from_db()
    assert profile.status == Status.PENDING
    assert not Notification.objects.exists()
