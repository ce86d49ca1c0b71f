"""The one kind of link that proves a mailbox: e-mail verification and e-mail change share it.

A token is `django.core.signing` output (HMAC with SECRET_KEY, timestamped) carrying the user,
the purpose, the address it proves and a fingerprint of the account's state. It is:

- signed: nobody can make one without SECRET_KEY, and nothing is stored to be stolen;
- expiring: older than EMAIL_CONFIRMATION_TIMEOUT seconds, it is refused;
- single-use: the fingerprint covers the password hash, the login address, the confirmation
  time and the pending address, and using the token changes one of them — so does a newer
  request (only the latest link works) and a password change or reset (a link taken over with a
  stolen session dies when the owner changes their password). The same idea as Django's
  password-reset tokens, built on the public signing API.
"""

from dataclasses import dataclass

from django.conf import settings
from django.core import signing
from django.utils.crypto import constant_time_compare, salted_hmac

from accounts.models import User

VERIFY = "verify"  # prove the address the account signed up with
CHANGE = "change"  # prove a new address, which then becomes the login
PURPOSES = (VERIFY, CHANGE)

SALT = "accounts.email-confirmation"


@dataclass(frozen=True)
class EmailClaim:
    """What a valid token proves: `user` reads mail at `email`, for `purpose`."""

    user: User
    purpose: str
    email: str


def _fingerprint(user: User, purpose: str, email: str) -> str:
    state = "|".join(
        [
            str(user.pk),
            purpose,
            email.casefold(),
            user.password,
            user.email.casefold(),
            user.email_verified_at.isoformat() if user.email_verified_at else "",
            user.pending_email.casefold(),
        ]
    )
    return salted_hmac(SALT, state, algorithm="sha256").hexdigest()[:32]


def make_email_token(*, user: User, purpose: str, email: str) -> str:
    if purpose not in PURPOSES:
        raise ValueError(f"Unknown e-mail token purpose {purpose!r}.")
    payload = {"u": user.pk, "p": purpose, "e": email, "f": _fingerprint(user, purpose, email)}
    return signing.dumps(payload, salt=SALT, compress=True)


def read_email_token(token: str, *, lock: bool = False) -> EmailClaim | None:
    """The claim of a valid, unexpired, unused token; None for anything else.

    `lock=True` (inside a transaction) locks the user's row before checking the fingerprint, so
    of two requests racing with one token only the first uses it."""
    if not isinstance(token, str) or len(token) > 1000:
        return None
    try:
        payload = signing.loads(token, salt=SALT, max_age=settings.EMAIL_CONFIRMATION_TIMEOUT)
    except signing.BadSignature:  # includes SignatureExpired
        return None
    if not isinstance(payload, dict) or payload.get("p") not in PURPOSES:
        return None
    user_id, email, fingerprint = payload.get("u"), payload.get("e"), payload.get("f")
    if not isinstance(user_id, int) or not isinstance(email, str) or not isinstance(fingerprint, str):
        return None
    users = User.objects.select_for_update() if lock else User.objects.all()
    user = users.filter(pk=user_id, is_active=True).first()
    if user is None or not constant_time_compare(fingerprint, _fingerprint(user, payload["p"], email)):
        return None
    # What the link proves must still be what is waiting to be proven.
    waiting = user.pending_email if payload["p"] == CHANGE else ("" if user.email_verified_at else user.email)
    if not waiting or waiting.casefold() != email.casefold():
        return None
    return EmailClaim(user=user, purpose=payload["p"], email=email)
