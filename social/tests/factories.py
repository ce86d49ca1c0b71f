"""Factories of the social tests, built on accounts' UserFactory."""

import factory
from django.utils import timezone

from accounts.tests.factories import UserFactory
from social.models import Block, FriendRequest, Friendship, Report

__all__ = ["BlockFactory", "FriendRequestFactory", "ReportFactory", "UserFactory", "make_friends"]


class FriendRequestFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = FriendRequest

    from_user = factory.SubFactory(UserFactory)
    to_user = factory.SubFactory(UserFactory)
    note = ""
    status = FriendRequest.Status.PENDING
    responded_at = factory.LazyAttribute(lambda o: None if o.status == FriendRequest.Status.PENDING else timezone.now())


class BlockFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Block

    blocker = factory.SubFactory(UserFactory)
    blocked = factory.SubFactory(UserFactory)


class ReportFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Report

    reporter = factory.SubFactory(UserFactory)
    reported = factory.SubFactory(UserFactory)
    reason = Report.Reason.SPAM
    details = "Sends the same advert to everyone."


def make_friends(a, b) -> Friendship:
    low, high = Friendship.ordered_ids(a.pk, b.pk)
    return Friendship.objects.create(user_low_id=low, user_high_id=high)
