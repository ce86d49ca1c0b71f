"""An approved expert asks for a new area of expertise; staff approve or decline it; the expert
is told once, in the app and by e-mail. Seen from the expert's page, the API and the admin."""

import pytest
from django.core import mail
from django.core.exceptions import PermissionDenied
from django.urls import reverse

from experts import services
from experts.models import ExpertiseAreaRequest, ExpertProfile
from experts.tests.factories import CategoryFactory, ExpertProfileFactory
from notifications.models import Notification, NotificationKind

pytestmark = pytest.mark.django_db

Pending = ExpertiseAreaRequest.Status.PENDING


@pytest.fixture
def expert(ada, maths):
    ExpertProfileFactory(user=ada, categories=[maths])
    return ada


def areas_of(user) -> list[str]:
    return sorted(ExpertProfile.objects.get(user=user).categories.values_list("name", flat=True))


def mails_to(user) -> list:
    return [message for message in mail.outbox if user.email in message.to]


def ask(user, category, motivation: str = "") -> ExpertiseAreaRequest:
    return services.request_expertise_area(user=user, category_id=category.pk, motivation=motivation)


# --- The expert's page ---------------------------------------------------------------------------


def test_an_approved_expert_asks_for_an_area_and_sees_it_pending_on_their_page(client_of, expert, physics):
    client = client_of(expert)
    page = client.get(reverse("experts:mine")).content.decode()
    assert "Ask for a new area" in page and "ask an administrator" not in page

    response = client.post(
        reverse("experts:request_area"), {"category": physics.pk, "motivation": "PhD in physics"}, follow=True
    )

    assert response.status_code == 200
    body = response.content.decode()
    assert "You asked for Physics" in body
    assert 'data-testid="area-request-pending"' in body and "Waiting for review" in body
    assert areas_of(expert) == ["Mathematics"]  # not before staff approve it


def test_the_form_offers_only_areas_the_expert_neither_has_nor_awaits(client_of, expert, maths, physics, closed):
    chemistry = CategoryFactory(name="Chemistry")
    ask(expert, chemistry)

    page = client_of(expert).get(reverse("experts:mine")).content.decode()
    form = page.split("Ask for a new area")[1].split("</form>")[0]

    assert "Physics" in form
    assert ">Mathematics<" not in form and ">Chemistry<" not in form and "Alchemy" not in form


def test_asking_again_for_an_awaited_area_answers_400_with_the_reason(client_of, expert, physics):
    ask(expert, physics)

    response = client_of(expert).post(reverse("experts:request_area"), {"category": physics.pk})

    assert response.status_code == 400
    assert ExpertiseAreaRequest.objects.count() == 1


def test_a_pending_applicant_is_not_offered_the_form_and_is_refused(client_of, ada, maths, physics):
    ExpertProfileFactory(user=ada, categories=[maths], status=ExpertProfile.Status.PENDING)
    client = client_of(ada)
    assert "Ask for a new area" not in client.get(reverse("experts:mine")).content.decode()

    response = client.post(reverse("experts:request_area"), {"category": physics.pk})

    assert response.status_code == 400
    assert "Only approved experts ask for new areas" in response.content.decode()
    assert not ExpertiseAreaRequest.objects.exists()


def test_someone_who_never_applied_is_sent_to_the_application(client_of, eve, physics):
    response = client_of(eve).post(reverse("experts:request_area"), {"category": physics.pk})
    assert response.status_code == 302 and response.url == reverse("experts:apply")


# --- The rules -----------------------------------------------------------------------------------


def test_the_maximum_counts_the_areas_waiting_for_review(expert):
    for index in range(services.MAX_CATEGORIES - 1):
        ask(expert, CategoryFactory(name=f"Area {index}"))

    with pytest.raises(services.ExpertRefusal) as refusal:
        ask(expert, CategoryFactory(name="One too many"))

    assert refusal.value.code == "too_many_areas"


def test_unknown_closed_and_held_categories_are_refused(expert, maths, closed):
    for category_id, code in (
        (999999, "invalid_category"),
        (closed.pk, "invalid_category"),
        (maths.pk, "already_has_area"),
    ):
        with pytest.raises(services.ExpertRefusal) as refusal:
            services.request_expertise_area(user=expert, category_id=category_id)
        assert refusal.value.code == code


# --- Staff decide --------------------------------------------------------------------------------


def test_approving_adds_the_area_and_tells_the_expert_once_in_the_app_and_by_mail(
    expert, staff, physics, django_capture_on_commit_callbacks
):
    area_request = ask(expert, physics)

    with django_capture_on_commit_callbacks(execute=True):
        services.approve_expertise_area(request_id=area_request.pk, reviewer=staff)

    assert areas_of(expert) == ["Mathematics", "Physics"]
    notification = Notification.objects.get(recipient=expert, kind=NotificationKind.EXPERT_AREA_APPROVED)
    assert notification.title == "Physics is now one of your areas of expertise"
    assert notification.url == reverse("experts:mine")
    sent = mails_to(expert)
    assert len(sent) == 1 and "Physics" in sent[0].subject


def test_declining_keeps_the_reason_shows_it_and_tells_the_expert_once(
    client_of, expert, staff, physics, django_capture_on_commit_callbacks
):
    area_request = ask(expert, physics)

    with django_capture_on_commit_callbacks(execute=True):
        services.decline_expertise_area(request_id=area_request.pk, reviewer=staff, note="Show a physics degree.")

    assert areas_of(expert) == ["Mathematics"]
    assert Notification.objects.get(recipient=expert, kind=NotificationKind.EXPERT_AREA_DECLINED).body == (
        "Show a physics degree."
    )
    sent = mails_to(expert)
    assert len(sent) == 1 and "declined" in sent[0].subject and "Show a physics degree." in sent[0].body
    page = client_of(expert).get(reverse("experts:mine")).content.decode()
    assert 'data-testid="area-request-declined"' in page and "Show a physics degree." in page


def test_a_decision_is_made_once_needs_a_reason_to_decline_and_staff_to_make_it(expert, staff, eve, physics):
    area_request = ask(expert, physics)
    with pytest.raises(services.ExpertRefusal):
        services.decline_expertise_area(request_id=area_request.pk, reviewer=staff, note="  ")
    with pytest.raises(PermissionDenied):
        services.approve_expertise_area(request_id=area_request.pk, reviewer=eve)
    services.approve_expertise_area(request_id=area_request.pk, reviewer=staff)

    with pytest.raises(services.ExpertRefusal) as refusal:
        services.decline_expertise_area(request_id=area_request.pk, reviewer=staff, note="Changed my mind.")

    assert refusal.value.code == "already_reviewed"
    assert Notification.objects.filter(recipient=expert, kind__startswith="expert_area").count() == 1


def test_a_closed_category_cannot_be_approved(expert, staff, physics):
    area_request = ask(expert, physics)
    physics.is_active = False
    physics.save()

    with pytest.raises(services.ExpertRefusal) as refusal:
        services.approve_expertise_area(request_id=area_request.pk, reviewer=staff)

    assert refusal.value.code == "invalid_category"
    assert areas_of(expert) == ["Mathematics"]


# --- The admin's review queue --------------------------------------------------------------------


@pytest.fixture
def staff_client(client, staff):
    client.force_login(staff)
    return client


def test_the_queue_lists_pending_requests_and_filters_by_status(staff_client, expert, physics, staff):
    decided = ask(expert, CategoryFactory(name="Chemistry"))
    services.decline_expertise_area(request_id=decided.pk, reviewer=staff, note="No.")
    ask(expert, physics, motivation="PhD in physics")

    queue = staff_client.get(reverse("admin:experts_expertisearearequest_changelist"), {"status__exact": "pending"})

    assert queue.status_code == 200
    assert [str(row.category) for row in queue.context["cl"].result_list] == ["Physics"]
    assert "PhD in physics" in queue.content.decode()


def test_staff_decline_from_the_queue_with_a_reason_on_an_intermediate_page(
    staff_client, expert, physics, django_capture_on_commit_callbacks
):
    area_request = ask(expert, physics)
    queue = reverse("admin:experts_expertisearearequest_changelist")
    chosen = {"action": "decline_selected", "_selected_action": [area_request.pk]}

    asked = staff_client.post(queue, chosen)
    assert asked.status_code == 200 and "Reason, for the experts" in asked.content.decode()
    empty = staff_client.post(queue, {**chosen, "confirm": "yes", "review_note": ""})
    assert empty.status_code == 400
    with django_capture_on_commit_callbacks(execute=True):
        done = staff_client.post(queue, {**chosen, "confirm": "yes", "review_note": "Not your field."}, follow=True)

    assert "Declined 1 request; the expert was notified." in done.content.decode()
    area_request.refresh_from_db()
    assert (area_request.status, area_request.review_note) == ("declined", "Not your field.")
    assert len(mails_to(expert)) == 1


def test_staff_approve_from_the_queue_with_an_optional_note(staff_client, expert, physics):
    area_request = ask(expert, physics)
    queue = reverse("admin:experts_expertisearearequest_changelist")

    done = staff_client.post(
        queue,
        {"action": "approve_selected", "_selected_action": [area_request.pk], "confirm": "yes", "review_note": ""},
        follow=True,
    )

    assert "Approved 1 request; the expert was notified." in done.content.decode()
    assert areas_of(expert) == ["Mathematics", "Physics"]


# --- API -----------------------------------------------------------------------------------------


def api_url() -> str:
    return reverse("api:experts-me-area-requests")


def test_the_api_asks_for_an_area_and_shows_it_pending_on_my_profile(api_of, expert, physics):
    api = api_of(expert)

    response = api.post(api_url(), {"category": physics.pk, "motivation": "PhD"}, format="json")

    assert response.status_code == 201
    assert (response.json()["category"]["name"], response.json()["status"]) == ("Physics", "pending")
    mine = api.get(reverse("api:experts-me")).json()
    assert [(r["category"]["name"], r["status"]) for r in mine["area_requests"]] == [("Physics", "pending")]
    assert [r["status"] for r in api.get(api_url()).json()] == ["pending"]


@pytest.mark.parametrize(
    ("case", "status", "code"),
    [
        ("unknown", 400, "invalid_category"),
        ("closed", 400, "invalid_category"),
        ("held", 409, "already_has_area"),
        ("awaited", 409, "already_requested"),
        ("too_many", 409, "too_many_areas"),
    ],
)
def test_the_api_refuses_with_a_clean_4xx_and_a_code(api_of, expert, maths, physics, closed, case, status, code):
    if case == "awaited":
        ask(expert, physics)
    if case == "too_many":
        for index in range(services.MAX_CATEGORIES - 1):
            ask(expert, CategoryFactory(name=f"Area {index}"))
    category = {"unknown": 999999, "closed": closed.pk, "held": maths.pk}.get(case, physics.pk)

    response = api_of(expert).post(api_url(), {"category": category}, format="json")

    assert response.status_code == status
    assert response.json()["code"] == code if status == 409 else "category" in response.json()["errors"]
    assert response.json()["detail"]


def test_the_api_refuses_a_pending_applicant_409_and_a_stranger_404(api_of, ada, eve, maths, physics):
    ExpertProfileFactory(user=ada, categories=[maths], status=ExpertProfile.Status.PENDING)

    pending = api_of(ada).post(api_url(), {"category": physics.pk}, format="json")
    stranger = api_of(eve).post(api_url(), {"category": physics.pk}, format="json")

    assert (pending.status_code, pending.json()["code"]) == (409, "not_approved")
    assert stranger.status_code == 404 and stranger.json()["detail"]
    assert api_of(eve).get(api_url()).status_code == 404


@pytest.mark.parametrize("body", [{}, {"category": "abc"}, {"category": True}, {"category": 2**70}])
def test_the_api_refuses_a_malformed_category_with_400(api_of, expert, body):
    response = api_of(expert).post(api_url(), body, format="json")
    assert response.status_code == 400 and "category" in response.json()["errors"]


def test_another_user_never_sees_my_requests(api_of, expert, physics, eve):
    ask(expert, physics)
    ExpertProfileFactory(user=eve)
    assert api_of(eve).get(api_url()).json() == []


def test_the_expert_profiles_admin_page_lists_their_requests(staff_client, expert, physics):
    ask(expert, physics, motivation="PhD in physics")
    profile = ExpertProfile.objects.get(user=expert)

    page = staff_client.get(reverse("admin:experts_expertprofile_change", args=[profile.pk]))

    assert page.status_code == 200
    assert "requests for new areas" in page.content.decode().lower() and "PhD in physics" in page.content.decode()


def test_asked_on_the_page_approved_in_the_queue_the_expert_reads_it_and_has_the_area(
    client, expert, staff, physics, django_capture_on_commit_callbacks
):
    # Given the expert asked for Physics on their page
    client.force_login(expert)
    client.post(reverse("experts:request_area"), {"category": physics.pk, "motivation": "PhD in physics"})
    [area_request] = ExpertiseAreaRequest.objects.filter(profile__user=expert)
    mail.outbox.clear()

    # When staff approve it from the admin queue
    client.force_login(staff)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            reverse("admin:experts_expertisearearequest_changelist"),
            {"action": "approve_selected", "_selected_action": [area_request.pk], "confirm": "yes", "review_note": ""},
        )

    # Then the expert has one e-mail naming it, reads it in their notifications, and their page
    # lists Physics as an area (no longer waiting)
    [sent] = mails_to(expert)
    assert "Physics" in sent.subject
    client.force_login(expert)
    notifications = client.get(reverse("notifications:list")).content.decode()
    assert "Physics is now one of your areas of expertise" in notifications
    page = client.get(reverse("experts:mine")).content.decode()
    assert 'data-testid="area-request-pending"' not in page
    assert 'data-testid="area-request-approved"' in page
