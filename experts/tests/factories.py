"""Factories of the experts tests (helpdesk's tests may use them too)."""

import factory
from django.utils import timezone

from accounts.tests.factories import StaffFactory, UserFactory
from experts.models import Category, ExpertProfile

__all__ = ["CategoryFactory", "ExpertProfileFactory", "StaffFactory", "UserFactory"]


class CategoryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Category
        django_get_or_create = ["name"]

    name = factory.Sequence(lambda n: f"Subject {n}")
    slug = factory.LazyAttribute(lambda o: o.name.lower().replace(" ", "-"))
    is_active = True


class ExpertProfileFactory(factory.django.DjangoModelFactory):
    """An approved expert by default; `status="pending"` for an application.
    `categories=[...]` sets the areas (one new category otherwise)."""

    class Meta:
        model = ExpertProfile
        skip_postgeneration_save = True

    user = factory.SubFactory(UserFactory)
    headline = factory.Sequence(lambda n: f"Tutor number {n} in calculus and statistics")
    bio = "Ten years of helping students pass their exams."
    languages = "English, Italian"
    availability_note = "Weekday evenings"
    status = ExpertProfile.Status.APPROVED
    reviewed_at = factory.LazyAttribute(lambda o: timezone.now() if o.status != ExpertProfile.Status.PENDING else None)

    @factory.post_generation
    def categories(obj, create, extracted, **kwargs):
        if not create:
            return
        obj.categories.set(extracted if extracted is not None else [CategoryFactory()])
