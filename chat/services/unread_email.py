"""The batched unread-messages e-mail: scheduled after a message, swept periodically, idempotent."""

import contextlib
import logging
import time
from datetime import timedelta

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from accounts.models import User
from chat.models import (
    Conversation,
    Membership,
    Message,
)
from chat.services.common import (
    DEFAULT_UNREAD_EMAIL_DELAY_SECONDS,
    UNREAD_EMAIL_LOOKBACK,
    conversation_url,
    display_name,
)
from config import redis_client
from notifications import services as notification_services
from notifications.models import NotificationKind

logger = logging.getLogger(__name__)


# --- Unread-messages e-mail ---------------------------------------------------------------------


def unread_email_delay() -> int:
    return int(getattr(settings, "CHAT_UNREAD_EMAIL_DELAY_SECONDS", DEFAULT_UNREAD_EMAIL_DELAY_SECONDS))


# conversation id -> until when (time.time()) a task of this window is known to be waiting.
# Every process learns it once per window (from its own add, or the winner's expiry in the
# key), so the other messages of that window cost no Redis round trip.
_known_waiting: dict[int, float] = {}
_KNOWN_WAITING_MAX = 10_000


def _remember_waiting(conversation_id: int, until: float, now: float) -> None:
    if len(_known_waiting) >= _KNOWN_WAITING_MAX:
        for key, expiry in list(_known_waiting.items()):
            if expiry <= now:
                _known_waiting.pop(key, None)
        if len(_known_waiting) >= _KNOWN_WAITING_MAX:
            _known_waiting.clear()
    _known_waiting[conversation_id] = until


def schedule_unread_email(conversation_id: int) -> None:
    """After a message: one delayed batch task per conversation per window (never one per message).

    The cache key of a window holds when it ends; a process that has seen it skips the cache
    until then (the key could only be added again after it expired). Embedded mode (eager
    Celery) has no clock to wait on: no unread e-mails there.

    It runs after the message's commit, on the sender's request or socket: a cache that cannot
    be reached (Redis restarting) schedules nothing, with one warning line, and the periodic
    sweep (sweep_unread_emails) sends that window's e-mail instead. The send itself succeeded.
    """
    from chat.tasks import email_unread_messages_task  # tasks import this module

    if email_unread_messages_task.app.conf.task_always_eager:
        return
    now = time.time()
    if _known_waiting.get(conversation_id, 0.0) > now:
        return  # a task for this window is waiting; it will cover this message
    delay = unread_email_delay()
    key = f"chat:unread-email:{conversation_id}"
    until = now + delay
    try:
        if not cache.add(key, until, timeout=delay):
            waiting_until = cache.get(key)
            if isinstance(waiting_until, int | float):
                _remember_waiting(conversation_id, min(float(waiting_until), until), now)
            return  # a task for this window is already waiting; it will cover this message
    except redis_client.UNAVAILABLE as exc:
        logger.warning(
            "unread e-mail of conversation %s left to the sweep, cache unavailable: %r", conversation_id, exc
        )
        return
    try:
        email_unread_messages_task.apply_async(args=[conversation_id], countdown=delay)
    except Exception:  # the broker is down: the message is stored, only the e-mail hint is lost
        with contextlib.suppress(*redis_client.UNAVAILABLE):  # the cache may have gone with it
            cache.delete(key)
        logger.exception("could not schedule the unread e-mail for conversation %s", conversation_id)
        return
    _remember_waiting(conversation_id, until, now)


def _conversation_title_for(conversation: Conversation, members: dict[int, User], user_id: int) -> str:
    if conversation.is_group:
        return conversation.name
    others = [u for uid, u in members.items() if uid != user_id]
    return display_name(others[0]) if others else "a conversation"


def sweep_unread_emails(*, now=None) -> list[int]:
    """The outbox side of the unread e-mail: conversations whose last message is older than the
    delay (and younger than a day) and where some member is behind both their read marker and
    their e-mail marker. Run by a periodic task, so a task lost with the broker costs a delay,
    not the e-mail. Returns the conversation ids it handled."""
    now = now or timezone.now()
    delay = timedelta(seconds=unread_email_delay())
    due = (
        Membership.objects.active()
        .filter(
            muted=False,
            accepted=True,
            conversation__last_message_at__lte=now - delay,
            conversation__last_message_at__gte=now - timedelta(days=1),
            conversation__last_seq__gt=F("last_read_seq"),
        )
        .filter(conversation__last_seq__gt=F("emailed_seq"))
        .values_list("conversation_id", flat=True)
        .distinct()[:500]
    )
    handled = list(due)
    for conversation_id in handled:
        email_unread_messages(conversation_id=conversation_id)
    return handled


@transaction.atomic
def email_unread_messages(*, conversation_id: int) -> int:
    """Send ONE unread-messages notification to each member who still has unread messages
    (not their own, not deleted) in this conversation and has not muted it; record how far
    each was told (`emailed_seq`), so running it again sends nothing. Returns how many."""
    conversation = Conversation.objects.filter(pk=conversation_id).first()
    if conversation is None:
        return 0
    memberships = list(
        Membership.objects.active()
        .filter(conversation=conversation, muted=False, accepted=True)
        .select_related("user")
        .order_by("pk")
    )
    head = conversation.last_seq
    floors = {m.pk: max(m.last_read_seq, m.emailed_seq) for m in memberships}
    due = [m for m in memberships if floors[m.pk] < head and m.user.is_active]
    if not due:
        return 0
    lowest = max(min(floors[m.pk] for m in due), head - UNREAD_EMAIL_LOOKBACK)
    rows = list(
        Message.objects.filter(
            conversation=conversation, seq__gt=lowest, seq__lte=head, kind=Message.Kind.TEXT, deleted_at__isnull=True
        )
        .select_related("sender")
        .order_by("seq")
    )
    members = {m.user_id: m.user for m in memberships}
    sent = 0
    for membership in due:
        unread = [r for r in rows if r.seq > floors[membership.pk] and r.sender_id != membership.user_id]
        # The conditional update is the claim: a concurrent run of this task sends nothing twice.
        claimed = Membership.objects.filter(pk=membership.pk, emailed_seq__lt=head).update(emailed_seq=head)
        if not claimed or not unread:
            continue
        title = _conversation_title_for(conversation, members, membership.user_id)
        lines = [f"{display_name(r.sender)}: {r.body[:200]}" for r in unread[-5:]]
        notification_services.notify(
            recipient=membership.user,
            kind=NotificationKind.UNREAD_MESSAGES,
            title=f"{len(unread)} unread message{'s' if len(unread) != 1 else ''} in {title}",
            body="\n".join(lines),
            url=conversation_url(conversation.pk),
        )
        sent += 1
    return sent
