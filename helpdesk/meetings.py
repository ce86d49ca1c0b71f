"""Online meetings for help sessions: one interface, three providers chosen by a setting.

- ``graph``: Microsoft Teams through Microsoft Graph. An app-only token from msal (client
  credentials), then ``POST /users/{organizer}/onlineMeetings/createOrGet`` with the
  scheduling attempt's UUID (``HelpRequest.meeting_external_id``) as ``externalId``, so a
  retried task gets the meeting it already created instead of a second one, and a moved
  session or a new accept after a release (a new attempt) never gets a former meeting.
- ``local``: development without a tenant; a join page on this site.
- ``memory``: tests; records calls and can be told to fail.

Callers (the Celery task) only see ``MeetingError`` (transient: retry later) and
``MeetingPermanentError`` (misconfiguration, missing permission, unknown organizer: retrying
cannot help; mark the meeting failed and tell staff).
"""

from __future__ import annotations

import email.utils
import logging
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol
from urllib.parse import quote

import msal
import requests
from django.conf import settings

logger = logging.getLogger(__name__)

GRAPH_SCOPES = ["https://graph.microsoft.com/.default"]
CONNECT_TIMEOUT_SECONDS = 5
READ_TIMEOUT_SECONDS = 20

# Token-endpoint errors that a retry cannot fix (RFC 6749 §5.2 plus Entra's usual ones).
_PERMANENT_TOKEN_ERRORS = frozenset(
    {"invalid_client", "unauthorized_client", "invalid_request", "invalid_scope", "invalid_grant"}
)


@dataclass(frozen=True)
class MeetingSpec:
    external_id: str  # the scheduling attempt's UUID as str: createOrGet's idempotency key
    subject: str
    start: datetime  # aware
    end: datetime  # aware
    # Kept for the .ics invitation; not sent to Graph (participants are not implemented).
    attendee_emails: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.external_id:
            raise ValueError("MeetingSpec.external_id is required")
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise ValueError("MeetingSpec.start and .end must be timezone-aware")
        if self.end <= self.start:
            raise ValueError("MeetingSpec.end must be after .start")


@dataclass(frozen=True)
class Meeting:
    join_url: str
    meeting_id: str
    provider: str  # "graph" | "local" | "memory"


class MeetingError(Exception):
    """Transient: the caller (Celery) retries later, after ``retry_after`` seconds if given."""

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class MeetingPermanentError(MeetingError):
    """403/404/misconfiguration: do not retry; mark the meeting failed and alert staff."""


class MeetingProvider(Protocol):
    name: str

    def create_or_get(self, spec: MeetingSpec) -> Meeting: ...


# --- Microsoft Graph -------------------------------------------------------------------------


@dataclass(frozen=True)
class _GraphConfig:
    tenant_id: str
    client_id: str
    client_secret: str = field(repr=False)
    organizer_id: str
    authority_host: str
    graph_url: str
    ca_bundle: str | None


def _graph_config() -> _GraphConfig:
    required = ("TEAMS_TENANT_ID", "TEAMS_CLIENT_ID", "TEAMS_CLIENT_SECRET", "TEAMS_ORGANIZER_ID")
    values = {name: str(getattr(settings, name, "") or "").strip() for name in required}
    missing = [name for name, value in values.items() if not value]
    if missing:
        raise MeetingPermanentError(
            f"Microsoft Teams is not configured: set {', '.join(missing)} (or MEETING_PROVIDER=local for development)."
        )
    authority_host = str(getattr(settings, "TEAMS_AUTHORITY_HOST", "") or "").strip().rstrip("/")
    graph_url = str(getattr(settings, "TEAMS_GRAPH_URL", "") or "").strip().rstrip("/")
    if not authority_host.startswith("https://"):
        raise MeetingPermanentError(
            f"TEAMS_AUTHORITY_HOST must be an https:// URL (msal refuses anything else), got {authority_host!r}."
        )
    if not graph_url.startswith(("https://", "http://")):
        raise MeetingPermanentError(f"TEAMS_GRAPH_URL must be an http(s) URL, got {graph_url!r}.")
    return _GraphConfig(
        tenant_id=values["TEAMS_TENANT_ID"],
        client_id=values["TEAMS_CLIENT_ID"],
        client_secret=values["TEAMS_CLIENT_SECRET"],
        organizer_id=values["TEAMS_ORGANIZER_ID"],
        authority_host=authority_host,
        graph_url=graph_url,
        ca_bundle=getattr(settings, "TEAMS_CA_BUNDLE", None) or None,
    )


class _TimeoutSession(requests.Session):
    """A session whose every request has explicit timeouts, msal's included (msal passes none
    when it is given an http_client)."""

    def __init__(self, *, ca_bundle: str | None) -> None:
        super().__init__()
        # REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE (set on some machines) would silently replace
        # `verify`, and proxies/.netrc from the environment would apply too: this session
        # trusts exactly the CA it is given, or certifi's bundle.
        self.trust_env = False
        self.verify = ca_bundle or True

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        kwargs.setdefault("timeout", (CONNECT_TIMEOUT_SECONDS, READ_TIMEOUT_SECONDS))
        return super().request(method, url, *args, **kwargs)


class _GraphClient:
    """One msal app (and its token cache) plus one HTTP session per process and configuration:
    msal keeps the app token in the app object, so reusing it avoids a token request per call."""

    def __init__(self, config: _GraphConfig) -> None:
        self.config = config
        self.session = _TimeoutSession(ca_bundle=config.ca_bundle)
        self._token_cache = msal.TokenCache()
        self._app: msal.ConfidentialClientApplication | None = None
        self._lock = threading.Lock()

    def _application(self) -> msal.ConfidentialClientApplication:
        # Built lazily: the constructor fetches the tenant's OpenID configuration over the network,
        # and a failed attempt must not leave a half-built app behind.
        with self._lock:
            if self._app is None:
                self._app = msal.ConfidentialClientApplication(
                    self.config.client_id,
                    client_credential=self.config.client_secret,
                    authority=f"{self.config.authority_host}/{self.config.tenant_id}",
                    http_client=self.session,
                    token_cache=self._token_cache,
                    # Known Microsoft hosts skip discovery anyway; a sovereign-cloud or test
                    # authority must not be checked against login.microsoftonline.com.
                    instance_discovery=False,
                )
            return self._app

    def access_token(self) -> str:
        try:
            result = self._application().acquire_token_for_client(scopes=GRAPH_SCOPES)
        except ValueError as exc:  # msal: the tenant's OpenID configuration was refused (4xx)
            raise MeetingPermanentError(f"Microsoft identity platform refused the tenant: {exc}") from exc
        except (requests.RequestException, msal.exceptions.MsalServiceError, RuntimeError) as exc:
            # msal also remembers a failed token response for a few seconds (or its Retry-After) and
            # answers repeats from memory: leave the retry to the task queue rather than loop here.
            raise MeetingError(f"Microsoft identity platform failed: {type(exc).__name__}: {exc}"[:300]) from exc
        token = result.get("access_token") if isinstance(result, dict) else None
        if token:
            return str(token)
        error = str(result.get("error", "unknown_error")) if isinstance(result, dict) else "unknown_error"
        description = str(result.get("error_description", "")).splitlines()[0] if isinstance(result, dict) else ""
        message = f"Token request failed: {error}: {description}".rstrip(": ")
        if error in _PERMANENT_TOKEN_ERRORS:
            raise MeetingPermanentError(message)
        raise MeetingError(message)

    def forget_access_token(self) -> None:
        """Drop cached app tokens so the next acquire_token_for_client asks the token endpoint."""
        for credential_type in (
            msal.TokenCache.CredentialType.ACCESS_TOKEN,
            getattr(msal.TokenCache.CredentialType, "ACCESS_TOKEN_EXTENDED", None),
        ):
            if credential_type is None:
                continue
            for entry in list(self._token_cache.search(credential_type)):
                self._token_cache.modify(credential_type, entry)  # no new values: removes it


_graph_clients: dict[_GraphConfig, _GraphClient] = {}
_graph_clients_lock = threading.Lock()


def _graph_client_for(config: _GraphConfig) -> _GraphClient:
    with _graph_clients_lock:
        client = _graph_clients.get(config)
        if client is None:
            _graph_clients.clear()  # the configuration changed (e.g. a rotated secret): drop the old app
            client = _graph_clients[config] = _GraphClient(config)
        return client


def reset_graph_clients() -> None:
    """Forget the per-process msal apps and sessions (tests; a rotated secret is handled anyway)."""
    with _graph_clients_lock:
        for client in _graph_clients.values():
            client.session.close()
        _graph_clients.clear()


def _graph_error(response: requests.Response) -> str:
    """Graph's error code and message, e.g. "Forbidden: No application access policy found"."""
    try:
        error = response.json().get("error", {})
        code, message = error.get("code", ""), error.get("message", "")
    except (ValueError, AttributeError):
        code, message = "", response.text[:200]
    return ": ".join(part for part in (str(code), str(message)) if part) or response.reason or "no details"


def _retry_after_seconds(response: requests.Response) -> float | None:
    value = response.headers.get("Retry-After", "").strip()
    if not value:
        return None
    if value.isdigit():
        return float(value)
    try:  # the HTTP-date form
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


class GraphMeetingProvider:
    """Teams meetings through Microsoft Graph ``createOrGet`` (idempotent per external id)."""

    name = "graph"

    def __init__(
        self,
        *,
        sleep: Callable[[float], None] = time.sleep,
        max_attempts: int = 4,
        backoff_base: float = 1.0,
        backoff_cap: float = 8.0,
        retry_after_cap: float = 30.0,
    ) -> None:
        self._sleep = sleep
        self.max_attempts = max_attempts
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self.retry_after_cap = retry_after_cap

    def _backoff(self, attempt: int) -> float:
        return min(self.backoff_cap, self.backoff_base * 2 ** (attempt - 1))

    def create_or_get(self, spec: MeetingSpec) -> Meeting:
        config = _graph_config()
        client = _graph_client_for(config)
        url = f"{config.graph_url}/users/{quote(config.organizer_id, safe='')}/onlineMeetings/createOrGet"
        body = {
            "externalId": spec.external_id,
            "subject": spec.subject,
            "startDateTime": spec.start.astimezone(UTC).isoformat(),
            "endDateTime": spec.end.astimezone(UTC).isoformat(),
        }
        token_refreshed = False
        attempt = 0
        while True:
            attempt += 1
            token = client.access_token()
            request_id = str(uuid.uuid4())
            try:
                response = client.session.post(
                    url,
                    json=body,
                    headers={"Authorization": f"Bearer {token}", "client-request-id": request_id},
                    timeout=(CONNECT_TIMEOUT_SECONDS, READ_TIMEOUT_SECONDS),
                )
            except requests.RequestException as exc:
                logger.warning(
                    "Graph createOrGet for %s: %s (attempt %d/%d, client-request-id %s)",
                    spec.external_id,
                    type(exc).__name__,
                    attempt,
                    self.max_attempts,
                    request_id,
                )
                if attempt >= self.max_attempts:
                    raise MeetingError(f"Microsoft Graph is unreachable: {type(exc).__name__}") from exc
                self._sleep(self._backoff(attempt))
                continue

            status = response.status_code
            logger.log(
                logging.INFO if status in (200, 201) else logging.WARNING,
                "Graph createOrGet for %s: HTTP %d (attempt %d, request-id %s)",
                spec.external_id,
                status,
                attempt,
                response.headers.get("request-id", request_id),
            )
            if status in (200, 201):
                return self._meeting_from(response)
            if status == 401:
                if token_refreshed:
                    raise MeetingPermanentError(
                        f"Microsoft Graph refused a freshly issued token (401): {_graph_error(response)}"
                    )
                client.forget_access_token()
                token_refreshed = True
                attempt -= 1  # a token refresh is not a failed attempt
                continue
            if status in (403, 404):
                raise MeetingPermanentError(
                    f"Microsoft Graph answered {status} for organizer {config.organizer_id}: {_graph_error(response)}"
                    + (
                        " (check OnlineMeetings.ReadWrite.All admin consent and the application access policy)"
                        if status == 403
                        else " (check TEAMS_ORGANIZER_ID: the organizer's Entra object id)"
                    )
                )
            if status in (408, 429) or status >= 500:
                if attempt >= self.max_attempts:
                    raise MeetingError(
                        f"Microsoft Graph failed {attempt} times, last with HTTP {status}: {_graph_error(response)}",
                        retry_after=_retry_after_seconds(response),
                    )
                retry_after = _retry_after_seconds(response) if status in (429, 503) else None
                if retry_after is not None and retry_after > self.retry_after_cap:
                    raise MeetingError(
                        f"Microsoft Graph asked to wait {retry_after:.0f} s ({status})", retry_after=retry_after
                    )
                self._sleep(retry_after if retry_after is not None else self._backoff(attempt))
                continue
            # Any other 4xx means the request itself is wrong: sending it again cannot help.
            raise MeetingPermanentError(f"Microsoft Graph answered {status}: {_graph_error(response)}")

    def _meeting_from(self, response: requests.Response) -> Meeting:
        try:
            payload = response.json()
            join_url, meeting_id = payload["joinWebUrl"], payload["id"]
        except (ValueError, KeyError, TypeError) as exc:
            raise MeetingPermanentError("Microsoft Graph answered createOrGet without joinWebUrl/id") from exc
        if not (isinstance(join_url, str) and join_url.startswith("https://")):
            raise MeetingPermanentError("Microsoft Graph answered createOrGet with an invalid joinWebUrl")
        return Meeting(join_url=join_url, meeting_id=str(meeting_id), provider=self.name)


# --- Development and tests -------------------------------------------------------------------


class LocalMeetingProvider:
    """No tenant needed: a deterministic join page on this site per external id."""

    name = "local"

    def create_or_get(self, spec: MeetingSpec) -> Meeting:
        external_id = quote(spec.external_id, safe="")
        return Meeting(
            join_url=f"{settings.SITE_URL.rstrip('/')}/help/meet/{external_id}/",
            meeting_id=f"local-{spec.external_id}",
            provider=self.name,
        )


class InMemoryMeetingProvider:
    """The test twin: records calls, createOrGet semantics, scripted failures."""

    name = "memory"

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self.calls: list[MeetingSpec] = []
            self.meetings: dict[str, Meeting] = {}
            self._failures: deque[MeetingError] = deque()

    def fail_next(self, times: int = 1, *, permanent: bool = False, message: str = "") -> None:
        """Make the next ``times`` calls raise MeetingError (or MeetingPermanentError)."""
        error_class = MeetingPermanentError if permanent else MeetingError
        text = message or ("scripted permanent failure" if permanent else "scripted transient failure")
        with self._lock:
            self._failures.extend(error_class(text) for _ in range(times))

    def create_or_get(self, spec: MeetingSpec) -> Meeting:
        with self._lock:
            self.calls.append(spec)
            if self._failures:
                raise self._failures.popleft()
            meeting = self.meetings.get(spec.external_id)
            if meeting is None:
                meeting = self.meetings[spec.external_id] = Meeting(
                    join_url=f"https://teams.example.invalid/l/meetup-join/{quote(spec.external_id, safe='')}",
                    meeting_id=f"memory-{spec.external_id}",
                    provider=self.name,
                )
            return meeting


# One per process, so a test can script it and inspect it after code under test called
# get_meeting_provider(); call memory_provider.reset() between tests.
memory_provider = InMemoryMeetingProvider()


def get_meeting_provider() -> MeetingProvider:
    name = str(getattr(settings, "MEETING_PROVIDER", "local") or "local").strip().lower()
    if name == "graph":
        return GraphMeetingProvider()
    if name == "local":
        return LocalMeetingProvider()
    if name == "memory":
        return memory_provider
    raise MeetingPermanentError(f"Unknown MEETING_PROVIDER {name!r}: use graph, local or memory.")
