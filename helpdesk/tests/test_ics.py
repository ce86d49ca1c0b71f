"""The .ics invitation: RFC 5545 line endings, folding and escaping, checked by parsing it back
with a small independent parser (the `icalendar` package is not a dependency)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from helpdesk.ics import build_ics, escape_text, fold_line

START = datetime(2026, 12, 1, 15, 30, tzinfo=ZoneInfo("Europe/Warsaw"))
JOIN_URL = "https://teams.microsoft.com/l/meetup-join/19%3ameeting_" + "A" * 120 + "%40thread.v2/0"


def parse_ics(data: bytes) -> list[tuple[str, dict[str, str], str]]:
    """Unfold (CRLF + one space/tab), then split each content line into name, params, raw value."""
    text = data.decode("utf-8")
    unfolded = re.sub(r"\r\n[ \t]", "", text)
    assert unfolded.endswith("\r\n")
    properties = []
    for line in unfolded[:-2].split("\r\n"):
        head, value = split_content_line(line)
        name, *raw_params = re.findall(r'(?:[^;"]|"[^"]*")+', head)
        params = {}
        for raw in raw_params:
            key, _, param_value = raw.partition("=")
            params[key] = param_value.strip('"')
        properties.append((name, params, value))
    return properties


def split_content_line(line: str) -> tuple[str, str]:
    """The name and parameters end at the first colon outside double quotes."""
    in_quotes = False
    for index, char in enumerate(line):
        if char == '"':
            in_quotes = not in_quotes
        elif char == ":" and not in_quotes:
            return line[:index], line[index + 1 :]
    raise AssertionError(f"no value in {line!r}")


def unescape_text(value: str) -> str:
    return re.sub(r"\\([\\;,nN])", lambda m: "\n" if m.group(1) in "nN" else m.group(1), value)


def values(properties, name: str) -> list[str]:
    return [value for prop_name, _, value in properties if prop_name == name]


def make_invitation(**overrides) -> bytes:
    arguments = {
        "uid": "7d0c3f7e-8a4b-4c52-9d0e-2f1a6b3c4d5e@lyceum.example",
        "summary": "Help: integrals, part 2",
        "description": "Join with the link.",
        "start": START,
        "end": START + timedelta(minutes=45),
        "url": JOIN_URL,
        "organizer_email": "no-reply@lyceum.example",
        "attendee_emails": ["ala@student.example", "expert@lyceum.example"],
        "now": datetime(2026, 11, 22, 10, 0, tzinfo=UTC),
    }
    arguments.update(overrides)
    return build_ics(**arguments)


def test_the_invitation_is_a_request_with_one_event_in_utc():
    properties = parse_ics(make_invitation())

    names = [name for name, _, _ in properties]
    assert names[0] == "BEGIN" and names[-1] == "END"
    assert values(properties, "BEGIN") == ["VCALENDAR", "VEVENT", "VALARM"]
    assert values(properties, "END") == ["VALARM", "VEVENT", "VCALENDAR"]
    assert values(properties, "VERSION") == ["2.0"]
    assert values(properties, "METHOD") == ["REQUEST"]
    assert values(properties, "PRODID") == ["-//Lyceum//Expert help//EN"]
    assert values(properties, "UID") == ["7d0c3f7e-8a4b-4c52-9d0e-2f1a6b3c4d5e@lyceum.example"]
    assert values(properties, "DTSTAMP") == ["20261122T100000Z"]
    assert values(properties, "DTSTART") == ["20261201T143000Z"]
    assert values(properties, "DTEND") == ["20261201T151500Z"]
    assert values(properties, "URL") == [JOIN_URL]
    assert values(properties, "SEQUENCE") == ["0"]
    assert values(properties, "TRIGGER") == ["-PT15M"]


def test_organizer_and_attendees_are_mailto_addresses():
    properties = parse_ics(make_invitation(organizer_name='Lyceum; expert help, "beta"'))

    [(_, organizer_params, organizer)] = [p for p in properties if p[0] == "ORGANIZER"]
    assert organizer == "mailto:no-reply@lyceum.example"
    assert organizer_params["CN"] == "Lyceum; expert help, beta"
    attendees = [p for p in properties if p[0] == "ATTENDEE"]
    assert [value for _, _, value in attendees] == ["mailto:ala@student.example", "mailto:expert@lyceum.example"]
    assert all(params["RSVP"] == "TRUE" and params["ROLE"] == "REQ-PARTICIPANT" for _, params, _ in attendees)


def test_every_line_ends_with_crlf_and_has_at_most_75_octets():
    data = make_invitation(description="Zażółć gęślą jaźń 🙂 " * 20)

    assert data.endswith(b"\r\n")
    assert b"\n" not in data.replace(b"\r\n", b"")
    assert b"\r" not in data.replace(b"\r\n", b"")
    for line in data.split(b"\r\n")[:-1]:
        assert len(line) <= 75, line
        line.decode("utf-8")  # folding never splits a multi-byte character


def test_text_with_special_characters_survives_the_round_trip():
    summary = 'Help; with, "quotes" and a back\\slash'
    description = "Line one\nLine two, with; punctuation\r\nLine three\\n is literal\rFour " + "ą" * 80

    properties = parse_ics(make_invitation(summary=summary, description=description))

    [raw_summary] = values(properties, "SUMMARY")
    assert raw_summary == 'Help\\; with\\, "quotes" and a back\\\\slash'
    assert unescape_text(raw_summary) == summary
    [raw_description] = values(properties, "DESCRIPTION")[:1]
    assert unescape_text(raw_description) == description.replace("\r\n", "\n").replace("\r", "\n")


def test_escape_text_escapes_backslash_first():
    assert escape_text("a\\,b") == "a\\\\\\,b"
    assert escape_text("x\r\ny") == "x\\ny"
    assert escape_text("bell\x07") == "bell"


def test_fold_line_splits_at_75_octets_with_a_leading_space():
    folded = fold_line("DESCRIPTION:" + "x" * 200)

    lines = folded.split("\r\n")
    # 212 octets: 75 on the first line, then 74 + the leading space, then the rest (63 + 1)
    assert [len(line) for line in lines] == [75, 75, 64]
    assert all(line.startswith(" ") for line in lines[1:])
    assert "".join(line[1:] if i else line for i, line in enumerate(lines)) == "DESCRIPTION:" + "x" * 200


def test_fold_line_keeps_multibyte_characters_whole():
    line = "SUMMARY:" + "€" * 40  # 3 octets each

    lines = fold_line(line).encode("utf-8").split(b"\r\n")

    assert all(len(part) <= 75 for part in lines)
    assert b"".join(part[1:] if i else part for i, part in enumerate(lines)).decode() == line


def test_a_short_line_is_not_folded():
    assert fold_line("VERSION:2.0") == "VERSION:2.0"


def test_a_higher_sequence_updates_the_same_event():
    properties = parse_ics(make_invitation(sequence=2))

    assert values(properties, "SEQUENCE") == ["2"]


def test_no_reminder_when_asked():
    properties = parse_ics(make_invitation(reminder_minutes=None))

    assert "VALARM" not in values(properties, "BEGIN")


@pytest.mark.parametrize(
    "overrides",
    [
        {"start": START.replace(tzinfo=None), "end": (START + timedelta(hours=1)).replace(tzinfo=None)},
        {"end": START},
        {"url": "https://example.com/\r\nATTENDEE:mailto:evil@example.com"},
        {"organizer_email": "x@example.com\r\nMETHOD:CANCEL"},
        {"attendee_emails": ["victim@example.com;ROLE=CHAIR"]},
        {"uid": "a\r\nb"},
    ],
)
def test_values_that_would_break_the_calendar_are_refused(overrides):
    with pytest.raises(ValueError):
        make_invitation(**overrides)
