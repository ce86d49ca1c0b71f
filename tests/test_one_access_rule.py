"""Chat's access rule is written once (issue 15, "One door, one rule"): the active-member
filter lives in `Membership.objects.active()` (chat/models.py), `chat.access` builds on it, and
chat/services/send_sql.py spells the same rule as SQL for the send's statements. Nowhere else
in the first-party code is it written out, nor the "blocked either way" check (one function:
social.selectors.blocked_either_way, re-exported by chat.access)."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
APPS = ("chat", "helpdesk", "notifications", "social", "accounts", "experts", "config")
# The raw active-member filter, in ORM spellings: left_at__isnull, a join's
# memberships__left_at, a filter(left_at=None).
ACTIVE_MEMBER = re.compile(r"left_at__isnull|memberships__left_at|left_at=None\)")
# The block check written out: a Q over blocker and blocked both ways.
BLOCKED_EITHER_WAY = re.compile(r"Q\(blocker(_id)?=[^)]*\)\s*\|\s*Q\(blocker(_id)?=")
RULE_HOMES = {"chat/models.py", "chat/access.py"}
BLOCK_HOMES = {"social/selectors.py", "chat/access.py"}


def first_party_sources():
    for app in APPS:
        for path in sorted((ROOT / app).rglob("*.py")):
            relative = path.relative_to(ROOT).as_posix()
            if "/tests/" in relative or "/migrations/" in relative:
                continue
            yield relative, path.read_text(encoding="utf-8")


def offenders(pattern: re.Pattern, homes: set[str]) -> list[str]:
    return [
        f"{name}:{number}: {line.strip()}"
        for name, text in first_party_sources()
        if name not in homes
        for number, line in enumerate(text.splitlines(), 1)
        if pattern.search(line)
    ]


def test_the_active_member_filter_is_written_only_in_its_one_place():
    assert offenders(ACTIVE_MEMBER, RULE_HOMES) == [], "use Membership.objects.active() or chat.access"


def test_the_block_check_is_written_only_in_its_one_place():
    assert offenders(BLOCKED_EITHER_WAY, BLOCK_HOMES) == [], "use social.selectors.blocked_either_way / blocks_between"


def test_the_patterns_find_what_they_are_for():
    assert ACTIVE_MEMBER.search("Membership.objects.filter(conversation=c, left_at__isnull=True)")
    assert ACTIVE_MEMBER.search(".filter(conversation__memberships__left_at__isnull=True)")
    assert BLOCKED_EITHER_WAY.search("Block.objects.filter(Q(blocker=a, blocked=b) | Q(blocker=b, blocked=a))")
    assert BLOCKED_EITHER_WAY.search("Q(blocker_id=a_id, blocked_id=b_id) | Q(blocker_id=b_id, blocked_id=a_id)")
