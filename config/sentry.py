"""Error monitoring with Sentry, switched on by SENTRY_DSN (config/settings.py calls init_sentry).

Set up as Sentry's docs describe for these versions (sentry-sdk 2.x):

- Django: `sentry_sdk.init()` from settings.py with DjangoIntegration. Under daphne it also
  instruments Django's ASGI handler (HTTP views), whatever channels' version.
- Celery: CeleryIntegration. The worker imports settings.py at start-up (Django's fixup),
  so init runs "on worker startup", not merely where tasks are defined, as the docs require.
- Channels: the WebSocket stack is wrapped in SentryAsgiMiddleware (`wrap_asgi`, called from
  live/auth.py) so an error in a consumer is reported with the socket's path.

Personal data: send_default_pii=False (no cookies, user e-mail, IP or request bodies from the
integrations), and `scrub_event` runs as before_send (and before_send_transaction) on top of
it: cookies, Authorization/Cookie/CSRF headers and anything named like a secret are replaced,
and every e-mail address in any string of the event is masked.
"""

from __future__ import annotations

import re
from typing import Any

FILTERED = "[Filtered]"
EMAIL_MASK = "[email]"
EMAIL_RE = re.compile(r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@(?:[A-Za-z0-9-]+\.)+[A-Za-z]{2,}\b")
# Top-level event fields that are ours, not user data ("app@1.2.3" is a release, not an address).
NOT_SCRUBBED = ("release", "dist", "environment", "sdk", "event_id", "timestamp", "platform")
# Keys whose values are never sent, wherever they occur in the event (headers, data, vars).
SECRET_KEY_RE = re.compile(
    r"pass(word|wd)?|secret|token|api[-_]?key|authorization|cookie|csrf|session|sentry[-_]?dsn|ticket",
    re.IGNORECASE,
)


def _scrub(value: Any, depth: int = 0) -> Any:
    if depth > 20:
        return value
    if isinstance(value, str):
        return EMAIL_RE.sub(EMAIL_MASK, value)
    if isinstance(value, dict):
        return {
            key: (FILTERED if isinstance(key, str) and SECRET_KEY_RE.search(key) else _scrub(item, depth + 1))
            for key, item in value.items()
        }
    if isinstance(value, list):
        # Headers may come as [name, value] pairs.
        if len(value) == 2 and isinstance(value[0], str) and SECRET_KEY_RE.search(value[0]):
            return [value[0], FILTERED]
        return [_scrub(item, depth + 1) for item in value]
    if isinstance(value, tuple):
        return tuple(_scrub(list(value), depth + 1))
    return value


def scrub_event(event: dict[str, Any], hint: dict[str, Any] | None = None) -> dict[str, Any]:
    """before_send: no cookies, credentials or e-mail addresses leave the process."""
    request = event.get("request")
    if isinstance(request, dict):
        request.pop("cookies", None)
        request.pop("env", None)  # REMOTE_ADDR and server details
        if isinstance(request.get("query_string"), str):
            query = request["query_string"]
            request["query_string"] = re.sub(r"(?i)(pass\w*|ticket|token|key|secret)=[^&]*", r"\1=" + FILTERED, query)
    user = event.get("user")
    if isinstance(user, dict):
        event["user"] = {"id": user["id"]} if "id" in user else {}
    kept = {key: event[key] for key in NOT_SCRUBBED if key in event}
    scrubbed = _scrub(event)
    scrubbed.update(kept)
    return scrubbed


def init_sentry(*, dsn: str, environment: str, release: str = "", traces_sample_rate: float = 0.0) -> None:
    import sentry_sdk
    from sentry_sdk.integrations.celery import CeleryIntegration
    from sentry_sdk.integrations.django import DjangoIntegration
    from sentry_sdk.integrations.logging import LoggingIntegration

    sentry_sdk.init(
        dsn=dsn,
        environment=environment,
        release=release or None,
        send_default_pii=False,
        traces_sample_rate=traces_sample_rate,
        max_request_body_size="never",
        before_send=scrub_event,
        before_send_transaction=scrub_event,
        integrations=[
            DjangoIntegration(),
            CeleryIntegration(),
            # Log records become breadcrumbs; only uncaught errors and logger.exception/error
            # become events.
            LoggingIntegration(),
        ],
    )


def sentry_enabled() -> bool:
    import sentry_sdk

    return sentry_sdk.get_client().is_active()


def wrap_asgi(app):
    """The WebSocket app wrapped in Sentry's ASGI middleware when Sentry is on, else unchanged."""
    if not sentry_enabled():
        return app
    from sentry_sdk.integrations.asgi import SentryAsgiMiddleware

    return SentryAsgiMiddleware(app)
