"""Each reader sees their own local time: which zone a user reads in, and rendering in it.

- Pages: `config.middleware.TimeZoneMiddleware` activates the signed-in user's zone for the
  request, so `{{ moment|date }}` and `timezone.localtime()` give their local time.
- E-mails, notification texts and calendar invitations are rendered for their RECIPIENT, not
  for whoever caused them (an expert in Tokyo schedules, the requester in Los Angeles reads):
  every renderer wraps its work in `in_zone_of(recipient)`.
- The API and the socket speak UTC in one format, ISO 8601 ending in `Z` (`api_timestamp()`, the
  same text DRF's DateTimeField writes); clients render in their user's `time_zone`.

Session times are written by `format_range()` / `format_moment()` in the active zone, so a
page, an e-mail and a notification say the same thing the same way.
"""

import zoneinfo
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, tzinfo
from functools import cache

from django.conf import settings
from django.utils import dateformat, timezone

LONG_DAY = "l j F Y"  # Sunday 1 November 2026
SHORT_DAY = "D j M Y"  # Sun 1 Nov 2026
CLOCK = "H:i"
DASH = "\u2013"  # an en dash between the two ends of a range


@cache
def _known_zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def is_known_zone(name: object) -> bool:
    """An IANA zone name this machine's tz database has (e.g. "Asia/Tokyo", "UTC")."""
    return isinstance(name, str) and name in _known_zones()


def zone_name_or_default(name: object) -> str:
    """The name if it is a known zone, else the site's default (settings.TIME_ZONE): what a
    browser-reported zone becomes at sign-up, where a wrong value cannot be shown to be fixed."""
    return name if is_known_zone(name) else settings.TIME_ZONE  # type: ignore[return-value]


def zone_of(user) -> tzinfo:
    """The zone a user reads times in; the site's default for anonymous users or a stale name."""
    name = getattr(user, "time_zone", None) if getattr(user, "is_authenticated", False) else None
    return zoneinfo.ZoneInfo(zone_name_or_default(name))


@contextmanager
def in_zone_of(user) -> Iterator[None]:
    """Render for this user: their zone is the active one inside the block (then the previous
    one again). Every e-mail, notification text and invitation is built inside one."""
    with timezone.override(zone_of(user)):
        yield


def _local(moment: datetime) -> datetime:
    if timezone.is_naive(moment):
        raise ValueError("only aware datetimes can be shown in a reader's zone")
    return timezone.localtime(moment)


def format_moment(moment: datetime, *, day: str = SHORT_DAY) -> str:
    """One instant in the active zone, with the zone's abbreviation: "Sun 1 Nov 2026, 09:00 PST"."""
    return dateformat.format(_local(moment), f"{day}, {CLOCK} T")


def format_clock(moment: datetime) -> str:
    """The time of day in the active zone, with the zone's abbreviation: "09:00 PST"."""
    return dateformat.format(_local(moment), f"{CLOCK} T")


def format_range(start: datetime, end: datetime, *, day: str = LONG_DAY) -> str:
    """A session or slot in the active zone: "Sunday 1 November 2026, 09:00-10:00 PST" (en dash); a range
    that crosses midnight there names both days. The abbreviation is the end's (they differ only
    when a DST change falls inside the range, and then the end's is the one a reader checks)."""
    local_start, local_end = _local(start), _local(end)
    if local_start.date() == local_end.date():
        return dateformat.format(local_start, f"{day}, {CLOCK}") + DASH + dateformat.format(local_end, f"{CLOCK} T")
    return (
        dateformat.format(local_start, f"{day}, {CLOCK}")
        + f" {DASH} "
        + dateformat.format(local_end, f"{day}, {CLOCK} T")
    )


def active_zone_name() -> str:
    """The active zone's IANA name ("Asia/Tokyo"), for "times are in …" hints on forms."""
    return timezone.get_current_timezone_name()


def api_timestamp(moment: datetime | None) -> str | None:
    """A moment as the API and the socket write it: UTC, ISO 8601, `Z` for the offset
    (`2026-12-02T12:39:39.777051Z`), whatever zone is active; None stays None. DRF's
    DateTimeField writes the same text for the API's serializers (the API runs in UTC)."""
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat().removesuffix("+00:00") + "Z"
