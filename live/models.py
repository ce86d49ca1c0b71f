"""The live socket's one table: the API logins that were logged out (live.access).

A browser session's logout deletes its django_session row, which the live check reads; an API
login (the `sid` claim of a token pair, live.access.LOGIN_CLAIM) has no row of its own, so its
logout adds one here, in the logout's transaction (live.access.revoke_live_sockets). The database
is the truth: the check of a ticket socket reads this table in the statement that reads its
user, and nothing about it lives in the cache."""

from django.conf import settings
from django.db import models

# A login is secrets.token_urlsafe(16) (22 characters, accounts.services.issue_api_tokens).
LOGIN_MAX_LENGTH = 64


class RevokedLogin(models.Model):
    """An API login that was logged out. Kept until `expires_at`, when the last refresh token of
    that login has expired too (no token of it can still buy a ticket or be refreshed, and every
    socket it opened has been re-checked since); then removed (live.access.forget_expired_logins)."""

    login = models.CharField(max_length=LOGIN_MAX_LENGTH, unique=True)
    # related_name="+": live is the lowest layer, users learn nothing of it.
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    expires_at = models.DateTimeField(db_index=True)

    def __str__(self) -> str:
        return f"API login {self.login} of user {self.user_id}, until {self.expires_at:%Y-%m-%d %H:%M}"
