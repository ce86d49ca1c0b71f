import pytest
from django.utils import timezone

from experts import selectors
from experts.models import ExpertProfile
from experts.selectors import FeedbackItem
from experts.tests.factories import CategoryFactory, ExpertProfileFactory, UserFactory

pytestmark = pytest.mark.django_db

Status = ExpertProfile.Status


def names(experts) -> list[str]:
    return [profile.headline for profile in experts]


def test_the_weighted_rating_puts_many_good_ratings_above_one_perfect_one():
    ExpertProfileFactory(headline="one perfect", rating_count=1, rating_sum=5)
    ExpertProfileFactory(headline="twenty great", rating_count=20, rating_sum=96)  # 4.8
    ExpertProfileFactory(headline="new", rating_count=0, rating_sum=0)
    ExpertProfileFactory(headline="one bad", rating_count=1, rating_sum=1)

    assert names(selectors.expert_directory()) == ["twenty great", "one perfect", "new", "one bad"]


def test_equal_weighted_ratings_are_ordered_by_how_many_ratings():
    ExpertProfileFactory(headline="few", rating_count=2, rating_sum=7)  # 3.5 flat: weighted 3.5
    ExpertProfileFactory(headline="many", rating_count=10, rating_sum=35)
    assert names(selectors.expert_directory()) == ["many", "few"]


def test_other_sorts_sessions_and_newest():
    now = timezone.now()
    ExpertProfileFactory(headline="old busy", sessions_completed=30, reviewed_at=now - timezone.timedelta(days=30))
    ExpertProfileFactory(headline="fresh", sessions_completed=0, reviewed_at=now)
    ExpertProfileFactory(headline="middle", sessions_completed=5, reviewed_at=now - timezone.timedelta(days=3))

    assert names(selectors.expert_directory(sort="sessions")) == ["old busy", "middle", "fresh"]
    assert names(selectors.expert_directory(sort="newest")) == ["fresh", "middle", "old busy"]
    assert len(selectors.expert_directory(sort="nonsense")) == 3


def test_only_approved_experts_of_active_accounts_are_listed():
    ExpertProfileFactory(headline="approved")
    ExpertProfileFactory(headline="pending", status=Status.PENDING)
    ExpertProfileFactory(headline="rejected", status=Status.REJECTED)
    ExpertProfileFactory(headline="deactivated", user=UserFactory(is_active=False))

    assert names(selectors.expert_directory()) == ["approved"]


def test_filter_by_active_category_and_search_words():
    maths = CategoryFactory(name="Mathematics", slug="mathematics")
    closed = CategoryFactory(name="Alchemy", slug="alchemy", is_active=False)
    ExpertProfileFactory(headline="Calculus tutor", categories=[maths], user=UserFactory(first_name="Grace"))
    ExpertProfileFactory(headline="Regression help", categories=[maths, closed], user=UserFactory(first_name="Alan"))
    ExpertProfileFactory(headline="Lead into gold", categories=[closed])

    assert sorted(names(selectors.expert_directory(category_slug="mathematics"))) == [
        "Calculus tutor",
        "Regression help",
    ]
    assert names(selectors.expert_directory(category_slug="alchemy")) == []
    assert names(selectors.expert_directory(category_slug="unknown")) == []
    assert names(selectors.expert_directory(q="grace")) == ["Calculus tutor"]
    assert names(selectors.expert_directory(q="regress")) == ["Regression help"]
    assert names(selectors.expert_directory(q="alan calculus")) == []


def test_closed_categories_are_not_shown_on_a_card():
    maths = CategoryFactory(name="Mathematics")
    closed = CategoryFactory(name="Alchemy", is_active=False)
    ExpertProfileFactory(categories=[maths, closed])

    (profile,) = selectors.expert_directory()

    assert [category.name for category in profile.categories.all()] == ["Mathematics"]


def test_the_directory_costs_the_same_queries_for_one_or_many_experts(django_assert_num_queries):
    def load():
        return [(p.user.get_full_name(), [c.name for c in p.categories.all()]) for p in selectors.expert_directory()]

    ExpertProfileFactory()
    with django_assert_num_queries(2):
        assert len(load()) == 1
    for _ in range(15):
        ExpertProfileFactory(categories=[CategoryFactory(), CategoryFactory()])
    with django_assert_num_queries(2):
        assert len(load()) == 16


def test_an_expert_page_is_for_approved_experts_or_their_owner_or_staff():
    owner = UserFactory()
    pending = ExpertProfileFactory(user=owner, status=Status.PENDING)
    approved = ExpertProfileFactory()
    stranger = UserFactory()
    staff = UserFactory(is_staff=True)

    assert selectors.expert_detail(pk=approved.pk, viewer=stranger) == approved
    assert selectors.expert_detail(pk=pending.pk, viewer=stranger) is None
    assert selectors.expert_detail(pk=pending.pk) is None
    assert selectors.expert_detail(pk=pending.pk, viewer=owner) == pending
    assert selectors.expert_detail(pk=pending.pk, viewer=staff) == pending
    assert selectors.expert_detail(pk=999_999, viewer=staff) is None


def test_a_deactivated_experts_page_is_gone():
    profile = ExpertProfileFactory(user=UserFactory(is_active=False))
    assert selectors.expert_detail(pk=profile.pk, viewer=UserFactory()) is None


def test_experts_in_category_are_the_user_ids_of_approved_active_experts():
    maths = CategoryFactory()
    other = CategoryFactory()
    yes = ExpertProfileFactory(categories=[maths, other])
    ExpertProfileFactory(categories=[maths], status=Status.PENDING)
    ExpertProfileFactory(categories=[maths], user=UserFactory(is_active=False))
    ExpertProfileFactory(categories=[other])
    closed = CategoryFactory(is_active=False)
    ExpertProfileFactory(categories=[closed])

    assert list(selectors.experts_in_category(category_id=maths.pk)) == [yes.user_id]
    assert list(selectors.experts_in_category(category_id=closed.pk)) == []


def test_is_verified_expert_and_expert_for_user():
    maths = CategoryFactory()
    other = CategoryFactory()
    expert = ExpertProfileFactory(categories=[maths])
    applicant = ExpertProfileFactory(status=Status.PENDING, categories=[maths])
    nobody = UserFactory()

    assert selectors.is_verified_expert(user=expert.user)
    assert selectors.is_verified_expert(user=expert.user, category_id=maths.pk)
    assert not selectors.is_verified_expert(user=expert.user, category_id=other.pk)
    assert not selectors.is_verified_expert(user=applicant.user)
    assert not selectors.is_verified_expert(user=nobody)
    assert selectors.expert_for_user(user=applicant.user) == applicant
    assert selectors.expert_for_user(user=nobody) is None


def test_recent_feedback_is_empty_until_helpdesk_provides_it():
    profile = ExpertProfileFactory()
    assert selectors.recent_feedback_for(profile=profile) == []

    item = FeedbackItem(stars=5, text="Great", created_at=timezone.now(), requester_first_name="Ada")
    selectors.set_recent_feedback_provider(lambda profile, limit: [item] * 10)
    try:
        assert selectors.recent_feedback_for(profile=profile, limit=3) == [item] * 3
    finally:
        selectors.set_recent_feedback_provider(None)
