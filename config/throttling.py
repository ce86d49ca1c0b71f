"""The API's default throttles (REST_FRAMEWORK's DEFAULT_THROTTLE_CLASSES): DRF's per-address
and per-user rates, whose counters live in the cache (Redis when configured).

They limit load; the guessing limit that holds whatever the cache does is django-axes' (an
address + account pair, counted in the database: accounts.ratelimits), and sign-up has its
own. So when the cache cannot be reached (Redis restarting) a request is let through
uncounted, with one warning line, rather than refused: the database is up and the request
can be served. That includes the token endpoint's per-address cap across accounts (the
anonymous rate, docs/security.md): while Redis is down only the per-pair lock-out holds there,
as on the HTML log-in always."""

import logging

from rest_framework import throttling

from config import redis_client

logger = logging.getLogger(__name__)


class _CarriesOnWithoutTheCache:
    def allow_request(self, request, view) -> bool:
        try:
            return super().allow_request(request, view)  # type: ignore[misc]
        except redis_client.UNAVAILABLE as exc:
            logger.warning("API throttle %s skipped, cache unavailable: %r", self.scope, exc)  # type: ignore[attr-defined]
            return True


class AnonRateThrottle(_CarriesOnWithoutTheCache, throttling.AnonRateThrottle):
    """DRF's AnonRateThrottle (scope "anon"), skipped while the cache is down."""


class UserRateThrottle(_CarriesOnWithoutTheCache, throttling.UserRateThrottle):
    """DRF's UserRateThrottle (scope "user"), skipped while the cache is down."""
