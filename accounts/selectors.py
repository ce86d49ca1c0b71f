"""Reads about accounts that more than one view or app needs."""

from django.db.models import QuerySet

from accounts.models import User


def active_users() -> QuerySet[User]:
    return User.objects.filter(is_active=True)


def email_in_use(*, email: str, exclude_user: User | None = None) -> bool:
    """Whether any account already has this address, in any letter case."""
    users = User.objects.filter(email__iexact=email.strip())
    if exclude_user is not None and exclude_user.pk is not None:
        users = users.exclude(pk=exclude_user.pk)
    return users.exists()
