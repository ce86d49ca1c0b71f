"""A request that cannot be served without a dependency that is down (Redis, the cache): a
clear 503 with Retry-After, never a 500, and nothing changed.

Most uses of the cache are hints and carry on without it, each with one warning line (the send
rate, the API's throttles). The few that cannot do so safely raise `Unavailable` instead:

- a limit that guards against abuse and lives only in the cache (sign-up, password reset:
  accounts.ratelimits): letting requests through uncounted would open the door it guards;
- a thing that lives only in the cache (a live ticket: accounts.services.issue_live_ticket).

`Unavailable` is a Refusal (config.refusals), so the API answers it in its one JSON shape
(config.api.exception_handler) with status 503, code "unavailable" and Retry-After; a page
gets `page()`, the 503 page (config.middleware.RefusalMiddleware). Raise it before writing.
"""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from config.refusals import Refusal, with_retry_after

SERVICE_UNAVAILABLE = 503
# What Retry-After says: Redis restarts in seconds; a client (or person) tries again after this.
RETRY_AFTER_SECONDS = 30
DEFAULT_MESSAGE = "This is unavailable for a moment. Please try again in a minute."


class Unavailable(Refusal):
    """A dependency the action cannot do without is down: 503, code "unavailable"."""

    def __init__(self, message: str = DEFAULT_MESSAGE, *, retry_after: int = RETRY_AFTER_SECONDS):
        super().__init__(message, code="unavailable", status=SERVICE_UNAVAILABLE, retry_after=retry_after)


def page(request: HttpRequest, refusal: Unavailable) -> HttpResponse:
    """The 503 page for a refusal of a page's action, with Retry-After."""
    response = render(request, "503.html", {"message": refusal.message}, status=SERVICE_UNAVAILABLE)
    return with_retry_after(response, refusal)
