"""The back office's writes (Django admin actions): cancel and reassign as staff.

Same rules as the app: every status change through lifecycle.transition(), a timeline entry,
notifications and queue pushes after commit.
"""

from django.db import transaction
from django.utils import timezone

from experts import selectors as expert_selectors
from helpdesk.models import ACTIVE_STATUSES, NOTE_MAX_LENGTH, HelpRequest, HelpRequestEvent, HelpRequestStatus
from helpdesk.services.lifecycle import (
    HelpdeskRefusal,
    cancel,
    clean_text,
    held_count,
    locked_for_expert,
    locked_request,
    parse_request_id,
    record_event,
    tell,
    transition,
)
from notifications.models import NotificationKind

S = HelpRequestStatus
A = HelpRequestEvent.Action


@transaction.atomic
def staff_cancel_help_request(*, staff, request_id, note: str = "") -> HelpRequest:
    note = (
        clean_text(note, field="note", limit=NOTE_MAX_LENGTH, required=False, label="The note") or "Cancelled by staff."
    )
    help_request = locked_request(public_id=parse_request_id(request_id))
    return cancel(help_request, actor=staff, note=note, told=[help_request.requester, help_request.expert], by="staff")


@transaction.atomic
def reassign_help_request(*, staff, request_id, expert) -> HelpRequest:
    """Staff hand a request to another verified expert of its category (cap respected)."""
    profile, help_request = locked_for_expert(expert, request_id)
    if help_request.requester_id == expert.pk:
        raise HelpdeskRefusal("The requester cannot be their own expert.", code="own_request")
    if profile is None or not expert_selectors.is_verified_expert(user=expert, category_id=help_request.category_id):
        raise HelpdeskRefusal(
            f"{expert} is not a verified expert in {help_request.category.name}.", code="not_verified"
        )
    if help_request.status not in (S.OPEN, *ACTIVE_STATUSES):
        raise HelpdeskRefusal(
            f"A {help_request.get_status_display().lower()} request cannot be reassigned.", code="illegal_transition"
        )
    if help_request.expert_id == expert.pk:
        return help_request
    active = held_count(expert)
    if active >= profile.max_active_requests:
        raise HelpdeskRefusal(f"{expert} already holds {active} active requests, their limit.", code="cap_reached")
    previous = help_request.expert
    help_request.expert = expert
    help_request.accepted_at = timezone.now()
    note = f"Reassigned to {expert.get_full_name()}" + (f" (was {previous.get_full_name()})" if previous else "")
    if help_request.status == S.OPEN:
        transition(
            help_request, to=S.ACCEPTED, actor=staff, action=A.REASSIGNED, note=note, fields=("expert", "accepted_at")
        )
    else:
        help_request.save(update_fields=["expert", "accepted_at", "updated_at"])
        record_event(help_request, actor=staff, action=A.REASSIGNED, note=note)
    tell(
        help_request,
        expert,
        kind=NotificationKind.HELP_REQUEST_ACCEPTED,
        title=f"Staff assigned “{help_request.title}” to you",
    )
    tell(
        help_request,
        help_request.requester,
        kind=NotificationKind.HELP_REQUEST_ACCEPTED,
        title=f"{expert.get_full_name()} is now the expert for “{help_request.title}”",
        body="Staff assigned your request to another expert."
        if previous
        else "Staff assigned your request to an expert. They will pick a time for your session.",
    )
    tell(
        help_request,
        previous,
        kind=NotificationKind.HELP_REQUEST_RELEASED,
        title=f"“{help_request.title}” was reassigned to another expert",
    )
    return help_request
