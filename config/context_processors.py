"""The navigation bar's per-user state that spans apps (the project sits above every app)."""

from chat.selectors import unread_conversations_count
from experts.selectors import is_verified_expert
from helpdesk.selectors import queue_count
from social.selectors import incoming_request_count


def badge_counts(user, *, is_expert: bool) -> dict:
    """The navbar's People and Queue badges: friend requests waiting for an answer and, for an
    expert, the open requests in their queue. Also served as JSON (config.views.nav_badges) for
    static/js/nav-badges.js to refresh them on live events."""
    return {
        "friend_requests": incoming_request_count(user=user),
        "queue": queue_count(expert_user=user) if is_expert else None,
    }


def navigation(request):
    """Unread conversations for the Chats badge, whether to show the expert's Queue link, and
    the People and Queue badges: four small queries on pages of signed-in users (three for
    non-experts), none otherwise."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    is_expert = is_verified_expert(user=user)
    return {
        "unread_chats_count": unread_conversations_count(user=user),
        "nav_is_expert": is_expert,
        "nav_badges": badge_counts(user, is_expert=is_expert),
    }
