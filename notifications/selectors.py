from django.db.models import QuerySet

from notifications.models import Notification


def notifications_for(*, user) -> QuerySet[Notification]:
    """A user's notifications, newest first. Only ever the user's own."""
    return Notification.objects.filter(recipient=user).order_by("-created_at", "-id")


def recent_for(*, user, limit: int = 5) -> list[Notification]:
    return list(notifications_for(user=user)[:limit])


def unread_count(*, user) -> int:
    return Notification.objects.filter(recipient=user, read_at__isnull=True).count()
