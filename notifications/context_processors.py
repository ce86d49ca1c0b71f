from notifications.selectors import unread_count


def unread_notifications(request):
    """The navigation bar's badge: one COUNT query on pages of signed-in users, none otherwise."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {"unread_notifications_count": unread_count(user=user)}
