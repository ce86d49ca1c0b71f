"""An iCalendar (RFC 5545) invitation for a help session, attached to the join-link e-mail.

Written by hand rather than with a library: one VEVENT, and the three rules that matter are
few and testable — CRLF line endings, TEXT escaping (§3.3.11) and folding at 75 octets
without splitting a UTF-8 character (§3.1).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, datetime

PRODID = "-//Lyceum//Expert help//EN"
MAX_LINE_OCTETS = 75
_CRLF = "\r\n"
# Anything that could end a content line or break out of a value: refused in URIs/addresses.
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_EMAIL = re.compile(r"^[^@\s:;,<>\"\\]+@[^@\s:;,<>\"\\]+$")


def escape_text(value: str) -> str:
    """TEXT value escaping: backslash, semicolon, comma, and every newline form as \\n."""
    value = value.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,")
    value = value.replace("\r\n", "\n").replace("\r", "\n").replace("\n", "\\n")
    return _CONTROL.sub("", value)  # other control characters are not allowed in TEXT


def fold_line(line: str) -> str:
    """Fold one content line into chunks of at most 75 octets, continuation lines starting with
    a space, never splitting a multi-byte character. Returns the lines joined with CRLF."""
    chunks: list[str] = []
    current: list[str] = []
    size = 0
    for char in line:
        width = len(char.encode("utf-8"))
        if size + width > MAX_LINE_OCTETS:
            chunks.append("".join(current))
            current, size = [" "], 1  # the leading space counts towards the next line's 75
        current.append(char)
        size += width
    chunks.append("".join(current))
    return _CRLF.join(chunks)


def _utc(moment: datetime) -> str:
    if moment.tzinfo is None:
        raise ValueError("iCalendar times must be timezone-aware")
    return moment.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def _checked_uri(value: str, what: str) -> str:
    if not value or _CONTROL.search(value) or " " in value:
        raise ValueError(f"{what} is not a valid URI for iCalendar: {value!r}")
    return value


def _checked_email(value: str) -> str:
    value = value.strip()
    if not _EMAIL.match(value):
        raise ValueError(f"not an e-mail address iCalendar can carry: {value!r}")
    return value


def _param_value(value: str) -> str:
    """A parameter value (e.g. CN): DQUOTE is not allowed inside, so it is dropped; quoted when it
    contains the characters that would end the parameter."""
    value = _CONTROL.sub("", value).replace('"', "")
    return f'"{value}"' if re.search(r"[:;,]", value) else value


def build_ics(
    *,
    uid: str,
    summary: str,
    description: str,
    start: datetime,
    end: datetime,
    url: str,
    organizer_email: str,
    attendee_emails: Iterable[str],
    organizer_name: str = "Lyceum",
    sequence: int = 0,
    now: datetime | None = None,
    reminder_minutes: int | None = 15,
) -> bytes:
    """One VEVENT in a METHOD:REQUEST VCALENDAR, UTF-8, CRLF line endings.

    ``uid`` must stay the same for the same session (use the help request's UUID and this
    site's host); send a higher ``sequence`` when the time changes so calendars update the
    event instead of adding one.
    """
    if end <= start:
        raise ValueError("the event must end after it starts")
    if _CONTROL.search(uid) or not uid:
        raise ValueError("uid must be a non-empty single-line string")
    join_url = _checked_uri(url, "url")
    lines = [
        "BEGIN:VCALENDAR",
        f"PRODID:{PRODID}",
        "VERSION:2.0",
        "CALSCALE:GREGORIAN",
        "METHOD:REQUEST",
        "BEGIN:VEVENT",
        f"UID:{escape_text(uid)}",
        f"SEQUENCE:{int(sequence)}",
        f"DTSTAMP:{_utc(now or datetime.now(UTC))}",
        f"DTSTART:{_utc(start)}",
        f"DTEND:{_utc(end)}",
        f"SUMMARY:{escape_text(summary)}",
        f"DESCRIPTION:{escape_text(description)}",
        f"LOCATION:{escape_text(join_url)}",
        f"URL:{join_url}",
        f"ORGANIZER;CN={_param_value(organizer_name)}:mailto:{_checked_email(organizer_email)}",
    ]
    for attendee in attendee_emails:
        lines.append(
            f"ATTENDEE;CUTYPE=INDIVIDUAL;ROLE=REQ-PARTICIPANT;PARTSTAT=NEEDS-ACTION;RSVP=TRUE:"
            f"mailto:{_checked_email(attendee)}"
        )
    lines += ["STATUS:CONFIRMED", "TRANSP:OPAQUE"]
    if reminder_minutes is not None:
        lines += [
            "BEGIN:VALARM",
            "ACTION:DISPLAY",
            f"DESCRIPTION:{escape_text(summary)}",
            f"TRIGGER:-PT{int(reminder_minutes)}M",
            "END:VALARM",
        ]
    lines += ["END:VEVENT", "END:VCALENDAR"]
    return "".join(fold_line(line) + _CRLF for line in lines).encode("utf-8")
