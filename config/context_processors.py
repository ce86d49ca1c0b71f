"""The navigation bar's per-user state that spans apps (the project sits above every app)."""

from chat.selectors import unread_conversations_count
from experts.selectors import is_verified_expert


def navigation(request):
    """Unread conversations for the Chats badge and whether to show the expert's Queue link:
    two small queries on pages of signed-in users, none otherwise."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {
        "unread_chats_count": unread_conversations_count(user=user),
        "nav_is_expert": is_verified_expert(user=user),
    }
