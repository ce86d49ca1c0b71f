"""Authentication and Origin checks in front of the live WebSocket.

Browsers authenticate with their session cookie and always send an Origin header, which must
be the whole origin (scheme, host and port) the socket was opened on, or one of
CSRF_TRUSTED_ORIGINS, as Django's CSRF check wants of an unsafe HTTP request (cross-site
WebSocket hijacking is refused). API clients first
exchange their JWT for a single-use ticket (`POST /api/v1/live/ticket/`, valid seconds) and
connect with `?ticket=…`: no long-lived token ever sits in a URL or a proxy log. A non-browser
client may omit Origin, but only together with a ticket.
"""

from collections.abc import Callable
from urllib.parse import parse_qs, urlsplit

from channels.security.websocket import WebsocketDenier
from django.conf import settings
from django.contrib import auth
from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.models import AnonymousUser
from django.http import HttpRequest
from django.http.request import split_domain_port, validate_host
from django.utils.http import is_same_domain

from config import status
from config.logging import log_socket
from config.sentry import wrap_asgi
from live import access, handshake
from live.db import DeadlinePassed


def _query(scope) -> dict[str, list[str]]:
    return parse_qs(scope.get("query_string", b"").decode("latin-1"))


def _header(scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return value.decode("latin-1")
    return None


def _origin(scope) -> str | None:
    return _header(scope, b"origin")


def _allowed_hosts() -> list[str]:
    # HttpRequest.get_host's rule: with DEBUG and no ALLOWED_HOSTS, the local names.
    if settings.DEBUG and not settings.ALLOWED_HOSTS:
        return [".localhost", "127.0.0.1", "[::1]"]
    return list(settings.ALLOWED_HOSTS)


def _is_secure(scope) -> bool:
    """HttpRequest.scheme's rule: SECURE_PROXY_SSL_HEADER when it is set and the proxy sent it,
    else whether the socket itself is TLS (wss)."""
    if settings.SECURE_PROXY_SSL_HEADER:
        meta_name, secure_value = settings.SECURE_PROXY_SSL_HEADER
        value = _header(scope, meta_name.removeprefix("HTTP_").lower().replace("_", "-").encode("latin-1"))
        if value is not None:
            return value.split(",", 1)[0].strip() == secure_value
    return scope.get("scheme") in {"wss", "https"}


def request_origin(scope) -> str | None:
    """The origin the socket was opened on, as Django works it out for an HTTP request: its
    scheme (see _is_secure) and its Host (X-Forwarded-Host with USE_X_FORWARDED_HOST), which
    must be one of ALLOWED_HOSTS. None when the host is missing or not allowed."""
    host = _header(scope, b"x-forwarded-host") if settings.USE_X_FORWARDED_HOST else None
    host = host or _header(scope, b"host")
    if not host:
        return None
    domain, _port = split_domain_port(host)
    if not domain or not validate_host(domain, _allowed_hosts()):
        return None
    return f"{'https' if _is_secure(scope) else 'http'}://{host}"


def origin_allowed(origin: str, scope) -> bool:
    """Django's CSRF Origin check (CsrfViewMiddleware), made for the socket: the Origin header
    is the socket's own origin (request_origin: scheme, host and port alike), or one of
    CSRF_TRUSTED_ORIGINS exactly, or matches one of their "*." patterns for the same scheme."""
    own = request_origin(scope)
    if own is not None and origin == own:
        return True
    trusted = settings.CSRF_TRUSTED_ORIGINS
    if origin in {entry for entry in trusted if "*" not in entry}:
        return True
    try:
        parts = urlsplit(origin)
    except ValueError:
        return False
    for entry in trusted:
        if "*" not in entry:
            continue
        pattern = urlsplit(entry)
        if pattern.scheme == parts.scheme and is_same_domain(parts.netloc, pattern.netloc.lstrip("*")):
            return True
    return False


class OriginCheckMiddleware:
    """Refuses foreign origins; counts this process's open sockets (admin status page); with
    Sentry on, reports errors in the socket stack through Sentry's ASGI middleware."""

    def __init__(self, app):
        self.app = wrap_asgi(app)

    async def __call__(self, scope, receive, send):
        scope = dict(scope)
        started = handshake.note_started(scope)
        origin = _origin(scope)
        has_ticket = bool(_query(scope).get("ticket"))
        if (origin is None and not has_ticket) or (origin is not None and not origin_allowed(origin, scope)):
            log_socket(scope, outcome="refused", started=started, close_code=403)
            return await WebsocketDenier()(scope, receive, send)
        accepted = False
        close_code = None

        async def counting_send(message):
            nonlocal accepted, close_code
            if message.get("type") == "websocket.accept" and not accepted:
                accepted = True
                await status.socket_opened()
            elif message.get("type") == "websocket.close":
                close_code = message.get("code", 1000)
            elif message.get("type") == "websocket.http.response.start":  # refused over HTTP: its status
                close_code = message.get("status")
            await send(message)

        try:
            return await self.app(scope, receive, counting_send)
        finally:
            if accepted:
                await status.socket_closed()
            log_socket(scope, outcome="accepted" if accepted else "refused", started=started, close_code=close_code)


def session_user(scope):
    """The user of the socket's session (channels.sessions.SessionMiddleware puts it in the
    scope), as Django's `auth.get_user` finds it for an HTTP request: the session's user, its
    backend and the session-hash check (a password change ends the session). Run on the live
    database pool (live.db), not asgiref's single thread: a burst of connects reads
    sessions in parallel instead of queueing behind every socket's work; and through
    live.handshake.connect_db, so a handshake that waited too long is refused unread."""
    request = HttpRequest()
    request.session = scope["session"]
    return auth.get_user(request)


# Redeems a single-use ticket: `redeem_ticket(ticket=...)` -> (user, its LiveCredential), or
# None when the ticket is unknown, used or no longer backed by a valid way in; it raises
# live.handshake.CannotCheckNow when tickets cannot be read at the moment (a busy refusal). The app that sells
# tickets provides it (config.asgi passes accounts.services.redeem_live_ticket).
TicketRedeemer = Callable[..., tuple[AbstractBaseUser, access.LiveCredential] | None]


def _no_tickets(*, ticket: str) -> None:
    return None


class LiveAuthMiddleware:
    """Sets scope["user"] from a live ticket if one is given (redeemed by `redeem_ticket`), else
    from the session, and the socket's credential (live.access.SCOPE_KEY: what ends it) beside
    it. A handshake that waited past its budget for the read is refused as busy
    (live.handshake)."""

    def __init__(self, app, *, redeem_ticket: TicketRedeemer = _no_tickets):
        self.app = app
        self.redeem_ticket = redeem_ticket

    async def __call__(self, scope, receive, send):
        scope = dict(scope)
        tickets = _query(scope).get("ticket")
        credential = None
        try:
            if tickets:
                redeemed = await handshake.connect_db(scope, self.redeem_ticket)(ticket=tickets[0])
            else:
                user = await handshake.connect_db(scope, session_user)(scope)
        except DeadlinePassed:
            await receive()  # the handshake's websocket.connect, answered below
            return await handshake.refuse_busy(scope, send, user_id=None, reason=handshake.expired_reason(scope))
        except handshake.CannotCheckNow as exc:
            await receive()
            return await handshake.refuse_busy(scope, send, user_id=None, reason=str(exc))
        if tickets:
            user, credential = redeemed if redeemed is not None else (AnonymousUser(), None)
            scope["auth_method"] = "ticket"
        else:
            if user.is_authenticated:
                credential = access.session_credential(user=user, session_key=scope["session"].session_key)
            scope["auth_method"] = "session"
        scope["user"] = user
        scope[access.SCOPE_KEY] = credential
        return await self.app(scope, receive, send)
