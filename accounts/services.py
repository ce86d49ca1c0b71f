"""Every write about accounts: registration, profile, avatar, password, logout, deactivation,
API tokens, live tickets. Whatever ends a way in also closes its live sockets
(accounts.live_access.revoke_live_sockets)."""

import logging
import re
import secrets

from django.conf import settings
from django.contrib.auth import logout, password_validation
from django.contrib.auth.tokens import default_token_generator
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage
from django.core.mail import EmailMultiAlternatives
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.settings import api_settings as jwt_settings
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken
from rest_framework_simplejwt.tokens import RefreshToken

from accounts import images, live_access, selectors
from accounts.models import User
from notifications import services as notification_services
from notifications.models import NotificationKind

logger = logging.getLogger(__name__)

EMAIL_TAKEN = "An account with this e-mail address already exists."
PROFILE_FIELDS = frozenset(
    {"first_name", "last_name", "email", "university", "course", "bio", "interests", "time_zone"}
)
LIVE_TICKET_PATTERN = re.compile(r"^[A-Za-z0-9_-]{20,128}$")


def normalize_email(email: str) -> str:
    return User.objects.normalize_email((email or "").strip())


def _full_clean(user: User) -> None:
    """Field validation (lengths, e-mail syntax, choices). E-mail uniqueness is checked by the
    callers with a friendly message and enforced by the database constraint."""
    errors: dict[str, list[str]] = {}
    try:
        user.full_clean(exclude=["password"], validate_unique=False, validate_constraints=False)
    except ValidationError as exc:
        errors.update(exc.message_dict)
    # Model validation skips max_length of TextFields (only forms check it); the API must not.
    for field in user._meta.concrete_fields:
        if getattr(field, "generated", False):
            continue
        value = getattr(user, field.attname)
        if field.max_length and isinstance(value, str) and len(value) > field.max_length and field.name not in errors:
            errors[field.name] = [f"Ensure this value has at most {field.max_length} characters (it has {len(value)})."]
    if errors:
        raise ValidationError(errors)


def _save_guarding_email(user: User, **save_kwargs) -> None:
    # Two requests racing for one address: the case-insensitive unique constraint decides.
    try:
        with transaction.atomic():
            user.save(**save_kwargs)
    except IntegrityError as exc:
        if selectors.email_in_use(email=user.email, exclude_user=user if user.pk else None):
            raise ValidationError({"email": [EMAIL_TAKEN]}, code="unique") from exc
        raise


@transaction.atomic
def register_user(
    *,
    email: str,
    password: str,
    first_name: str,
    last_name: str,
    university: str = "",
    course: str = "",
) -> User:
    """Create an account and welcome it. Raises ValidationError keyed by field."""
    user = User(
        email=normalize_email(email),
        first_name=(first_name or "").strip(),
        last_name=(last_name or "").strip(),
        university=(university or "").strip(),
        course=(course or "").strip(),
    )
    errors: dict[str, list[str]] = {}
    try:
        _full_clean(user)
    except ValidationError as exc:
        errors.update(exc.message_dict)
    if "email" not in errors and selectors.email_in_use(email=user.email):
        errors["email"] = [EMAIL_TAKEN]
    try:
        password_validation.validate_password(password, user)
    except ValidationError as exc:
        errors["password"] = list(exc.messages)
    if errors:
        raise ValidationError(errors)

    user.set_password(password)
    _save_guarding_email(user)
    notification_services.notify(
        recipient=user,
        kind=NotificationKind.WELCOME,
        title=f"Welcome to {settings.SITE_NAME}, {user.first_name}!",
        body="Complete your profile so other students can find you: add your university, course and interests.",
        url=reverse("accounts:profile_edit"),
    )
    logger.info("user %s registered", user.pk)
    return user


@transaction.atomic
def update_profile(*, user: User, **fields) -> User:
    """Update profile fields (see PROFILE_FIELDS). Raises ValidationError keyed by field."""
    unknown = set(fields) - PROFILE_FIELDS
    if unknown:
        raise TypeError(f"update_profile() got unknown fields: {', '.join(sorted(unknown))}")
    if "email" in fields:
        fields["email"] = normalize_email(fields["email"] or "")
    previous = {name: getattr(user, name) for name in fields}
    for name, value in fields.items():
        setattr(user, name, value.strip() if isinstance(value, str) and name != "bio" else value)
    try:
        _full_clean(user)
        if "email" in fields and selectors.email_in_use(email=user.email, exclude_user=user):
            raise ValidationError({"email": [EMAIL_TAKEN]}, code="unique")
        if fields:
            _save_guarding_email(user, update_fields=sorted(fields))
    except ValidationError:
        # The caller's instance (often request.user) keeps its stored values on bad input.
        for name, value in previous.items():
            setattr(user, name, value)
        raise
    return user


def _delete_file_after_commit(name: str) -> None:
    if not name:
        return

    def delete() -> None:
        try:
            default_storage.delete(name)
        except Exception:  # a stale file must never break the request that replaced it
            logger.exception("could not delete old avatar %s", name)

    transaction.on_commit(delete)


@transaction.atomic
def set_avatar(*, user: User, upload) -> User:
    """Validate and process an uploaded picture, store it, delete the old one after commit."""
    processed = images.process_avatar(upload)
    old_name = user.avatar.name if user.avatar else ""
    user.avatar.save(processed.name, processed, save=False)
    user.save(update_fields=["avatar"])
    _delete_file_after_commit(old_name)
    return user


@transaction.atomic
def remove_avatar(*, user: User) -> User:
    old_name = user.avatar.name if user.avatar else ""
    if not old_name:
        return user
    user.avatar = ""
    user.save(update_fields=["avatar"])
    _delete_file_after_commit(old_name)
    return user


@transaction.atomic
def revoke_api_tokens(*, user: User) -> int:
    """Blacklist every refresh token the user still holds. Returns how many were revoked."""
    outstanding = list(OutstandingToken.objects.filter(user=user, blacklistedtoken__isnull=True))
    BlacklistedToken.objects.bulk_create(
        [BlacklistedToken(token=token) for token in outstanding], ignore_conflicts=True
    )
    return len(outstanding)


@transaction.atomic
def sign_out_everywhere(*, user: User) -> None:
    """Revoke every API token of the user and close every live socket of theirs (after commit).
    Their sessions end by themselves with what the caller changed: the password (the session
    auth hash) or is_active."""
    revoke_api_tokens(user=user)
    live_access.revoke_live_sockets(user_id=user.pk)


@transaction.atomic
def change_password(*, user: User, new_password: str) -> User:
    """Set a new password and end every other way in.

    Sessions elsewhere stop working because the session auth hash changes (the caller keeps
    its own session with update_session_auth_hash); refresh tokens are blacklisted; access
    tokens carry a hash of the password (SIMPLE_JWT CHECK_REVOKE_TOKEN) and stop working too;
    every live socket of the user is closed (a tab of the caller's session reconnects).
    """
    try:
        password_validation.validate_password(new_password, user)
    except ValidationError as exc:
        raise ValidationError({"new_password": list(exc.messages)}) from exc
    user.set_password(new_password)
    user.save(update_fields=["password"])
    sign_out_everywhere(user=user)
    notification_services.notify(
        recipient=user,
        kind=NotificationKind.PASSWORD_CHANGED,
        title="Your password was changed",
        body="If this was not you, reset your password now and contact us.",
        url=reverse("accounts:password_reset"),
    )
    logger.info("password changed for user %s", user.pk)
    return user


@transaction.atomic
def log_out(*, request) -> None:
    """End the request's session (Django's logout) and close the live sockets opened with it."""
    user_id, session_key = request.user.pk, request.session.session_key
    logout(request)
    if user_id is not None and session_key:
        live_access.revoke_live_sockets(user_id=user_id, session_key=session_key)


@transaction.atomic
def deactivate_account(*, user: User) -> bool:
    """Deactivate an account and end every way in: it cannot log in, its sessions stop
    authenticating, its API tokens are revoked and its live sockets closed. Also for an account
    already saved inactive (the admin's form): the rest still happens. Returns whether it was
    active until now."""
    was_active = bool(User.objects.filter(pk=user.pk, is_active=True).update(is_active=False))
    user.is_active = False
    sign_out_everywhere(user=user)
    logger.info("account %s deactivated", user.pk)
    return was_active


def send_password_reset_email(*, user_id: int) -> bool:
    """Mail a fresh reset link to one user. Runs in the worker (send_password_reset_email_task),
    so the token exists only in the e-mail and how long the SMTP server takes is invisible to
    whoever asked. SMTP errors propagate for the task's retries. Returns whether mail was sent."""
    user = selectors.active_users().filter(pk=user_id).first()
    if user is None or not user.has_usable_password():
        return False
    uid = urlsafe_base64_encode(force_bytes(user.pk))
    token = default_token_generator.make_token(user)
    link = settings.SITE_URL + reverse("accounts:password_reset_confirm", kwargs={"uidb64": uid, "token": token})
    context = {
        "user": user,
        "reset_url": link,
        "site_name": settings.SITE_NAME,
        "site_url": settings.SITE_URL,
        "expires_minutes": settings.PASSWORD_RESET_TIMEOUT // 60,
    }
    subject = "".join(render_to_string("emails/accounts/password_reset_subject.txt", context).splitlines())
    message = EmailMultiAlternatives(
        subject=subject,
        body=render_to_string("emails/accounts/password_reset.txt", context),
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[user.email],
    )
    message.attach_alternative(render_to_string("emails/accounts/password_reset.html", context), "text/html")
    message.send()
    logger.info("password reset e-mail sent to user %s", user.pk)
    return True


def _enqueue_password_reset_email(user_id: int) -> None:
    from accounts.tasks import send_password_reset_email_task  # tasks import this module

    try:
        send_password_reset_email_task.delay(user_id)
    except Exception:  # the answer to the requester never depends on the mail path
        logger.exception("could not send or queue the password reset e-mail for user %s", user_id)


@transaction.atomic
def request_password_reset(*, email: str) -> int:
    """Queue a single-use, expiring reset link for the active account with this address, if any.

    The caller answers the same whether or not an account matched. Returns how many e-mails
    were queued (0 or 1), for tests and logs only.
    """
    address = normalize_email(email)
    users = [
        user
        for user in selectors.active_users().filter(email__iexact=address)
        if user.has_usable_password() and user.email.casefold() == address.casefold()
    ]
    for user in users:
        transaction.on_commit(lambda user_id=user.pk: _enqueue_password_reset_email(user_id))
    return len(users)


# --- Live socket tickets ------------------------------------------------------------------


def _ticket_key(ticket: str) -> str:
    return f"accounts:live-ticket:{ticket}"


@transaction.atomic
def issue_live_ticket(*, user: User, login: str | None = None) -> str:
    """A random single-use ticket that lets an API client open the live socket once. `login`
    is the API login (live_access.LOGIN_CLAIM of the caller's access token) it belongs to: logging
    that login out closes the socket."""
    ticket = secrets.token_urlsafe(32)
    grant = {"user": user.pk, "auth_hash": user.get_session_auth_hash(), "login": login}
    cache.set(_ticket_key(ticket), grant, timeout=settings.LIVE_TICKET_SECONDS)
    return ticket


@transaction.atomic
def redeem_live_ticket(*, ticket: str) -> tuple[User, live_access.LiveCredential] | None:
    """The ticket's user and the credential its socket holds, if the ticket is valid and unused
    and the way in it was bought with still holds (same password, user active, login not logged
    out); else None.

    get + delete: of two connections racing with one ticket, only the one whose delete
    removed the key wins.
    """
    if not isinstance(ticket, str) or not LIVE_TICKET_PATTERN.match(ticket):
        return None
    key = _ticket_key(ticket)
    grant = cache.get(key)
    if not isinstance(grant, dict) or not cache.delete(key):
        return None
    user = selectors.active_users().filter(pk=grant["user"]).first()
    if user is None:
        return None
    credential = live_access.ticket_credential(user=user, auth_hash=grant["auth_hash"], login=grant["login"])
    if not live_access.credential_holds(credential):
        return None
    return user, credential


# --- API tokens -------------------------------------------------------------------------------


@transaction.atomic
def issue_api_tokens(*, user: User) -> dict[str, str]:
    """A fresh refresh/access pair (the refresh token is recorded as outstanding): a new API
    login, named by the pair's live_access.LOGIN_CLAIM (kept by refresh rotation)."""
    refresh = RefreshToken.for_user(user)
    refresh[live_access.LOGIN_CLAIM] = secrets.token_urlsafe(16)
    return {"refresh": str(refresh), "access": str(refresh.access_token)}


@transaction.atomic
def blacklist_refresh_token(*, refresh: str) -> None:
    """Log an API client out: its refresh token can never be used again, and the live sockets
    of that API login are closed.

    A forged, expired or already blacklisted token raises ValidationError."""
    try:
        token = RefreshToken(refresh)
    except TokenError as exc:
        raise ValidationError({"refresh": [f"{exc}."]}, code="token_not_valid") from exc
    token.blacklist()
    login = token.get(live_access.LOGIN_CLAIM)
    user_id = token.get(jwt_settings.USER_ID_CLAIM)
    if isinstance(login, str) and login and user_id is not None:
        live_access.revoke_live_sockets(user_id=user_id, login=login)
