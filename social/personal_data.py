"""The social app's part in erasing and exporting an account (accounts.personal_data): friends,
friend requests and blocks are the person's own and go with them; reports stay with staff.

Reports (made by or about the person) are kept: they are the moderation record staff may need
to answer for a decision, and only staff see them (docs/privacy.md). Their people show as
"Deleted user" like everywhere else."""

from django.db import transaction
from django.db.models import Q

from accounts.models import User
from accounts.personal_data import AccountDataHandler, ExportArchive, person
from social.models import Block, FriendRequest, Friendship


@transaction.atomic
def erase_account_data(user: User, former_name: str) -> None:
    Friendship.objects.filter(Q(user_low=user) | Q(user_high=user)).delete()
    FriendRequest.objects.filter(Q(from_user=user) | Q(to_user=user)).delete()
    Block.objects.filter(Q(blocker=user) | Q(blocked=user)).delete()


def export_account_data(user: User, archive: ExportArchive) -> None:
    friendships = Friendship.objects.filter(Q(user_low=user) | Q(user_high=user)).select_related(
        "user_low", "user_high"
    )
    archive.add_json(
        "social/friends.json",
        [
            {
                "friend": person(row.user_high if row.user_low_id == user.pk else row.user_low),
                "since": row.created_at,
            }
            for row in friendships.order_by("created_at", "pk")
        ],
    )
    requests = FriendRequest.objects.filter(Q(from_user=user) | Q(to_user=user)).select_related("from_user", "to_user")
    archive.add_json(
        "social/friend_requests.json",
        [
            {
                "direction": "sent" if row.from_user_id == user.pk else "received",
                "from": person(row.from_user),
                "to": person(row.to_user),
                "note": row.note,
                "status": row.status,
                "created_at": row.created_at,
                "responded_at": row.responded_at,
            }
            for row in requests.order_by("created_at", "pk")
        ],
    )
    archive.add_json(
        "social/blocks.json",
        [
            {"blocked": person(row.blocked), "since": row.created_at}
            for row in Block.objects.filter(blocker=user).select_related("blocked").order_by("created_at", "pk")
        ],
    )
    archive.add_json(
        "social/reports_made.json",
        [
            {"about": person(row.reported), "reason": row.reason, "details": row.details, "created_at": row.created_at}
            for row in user.reports_made.select_related("reported").order_by("created_at", "pk")
        ],
    )


HANDLER = AccountDataHandler(app="social", erase=erase_account_data, export=export_account_data)
