"""The limits on guessing and on sign-up, each written once for every door that needs it.

- Passwords: every check of a password — log in (page and API) and the current password asked
  by a password or e-mail change — goes through django.contrib.auth.authenticate, so
  django-axes counts the failures per (address, client address) and, past AXES_FAILURE_LIMIT,
  refuses further checks without looking at the password until the cool-off ends.
- Sign-up: RATELIMIT_SIGN_UP (10 an hour by default) per client address, one counter for the
  HTML form and the API (`sign_up_usage`), so neither door is a way around the other.
"""

import math

from axes.helpers import get_client_ip_address, get_cool_off
from django.conf import settings
from django_ratelimit.core import get_usage
from rest_framework.throttling import BaseThrottle

SIGN_UP_GROUP = "accounts.sign_up"


def client_address(group: str, request) -> str:
    """The client's address as django-axes sees it (it knows the proxies in front)."""
    return get_client_ip_address(request) or "unknown"


def sign_up_usage(request) -> tuple[bool, int]:
    """Count one sign-up attempt of this client: (over the limit?, seconds until the window ends)."""
    usage = get_usage(
        request, group=SIGN_UP_GROUP, key=client_address, rate=settings.RATELIMIT_SIGN_UP, method="POST", increment=True
    )
    if usage is None:  # RATELIMIT_ENABLE is off
        return False, 0
    return bool(usage["should_limit"]), int(usage["time_left"])


SIGN_UP_LIMITED_MESSAGE = "Too many sign-ups from your network. Try again later."


class SignUpThrottle(BaseThrottle):
    """The API's sign-up door on the same counter as the HTML form."""

    def allow_request(self, request, view) -> bool:
        limited, self.retry_after = sign_up_usage(request)
        return not limited

    def wait(self) -> float | None:
        return float(self.retry_after) if getattr(self, "retry_after", 0) else None


def lockout_message(request=None) -> tuple[str, int]:
    """The sentence a locked-out client reads, and the seconds to put in Retry-After (0: never)."""
    cool_off = get_cool_off(request)
    minutes = max(1, math.ceil(cool_off.total_seconds() / 60)) if cool_off else 0
    if not minutes:
        return "Too many failed attempts. This account is locked; contact support.", 0
    unit = "minute" if minutes == 1 else "minutes"
    return f"Too many failed attempts, try again in {minutes} {unit}.", minutes * 60
