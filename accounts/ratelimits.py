"""The limits on guessing and on sign-up, each written once for every door that needs it.

- Passwords: every check of a password — log in (page and API) and the current password asked
  by a password or e-mail change — goes through django.contrib.auth.authenticate, so
  django-axes counts the failures per (address, client address) and, past AXES_FAILURE_LIMIT,
  refuses further checks without looking at the password until the cool-off ends.
- Sign-up: RATELIMIT_SIGN_UP (10 an hour by default) per client address, one counter for the
  HTML form and the API (`sign_up_usage`), so neither door is a way around the other.
- Password reset: RATELIMIT_PASSWORD_RESET per client address and per e-mail address
  (accounts.views, through `count_attempt`).

The sign-up and reset counters live in the cache (django-ratelimit). Both limits keep Lyceum
from being used to flood someone's inbox (each attempt can send an e-mail to an address the
caller types), so while the cache cannot be reached (Redis down) they fail closed:
`count_attempt` raises config.unavailable.Unavailable (a 503 with Retry-After, nothing done)
rather than let attempts through uncounted. The password counts are in the database
(django-axes' database handler) and do not depend on the cache.
"""

import logging
import math

from axes.helpers import get_client_ip_address, get_cool_off
from django.conf import settings
from django_ratelimit.core import get_usage
from rest_framework.throttling import BaseThrottle

from config import redis_client
from config.unavailable import Unavailable

logger = logging.getLogger(__name__)

SIGN_UP_GROUP = "accounts.sign_up"


def client_address(group: str, request) -> str:
    """The client's address as django-axes sees it (it knows the proxies in front)."""
    return get_client_ip_address(request) or "unknown"


def count_attempt(request, *, group: str, key, rate: str, unavailable_message: str) -> dict | None:
    """Count one POST of this request against `rate` in `group` (django-ratelimit's usage:
    should_limit, time_left, …; None when RATELIMIT_ENABLE is off). The cache down: one warning
    line and Unavailable with `unavailable_message`, before anything is done."""
    try:
        return get_usage(request, group=group, key=key, rate=rate, method="POST", increment=True)
    except redis_client.UNAVAILABLE as exc:
        logger.warning("%s limit not counted, cache unavailable: %r", group, exc)
        raise Unavailable(unavailable_message) from exc


SIGN_UP_UNAVAILABLE_MESSAGE = "Signing up is unavailable for a moment. Please try again in a minute."


def sign_up_usage(request) -> tuple[bool, int]:
    """Count one sign-up attempt of this client: (over the limit?, seconds until the window ends).
    Unavailable while the cache is down (see the module docstring)."""
    usage = count_attempt(
        request,
        group=SIGN_UP_GROUP,
        key=client_address,
        rate=settings.RATELIMIT_SIGN_UP,
        unavailable_message=SIGN_UP_UNAVAILABLE_MESSAGE,
    )
    if usage is None:  # RATELIMIT_ENABLE is off
        return False, 0
    # django-ratelimit reports time_left -1 when its counter's add and incr straddled an expiry
    # (a restart between them): never a negative Retry-After.
    return bool(usage["should_limit"]), max(0, int(usage["time_left"]))


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
