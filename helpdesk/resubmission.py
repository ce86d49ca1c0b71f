""" "Submit it again": what the request form is prefilled with from an expired or cancelled request.

Title, category, description and the note on times are copied. The preferred slots are the
requester's times: a slot still ahead is kept as it was; one that has passed moves on by whole
weeks to the same weekday and wall-clock time in the requester's zone (the zone active on their
page), if that is within the slots' horizon; otherwise it is left out. The form says which
happened. Documents are not part of the prefill: the form lists the earlier request's documents
ticked, and the service copies the ticked ones (helpdesk.services.submit_help_request).
"""

import datetime as dt
from dataclasses import dataclass, field

from django.utils import timezone

from helpdesk import slots as slot_rules
from helpdesk.models import HelpRequest

WEEK = dt.timedelta(days=7)


@dataclass(frozen=True)
class Prefill:
    initial: dict
    slots: list[dict] = field(default_factory=list)
    moved: int = 0  # slots moved on by whole weeks
    dropped: int = 0  # slots that could not be moved (beyond the horizon, or across midnight)

    @property
    def slot_note(self) -> str:
        parts = []
        if self.moved:
            parts.append(
                f"{self.moved} of your earlier times had passed: "
                f"{'it is' if self.moved == 1 else 'they are'} moved to the same weekday and time in a coming week"
            )
        if self.dropped:
            parts.append(f"{self.dropped} could not be moved and {'was' if self.dropped == 1 else 'were'} left out")
        return ("; ".join(parts) + ". Check them before you send.") if parts else ""


def prefill_from(previous: HelpRequest, *, now: dt.datetime | None = None) -> Prefill:
    now = now or timezone.now()
    horizon = now + slot_rules.HORIZON
    rows, moved, dropped = [], 0, 0
    for slot in previous.slots.order_by("start", "id"):
        start, end = timezone.localtime(slot.start), timezone.localtime(slot.end)
        if start.date() != end.date():
            dropped += 1  # the form's rows are one day each
            continue
        day = start.date()
        shifted = False
        while timezone.make_aware(dt.datetime.combine(day, start.time())) <= now:
            day += WEEK
            shifted = True
        if timezone.make_aware(dt.datetime.combine(day, start.time())) > horizon:
            dropped += 1
            continue
        moved += shifted
        rows.append({"day": day, "start_time": start.time(), "end_time": end.time()})
    initial = {
        "category": previous.category_id,
        "title": previous.title,
        "description": previous.description,
        "times_note": previous.times_note,
    }
    return Prefill(initial=initial, slots=rows[: slot_rules.MAX_SLOTS], moved=moved, dropped=dropped)
