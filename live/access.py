"""Who may keep a live socket open: the credential a socket was opened with, whether it still
holds, and the one door through which every account write closes the sockets it ends.

A socket (/ws/live/) is opened with a browser session, or with a single-use ticket an API client
bought with its access token (accounts.services.issue_live_ticket). Its LiveCredential keeps what
that proved: the user, the user's session auth hash at the time (an HMAC of the password hash,
so it changes with the password), and the session key or the API login it came from. An API
login is the `sid` claim of a token pair (LOGIN_CLAIM): set when the pair is issued, carried by
every access token and every rotated refresh token of that login.

Ending a way in closes its sockets, in every server process, within a second:

- logging a browser session out closes the sockets opened with that session;
- logging an API client out (its refresh token blacklisted) closes the sockets of that login;
- changing or resetting the password, and deactivating or deleting the account, close every
  socket of the user.

`revoke_live_sockets` is that door: it registers, on commit, a LIVE_REVOKE channel-layer message
to the user's group (live.push.send_on_commit), and every socket of the user that the message names
closes with CLOSE_SIGNED_OUT, which the browser (static/js/live.js) takes as "signed out": it goes
to the login page instead of reconnecting. The channel layer is at most once, so the message is
not the only guard: the live consumer re-checks `credential_holds` in the same database hop as
every frame that reads or writes (a revoked socket closes instead of answering), and the send
service refuses an inactive sender whatever the socket.
"""

import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache, partial
from importlib import import_module

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.sessions.models import Session
from django.core.cache import cache
from django.core.exceptions import FieldError
from django.db import connection, transaction
from django.db.models import Exists, IntegerField
from django.utils.crypto import constant_time_compare

from config import redis_client, statements
from live import push

logger = logging.getLogger(__name__)

# The WebSocket close code of a socket whose credential ended (an application code, 4000-4999,
# like 4400 "too many bad frames"); mirrors HTTP 401. static/js/live.js knows it.
CLOSE_SIGNED_OUT = 4401
# The JWT claim naming the API login a token pair belongs to (OpenID Connect's "session id").
LOGIN_CLAIM = "sid"
# The WebSocket scope key under which live.auth gives the consumer its socket's credential.
SCOPE_KEY = "lyceum.live_credential"
# The channel-layer message that closes a user's sockets: {"type", "target"}, target naming a
# session or an API login, or None for every socket of the user (revoke_message).
LIVE_REVOKE = "live.revoke"


class CredentialUnchecked(Exception):
    """The credential could not be checked: an API login's logout is remembered only in the
    cache, which cannot be reached (Redis down). Neither "holds" (a logged-out login's socket
    would be served on a guess) nor "signed out" (it was not): the consumer closes the socket
    to be tried again later (live.consumer)."""


@dataclass(frozen=True)
class LiveCredential:
    """What a live socket was opened with (see the module docstring)."""

    user_id: int
    auth_hash: str
    session_key: str | None = None
    login: str | None = None

    @property
    def target(self) -> str | None:
        """The name a revocation uses for this socket's session or API login (None: neither)."""
        if self.session_key is not None:
            return session_target(self.session_key)
        if self.login is not None:
            return login_target(self.login)
        return None

    def is_named_by(self, target: str | None) -> bool:
        """Whether a revocation for `target` (None: every socket of the user) ends this socket."""
        return target is None or target == self.target


def session_target(session_key: str) -> str:
    # A digest: the session key is a bearer secret and the message travels through Redis.
    return "session:" + hashlib.sha256(session_key.encode()).hexdigest()


def login_target(login: str) -> str:
    return f"login:{login}"


def session_credential(*, user: AbstractBaseUser, session_key: str | None) -> LiveCredential:
    return LiveCredential(user_id=user.pk, auth_hash=user.get_session_auth_hash(), session_key=session_key or None)


def ticket_credential(*, user: AbstractBaseUser, auth_hash: str, login: str | None) -> LiveCredential:
    return LiveCredential(user_id=user.pk, auth_hash=auth_hash, login=login or None)


def _session_store():
    return import_module(settings.SESSION_ENGINE).SessionStore()


# The session engines whose truth is the django_session table: there the session's existence is
# read in the same statement as the user (one round trip per check).
_DATABASE_SESSION_ENGINES = {"django.contrib.sessions.backends.db", "django.contrib.sessions.backends.cached_db"}
_SESSION_EXISTS = "live_session_exists"


@lru_cache(maxsize=8)
def _check_statement(vendor: str, with_session: bool) -> str:
    """The check's SQL, built once per database vendor from the models' own table and column
    names (every value is a bound parameter): the user's password hash if the user is active,
    and whether the session row exists. Raw and cached: it runs for every frame, where
    building the same statement with the ORM each time cost about four times the CPU."""
    q = connection.ops.quote_name
    User = get_user_model()

    def column(model, name: str) -> str:
        return q(model._meta.get_field(name).column)

    user_table = q(User._meta.db_table)
    session = ""
    if with_session:
        session_table, session_key = q(Session._meta.db_table), column(Session, "session_key")
        session = f", EXISTS(SELECT 1 FROM {session_table} WHERE {session_key} = %s)"  # noqa: S608 - names only
    return (
        f"SELECT {column(User, 'password')}{session} FROM {user_table}"  # noqa: S608 - names only
        f" WHERE {column(User, 'id')} = %s AND {column(User, 'is_active')} = %s"
    )


def _revoked_login_key(login: str) -> str:
    return f"accounts:revoked-login:{login}"


def _with_session(credential: LiveCredential) -> bool:
    return credential.session_key is not None and settings.SESSION_ENGINE in _DATABASE_SESSION_ENGINES


def _still_holds(credential: LiveCredential, password: str, session_exists: bool | None) -> bool:
    """The rule, given the active user's password hash and (database sessions) whether the
    session row exists: same password, session still there / API login not logged out."""
    current = get_user_model()(pk=credential.user_id, password=password).get_session_auth_hash()
    if not constant_time_compare(current, credential.auth_hash):
        return False
    if session_exists is not None:
        return bool(session_exists)
    if credential.session_key is not None:
        return _session_store().exists(credential.session_key)
    if credential.login is not None:
        try:
            return not cache.get(_revoked_login_key(credential.login))
        except redis_client.UNAVAILABLE as exc:
            raise CredentialUnchecked(f"API login's logout not readable, cache unavailable: {exc!r}") from exc
    return True


def credential_holds(credential: LiveCredential) -> bool:
    """Whether the socket's way in is still open: the user exists and is active, the password is
    the one it was opened with, and its session still exists / its API login was not logged out.

    Asked for every frame that reads or writes, so it is one statement (user and session row
    together, with the database session engines) plus, for an API login, one cache read:
    CredentialUnchecked when that read cannot be made."""
    with_session = _with_session(credential)
    params: list = [credential.session_key] if with_session else []
    with connection.cursor() as cursor:
        cursor.execute(_check_statement(connection.vendor, with_session), [*params, credential.user_id, True])
        row = cursor.fetchone()
    if row is None:  # no such user, or not active
        return False
    return _still_holds(credential, row[0], row[1] if with_session else None)


# The hello's statement (read_if_credential_holds) is built by the ORM once per process: for a
# stand-in user and session key that no real socket has, then kept with those two values as
# parameters. Building it for every connect cost ~2 ms of CPU, most of a connect's own work.
_STAND_IN_USER_ID = statements.STAND_IN_ID
_STAND_IN_SESSION_KEY = "live-hello-stand-in-session-key"  # not a key the session engines make


@dataclass(frozen=True)
class _PreparedRead:
    sql: str
    params: tuple
    user_id_at: tuple[int, ...]  # where the user's id goes in params
    session_key_at: tuple[int, ...]  # where the session key goes
    names: tuple[str, ...]  # the expressions' names, in the statement's column order


_prepared: dict = {}


def integer_expressions(expressions_for: Callable[[AbstractBaseUser], dict]) -> dict:
    """The expressions `expressions_for` builds for the stand-in user (read_if_credential_holds),
    each checked to have an integer output_field (IntegerField or a subclass): TypeError names
    the first that has not. The statement's values come raw from the cursor, without the ORM's
    conversions, so only integers (which int() makes of what every backend returns) are read."""
    expressions = dict(expressions_for(get_user_model()(pk=_STAND_IN_USER_ID)))
    for name, expression in expressions.items():
        try:
            output_field = expression.output_field
        except (AttributeError, FieldError):
            output_field = None
        if not isinstance(output_field, IntegerField):
            kind = type(output_field).__name__ if output_field is not None else "no output_field"
            raise TypeError(f"{name!r} is read raw from the cursor and must be an integer expression, not {kind}")
    return expressions


def _prepare(expressions_for: Callable[[AbstractBaseUser], dict], with_session: bool) -> _PreparedRead:
    """The statement of read_if_credential_holds as the ORM writes it (config.statements.capture:
    sent nowhere), and where the user's id and the session key go."""
    User = get_user_model()
    expressions = integer_expressions(expressions_for)
    names = tuple(expressions)
    if with_session:
        expressions[_SESSION_EXISTS] = Exists(Session.objects.filter(session_key=_STAND_IN_SESSION_KEY))
    queryset = (
        User._default_manager.using(connection.alias)
        .filter(pk=_STAND_IN_USER_ID, is_active=True)
        .annotate(**expressions)
        .order_by()
        .values_list("password", *expressions)
    )
    sql, params = statements.capture(queryset)
    user_id_at = tuple(i for i, p in enumerate(params) if type(p) is int and p == _STAND_IN_USER_ID)
    session_key_at = tuple(i for i, p in enumerate(params) if p == _STAND_IN_SESSION_KEY)
    if not user_id_at or len(session_key_at) != int(with_session):
        raise RuntimeError(f"the hello's statement does not take the user and session as parameters: {sql}")
    return _PreparedRead(sql, params, user_id_at, session_key_at, names)


def read_if_credential_holds(
    credential: LiveCredential, expressions_for: Callable[[AbstractBaseUser], dict], *, key=None
) -> dict | None:
    """credential_holds and, in the SAME statement, the integer ORM expressions
    `expressions_for(user)` names (e.g. count subqueries, evaluated on the user's row:
    OuterRef("pk") is the user): their values by name as ints (None for NULL), or None when the
    credential no longer holds. How a socket's "hello" reads its counts and checks its credential
    in one round trip (live.consumer). An expression that is not an integer is refused with
    TypeError (integer_expressions).

    The statement is built once per process (and database, session engine and `key`: pass a
    value that changes when what `expressions_for` builds does), for a stand-in user that has
    nothing but its pk: the expressions may depend on the user only through `user.pk`."""
    with_session = _with_session(credential)
    cache_key = (key if key is not None else expressions_for, connection.alias, connection.vendor, with_session)
    prepared = _prepared.get(cache_key)
    if prepared is None:
        prepared = _prepared.setdefault(cache_key, _prepare(expressions_for, with_session))
    params = list(prepared.params)
    for at in prepared.user_id_at:
        params[at] = credential.user_id
    for at in prepared.session_key_at:
        params[at] = credential.session_key
    with connection.cursor() as cursor:
        cursor.execute(prepared.sql, params)
        row = cursor.fetchone()
    if row is None:  # no such user, or not active
        return None
    password, *values = row
    session_exists = values.pop() if with_session else None
    if not _still_holds(credential, password, session_exists):
        return None
    return {name: None if value is None else int(value) for name, value in zip(prepared.names, values, strict=True)}


def revoke_live_sockets(*, user_id: int, session_key: str | None = None, login: str | None = None) -> None:
    """After commit, close the user's live sockets in every process: those of `session_key`, or
    of API login `login`, or (neither given) all of them. Call it from the service that ends the
    way in, inside its transaction."""
    target = None
    if session_key:
        target = session_target(session_key)
    elif login:
        target = login_target(login)
        # Remembered as long as a token of that login could be: a ticket socket of it that missed
        # the message still fails credential_holds.
        lifetime = int(settings.SIMPLE_JWT["REFRESH_TOKEN_LIFETIME"].total_seconds())
        transaction.on_commit(partial(_remember_revoked_login, login, lifetime))
    push.send_on_commit([user_id], revoke_message(target=target))


def revoke_message(*, target: str | None) -> dict:
    """The LIVE_REVOKE channel-layer message for `target` (see session_target, login_target)."""
    return {"type": LIVE_REVOKE, "target": target}


def _remember_revoked_login(login: str, lifetime: int) -> None:
    try:
        cache.set(_revoked_login_key(login), True, timeout=lifetime)
    except Exception as exc:  # noqa: BLE001 - the close message still goes out; the logout must not fail
        redis_client.log_failure(logger, exc, "could not record the logout of API login %s", login, level=logging.ERROR)
