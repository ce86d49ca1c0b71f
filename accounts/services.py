"""Every write about accounts: registration, profile, avatar, password, logout, deactivation,
API tokens, live tickets, and the account's e-mail address (confirmation and change). Whatever
ends a way in also closes its live sockets (live.access.revoke_live_sockets)."""

import logging
import re
import secrets
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import authenticate, logout, password_validation
from django.contrib.auth.tokens import default_token_generator
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage
from django.core.mail import EmailMultiAlternatives
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.settings import api_settings as jwt_settings
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken
from rest_framework_simplejwt.tokens import RefreshToken

from accounts import images, ratelimits, selectors, tokens
from accounts.models import STUDY_NAME_MAX_LENGTH, Course, University, User, clean_study_name, study_name_key
from config import redis_client
from config.refusals import Refusal
from config.timezones import zone_name_or_default
from config.unavailable import Unavailable
from live import access as live_access
from live import handshake as live_handshake
from notifications import selectors as notification_selectors
from notifications import services as notification_services
from notifications.models import NotificationKind


class AccountRefusal(Refusal):
    """An accounts rule refused the action (config.refusals.Refusal). A refused input of a
    form with several fields (sign-up, profile, new password) stays a ValidationError keyed by
    field, which forms and the API's exception handler read as field errors."""

    status_by_code = {
        "already_verified": 409,
        "throttled": 429,
        "locked_out": 429,
    }


logger = logging.getLogger(__name__)

EMAIL_TAKEN = "An account with this e-mail address already exists."
# The login address is not a profile field: it changes only through request_email_change.
PROFILE_FIELDS = frozenset({"first_name", "last_name", "university", "course", "bio", "interests", "time_zone"})
LIVE_TICKET_PATTERN = re.compile(r"^[A-Za-z0-9_-]{20,128}$")


def normalize_email(email: str) -> str:
    return User.objects.normalize_email((email or "").strip())


def _full_clean(user: User) -> None:
    """Field validation (lengths, e-mail syntax, choices). E-mail uniqueness is checked by the
    callers with a friendly message and enforced by the database constraint."""
    errors: dict[str, list[ValidationError]] = {}
    try:
        user.full_clean(exclude=["password"], validate_unique=False, validate_constraints=False)
    except ValidationError as exc:
        errors.update(exc.error_dict)
    # Model validation skips max_length of TextFields (only forms check it); the API must not.
    for field in user._meta.concrete_fields:
        if getattr(field, "generated", False):
            continue
        value = getattr(user, field.attname)
        if field.max_length and isinstance(value, str) and len(value) > field.max_length and field.name not in errors:
            errors[field.name] = [
                ValidationError(
                    f"Ensure this value has at most {field.max_length} characters (it has {len(value)}).",
                    code="max_length",
                )
            ]
    if errors:
        raise ValidationError(errors)


def _save_guarding_email(user: User, **save_kwargs) -> None:
    # Two requests racing for one address: the case-insensitive unique constraint decides.
    try:
        with transaction.atomic():
            user.save(**save_kwargs)
    except IntegrityError as exc:
        if selectors.email_in_use(email=user.email, exclude_user=user if user.pk else None):
            raise ValidationError({"email": ValidationError(EMAIL_TAKEN, code="email_taken")}) from exc
        raise


# --- The university and course lists ----------------------------------------------------------


def check_study_names(*, university: str, course: str) -> tuple[str, str]:
    """Validate a university and course as typed (no writes): whitespace collapsed, each at most
    STUDY_NAME_MAX_LENGTH and with at least one letter or digit, and no course without its
    university. Raises ValidationError keyed by field; returns the cleaned pair."""
    university, course = clean_study_name(university), clean_study_name(course)
    errors: dict[str, ValidationError] = {}
    for field, label, value in (("university", "University", university), ("course", "Course", course)):
        if len(value) > STUDY_NAME_MAX_LENGTH:
            errors[field] = ValidationError(
                f"{label}: keep it to {STUDY_NAME_MAX_LENGTH} characters or fewer.", code="max_length"
            )
        elif value and not study_name_key(value):
            errors[field] = ValidationError(f"{label}: enter a name with letters or digits.", code="no_letters")
    if course and not university and "course" not in errors:
        errors["course"] = ValidationError(
            "Name your university too: a course belongs to a university.", code="course_without_university"
        )
    if errors:
        raise ValidationError(errors)
    return university, course


def _entry(model, *, name: str, **scope):
    """The list entry with name's key (in scope), created with this spelling if there is none.
    Two sign-ups racing to add one name: the unique key decides, and the loser reads the winner's."""
    key = study_name_key(name)
    found = model.objects.filter(key=key, **scope).first()
    if found is not None:
        return found
    try:
        with transaction.atomic():
            return model.objects.create(name=name, key=key, **scope)
    except IntegrityError:
        return model.objects.get(key=key, **scope)


@transaction.atomic
def list_study_names(*, university: str, course: str) -> tuple[str, str]:
    """The entries for a university and course (validated by check_study_names), added to the
    lists when new. Returns the entries' display names, which are what users store: the first
    spelling anyone gave, so one university is one entry however it is typed."""
    university, course = check_study_names(university=university, course=course)
    if not university:
        return "", ""
    university_entry = _entry(University, name=university)
    if not course:
        return university_entry.name, ""
    return university_entry.name, _entry(Course, name=course, university=university_entry).name


SIGN_UP_SENT_MESSAGE = (
    "We sent a message to the address you entered. Follow the link in it to confirm "
    "your address. If that address already has an account, the message tells you how to get back in."
)


@transaction.atomic
def register_user(
    *,
    email: str,
    password: str,
    first_name: str,
    last_name: str,
    university: str = "",
    course: str = "",
    time_zone: str = "",
) -> User | None:
    """Sign up, without revealing whether the address is taken: the caller answers "check your
    inbox" whatever this returns.

    A new address: the account is created unconfirmed, welcomed, and sent a confirmation link
    (it can log in, but not contact anyone until it follows the link: selectors.can_act).
    A taken address: nothing is created; the owner is told someone tried (at most once a day),
    and the same password hashing is done, so the answer takes as long. Returns the new user,
    or None for a taken address. Raises ValidationError keyed by field for bad input (which
    does not depend on whether the address is taken).

    `time_zone` is the zone the user's browser reported (an IANA name); an unknown or missing
    one becomes the site's default, which the user can change in their profile."""
    errors: dict[str, list[ValidationError]] = {}
    try:
        university, course = check_study_names(university=university, course=course)
    except ValidationError as exc:
        errors.update(exc.error_dict)
        university = course = ""
    user = User(
        email=normalize_email(email),
        first_name=(first_name or "").strip(),
        last_name=(last_name or "").strip(),
        university=university,
        course=course,
        email_verified_at=None,
        time_zone=zone_name_or_default(time_zone),
    )
    try:
        _full_clean(user)
    except ValidationError as exc:
        for field, field_errors in exc.error_dict.items():
            errors.setdefault(field, field_errors)
    try:
        password_validation.validate_password(password, user)
    except ValidationError as exc:
        errors["password"] = exc.error_list
    if errors:
        raise ValidationError(errors)

    user.set_password(password)
    if selectors.email_in_use(email=user.email):
        _tell_owner_of_address(email=user.email, attempt="sign_up")
        return None
    # Only an account actually created adds to the lists.
    user.university, user.course = list_study_names(university=user.university, course=user.course)
    try:
        _save_guarding_email(user)
    except ValidationError:  # the same address signed up a moment ago, in a racing request
        return None
    notification_services.notify(
        recipient=user,
        kind=NotificationKind.WELCOME,
        title=f"Welcome to {settings.SITE_NAME}, {user.first_name}!",
        body="Complete your profile so other students can find you: add your university, course and interests.",
        url=reverse("accounts:profile_edit"),
        email=False,  # the sign-up's one e-mail is the confirmation link
    )
    _send_confirmation(user=user, purpose=tokens.VERIFY, email=user.email)
    logger.info("user %s registered", user.pk)
    return user


@transaction.atomic
def update_profile(*, user: User, **fields) -> User:
    """Update profile fields (see PROFILE_FIELDS). Raises ValidationError keyed by field."""
    unknown = set(fields) - PROFILE_FIELDS
    if unknown:
        raise TypeError(f"update_profile() got unknown fields: {', '.join(sorted(unknown))}")
    previous = {name: getattr(user, name) for name in fields}
    if "university" in fields or "course" in fields:
        # The pair is one choice: a course is looked up in the university it is given with.
        fields["university"], fields["course"] = list_study_names(
            university=fields.get("university", user.university), course=fields.get("course", user.course)
        )
    for name, value in fields.items():
        setattr(user, name, value.strip() if isinstance(value, str) and name != "bio" else value)
    try:
        _full_clean(user)
        if fields:
            user.save(update_fields=sorted(fields))
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
        raise ValidationError({"new_password": exc.error_list}) from exc
    user.set_password(new_password)
    user.pending_email = ""  # a change of address asked before the new password dies with it
    user.save(update_fields=["password", "pending_email"])
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


LIVE_TICKET_UNAVAILABLE_MESSAGE = "The live connection is unavailable for a moment. Please try again in a minute."


def _ticket_key(ticket: str) -> str:
    return f"accounts:live-ticket:{ticket}"


@transaction.atomic
def issue_live_ticket(*, user: User, login: str | None = None) -> str:
    """A random single-use ticket that lets an API client open the live socket once. `login`
    is the API login (live_access.LOGIN_CLAIM of the caller's access token) it belongs to: logging
    that login out closes the socket (a logged-out login's access token is refused before this,
    by accounts.authentication).

    The ticket lives only in the cache: while the cache cannot be reached (Redis down) there is
    no ticket to give, so Unavailable (the API's 503 with Retry-After; the client asks again)."""
    ticket = secrets.token_urlsafe(32)
    grant = {"user": user.pk, "auth_hash": user.get_session_auth_hash(), "login": login}
    try:
        cache.set(_ticket_key(ticket), grant, timeout=settings.LIVE_TICKET_SECONDS)
    except redis_client.UNAVAILABLE as exc:
        logger.warning("live ticket not issued, cache unavailable: %r", exc)
        raise Unavailable(LIVE_TICKET_UNAVAILABLE_MESSAGE) from exc
    return ticket


@transaction.atomic
def redeem_live_ticket(*, ticket: str) -> tuple[User, live_access.LiveCredential] | None:
    """The ticket's user and the credential its socket holds, if the ticket is valid and unused
    and the way in it was bought with still holds (same password, user active, login not logged
    out); else None.

    get + delete: of two connections racing with one ticket, only the one whose delete
    removed the key wins. While the cache cannot be reached no ticket can be checked (nor used
    up): live.handshake.CannotCheckNow, so the socket is refused as busy (the client retries;
    a ticket the cache lost with a restart is then unknown, and the client buys a new one).
    """
    if not isinstance(ticket, str) or not LIVE_TICKET_PATTERN.match(ticket):
        return None
    key = _ticket_key(ticket)
    try:
        grant = cache.get(key)
        if not isinstance(grant, dict) or not cache.delete(key):
            return None
    except redis_client.UNAVAILABLE as exc:
        raise live_handshake.CannotCheckNow(f"live ticket not checked, cache unavailable: {exc!r}") from exc
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
        raise ValidationError({"refresh": ValidationError(f"{exc}.", code="token_not_valid")}) from exc
    token.blacklist()
    login = token.get(live_access.LOGIN_CLAIM)
    user_id = token.get(jwt_settings.USER_ID_CLAIM)
    if isinstance(login, str) and login and user_id is not None:
        live_access.revoke_live_sockets(user_id=user_id, login=login)


# --- E-mail addresses: confirmation, change, and the checks they need -------------------------
#
# One mechanism (accounts.tokens) proves a mailbox for both purposes; every e-mail goes through
# notifications.services.notify, the link itself only in the e-mail (`email_link`).

VERIFICATION_RESEND_INTERVAL = timedelta(minutes=1)
VERIFICATION_RESENDS_PER_HOUR = 5
ADDRESS_NOTICE_INTERVAL = timedelta(days=1)
WRONG_PASSWORD = "Your current password was entered incorrectly."


def _site_link(path: str) -> str:
    return settings.SITE_URL.rstrip("/") + path


def _confirmation_link(*, user: User, purpose: str, email: str) -> str:
    token = tokens.make_email_token(user=user, purpose=purpose, email=email)
    return _site_link(reverse("accounts:email_confirm", kwargs={"token": token}))


def _send_confirmation(*, user: User, purpose: str, email: str) -> None:
    hours = settings.EMAIL_CONFIRMATION_TIMEOUT // 3600
    if purpose == tokens.VERIFY:
        kind, title = NotificationKind.EMAIL_VERIFY, "Confirm your e-mail address"
        body = (
            f"Follow the link to confirm that {email} is yours. Until then you can look around Lyceum, but not "
            f"message anyone, send friend requests or ask for help. The link works once, for {hours} hours."
        )
    else:
        kind, title = NotificationKind.EMAIL_CHANGE_CONFIRM, "Confirm your new e-mail address"
        body = (
            f"Follow the link to make {email} your Lyceum login. Until you do, you keep logging in with "
            f"{user.email}. The link works once, for {hours} hours."
        )
    notification_services.notify(
        recipient=user,
        kind=kind,
        title=title,
        body=body,
        url=reverse("accounts:email"),
        email_to=email,
        email_link=_confirmation_link(user=user, purpose=purpose, email=email),
    )


def _tell_owner_of_address(*, email: str, attempt: str) -> None:
    """Someone tried to sign up with (or move their login to) an address that has an account:
    tell its owner how to get back in, at most once a day, and nobody else anything."""
    owner = User.objects.filter(email__iexact=email).first()
    if owner is None or not owner.is_active:
        return
    since = timezone.now() - ADDRESS_NOTICE_INTERVAL
    if notification_selectors.sent_since(user=owner, kind=NotificationKind.ADDRESS_IN_USE, since=since):
        return
    doing = "create a new account with" if attempt == "sign_up" else "move another account to"
    notification_services.notify(
        recipient=owner,
        kind=NotificationKind.ADDRESS_IN_USE,
        title="Someone tried to use your e-mail address on Lyceum",
        body=(
            f"Someone tried to {doing} {owner.email}, which already has your account. If it was you, just log in; "
            "if you forgot your password, reset it. If it was not you, nothing changed and you can ignore this."
        ),
        url=reverse("accounts:password_reset"),
        email_link=_site_link(reverse("accounts:password_reset")),
    )


@transaction.atomic
def send_verification_email(*, user: User) -> None:
    """Send the confirmation link (again) to an unconfirmed account's address.

    Refused with an AccountRefusal: code "already_verified", or "throttled" within a minute of
    the last link or past five in an hour (the links go to an address nobody proved yet)."""
    user = User.objects.select_for_update().get(pk=user.pk)
    if user.email_verified_at is not None:
        raise AccountRefusal("Your e-mail address is already confirmed.", code="already_verified")
    now = timezone.now()
    kind = NotificationKind.EMAIL_VERIFY
    if notification_selectors.sent_since(user=user, kind=kind, since=now - VERIFICATION_RESEND_INTERVAL) or (
        notification_selectors.sent_since(user=user, kind=kind, since=now - timedelta(hours=1))
        >= VERIFICATION_RESENDS_PER_HOUR
    ):
        raise AccountRefusal(
            "We sent you a link a moment ago. Check your inbox (and spam folder), or try again later.",
            code="throttled",
        )
    _send_confirmation(user=user, purpose=tokens.VERIFY, email=user.email)


def check_current_password(*, request, user: User, password: str) -> None:
    """The current password asked before a change of password or login address, counted by
    django-axes exactly like a log-in (same counter: address and client address). Past the
    failure limit the password is no longer checked at all until the cool-off ends. Call it
    outside any transaction that a refusal rolls back: the failure is a row axes writes.

    Raises AccountRefusal on `current_password`: code "wrong_password", or "locked_out" (429,
    with the seconds until the cool-off ends as `retry_after`)."""
    checked = authenticate(request=request, username=user.email.strip().lower(), password=password or "")
    if checked is not None and checked.pk == user.pk:
        return
    if getattr(request, "axes_locked_out", False):
        message, retry_after = ratelimits.lockout_message(request)
        raise AccountRefusal(message, code="locked_out", field="current_password", retry_after=retry_after)
    raise AccountRefusal(WRONG_PASSWORD, code="wrong_password", field="current_password")


def request_email_change(*, request, user: User, new_email: str, current_password: str) -> None:
    """Ask to log in with another address. Nothing changes until the link sent to the NEW
    address is followed (confirm_email); the OLD address is told at once, with the way to react
    (reset the password: that kills the link). The current password is required and counted
    like a log-in — checked before the transaction, so that a refused guess still counts.

    Whether the new address belongs to someone else is not revealed: its owner is told someone
    tried, and no link is sent. Raises ValidationError keyed by field."""
    check_current_password(request=request, user=user, password=current_password)
    _start_email_change(user=user, new_email=new_email)


@transaction.atomic
def _start_email_change(*, user: User, new_email: str) -> None:
    address = normalize_email(new_email or "")
    try:
        validate_email(address)
    except ValidationError:
        raise ValidationError({"email": ValidationError("Enter a valid e-mail address.", code="invalid")}) from None
    if len(address) > User._meta.get_field("email").max_length:
        raise ValidationError({"email": ValidationError("That address is too long.", code="max_length")})
    user = User.objects.select_for_update().get(pk=user.pk)
    if address.casefold() == user.email.casefold():
        raise ValidationError({"email": ValidationError("That is already your login address.", code="email_unchanged")})
    user.pending_email = address
    user.save(update_fields=["pending_email"])
    notification_services.notify(
        recipient=user,
        kind=NotificationKind.EMAIL_CHANGE_REQUESTED,
        title="Your Lyceum login e-mail is about to change",
        body=(
            f"Someone signed in to your account asked to log in with {address} from now on. It changes only "
            f"when the link we sent to {address} is followed. If this was not you, reset your password now: "
            "that cancels the change and signs everyone else out."
        ),
        url=reverse("accounts:password_reset"),
        email_link=_site_link(reverse("accounts:password_reset")),
    )
    if selectors.email_in_use(email=address, exclude_user=user):
        _tell_owner_of_address(email=address, attempt="change")
    else:
        _send_confirmation(user=user, purpose=tokens.CHANGE, email=address)
    logger.info("user %s asked to change their login address", user.pk)


@transaction.atomic
def cancel_email_change(*, user: User) -> User:
    """Forget the pending address: its link stops working."""
    if user.pending_email:
        user.pending_email = ""
        user.save(update_fields=["pending_email"])
    return user


INVALID_LINK = "This link is not valid any more: it was used already, a newer one was sent, or it expired."


def email_claim(*, token: str) -> tokens.EmailClaim:
    """What a confirmation link would do, without doing it (the page that asks "confirm?").
    Raises AccountRefusal code "invalid_link"."""
    claim = tokens.read_email_token(token)
    if claim is None:
        raise AccountRefusal(INVALID_LINK, code="invalid_link", field="token")
    return claim


@transaction.atomic
def confirm_email(*, token: str) -> tokens.EmailClaim:
    """Follow a confirmation link: the sign-up address is confirmed, or the new address becomes
    the login (and is confirmed by this very link). Works once. Raises AccountRefusal code
    "invalid_link" (used, superseded, expired, forged), or "email_taken" when the new address
    was taken by another account in the meantime."""
    claim = tokens.read_email_token(token, lock=True)
    if claim is None:
        raise AccountRefusal(INVALID_LINK, code="invalid_link", field="token")
    user, now = claim.user, timezone.now()
    # The "confirm your address" notifications have done their job.
    notification_services.mark_read_for_subject(user=user, subject=reverse("accounts:email"))
    if claim.purpose == tokens.VERIFY:
        user.email_verified_at = now
        user.save(update_fields=["email_verified_at"])
        logger.info("user %s confirmed their address", user.pk)
        return claim
    user.email, user.pending_email, user.email_verified_at = claim.email, "", now
    try:
        _save_guarding_email(user, update_fields=["email", "pending_email", "email_verified_at"])
    except ValidationError:
        raise AccountRefusal(
            "That address now belongs to another account, so it cannot become your login.",
            code="email_taken",
            field="token",
        ) from None
    logger.info("user %s changed their login address", user.pk)
    return claim


@transaction.atomic
def mark_email_verified(*, user: User) -> User:
    """Confirm the address without a link: for accounts whose address is known good (demo data)."""
    if user.email_verified_at is None:
        user.email_verified_at = timezone.now()
        user.save(update_fields=["email_verified_at"])
    return user


@transaction.atomic
def confirm_mailbox_by_password_reset(*, user: User) -> User:
    """A password reset link was followed: it was sent to the login address, so that address is
    proven (an account squatted unconfirmed by someone else is the reset owner's now), and a
    pending change of address started by whoever had the account before is dropped."""
    user.email_verified_at = user.email_verified_at or timezone.now()
    user.pending_email = ""
    user.save(update_fields=["email_verified_at", "pending_email"])
    return user
