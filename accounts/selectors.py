"""Reads about accounts that more than one view or app needs."""

from django.db.models import QuerySet

from accounts.models import DataExport, User


def active_users() -> QuerySet[User]:
    return User.objects.filter(is_active=True)


def email_in_use(*, email: str, exclude_user: User | None = None) -> bool:
    """Whether any account already has this address, in any letter case."""
    users = User.objects.filter(email__iexact=email.strip())
    if exclude_user is not None and exclude_user.pk is not None:
        users = users.exclude(pk=exclude_user.pk)
    return users.exists()


# --- What an account may do before its address is confirmed ----------------------------------

UNVERIFIED_MESSAGE = (
    "Confirm your e-mail address first: follow the link we sent you. "
    "You can have it sent again from your account's e-mail page."
)


def can_act(user: User) -> bool:
    """May this account reach other people (message them, ask them to be friends, submit a help
    request)? Only once its address is confirmed: an unconfirmed account can look around and
    edit its profile, but cannot use an address it may not own to contact anyone.

    The one rule for chat, social and helpdesk. A confirmation is never undone, so a user
    object loaded as confirmed is trusted as it is; one loaded unconfirmed (a socket opened
    before the link was followed) is read again."""
    if not user.is_authenticated:
        return False
    if user.email_verified_at is not None:
        return True
    return User.objects.filter(pk=user.pk, email_verified_at__isnull=False).exists()


# --- Data exports ------------------------------------------------------------------------------


def data_exports_for(*, user: User, limit: int = 5) -> list[DataExport]:
    """The user's latest exports, newest first (the privacy page and the API list)."""
    return list(DataExport.objects.filter(user=user).order_by("-requested_at", "-pk")[:limit])


def downloadable_export(*, user: User, export_id) -> DataExport:
    """The user's own export that is ready and not expired. Anyone else's, an expired, failed or
    unknown one raises DataExport.DoesNotExist alike (a 404 tells nothing)."""
    export = DataExport.objects.filter(user=user, public_id=export_id, status=DataExport.Status.READY).first()
    if export is None or not export.is_downloadable or not export.file:
        raise DataExport.DoesNotExist
    return export
