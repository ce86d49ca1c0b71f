"""Every write of the notifications app. `notify()` is the one door: every app that tells a
user something calls it, and it alone decides the live push and the e-mail.

Side effects run after commit. The e-mail is an outbox row (EmailDelivery) written in the same
transaction as the notification, so a broker that is down at commit time loses nothing: the
periodic sweep finds the pending row and queues it again.
"""

import logging
import smtplib
from datetime import timedelta
from functools import partial

from celery.exceptions import Retry
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import connection, transaction
from django.db.models import F, Q, Value
from django.db.models.functions import Replace
from django.utils import timezone

from config.refusals import field_error
from live.push import push_on_commit
from notifications import emails, realtime, selectors
from notifications.models import EmailDelivery, Notification, NotificationKind, NotificationPreference, email_choosable

logger = logging.getLogger(__name__)

TITLE_MAX = Notification._meta.get_field("title").max_length
BODY_MAX = Notification._meta.get_field("body").max_length
URL_MAX = Notification._meta.get_field("url").max_length

# An e-mail is tried at most this many times (first send plus retries) before it is failed.
EMAIL_MAX_ATTEMPTS = 6
# The sweep re-queues rows pending longer than this (enqueue lost: broker down at commit) ...
SWEEP_PENDING_AFTER = timedelta(minutes=3)
# ... and rows stuck in "sending" longer than this (worker killed mid-send; longer than the
# task's hard time limit so a slow but live send is never duplicated).
SWEEP_SENDING_AFTER = timedelta(minutes=10)
SWEEP_BATCH = 500

# Errors worth retrying: the SMTP server said no for now, or could not be reached.
TRANSIENT_EMAIL_ERRORS: tuple[type[BaseException], ...] = (smtplib.SMTPException, OSError)


class TransientEmailError(Exception):
    """Sending failed for a reason that may pass; the delivery is pending again."""


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _validated_url(url: str) -> str:
    """A notification leads to a path on this site, never elsewhere (no open redirect)."""
    url = url.strip()
    if not url:
        return ""
    if not url.startswith("/") or url.startswith("//") or "\\" in url or len(url) > URL_MAX:
        raise ValidationError({"url": "A notification link must be a path on this site."})
    return url


def _push_unread_on_commit(user_id: int, *, ids: list[int] | None) -> None:
    """The new unread count, as this transaction leaves it, pushed after commit."""
    unread = selectors.unread_count_for_user_id(user_id=user_id)
    push_on_commit([user_id], realtime.notification_read_event(ids=ids, unread=unread))


def _push_new_on_commit(notification: Notification) -> None:
    unread = selectors.unread_count_for_user_id(user_id=notification.recipient_id)
    push_on_commit([notification.recipient_id], realtime.notification_new_event(notification, unread=unread))


def _enqueue_email(delivery_id: int) -> None:
    # Imported here: tasks import this module.
    from notifications.tasks import send_notification_email_task

    try:
        send_notification_email_task.delay(delivery_id)
    except Retry:
        # Embedded mode (eager Celery) ran the task at once and it asked for a retry.
        logger.warning("e-mail delivery %s will be retried by the sweep", delivery_id)
    except Exception:  # the outbox row stays pending; the sweep queues it again
        logger.exception("could not queue e-mail delivery %s; the sweep will retry", delivery_id)


@transaction.atomic
def notify(
    *,
    recipient,
    kind: NotificationKind | str,
    title: str,
    body: str = "",
    url: str = "",
    email: bool = True,
    email_to: str = "",
    email_link: str = "",
) -> Notification:
    """Tell a user something: store it, push it live after commit, and queue its e-mail if wanted.

    `email=False` when the caller sends its own, richer e-mail for this event (e.g. the help
    desk's calendar invitation), so the user never gets two.

    `email_to` sends the e-mail to that address instead of the recipient's (a link that proves
    a new address goes to the new address). `email_link` is the full link of the e-mail's
    button instead of "open in Lyceum": a secret link (a confirmation token) that only the
    mailbox may see — the in-app notification keeps `url`, and the outbox row forgets the
    link once the e-mail is sent. It must be a link to this site (SITE_URL)."""
    try:
        kind = NotificationKind(kind)
    except ValueError:
        raise ValidationError({"kind": f"Unknown notification kind {kind!r}."}) from None
    title = " ".join(title.split())
    if not title:
        raise ValidationError({"title": "A notification needs a title."})
    notification = Notification.objects.create(
        recipient=recipient,
        kind=kind,
        title=_clip(title, TITLE_MAX),
        body=_clip(body.strip(), BODY_MAX),
        url=_validated_url(url),
    )
    if email_to:
        try:
            validate_email(email_to)
        except ValidationError:
            raise ValidationError({"email_to": "Not an e-mail address."}) from None
    if email_link and not email_link.startswith(settings.SITE_URL.rstrip("/") + "/"):
        raise ValidationError({"email_link": "An e-mail link must lead to this site."})
    if email and selectors.wants_email(user=recipient, kind=kind):
        delivery = EmailDelivery.objects.create(
            notification=notification, to_address=email_to, action_url=email_link[:2000]
        )
        transaction.on_commit(partial(_enqueue_email, delivery.pk))
    _push_new_on_commit(notification)
    return notification


@transaction.atomic
def mark_read(*, user, notification_id: int) -> Notification:
    """Mark one of the user's own notifications read. Another user's id is Notification.DoesNotExist."""
    notification = Notification.objects.select_for_update().get(pk=notification_id, recipient=user)
    if notification.read_at is None:
        notification.read_at = timezone.now()
        notification.save(update_fields=["read_at"])
        _push_unread_on_commit(user.pk, ids=[notification.pk])
    return notification


def subject_path(subject) -> str:
    """The path that names a subject: a path as given, or an object's get_absolute_url()."""
    return subject if isinstance(subject, str) else subject.get_absolute_url()


def mark_read_for_subject(*, user, subject) -> int:
    """THE rule of reading: a notification is read once its subject is shown to its user.

    A notification's subject is what its link (`url`) points at: a help request, the friends
    page, a conversation, the incoming friend requests, an expert profile. Every page and API
    read that shows a subject calls this with it (an object with get_absolute_url(), or its
    path), and every unread notification of this user that points there, of any kind, is
    read. A notification without a link is its own subject: the notifications list shows it
    (subject ""). One UPDATE (atomic by itself, so no transaction of its own: pages call this on
    every view), and one live push of the new unread count after commit when something changed.
    Returns how many were marked."""
    if not getattr(user, "is_authenticated", False):
        return 0
    changed = Notification.objects.filter(recipient=user, url=subject_path(subject), read_at__isnull=True).update(
        read_at=timezone.now()
    )
    if changed:
        _push_unread_on_commit(user.pk, ids=None)
    return changed


@transaction.atomic
def mark_all_read(*, user) -> int:
    """Mark every unread notification of the user read; returns how many changed."""
    changed = Notification.objects.filter(recipient=user, read_at__isnull=True).update(read_at=timezone.now())
    if changed:
        _push_unread_on_commit(user.pk, ids=None)
    return changed


@transaction.atomic
def set_email_preferences(*, user, kinds: dict[str, bool]) -> dict[str, bool]:
    """Record the user's e-mail choice for the given kinds (others keep theirs). Returns all choices."""
    unknown = sorted(set(kinds) - set(NotificationKind.values))
    if unknown:
        raise field_error(
            "kinds", f"Unknown notification kind(s): {', '.join(map(str, unknown))}.", code="unknown_kind"
        )
    fixed = sorted(kind for kind in kinds if not email_choosable(kind))
    if fixed:
        raise field_error(
            "kinds",
            f"These always send an e-mail and cannot be switched off: {', '.join(fixed)}.",
            code="always_emailed",
        )
    not_bool = sorted(kind for kind, value in kinds.items() if not isinstance(value, bool))
    if not_bool:
        raise field_error("kinds", f"E-mail choice must be true or false for: {', '.join(not_bool)}.", code="invalid")
    # One upsert; MySQL's ON DUPLICATE KEY UPDATE takes no conflict target, the others need it.
    conflict_target = ["user", "kind"] if connection.features.supports_update_conflicts_with_target else None
    NotificationPreference.objects.bulk_create(
        [NotificationPreference(user=user, kind=kind, email=email) for kind, email in kinds.items()],
        update_conflicts=True,
        unique_fields=conflict_target,
        update_fields=["email"],
    )
    return selectors.email_preferences_for(user=user)


# --- E-mail delivery (called by notifications.tasks) --------------------------------------


def _claim_delivery(delivery_id: int) -> bool:
    """Atomically move a pending row to sending. Only one caller ever wins a given attempt."""
    return bool(
        EmailDelivery.objects.filter(pk=delivery_id, status=EmailDelivery.Status.PENDING).update(
            status=EmailDelivery.Status.SENDING, attempts=F("attempts") + 1, updated_at=timezone.now()
        )
    )


def _finish_delivery(delivery_id: int, status: str, *, error: str = "") -> None:
    fields = {"status": status, "updated_at": timezone.now()}
    if error:  # a sent row keeps the error of its failed attempts, for the admin
        fields["last_error"] = error[:500]
    if status == EmailDelivery.Status.SENT:
        fields["sent_at"] = timezone.now()
        fields["action_url"] = ""  # a secret link lives in the mailbox only, once delivered
    EmailDelivery.objects.filter(pk=delivery_id, status=EmailDelivery.Status.SENDING).update(**fields)


def deliver_notification_email(*, delivery_id: int) -> str:
    """Send one outbox e-mail at most once. Returns the row's resulting status.

    A row that is not pending (already sent, being sent, failed, skipped, gone) is left alone,
    so a duplicated or retried task never sends twice. A transient SMTP/network error puts the
    row back to pending and raises TransientEmailError for the task to retry with backoff; past
    EMAIL_MAX_ATTEMPTS the row is failed instead.
    """
    if not _claim_delivery(delivery_id):
        return "noop"
    delivery = selectors.delivery_with_notification(delivery_id=delivery_id)
    if delivery is None:  # deleted between claim and load
        return "noop"
    notification = delivery.notification
    # The user may have switched e-mail off (or been deactivated) since the notification.
    if not selectors.wants_email(user=notification.recipient, kind=notification.kind):
        _finish_delivery(delivery_id, EmailDelivery.Status.SKIPPED, error="e-mail no longer wanted")
        return EmailDelivery.Status.SKIPPED
    if delivery.attempts > EMAIL_MAX_ATTEMPTS:
        _finish_delivery(delivery_id, EmailDelivery.Status.FAILED, error=delivery.last_error or "too many attempts")
        return EmailDelivery.Status.FAILED
    try:
        emails.send_notification_email(notification, to_address=delivery.to_address, action_url=delivery.action_url)
    except TRANSIENT_EMAIL_ERRORS as exc:
        error = f"{type(exc).__name__}: {exc}"
        if delivery.attempts >= EMAIL_MAX_ATTEMPTS:
            logger.error("e-mail delivery %s failed after %s attempts: %s", delivery_id, delivery.attempts, error)
            _finish_delivery(delivery_id, EmailDelivery.Status.FAILED, error=error)
            return EmailDelivery.Status.FAILED
        logger.warning("e-mail delivery %s attempt %s failed, will retry: %s", delivery_id, delivery.attempts, error)
        EmailDelivery.objects.filter(pk=delivery_id, status=EmailDelivery.Status.SENDING).update(
            status=EmailDelivery.Status.PENDING, last_error=error[:500], updated_at=timezone.now()
        )
        raise TransientEmailError(error) from exc
    except Exception as exc:
        # A bug (a template, bad data) will not pass by retrying: fail the row, keep the trace.
        _finish_delivery(delivery_id, EmailDelivery.Status.FAILED, error=f"{type(exc).__name__}: {exc}")
        raise
    _finish_delivery(delivery_id, EmailDelivery.Status.SENT)
    return EmailDelivery.Status.SENT


@transaction.atomic
def sweep_stale_deliveries(*, now=None) -> list[int]:
    """Queue again the e-mails whose task was lost; returns their ids.

    Lost means: pending for longer than SWEEP_PENDING_AFTER (the broker was down at commit,
    or a retry was dropped), or stuck in "sending" for longer than SWEEP_SENDING_AFTER (the
    worker died mid-send; such rows go back to pending first so the next task can claim them).
    """
    now = now or timezone.now()
    stuck = EmailDelivery.objects.filter(status=EmailDelivery.Status.SENDING, updated_at__lt=now - SWEEP_SENDING_AFTER)
    stuck_ids = list(stuck.values_list("pk", flat=True)[:SWEEP_BATCH])
    if stuck_ids:
        EmailDelivery.objects.filter(pk__in=stuck_ids, status=EmailDelivery.Status.SENDING).update(
            status=EmailDelivery.Status.PENDING, updated_at=now, last_error="re-queued: stuck in sending"
        )
    pending_ids = list(
        EmailDelivery.objects.filter(status=EmailDelivery.Status.PENDING, updated_at__lt=now - SWEEP_PENDING_AFTER)
        .order_by("updated_at")
        .values_list("pk", flat=True)[:SWEEP_BATCH]
    )
    delivery_ids = sorted(set(stuck_ids) | set(pending_ids))
    for delivery_id in delivery_ids:
        transaction.on_commit(partial(_enqueue_email, delivery_id))
    if delivery_ids:
        logger.info("sweep re-queued %s e-mail deliveries", len(delivery_ids))
    return delivery_ids


@transaction.atomic
def requeue_deliveries(*, delivery_ids: list[int]) -> int:
    """Give failed, skipped or pending e-mails a fresh start (the admin's "re-queue" action).

    Sent rows are never sent again, and rows being sent right now are left to their task.
    """
    rows = EmailDelivery.objects.filter(pk__in=delivery_ids).exclude(
        status__in=[EmailDelivery.Status.SENT, EmailDelivery.Status.SENDING]
    )
    requeued = list(rows.values_list("pk", flat=True))
    EmailDelivery.objects.filter(pk__in=requeued).update(
        status=EmailDelivery.Status.PENDING, attempts=0, last_error="", updated_at=timezone.now()
    )
    for delivery_id in requeued:
        transaction.on_commit(partial(_enqueue_email, delivery_id))
    return len(requeued)


# --- Erasing an account (accounts.deletion) ----------------------------------------------------


@transaction.atomic
def erase_notifications_of(*, user) -> int:
    """Delete everything this app keeps for one user: their notifications (with their outbox rows,
    so nothing queued is still sent) and their e-mail choices. Returns how many notifications."""
    NotificationPreference.objects.filter(user=user).delete()
    deleted, _ = Notification.objects.filter(recipient=user).delete()
    return deleted


@transaction.atomic
def replace_name_in_notifications(*, name: str, replacement: str, since=None) -> int:
    """What others were told names a person by their full name ("Ada Lovelace sent you a friend
    request"): replace that name in every stored title and body (created since `since`, when the
    person joined). Names shorter than four characters are left alone: they would hit words.
    Returns how many notifications changed."""
    name = " ".join((name or "").split())
    if len(name) < 4:
        return 0
    rows = Notification.objects.filter(Q(title__contains=name) | Q(body__contains=name))
    if since is not None:
        rows = rows.filter(created_at__gte=since)
    return rows.update(
        title=Replace("title", Value(name), Value(replacement)), body=Replace("body", Value(name), Value(replacement))
    )


@transaction.atomic
def clear_notification_bodies(*, kind: NotificationKind | str, urls: list[str]) -> int:
    """Empty the bodies of the notifications of one kind about these subjects: what they quoted
    was erased at its source (a rating's feedback of an erased account). Returns how many."""
    if not urls:
        return 0
    return Notification.objects.filter(kind=kind, url__in=urls).exclude(body="").update(body="")
