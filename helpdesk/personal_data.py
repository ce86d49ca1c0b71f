"""The help desk's part in closing, erasing and exporting an account (accounts.personal_data).

Closing: what others wait on is handed back at once. Requests the person holds as an expert go
back to the queue (release_held_requests, as when an expert loses standing); their own requests
that are still open, accepted or scheduled are cancelled, and an expert who held one is told.

Erasing, for the requests the person asked: the description, the times note, the preferred
slots and every document (its file deleted from storage) go, as do the notes the person wrote on
the timeline and the feedback text of their ratings. What the expert needs for their history
stays: the request's title, category, status, times and timeline, with the requester shown as
"Deleted user"; the stars stay in the expert's rating aggregate. Requests the person handled as
an expert keep their history for the requester, with the expert shown as "Deleted user".
"""

import logging

from django.db import transaction

from accounts.models import User
from accounts.personal_data import AccountDataHandler, ExportArchive, person, safe_segment
from helpdesk import documents, services
from helpdesk.models import ACTIVE_STATUSES, HelpDocument, HelpRequest, HelpRequestEvent, HelpRequestStatus, Rating
from notifications import services as notification_services
from notifications.models import NotificationKind

logger = logging.getLogger(__name__)

CLOSING_NOTE = "The requester closed their Lyceum account."
STILL_GOING = (HelpRequestStatus.OPEN, *ACTIVE_STATUSES)


@transaction.atomic
def close_account_requests(user: User) -> None:
    services.release_held_requests(expert=user)
    for public_id in list(
        HelpRequest.objects.filter(requester=user, status__in=STILL_GOING)
        .order_by("pk")
        .values_list("public_id", flat=True)
    ):
        services.cancel_help_request(requester=user, request_id=public_id, note=CLOSING_NOTE)


@transaction.atomic
def erase_account_data(user: User, former_name: str) -> None:
    asked = HelpRequest.objects.filter(requester=user)
    doomed = list(HelpDocument.objects.filter(request__in=asked))
    files = [(document.file.storage, document.file.name) for document in doomed if document.file]
    HelpDocument.objects.filter(pk__in=[document.pk for document in doomed]).delete()
    asked.update(description="", times_note="")
    for request in asked:
        request.slots.all().delete()
    HelpRequestEvent.objects.filter(actor=user).exclude(action=HelpRequestEvent.Action.RATED).update(note="")
    rated = list(Rating.objects.filter(request__in=asked).exclude(feedback="").select_related("request"))
    Rating.objects.filter(pk__in=[rating.pk for rating in rated]).update(feedback="")
    # The expert's "you were rated" notification quoted the feedback.
    notification_services.clear_notification_bodies(
        kind=NotificationKind.HELP_RATING_RECEIVED, urls=[rating.request.get_absolute_url() for rating in rated]
    )

    def delete_files() -> None:
        for storage, name in files:
            try:
                storage.delete(name)
            except Exception:  # a file left behind must not undo the erasure; the log names it
                logger.exception("could not delete help document %s of an erased account", name)

    transaction.on_commit(delete_files)


def _timeline(help_request: HelpRequest) -> list[dict]:
    return [
        {
            "action": event.action,
            "by": person(event.actor),
            "from_status": event.from_status,
            "to_status": event.to_status,
            "note": event.note,
            "session_start": event.session_start,
            "session_end": event.session_end,
            "at": event.created_at,
        }
        for event in help_request.events.all()
    ]


def export_account_data(user: User, archive: ExportArchive) -> None:
    asked = (
        HelpRequest.objects.filter(requester=user)
        .select_related("category", "expert", "rating")
        .prefetch_related("events__actor", "documents", "slots")
        .order_by("created_at", "pk")
    )
    entries = []
    for help_request in asked:
        folder = f"helpdesk/{help_request.public_id.hex[:8]}-{safe_segment(help_request.title, fallback='request')}"
        files = []
        for document in help_request.documents.all():
            files.append(
                archive.add_bytes(
                    f"{folder}/{safe_segment(document.original_name)}", documents.read_plaintext(document)
                )
            )
        rating = getattr(help_request, "rating", None)
        entries.append(
            {
                "id": str(help_request.public_id),
                "title": help_request.title,
                "category": help_request.category.name,
                "description": help_request.description,
                "times_note": help_request.times_note,
                "preferred_slots": [{"start": slot.start, "end": slot.end} for slot in help_request.slots.all()],
                "status": help_request.status,
                "expert": person(help_request.expert),
                "session_start": help_request.scheduled_start,
                "session_end": help_request.scheduled_end,
                "meeting_link": help_request.meeting_join_url or None,
                "created_at": help_request.created_at,
                "documents": files,
                "your_rating": {"stars": rating.stars, "feedback": rating.feedback, "at": rating.created_at}
                if rating
                else None,
                "timeline": _timeline(help_request),
            }
        )
    archive.add_json("helpdesk/requests.json", entries)
    handled = (
        HelpRequest.objects.filter(expert=user)
        .select_related("category", "requester", "rating")
        .prefetch_related("events__actor")
        .order_by("created_at", "pk")
    )
    archive.add_json(
        "helpdesk/requests_as_expert.json",
        [
            {
                "id": str(help_request.public_id),
                "title": help_request.title,
                "category": help_request.category.name,
                "requester": person(help_request.requester),
                "status": help_request.status,
                "session_start": help_request.scheduled_start,
                "session_end": help_request.scheduled_end,
                "rating_received": {"stars": rating.stars, "feedback": rating.feedback, "at": rating.created_at}
                if (rating := getattr(help_request, "rating", None))
                else None,
                "timeline": _timeline(help_request),
            }
            for help_request in handled
        ],
    )


HANDLER = AccountDataHandler(
    app="helpdesk", on_closing=close_account_requests, erase=erase_account_data, export=export_account_data
)
