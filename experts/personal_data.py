"""The experts app's part in erasing and exporting an account (accounts.personal_data).

Erasing: the expert card's text (headline, bio, languages, availability, staff's review note) is
cleared, its categories dropped and it is marked not approved, so it is in no directory or queue.
The rating aggregate stays (`rating_count`, `rating_sum`, `sessions_completed`): it is figures
about sessions others had, and names no one."""

from django.db import transaction

from accounts.models import User
from accounts.personal_data import AccountDataHandler, ExportArchive
from experts.models import ExpertProfile


@transaction.atomic
def erase_account_data(user: User, former_name: str) -> None:
    profile = ExpertProfile.objects.select_for_update().filter(user=user).first()
    if profile is None:
        return
    profile.headline = profile.bio = profile.languages = profile.availability_note = profile.review_note = ""
    profile.status = ExpertProfile.Status.REJECTED
    profile.save(
        update_fields=["headline", "bio", "languages", "availability_note", "review_note", "status", "updated_at"]
    )
    profile.categories.clear()


def export_account_data(user: User, archive: ExportArchive) -> None:
    profile = ExpertProfile.objects.filter(user=user).prefetch_related("categories").first()
    if profile is None:
        return
    archive.add_json(
        "experts/expert_profile.json",
        {
            "headline": profile.headline,
            "bio": profile.bio,
            "categories": [category.name for category in profile.categories.all()],
            "languages": profile.language_list,
            "availability_note": profile.availability_note,
            "status": profile.status,
            "reviewed_at": profile.reviewed_at,
            "review_note": profile.review_note,
            "max_active_requests": profile.max_active_requests,
            "ratings": {
                "count": profile.rating_count,
                "average": profile.rating_average,
                "sessions_completed": profile.sessions_completed,
            },
            "created_at": profile.created_at,
        },
    )


HANDLER = AccountDataHandler(app="experts", erase=erase_account_data, export=export_account_data)
