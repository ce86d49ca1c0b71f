"""Messages: send (ordered, idempotent, rate limited), edit, delete, and read markers."""

from functools import partial

from django.conf import settings
from django.core.cache import cache
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from accounts.models import User
from chat import realtime
from chat.models import (
    Conversation,
    Membership,
    Message,
)
from chat.services.common import (
    DEFAULT_SEND_RATE,
    MENTION_RE,
    ChatError,
    _active_member_ids,
    _active_membership,
    _append,
    _blocked_either_way,
    _conversation_url,
    _locked_conversation,
    _name,
    _push_after_commit,
    clean_body,
    clean_client_id,
)
from chat.services.unread_email import schedule_unread_email
from notifications import services as notification_services
from notifications.models import NotificationKind

# --- Rate limit ---------------------------------------------------------------------------------


def _send_rate() -> tuple[int, int]:
    return tuple(getattr(settings, "CHAT_SEND_RATE", DEFAULT_SEND_RATE))  # type: ignore[return-value]


def _check_send_rate(user_id: int) -> None:
    """A fixed window in the cache (Redis when configured: shared by every process)."""
    limit, window = _send_rate()
    key = f"chat:send-rate:{user_id}:{int(timezone.now().timestamp()) // window}"
    cache.add(key, 0, timeout=window + 1)
    try:
        count = cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, timeout=window + 1)
        count = 1
    if count > limit:
        raise ChatError("You are sending messages too fast. Wait a few seconds.", code="rate_limited")


# --- Messages -----------------------------------------------------------------------------------


def _check_can_send(conversation: Conversation, sender: User, membership: Membership) -> list[Membership]:
    """Returns the other members' memberships of a direct conversation (empty for groups)."""
    if not conversation.is_direct:
        return []
    others = list(Membership.objects.filter(conversation=conversation).exclude(user=sender).select_related("user"))
    for other in others:
        if not other.user.is_active:
            raise ChatError("This account is no longer active.", code="inactive")
        if _blocked_either_way(sender.pk, other.user_id):
            raise ChatError("You cannot message this student.", code="blocked")
    if not membership.accepted:  # replying to a message request accepts it
        membership.accepted = True
        membership.save(update_fields=["accepted"])
    return others


def _mentioned_members(conversation: Conversation, sender: User, body: str) -> list[User]:
    tokens = {token.lower().rstrip(".-") for token in MENTION_RE.findall(body)}
    if not tokens:
        return []
    members = (
        Membership.objects.filter(conversation=conversation, left_at__isnull=True)
        .exclude(user=sender)
        .select_related("user")
    )
    found = []
    for membership in members:
        user = membership.user
        first, last = user.first_name.lower().replace(" ", ""), user.last_name.lower().replace(" ", "")
        if tokens & {first, f"{first}.{last}", f"{first}{last}", f"{first}_{last}"}:
            found.append(user)
    return found


def _existing_send(sender: User, client_id: str, conversation_id: int) -> Message | None:
    message = Message.objects.filter(sender=sender, client_id=client_id).select_related("sender").first()
    if message is not None and message.conversation_id != conversation_id:
        raise ChatError("This client_id was already used for another conversation.", code="duplicate_client_id")
    return message


@transaction.atomic
def send_message(*, sender: User, conversation_id: int, body: str, client_id: str) -> tuple[Message, bool]:
    """Store a message with the next seq; (message, created). A retried client_id returns the
    stored message with created=False and changes nothing."""
    body = clean_body(body)
    client_id = clean_client_id(client_id)
    existing = _existing_send(sender, client_id, conversation_id)
    if existing is not None:
        return existing, False
    _check_send_rate(sender.pk)
    conversation = _locked_conversation(conversation_id)
    membership = _active_membership(conversation, sender)
    others = _check_can_send(conversation, sender, membership)
    try:
        with transaction.atomic():
            message = _append(conversation, sender=sender, kind=Message.Kind.TEXT, body=body, client_id=client_id)
    except IntegrityError:
        existing = _existing_send(sender, client_id, conversation_id)
        if existing is None:
            raise
        return existing, False
    Membership.objects.filter(pk=membership.pk, last_read_seq__lt=message.seq).update(last_read_seq=message.seq)
    _push_after_commit(_active_member_ids(conversation), realtime.message_new_event(message))
    url = _conversation_url(conversation.pk)
    if conversation.is_group:
        for user in _mentioned_members(conversation, sender, body):
            notification_services.notify(
                recipient=user,
                kind=NotificationKind.MENTION,
                title=f"{_name(sender)} mentioned you in {conversation.name}",
                body=body[:300],
                url=url,
            )
    else:
        for other in others:
            if not other.accepted and other.left_at is None and message.seq == 1:
                notification_services.notify(
                    recipient=other.user,
                    kind=NotificationKind.MESSAGE_REQUEST,
                    title=f"{_name(sender)} sent you a message request",
                    body=body[:300],
                    url=reverse("chat:requests"),
                )
    transaction.on_commit(partial(schedule_unread_email, conversation.pk))
    return message, True


def _own_live_message(*, user: User, message_id: int) -> Message:
    message = (
        Message.objects.select_for_update()
        .select_related("sender", "conversation")
        .filter(
            pk=message_id,
            conversation__memberships__user=user,
            conversation__memberships__left_at__isnull=True,
        )
        .first()
    )
    if message is None:
        raise Message.DoesNotExist("No such message.")
    if message.sender_id != user.pk or message.kind != Message.Kind.TEXT:
        raise ChatError("You can only change your own messages.", code="not_sender")
    if message.deleted_at is not None:
        raise ChatError("This message was deleted.", code="deleted")
    return message


@transaction.atomic
def edit_message(*, user: User, message_id: int, body: str) -> Message:
    body = clean_body(body)
    message = _own_live_message(user=user, message_id=message_id)
    if body != message.body:
        message.body = body
        message.edited_at = timezone.now()
        message.save(update_fields=["body", "edited_at"])
        _push_after_commit(_active_member_ids(message.conversation), realtime.message_updated_event(message))
    return message


@transaction.atomic
def delete_message(*, user: User, message_id: int) -> Message:
    """Soft delete: the message keeps its place (seq) as a tombstone everyone sees; the text is gone."""
    message = _own_live_message(user=user, message_id=message_id)
    message.body = ""
    message.deleted_at = timezone.now()
    message.save(update_fields=["body", "deleted_at"])
    _push_after_commit(_active_member_ids(message.conversation), realtime.message_updated_event(message))
    return message


@transaction.atomic
def mark_read(*, user: User, conversation_id: int, seq: int) -> Membership:
    """Move the user's read marker forward to `seq` (never back, never past the last message)."""
    membership = (
        Membership.objects.select_for_update()
        .select_related("conversation")
        .get(conversation_id=conversation_id, user=user, left_at__isnull=True)
    )
    if isinstance(seq, bool) or not isinstance(seq, int) or seq < 0:
        raise ChatError("seq must be a non-negative integer.", code="invalid_seq")
    seq = min(seq, membership.conversation.last_seq)
    if seq > membership.last_read_seq:
        membership.last_read_seq = seq
        membership.save(update_fields=["last_read_seq"])
        if seq == membership.conversation.last_seq:
            # Caught up: the notifications that pointed here have done their job.
            url = _conversation_url(conversation_id)
            for kind in (NotificationKind.UNREAD_MESSAGES, NotificationKind.MENTION):
                notification_services.mark_read_matching(user=user, kind=kind, url=url)
        # The reader's other tabs update their badges; in a 1-on-1 the other sees "Seen".
        recipients = _active_member_ids(membership.conversation) if membership.conversation.is_direct else [user.pk]
        _push_after_commit(recipients, realtime.read_event(conversation_id=conversation_id, user_id=user.pk, seq=seq))
    return membership
