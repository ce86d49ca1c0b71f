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
    NotificationKind.UNREAD_MESSAGES: "bi-chat-dots",
    NotificationKind.MENTION: "bi-at",
    NotificationKind.MESSAGE_REQUEST: "bi-chat-square-text",
    NotificationKind.EXPERT_APPROVED: "bi-patch-check",
    NotificationKind.EXPERT_REJECTED: "bi-patch-exclamation",
    NotificationKind.HELP_REQUEST_NEW: "bi-inbox",
    NotificationKind.HELP_REQUEST_ACCEPTED: "bi-hand-thumbs-up",
    NotificationKind.HELP_REQUEST_SCHEDULED: "bi-calendar-event",
    NotificationKind.HELP_MEETING_READY: "bi-camera-video",
    NotificationKind.HELP_MEETING_FAILED: "bi-camera-video-off",
    NotificationKind.HELP_SESSION_REMINDER: "bi-alarm",
    NotificationKind.HELP_REQUEST_RELEASED: "bi-arrow-counterclockwise",
    NotificationKind.HELP_REQUEST_CANCELLED: "bi-x-circle",
    NotificationKind.HELP_REQUEST_EXPIRED: "bi-hourglass-bottom",
    NotificationKind.HELP_REQUEST_COMPLETED: "bi-check2-circle",
    NotificationKind.HELP_RATING_RECEIVED: "bi-star",
}


@register.filter
def kind_icon(kind: str) -> str:
    return KIND_ICONS.get(kind, "bi-bell")
