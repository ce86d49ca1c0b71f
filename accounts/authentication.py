"""The API's JWT authentication: simplejwt's, and the access token of a logged-out API login is
no longer valid.

simplejwt's access tokens are stateless: on its own, an access token stays good until it
expires (JWT_ACCESS_MINUTES) after its login was logged out. Every token of an API login
carries the login's id (live.access.LOGIN_CLAIM), and a logout records that login in the
database (live.models.RevokedLogin, the table a live socket's check reads); here every request
made with such a token reads it too (one indexed EXISTS), so a logout ends the login's access
tokens at once, on every endpoint and for the live ticket alike: the 401 of a token that is not
valid ("token_not_valid"). A password change already ends them (simplejwt's CHECK_REVOKE_TOKEN).
"""

from drf_spectacular.contrib.rest_framework_simplejwt import SimpleJWTScheme
from rest_framework.exceptions import AuthenticationFailed
from rest_framework_simplejwt.authentication import JWTAuthentication

from live import access as live_access

LOGGED_OUT_LOGIN_MESSAGE = "This API login was logged out: log in again."


class LoginJWTAuthentication(JWTAuthentication):
    def get_user(self, validated_token):
        user = super().get_user(validated_token)
        login = validated_token.get(live_access.LOGIN_CLAIM)
        if login and live_access.login_revoked(login):
            raise AuthenticationFailed(LOGGED_OUT_LOGIN_MESSAGE, code="token_not_valid")
        return user


class LoginJWTScheme(SimpleJWTScheme):
    """The OpenAPI security scheme of LoginJWTAuthentication: simplejwt's bearer JWT (drf-spectacular
    matches an authentication class exactly, not its subclasses)."""

    target_class = "accounts.authentication.LoginJWTAuthentication"
