"""Factories other apps import: `from accounts.tests.factories import UserFactory`."""

import factory

from accounts import services
from accounts.models import User

DEFAULT_PASSWORD = "correct-horse-battery"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"student{n}@example.edu")
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    university = "University of Bologna"
    course = "Computer Engineering"
    password = factory.PostGenerationMethodCall("set_password", DEFAULT_PASSWORD)

    @factory.post_generation
    def _list_studies(obj, create, extracted, **kwargs):
        # As the sign-up does: the university and course are entries of the lists, and the
        # user keeps their spelling (so the directory's university filter finds them).
        if create and obj.university:
            names = services.list_study_names(university=obj.university, course=obj.course)
            if names != (obj.university, obj.course):
                obj.university, obj.course = names
                obj.save(update_fields=["university", "course"])

    @factory.post_generation
    def _save_password(obj, create, extracted, **kwargs):
        # The password hash is set after the first save; store it.
        if create:
            obj.save(update_fields=["password"])


class StaffFactory(UserFactory):
    is_staff = True
    is_superuser = True
