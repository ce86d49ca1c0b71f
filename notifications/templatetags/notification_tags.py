from django import template

from notifications.models import NotificationKind

register = template.Library()

# A Bootstrap Icons name per kind; a kind without one shows a bell.
KIND_ICONS: dict[str, str] = {
    NotificationKind.WELCOME: "bi-stars",
    NotificationKind.PASSWORD_CHANGED: "bi-shield-lock",
    NotificationKind.SYSTEM: "bi-megaphone",
    NotificationKind.FRIEND_REQUEST: "bi-person-plus",
    NotificationKind.FRIEND_ACCEPTED: "bi-people",
}


@register.filter
def kind_icon(kind: str) -> str:
    return KIND_ICONS.get(kind, "bi-bell")
