import re

from django import template
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

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
    NotificationKind.EXPERT_AREA_APPROVED: "bi-patch-plus",
    NotificationKind.EXPERT_AREA_DECLINED: "bi-patch-minus",
    NotificationKind.HELP_REQUEST_NEW: "bi-inbox",
    NotificationKind.HELP_REQUEST_DIRECT: "bi-person-raised-hand",
    NotificationKind.HELP_REQUEST_TO_QUEUE: "bi-people",
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


# An http(s) URL in ESCAPED text: it stops at whitespace and at the entities escape() made of
# < > " ' (so no quote can end the href early); trailing punctuation stays outside the link.
_URL_RE = re.compile(r"\bhttps?://(?:(?!&quot;|&#x27;|&lt;|&gt;)[^\s<>\"'])+", re.IGNORECASE)
_TRAILING = ".,:;!?)]}"


def _link(match: re.Match) -> str:
    url = match.group(0)
    tail = ""
    while url and url[-1] in _TRAILING:
        tail = url[-1] + tail
        url = url[:-1]
    return f'<a href="{url}" rel="noopener nofollow noreferrer">{url}</a>{tail}'


@register.filter(is_safe=True)
def linkify(text: str | None) -> SafeString:
    """A notification body as HTML: escaped first, then its http(s) URLs as links and its line
    breaks as <br>. Nothing else in the text becomes markup (no javascript:, no bare domains)."""
    html = _URL_RE.sub(_link, str(escape(text or "")))
    return mark_safe(html.replace("\n", "<br>"))  # built from escaped text only
