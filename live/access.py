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

What that check reads is all in the database, in one statement: the user row, and the session's
django_session row (database session engines) or, for an API login, whether its logout left a
row in live.models.RevokedLogin (written by `revoke_live_sockets` in the logout's transaction).
The cache holds no part of the rule: a Redis outage or restart neither forgets a logout nor stops
a socket's check.
"""

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from importlib import import_module

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.sessions.models import Session
from django.core.exceptions import FieldError
from django.db import connection, transaction
from django.db.models import Exists, IntegerField
from django.utils import timezone
from django.utils.crypto import constant_time_compare

from config import statements
from live import push
from live.models import RevokedLogin

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
_LOGIN_REVOKED = "live_login_revoked"


@lru_cache(maxsize=8)
def _check_statement(vendor: str, with_session: bool, with_login: bool) -> str:
    """The check's SQL, built once per database vendor from the models' own table and column
    names (every value is a bound parameter): the user's password hash if the user is active,
    and whether the session row exists / whether the API login's logout left its row. Raw and
    cached: it runs for every frame, where building the same statement with the ORM each time
    cost about four times the CPU."""
    q = connection.ops.quote_name
    User = get_user_model()

    def column(model, name: str) -> str:
        return q(model._meta.get_field(name).column)

    user_table = q(User._meta.db_table)
    exists = ""
    if with_session:
        session_table, session_key = q(Session._meta.db_table), column(Session, "session_key")
        exists = f", EXISTS(SELECT 1 FROM {session_table} WHERE {session_key} = %s)"  # noqa: S608 - names only
    elif with_login:
        revoked_table, login = q(RevokedLogin._meta.db_table), column(RevokedLogin, "login")
        exists = f", EXISTS(SELECT 1 FROM {revoked_table} WHERE {login} = %s)"  # noqa: S608 - names only
    return (
        f"SELECT {column(User, 'password')}{exists} FROM {user_table}"  # noqa: S608 - names only
        f" WHERE {column(User, 'id')} = %s AND {column(User, 'is_active')} = %s"
    )


def _with_session(credential: LiveCredential) -> bool:
    return credential.session_key is not None and settings.SESSION_ENGINE in _DATABASE_SESSION_ENGINES


def _with_login(credential: LiveCredential) -> bool:
    return credential.session_key is None and credential.login is not None


def _still_holds(
    credential: LiveCredential, password: str, session_exists: bool | None, login_revoked: bool | None
) -> bool:
    """The rule, given the active user's password hash and, read in the same statement, whether
    the session row exists (database sessions) / whether the API login was logged out: same
    password, session still there / API login not logged out."""
    current = get_user_model()(pk=credential.user_id, password=password).get_session_auth_hash()
    if not constant_time_compare(current, credential.auth_hash):
        return False
    if session_exists is not None:
        return bool(session_exists)
    if credential.session_key is not None:
        return _session_store().exists(credential.session_key)
    if login_revoked is not None:
        return not login_revoked
    return True


def credential_holds(credential: LiveCredential) -> bool:
    """Whether the socket's way in is still open: the user exists and is active, the password is
    the one it was opened with, and its session still exists / its API login was not logged out
    (no live.models.RevokedLogin row).

    Asked for every frame that reads or writes, so it is one statement: the user row with the
    session row (database session engines) or the API login's RevokedLogin row."""
    with_session, with_login = _with_session(credential), _with_login(credential)
    params: list = [credential.session_key] if with_session else [credential.login] if with_login else []
    with connection.cursor() as cursor:
        cursor.execute(
            _check_statement(connection.vendor, with_session, with_login), [*params, credential.user_id, True]
        )
        row = cursor.fetchone()
    if row is None:  # no such user, or not active
        return False
    return _still_holds(
        credential,
        row[0],
        row[1] if with_session else None,
        bool(row[1]) if with_login else None,
    )


def login_revoked(login: str) -> bool:
    """Whether API login `login` was logged out (revoke_live_sockets): e.g. an access token of it
    that has not expired yet buys no live ticket (accounts.services.issue_live_ticket)."""
    return RevokedLogin.objects.filter(login=login).exists()


# The hello's statement (read_if_credential_holds) is built by the ORM once per process: for a
# stand-in user and session key that no real socket has, then kept with those two values as
# parameters. Building it for every connect cost ~2 ms of CPU, most of a connect's own work.
_STAND_IN_USER_ID = statements.STAND_IN_ID
_STAND_IN_SESSION_KEY = "live-hello-stand-in-session-key"  # not a key the session engines make
_STAND_IN_LOGIN = "live-hello-stand-in-login"  # not a login accounts makes (22 URL-safe characters)


@dataclass(frozen=True)
class _PreparedRead:
    sql: str
    params: tuple
    user_id_at: tuple[int, ...]  # where the user's id goes in params
    session_key_at: tuple[int, ...]  # where the session key goes
    login_at: tuple[int, ...]  # where the API login goes
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


def _prepare(
    expressions_for: Callable[[AbstractBaseUser], dict], with_session: bool, with_login: bool
) -> _PreparedRead:
    """The statement of read_if_credential_holds as the ORM writes it (config.statements.capture:
    sent nowhere), and where the user's id, the session key and the API login go."""
    User = get_user_model()
    expressions = integer_expressions(expressions_for)
    names = tuple(expressions)
    if with_session:
        expressions[_SESSION_EXISTS] = Exists(Session.objects.filter(session_key=_STAND_IN_SESSION_KEY))
    elif with_login:
        expressions[_LOGIN_REVOKED] = Exists(RevokedLogin.objects.filter(login=_STAND_IN_LOGIN))
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
    login_at = tuple(i for i, p in enumerate(params) if p == _STAND_IN_LOGIN)
    if not user_id_at or len(session_key_at) != int(with_session) or len(login_at) != int(with_login):
        raise RuntimeError(f"the hello's statement does not take the user, session and login as parameters: {sql}")
    return _PreparedRead(sql, params, user_id_at, session_key_at, login_at, names)


def read_if_credential_holds(
    credential: LiveCredential, expressions_for: Callable[[AbstractBaseUser], dict], *, key=None
) -> dict | None:
    """credential_holds and, in the SAME statement, the integer ORM expressions
    `expressions_for(user)` names (e.g. count subqueries, evaluated on the user's row:
    OuterRef("pk") is the user): their values by name as ints (None for NULL), or None when the
    credential no longer holds. How a socket's "hello" reads its counts and checks its credential
    in one round trip (live.consumer). An expression that is not an integer is refused with
    TypeError (integer_expressions).

    The statement is built once per process (and database, session engine, kind of credential
    and `key`: pass a value that changes when what `expressions_for` builds does), for a stand-in
    user that has nothing but its pk: the expressions may depend on the user only through
    `user.pk`."""
    with_session, with_login = _with_session(credential), _with_login(credential)
    cache_key = (
        key if key is not None else expressions_for,
        connection.alias,
        connection.vendor,
        with_session,
        with_login,
    )
    prepared = _prepared.get(cache_key)
    if prepared is None:
        prepared = _prepared.setdefault(cache_key, _prepare(expressions_for, with_session, with_login))
    params = list(prepared.params)
    for at in prepared.user_id_at:
        params[at] = credential.user_id
    for at in prepared.session_key_at:
        params[at] = credential.session_key
    for at in prepared.login_at:
        params[at] = credential.login
    with connection.cursor() as cursor:
        cursor.execute(prepared.sql, params)
        row = cursor.fetchone()
    if row is None:  # no such user, or not active
        return None
    password, *values = row
    session_exists = values.pop() if with_session else None
    login_revoked = bool(values.pop()) if with_login else None
    if not _still_holds(credential, password, session_exists, login_revoked):
        return None
    return {name: None if value is None else int(value) for name, value in zip(prepared.names, values, strict=True)}


def revoke_live_sockets(*, user_id: int, session_key: str | None = None, login: str | None = None) -> None:
    """After commit, close the user's live sockets in every process: those of `session_key`, or
    of API login `login`, or (neither given) all of them. Call it from the service that ends the
    way in, inside its transaction.

    An API login's logout is also written down, in that transaction (with the refresh token's
    blacklisting: both or neither): a RevokedLogin row kept as long as a refresh token of that
    login could still be valid, so a ticket socket of it that missed the message still fails
    credential_holds at its next frame. Logging the same login out again only moves the row's
    expiry. After commit, a bounded batch of expired rows goes (forget_expired_logins)."""
    target = None
    if session_key:
        target = session_target(session_key)
    elif login:
        target = login_target(login)
        _record_revoked_login(user_id=user_id, login=login)
        transaction.on_commit(forget_expired_logins, robust=True)
    push.send_on_commit([user_id], revoke_message(target=target))


def revoke_message(*, target: str | None) -> dict:
    """The LIVE_REVOKE channel-layer message for `target` (see session_target, login_target)."""
    return {"type": LIVE_REVOKE, "target": target}


def _record_revoked_login(*, user_id: int, login: str) -> None:
    """One upsert: a second logout of the same login (two refresh tokens of it) does not fail,
    it keeps the row until the later expiry."""
    expires_at = timezone.now() + settings.SIMPLE_JWT["REFRESH_TOKEN_LIFETIME"]
    # MySQL/MariaDB upsert on any unique key and take no target; SQLite and PostgreSQL need it.
    target = ["login"] if connection.features.supports_update_conflicts_with_target else None
    RevokedLogin.objects.bulk_create(
        [RevokedLogin(login=login, user_id=user_id, expires_at=expires_at)],
        update_conflicts=True,
        update_fields=["expires_at"],
        unique_fields=target,
    )


# How many expired rows one logout removes: more than one, so the table never grows past the
# logouts of one refresh-token lifetime (plus a batch), and few enough to stay a short statement.
FORGET_BATCH = 100


def forget_expired_logins(*, batch: int = FORGET_BATCH) -> int:
    """Delete up to `batch` RevokedLogin rows whose expiry has passed (every token of those
    logins has expired too); how many went. Run after every API logout's commit; by primary key,
    so it locks only the rows it deletes."""
    expired = list(
        RevokedLogin.objects.filter(expires_at__lte=timezone.now()).order_by("pk").values_list("pk", flat=True)[:batch]
    )
    if not expired:
        return 0
    deleted, _ = RevokedLogin.objects.filter(pk__in=expired).delete()
    return deleted
