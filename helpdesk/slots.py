"""The rules of a requester's preferred slots: the time ranges in which they can meet.

One place for them, used by the services (the truth) and by the form (to put each error on
its row). A slot is an aware start and end; what the requester typed in their zone is turned
into instants before it gets here.
"""

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from itertools import pairwise

from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.dateparse import parse_datetime

MAX_SLOTS = 5
# Long enough for the shortest session, short enough to mean a time, not "any day this week".
MIN_SLOT = timedelta(minutes=30)
MAX_SLOT = timedelta(hours=12)
# A request expires after days, not months: a slot further ahead cannot be a real offer.
HORIZON = timedelta(days=90)


def _moment(value) -> datetime:
    if isinstance(value, str):
        value = parse_datetime(value.strip())
    if not isinstance(value, datetime):
        raise ValidationError("Enter a date and time.", code="slot_not_a_time")
    if timezone.is_naive(value):
        value = timezone.make_aware(value)  # the active zone: the requester's, on their pages
    return value


def check_slot(start, end, *, now: datetime | None = None) -> tuple[datetime, datetime]:
    """One slot as aware instants, or ValidationError saying what is wrong with it."""
    now = now or timezone.now()
    start, end = _moment(start), _moment(end)
    if start <= now:
        raise ValidationError("This time is in the past: choose one still to come.", code="slot_in_past")
    if start > now + HORIZON:
        raise ValidationError(f"Choose a time within the next {HORIZON.days} days.", code="slot_too_far")
    if end <= start:
        raise ValidationError("The end must be after the start.", code="slot_end_before_start")
    if end - start < MIN_SLOT:
        raise ValidationError(f"Give at least {MIN_SLOT.seconds // 60} minutes.", code="slot_too_short")
    if end - start > MAX_SLOT:
        raise ValidationError(f"One time may span at most {MAX_SLOT.seconds // 3600} hours.", code="slot_too_long")
    return start, end


def check_slots(pairs: Iterable[Sequence], *, now: datetime | None = None) -> list[tuple[datetime, datetime]]:
    """Every slot checked, at most MAX_SLOTS, none overlapping another; sorted by start.
    Errors name the slot by its position ("Time 2: …") under the field "slots"."""
    now = now or timezone.now()
    pairs = list(pairs)
    if len(pairs) > MAX_SLOTS:
        raise ValidationError({"slots": ValidationError(f"Give at most {MAX_SLOTS} times.", code="too_many_slots")})
    checked: list[tuple[datetime, datetime]] = []
    errors: list[ValidationError] = []
    for number, pair in enumerate(pairs, start=1):
        try:
            start, end = pair
        except (TypeError, ValueError):
            errors.append(ValidationError(f"Time {number}: give a start and an end.", code="slot_incomplete"))
            continue
        try:
            checked.append(check_slot(start, end, now=now))
        except ValidationError as error:
            errors.extend(
                ValidationError(f"Time {number}: {message}", code=item.code)
                for item in error.error_list
                for message in item.messages
            )
    if errors:
        raise ValidationError({"slots": errors})
    checked.sort()
    for (_, earlier_end), (later_start, _) in pairwise(checked):
        if later_start < earlier_end:
            raise ValidationError(
                {"slots": ValidationError("Two of your times overlap: join them into one.", code="slots_overlap")}
            )
    return checked
