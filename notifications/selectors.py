from datetime import datetime

from django.db.models import QuerySet

from notifications.models import (
    EMAIL_EVEN_IF_INACTIVE,
    EmailDelivery,
    Notification,
    NotificationPreference,
    choosable_kinds,
    email_by_default,
    email_choosable,
)


def notifications_for(*, user, unread_only: bool = False) -> QuerySet[Notification]:
    """A user's notifications, newest first. Only ever the user's own."""
    queryset = Notification.objects.filter(recipient=user)
    if unread_only:
        queryset = queryset.filter(read_at__isnull=True)
    return queryset.order_by("-created_at", "-id")


def recent_for(*, user, limit: int = 5) -> list[Notification]:
    return list(notifications_for(user=user)[:limit])


def unread_count(*, user) -> int:
    return unread_count_for_user_id(user_id=user.pk)


def unread_for_user_id(*, user_id: int) -> QuerySet[Notification]:
    return Notification.objects.filter(recipient_id=user_id, read_at__isnull=True)


def unread_count_for_user_id(*, user_id: int) -> int:
    return unread_for_user_id(user_id=user_id).count()


def email_preferences_for(*, user) -> dict[str, bool]:
    """Every kind the user may choose for, in declaration order, with the user's e-mail choice or
    the kind's default (kinds that always e-mail are not a choice)."""
    chosen = dict(NotificationPreference.objects.filter(user=user).values_list("kind", "email"))
    return {kind: chosen.get(kind, email_by_default(kind)) for kind in choosable_kinds()}


def wants_email(*, user, kind: str) -> bool:
    """Whether this user should get an e-mail for this kind now (active, has an address, opted in)."""
    if not user.email or (not user.is_active and kind not in EMAIL_EVEN_IF_INACTIVE):
        return False
    if not email_choosable(kind):
        return True
    choice = NotificationPreference.objects.filter(user=user, kind=kind).values_list("email", flat=True).first()
    return email_by_default(kind) if choice is None else choice


def sent_since(*, user, kind: str, since: datetime) -> int:
    """How many notifications of this kind the user was sent since then (a sender's throttle)."""
    return Notification.objects.filter(recipient=user, kind=kind, created_at__gte=since).count()


def delivery_with_notification(*, delivery_id: int) -> EmailDelivery | None:
    return (
        EmailDelivery.objects.select_related("notification", "notification__recipient").filter(pk=delivery_id).first()
    )
