import threading
import time

import pytest
from django.core.exceptions import PermissionDenied
from django.db import close_old_connections, connection, transaction

from experts import services
from experts.models import ExpertProfile
from experts.tests.factories import CategoryFactory, ExpertProfileFactory, UserFactory
from notifications.models import Notification, NotificationKind

pytestmark = pytest.mark.django_db

Status = ExpertProfile.Status


def application(**overrides):
    data = {
        "headline": "  Statistics PhD: R, regression, exam prep  ",
        "bio": "I taught statistics labs for four years.",
        "languages": "English, italian,  English ",
        "availability_note": "Evenings",
    }
    return {**data, **overrides}


# --- Applying ------------------------------------------------------------------------------------


def test_applying_creates_a_pending_application_with_its_categories(ada, maths, physics):
    profile = services.apply_as_expert(user=ada, category_ids=[maths.pk, physics.pk], **application())

    profile.refresh_from_db()
    assert profile.status == Status.PENDING
    assert profile.user == ada
    assert profile.headline == "Statistics PhD: R, regression, exam prep"
    assert profile.languages == "English, italian"
    assert set(profile.categories.all()) == {maths, physics}
    assert profile.rating_count == profile.rating_sum == profile.sessions_completed == 0


@pytest.mark.parametrize("status", [Status.PENDING, Status.APPROVED])
def test_a_second_application_is_refused_while_one_is_live(ada, maths, status):
    ExpertProfileFactory(user=ada, status=status, headline="First")

    with pytest.raises(services.ExpertRefusal) as refused:
        services.apply_as_expert(user=ada, category_ids=[maths.pk], **application())

    assert refused.value.code in {"already_applied", "already_expert"}
    assert ExpertProfile.objects.get(user=ada).headline == "First"


def test_applying_again_after_a_rejection_reopens_the_same_profile(ada, maths, physics, staff):
    first = ExpertProfileFactory(user=ada, status=Status.PENDING, categories=[maths], rating_count=1, rating_sum=4)
    services.reject_expert(profile_id=first.pk, reviewer=staff, note="Say more about your teaching.")

    again = services.apply_as_expert(user=ada, category_ids=[physics.pk], **application(headline="Better"))

    again.refresh_from_db()
    assert again.pk == first.pk
    assert again.status == Status.PENDING
    assert again.headline == "Better"
    assert again.review_note == "" and again.reviewed_by is None and again.reviewed_at is None
    assert list(again.categories.all()) == [physics]
    assert (again.rating_count, again.rating_sum) == (1, 4)


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"headline": "   "}, "headline"),
        ({"headline": "h" * 121}, "headline"),
        ({"bio": ""}, "bio"),
        ({"bio": "b" * 3001}, "bio"),
        ({"languages": "x" * 201}, "languages"),
        ({"availability_note": "a" * 301}, "availability_note"),
        ({"headline": None}, "headline"),
        ({"bio": 42}, "bio"),
    ],
)
def test_bad_fields_are_refused_by_name_and_nothing_is_stored(ada, maths, overrides, field):
    with pytest.raises(services.ExpertRefusal) as refused:
        services.apply_as_expert(user=ada, category_ids=[maths.pk], **application(**overrides))

    assert refused.value.field == field
    assert not ExpertProfile.objects.exists()


@pytest.mark.parametrize("ids", ["closed", "unknown", "none", "empty", "text", "too_many", "string"])
def test_only_existing_active_categories_are_accepted(ada, maths, closed, ids):
    category_ids = {
        "closed": [maths.pk, closed.pk],
        "unknown": [maths.pk, 999_999],
        "none": None,
        "empty": [],
        "text": ["maths"],
        "too_many": [CategoryFactory().pk for _ in range(services.MAX_CATEGORIES + 1)],
        "string": "1",
    }[ids]

    with pytest.raises(services.ExpertRefusal) as refused:
        services.apply_as_expert(user=ada, category_ids=category_ids, **application())

    assert refused.value.field == "categories"
    assert not ExpertProfile.objects.exists()


def test_an_inactive_account_cannot_apply(maths):
    user = UserFactory(is_active=False)
    with pytest.raises(services.ExpertRefusal, match="deactivated"):
        services.apply_as_expert(user=user, category_ids=[maths.pk], **application())


# --- Editing -------------------------------------------------------------------------------------


def test_a_pending_application_can_change_anything_given(ada, maths, physics):
    profile = ExpertProfileFactory(user=ada, status=Status.PENDING, categories=[maths])

    services.update_expert_profile(user=ada, headline="New headline", category_ids=[physics.pk])

    profile.refresh_from_db()
    assert profile.headline == "New headline"
    assert profile.bio == "Ten years of helping students pass their exams."
    assert list(profile.categories.all()) == [physics]
    assert profile.status == Status.PENDING


def test_an_approved_expert_can_drop_but_not_add_categories(ada, maths, physics):
    profile = ExpertProfileFactory(user=ada, categories=[maths, physics])
    chemistry = CategoryFactory(name="Chemistry")

    services.update_expert_profile(user=ada, category_ids=[maths.pk], availability_note="Mornings")
    with pytest.raises(services.ExpertRefusal) as refused:
        services.update_expert_profile(user=ada, category_ids=[maths.pk, chemistry.pk], headline="Sneaky")

    profile.refresh_from_db()
    assert refused.value.code == "needs_review"
    assert "Chemistry" in str(refused.value)
    assert list(profile.categories.all()) == [maths]
    assert profile.availability_note == "Mornings"
    assert profile.headline != "Sneaky"
    assert profile.status == Status.APPROVED


def test_a_rejected_application_is_changed_by_applying_again(ada):
    ExpertProfileFactory(user=ada, status=Status.REJECTED)
    with pytest.raises(services.ExpertRefusal) as refused:
        services.update_expert_profile(user=ada, headline="x")
    assert refused.value.code == "rejected"


def test_editing_without_a_profile_is_does_not_exist(ada):
    with pytest.raises(ExpertProfile.DoesNotExist):
        services.update_expert_profile(user=ada, headline="x")


def test_editing_touches_only_the_callers_profile(ada, eve):
    theirs = ExpertProfileFactory(user=eve, headline="Eve's own")
    ExpertProfileFactory(user=ada)

    services.update_expert_profile(user=ada, headline="Mine")

    theirs.refresh_from_db()
    assert theirs.headline == "Eve's own"


# --- Review --------------------------------------------------------------------------------------


def expert_notifications(user):
    return Notification.objects.filter(
        recipient=user, kind__in=[NotificationKind.EXPERT_APPROVED, NotificationKind.EXPERT_REJECTED]
    )


def test_approving_notifies_the_applicant_once_with_a_link_to_their_page(
    ada, staff, django_capture_on_commit_callbacks
):
    profile = ExpertProfileFactory(user=ada, status=Status.PENDING)

    with django_capture_on_commit_callbacks(execute=True):
        services.approve_expert(profile_id=profile.pk, reviewer=staff, note="Welcome aboard")
    with pytest.raises(services.ExpertRefusal, match="already approved"):
        services.approve_expert(profile_id=profile.pk, reviewer=staff)

    profile.refresh_from_db()
    assert profile.status == Status.APPROVED
    assert profile.reviewed_by == staff and profile.reviewed_at is not None
    assert profile.review_note == "Welcome aboard"
    notification = expert_notifications(ada).get()
    assert notification.kind == NotificationKind.EXPERT_APPROVED
    assert notification.url == f"/experts/{profile.pk}/"


def test_rejecting_needs_a_note_and_notifies_once_with_a_link_to_the_application(ada, staff):
    profile = ExpertProfileFactory(user=ada, status=Status.PENDING)

    with pytest.raises(services.ExpertRefusal) as no_note:
        services.reject_expert(profile_id=profile.pk, reviewer=staff, note="  ")
    services.reject_expert(profile_id=profile.pk, reviewer=staff, note="Add your teaching experience.")
    with pytest.raises(services.ExpertRefusal, match="already rejected"):
        services.reject_expert(profile_id=profile.pk, reviewer=staff, note="Again")

    assert no_note.value.field == "note"
    profile.refresh_from_db()
    assert profile.status == Status.REJECTED
    assert profile.review_note == "Add your teaching experience."
    notification = expert_notifications(ada).get()
    assert notification.kind == NotificationKind.EXPERT_REJECTED
    assert notification.body == "Add your teaching experience."
    assert notification.url == "/experts/me/"


def test_staff_can_withdraw_an_approval(ada, staff):
    profile = ExpertProfileFactory(user=ada)
    services.reject_expert(profile_id=profile.pk, reviewer=staff, note="Complaints about no-shows.")
    assert "no longer approved" in expert_notifications(ada).get().title


@pytest.mark.parametrize("reviewer_kind", ["student", "applicant", "inactive_staff"])
def test_only_active_staff_can_review(ada, reviewer_kind):
    profile = ExpertProfileFactory(user=ada, status=Status.PENDING)
    reviewer = {
        "student": UserFactory(),
        "applicant": ada,
        "inactive_staff": UserFactory(is_staff=True, is_active=False),
    }[reviewer_kind]

    with pytest.raises(PermissionDenied):
        services.approve_expert(profile_id=profile.pk, reviewer=reviewer)
    with pytest.raises(PermissionDenied):
        services.reject_expert(profile_id=profile.pk, reviewer=reviewer, note="No")

    profile.refresh_from_db()
    assert profile.status == Status.PENDING
    assert not expert_notifications(ada).exists()


def test_an_inactive_applicant_is_not_approved(staff):
    profile = ExpertProfileFactory(user=UserFactory(is_active=False), status=Status.PENDING)
    with pytest.raises(services.ExpertRefusal, match="deactivated"):
        services.approve_expert(profile_id=profile.pk, reviewer=staff)


def test_reviewing_an_unknown_profile_is_does_not_exist(staff):
    with pytest.raises(ExpertProfile.DoesNotExist):
        services.approve_expert(profile_id=999_999, reviewer=staff)


def test_a_decision_that_rolls_back_notifies_no_one(ada, staff):
    profile = ExpertProfileFactory(user=ada, status=Status.PENDING)
    with pytest.raises(RuntimeError), transaction.atomic():
        services.approve_expert(profile_id=profile.pk, reviewer=staff)
        raise RuntimeError("the caller failed")
    profile.refresh_from_db()
    assert profile.status == Status.PENDING
    assert not expert_notifications(ada).exists()


# --- The rating aggregate ------------------------------------------------------------------------


def test_ratings_and_sessions_add_up():
    profile = ExpertProfileFactory()

    for stars in (5, 4, 4):
        services.record_rating(expert_profile_id=profile.pk, stars=stars)
    services.record_session_completed(expert_profile_id=profile.pk)

    profile.refresh_from_db()
    assert (profile.rating_count, profile.rating_sum, profile.sessions_completed) == (3, 13, 1)
    assert str(profile.rating_average) == "4.3"


@pytest.mark.parametrize("stars", [0, 6, -1, 4.5, "5", True, None])
def test_a_rating_outside_one_to_five_whole_stars_is_refused(stars):
    profile = ExpertProfileFactory()
    with pytest.raises(services.ExpertRefusal):
        services.record_rating(expert_profile_id=profile.pk, stars=stars)
    profile.refresh_from_db()
    assert profile.rating_count == 0


def test_rating_an_unknown_profile_is_does_not_exist():
    with pytest.raises(ExpertProfile.DoesNotExist):
        services.record_rating(expert_profile_id=999_999, stars=5)
    with pytest.raises(ExpertProfile.DoesNotExist):
        services.record_session_completed(expert_profile_id=999_999)


@pytest.mark.django_db(transaction=True)
def test_two_ratings_recorded_at_the_same_moment_both_count():
    """The first rater's transaction holds its update open while the second records its own:
    a read-modify-write would lose one of them; the F() update cannot."""
    profile = ExpertProfileFactory(rating_count=0, rating_sum=0)
    first_wrote = threading.Event()
    errors: list[BaseException] = []

    def rate(stars: int, *, hold: bool) -> None:
        try:
            with transaction.atomic():
                services.record_rating(expert_profile_id=profile.pk, stars=stars)
                if hold:
                    first_wrote.set()
                    time.sleep(0.3)  # still uncommitted while the other thread writes
        except BaseException as error:  # reported to the test thread
            errors.append(error)
        finally:
            close_old_connections()
            connection.close()

    first = threading.Thread(target=rate, args=(5,), kwargs={"hold": True})
    first.start()
    assert first_wrote.wait(5)
    second = threading.Thread(target=rate, args=(3,), kwargs={"hold": False})
    second.start()
    first.join(10)
    second.join(10)

    assert errors == []
    profile.refresh_from_db()
    assert (profile.rating_count, profile.rating_sum) == (2, 8)
