"""The dashboard's "Next steps" (templates/home.html): each step ticks from what the user did.

- Fill in your profile: every item of the profile checklist (photo, university, course, bio,
  interests) is there.
- Find your classmates: they have a friend, or sent a friend request that is still pending.
- Ask an expert: they submitted a help request (whatever became of it).
- Choose which e-mails you get: they saved their e-mail settings at least once (saving stores a
  choice per kind).
- Catch up on your notifications: nothing unread.

Lives in the project package because the steps span apps. ONE query for the three that need the
database (Exists subqueries on the user's row); the profile step reads the profile checklist
(config.templatetags_ui.profile_checklist) and the unread step the navbar's count.
"""

from __future__ import annotations

from django.db.models import Exists, OuterRef, Q

from accounts.models import User
from helpdesk.models import HelpRequest
from notifications.models import NotificationPreference
from social.models import FriendRequest, Friendship


def progress_of(*, user: User) -> dict[str, bool]:
    """Which steps are done, by name. The profile step is the profile checklist's (the
    template's `profile_checklist` tag) and the unread step the navbar's count."""
    befriended = Friendship.objects.filter(Q(user_low=OuterRef("pk")) | Q(user_high=OuterRef("pk")))
    asked = FriendRequest.objects.filter(from_user=OuterRef("pk"), status=FriendRequest.Status.PENDING)
    row = (
        User.objects.filter(pk=user.pk)
        .annotate(
            has_friend=Exists(befriended),
            has_pending_request=Exists(asked),
            asked_expert=Exists(HelpRequest.objects.filter(requester=OuterRef("pk"))),
            chose_emails=Exists(NotificationPreference.objects.filter(user=OuterRef("pk"))),
        )
        .values("has_friend", "has_pending_request", "asked_expert", "chose_emails")
        .get()
    )
    return {
        "classmates": row["has_friend"] or row["has_pending_request"],
        "expert": row["asked_expert"],
        "emails": row["chose_emails"],
    }
