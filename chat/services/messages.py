"""Messages: send (ordered, idempotent, rate limited), edit, delete, and read markers."""

import logging
import secrets
from dataclasses import dataclass
from functools import partial

from django.conf import settings
from django.core.cache import DEFAULT_CACHE_ALIAS, cache, caches
from django.core.cache.backends.redis import RedisCache
from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction
from django.db.models import F
from django.urls import reverse
from django.utils import timezone

from accounts import selectors as account_selectors
from accounts.models import User
from chat import attachments, realtime
from chat.access import access_conversation, access_message, active_member_ids
from chat.models import (
    Attachment,
    Conversation,
    Membership,
    Message,
    Reaction,
)
from chat.services import reports, send_sql
from chat.services.common import (
    DEFAULT_SEND_RATE,
    MENTION_RE,
    ChatError,
    clean_body,
    clean_client_id,
    clean_optional_body,
    clean_reply_to,
    conversation_url,
    display_name,
)
from chat.services.unread_email import schedule_unread_email
from chat.storage import attachment_storage
from config import redis_client
from live.push import push_on_commit
from notifications import services as notification_services
from notifications.models import NotificationKind

logger = logging.getLogger(__name__)

SENDER_INACTIVE = "sender_inactive"

# --- Rate limit ---------------------------------------------------------------------------------


def _send_rate() -> tuple[int, int]:
    return tuple(getattr(settings, "CHAT_SEND_RATE", DEFAULT_SEND_RATE))  # type: ignore[return-value]


# SET NX with the expiry, then INCR: one command (a script Redis runs atomically).
_COUNT_IN_WINDOW_SCRIPT = "redis.call('SET', KEYS[1], 0, 'EX', ARGV[1], 'NX') return redis.call('INCR', KEYS[1])"


def _count_in_window(key: str, timeout: int) -> int:
    """Add one to a counter in the cache that expires `timeout` seconds after it was made.

    With Redis it is ONE command (a script, run by EVALSHA: redis-py's Script loads it again
    when Redis has forgotten it, e.g. after a restart) instead of the three of cache.add +
    cache.incr (which checks that the key exists first). It runs for every send: a pipeline of
    SET NX + INCR, the same round trip, cost more client CPU (docs/benchmarks.md)."""
    backend = caches[DEFAULT_CACHE_ALIAS]
    client = redis_client.for_cache(DEFAULT_CACHE_ALIAS) if isinstance(backend, RedisCache) else None
    if client is not None:
        key = backend.make_and_validate_key(key)
        return int(client.register_script(_COUNT_IN_WINDOW_SCRIPT)(keys=[key], args=[timeout]))
    cache.add(key, 0, timeout=timeout)
    try:
        return cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, timeout=timeout)
        return 1


def check_send_rate(user_id: int) -> None:
    """Count one more send (or reaction: chat.services.reactions) of this user against
    CHAT_SEND_RATE; ChatError "rate_limited" past it. A fixed window in the cache (Redis when
    configured: shared by every process).

    If the cache is unreachable (Redis restarting) the limit is not enforced for that send:
    the database is up, so the message is stored and acked rather than the socket dropped."""
    limit, window = _send_rate()
    key = f"chat:send-rate:{user_id}:{int(timezone.now().timestamp()) // window}"
    try:
        count = _count_in_window(key, window + 1)
    except redis_client.UNAVAILABLE as exc:
        logger.warning("send-rate check skipped, cache unavailable: %r", exc)
        return
    if count > limit:
        raise ChatError("You are sending messages too fast. Wait a few seconds.", code="rate_limited")


# --- Messages -----------------------------------------------------------------------------------


def _check_can_send(conversation: Conversation, membership: Membership, others: list[send_sql.OtherMember]) -> None:
    """A direct conversation: the other side must still be active and not blocked either way.
    Replying to a message request accepts it."""
    if not conversation.is_direct:
        return
    for other in others:
        if not other.user_is_active:
            raise ChatError("This account is no longer active.", code="inactive")
        if other.blocked:
            raise ChatError("You cannot message this student.", code="blocked")
    if not membership.accepted:  # replying to a message request accepts it
        membership.accepted = True
        membership.save(update_fields=["accepted"])


def _mentioned_members(conversation: Conversation, sender: User, body: str) -> list[User]:
    tokens = {token.lower().rstrip(".-") for token in MENTION_RE.findall(body)}
    if not tokens:
        return []
    members = Membership.objects.active().filter(conversation=conversation).exclude(user=sender).select_related("user")
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


def send_message(
    *, sender: User, conversation_id: int, body: str, client_id: str, files=(), reply_to: int | None = None
) -> tuple[Message, bool]:
    """Store a message with the next seq; (message, created). A retried client_id returns the
    stored message with created=False and changes nothing.

    `reply_to` (a message id) makes it a reply to an earlier message of the SAME conversation;
    any other id (another conversation's, an unknown one) is refused ("invalid_reply_to").

    `files` (uploaded files) become the message's attachments: each is checked from its content
    and converted (chat.attachments) BEFORE anything is stored, so a refused file stores
    nothing; with files the body may be empty. Files written to storage by a send that then
    fails are removed again. Refused (code "unverified") until the sender's address is confirmed."""
    files = list(files or ())
    body, client_id, reply_to = _cleaned_send(sender, body, client_id, reply_to, with_files=bool(files))
    # No read of client_id first: the unique (sender, client_id) constraint finds a retry, and
    # a refused send checks whether it was a retry of a message already stored (answered with
    # that message, as if it had been looked up first).
    try:
        return _send_new(sender, conversation_id, body, client_id, files, reply_to)
    except (IntegrityError, ChatError, Conversation.DoesNotExist) as refused:
        return _answer_refused(refused, sender, client_id, conversation_id)


def _cleaned_send(sender: User, body, client_id, reply_to, *, with_files: bool = False) -> tuple[str, str, int | None]:
    if not account_selectors.can_act(sender):
        raise ChatError(account_selectors.UNVERIFIED_MESSAGE, code="unverified")
    body = clean_optional_body(body) if with_files else clean_body(body)
    return body, clean_client_id(client_id), clean_reply_to(reply_to)


def _answer_refused(refused: Exception, sender: User, client_id: str, conversation_id: int) -> tuple[Message, bool]:
    """A send that was refused (a duplicate client_id, a ChatError, no such conversation): if it
    was the retry of a message already stored, that message (created=False); else `refused`,
    raised. An inactive sender is not even answered a retry."""
    if isinstance(refused, ChatError) and refused.code == SENDER_INACTIVE:
        raise refused
    existing = _existing_send(sender, client_id, conversation_id)
    if existing is None:
        raise refused
    return existing, False


@dataclass(frozen=True)
class TextSend:
    """One text message to send (the live socket's "message.send"), as send_message takes it."""

    sender: User
    conversation_id: int
    body: object
    client_id: object
    reply_to: object = None


def send_messages(sends: list[TextSend]) -> list:
    """Several text sends (of different sockets, gathered by live.db.Batched) with what they
    share done once: ONE transaction for all of them. Each result is what send_message would
    have returned for that send, or the exception it would have raised (an instance, not raised).

    Each send is cleaned and counted against its sender's rate first, on its own. Then the sends
    are stored in one transaction, in conversation order (the lock order of any two batches is
    the same). If one of them is refused or fails inside it (a non-member, a block, a retried
    client_id, a deadlock), the transaction is rolled back and the batch goes again in three
    parts, in the same order: the sends before that one (together), that one on its own, the
    sends after it (together). A send on its own is stored exactly as send_message stores it
    (without counting its rate twice). A client_id that a batch carries twice for one sender (two
    tabs) goes in arrival order: the later one waits for the first. So a batch never changes what
    a send does, only what it costs."""
    results: list = [None] * len(sends)
    ready, later, seen = [], [], set()
    for index, send in enumerate(sends):
        try:
            body, client_id, reply_to = _cleaned_send(send.sender, send.body, send.client_id, send.reply_to)
        except Exception as exc:  # noqa: BLE001 - this send's refusal (or failure), not the batch's
            results[index] = exc
            continue
        try:
            check_send_rate(send.sender.pk)
        except ChatError as refused:  # a retry of a stored message is still answered with it
            results[index] = _outcome(_answer_refused, refused, send.sender, client_id, send.conversation_id)
            continue
        except Exception as exc:  # noqa: BLE001 - this send's failure, not the batch's
            results[index] = exc
            continue
        entry = (index, send.sender, send.conversation_id, body, client_id, reply_to)
        key = (send.sender.pk, client_id)
        (later if key in seen else ready).append(entry)
        seen.add(key)
    ready.sort(key=lambda entry: (entry[2], entry[0]))
    parts = [ready]
    while parts:
        part = parts.pop(0)
        if len(part) == 1:
            index, sender, conversation_id, body, client_id, reply_to = part[0]
            results[index] = _outcome(_send_alone, sender, conversation_id, body, client_id, reply_to)
            continue
        stored = _store_together(part)
        if len(stored) == len(part):
            for (index, *_send), result in zip(part, stored, strict=True):
                results[index] = result
            continue
        failed = len(stored)  # the send that raised; the transaction stored nothing
        parts[:0] = [piece for piece in (part[:failed], part[failed : failed + 1], part[failed + 1 :]) if piece]
    for index, sender, conversation_id, body, client_id, reply_to in later:
        results[index] = _outcome(_send_alone, sender, conversation_id, body, client_id, reply_to)
    return results


def _store_together(part: list) -> list:
    """The sends of `part` in ONE transaction: their results, all of them once it committed;
    else the results of the sends before the one that raised (the transaction rolled back). A
    failure after the commit (an after-commit hook) does not undo what was stored."""
    stored: list = []
    committed: list = []
    try:
        with transaction.atomic():
            transaction.on_commit(partial(committed.append, True))  # the first hook: it committed
            for _index, sender, conversation_id, body, client_id, reply_to in part:
                stored.append(_store(sender, conversation_id, body, client_id, [], [], reply_to))
    except Exception as exc:
        if committed:
            logger.exception("an after-commit hook of a batch of sends failed")
            return stored
        logger.debug("batched sends rolled back at send %s of %s (%r)", len(stored) + 1, len(part), exc)
        # Every send ran and the COMMIT itself failed: taken as the last send's failure, so the
        # others go again together and the last one alone.
        return stored[: len(part) - 1] if len(stored) == len(part) else stored
    return stored


def _outcome(function, *args):
    try:
        return function(*args)
    except Exception as exc:  # noqa: BLE001 - handed to its caller (send_messages' results)
        return exc


def _send_alone(sender, conversation_id, body, client_id, reply_to) -> tuple[Message, bool]:
    try:
        return _send(sender, conversation_id, body, client_id, [], [], rate_checked=True, reply_to=reply_to)
    except (IntegrityError, ChatError, Conversation.DoesNotExist) as refused:
        return _answer_refused(refused, sender, client_id, conversation_id)


def _send_new(
    sender: User, conversation_id: int, body: str, client_id: str, files: list, reply_to: int | None
) -> tuple[Message, bool]:
    if files:
        # Members only, before any file is decoded (an outsider costs no image work).
        access_conversation(user=sender, conversation_id=conversation_id)
        check_send_rate(sender.pk)
        prepared = attachments.prepare_all(files)
    else:
        prepared = []
    stored: list[str] = []
    try:
        return _send(
            sender, conversation_id, body, client_id, prepared, stored, rate_checked=bool(files), reply_to=reply_to
        )
    except BaseException:
        storage = attachment_storage()
        for name in stored:
            storage.delete(name)
        raise


@transaction.atomic
def _send(
    sender, conversation_id, body, client_id, prepared, stored, *, rate_checked, reply_to=None
) -> tuple[Message, bool]:
    if not rate_checked:
        check_send_rate(sender.pk)
    return _store(sender, conversation_id, body, client_id, prepared, stored, reply_to)


def _store(sender, conversation_id, body, client_id, prepared, stored, reply_to) -> tuple[Message, bool]:
    """The send itself, inside the caller's transaction: lock, checks, insert, head, pushes."""
    # The statements are written once in send_sql (the ORM's per-query cost was most of a send).
    conversation, sender_active, members = send_sql.lock_conversation(conversation_id, sender_id=sender.pk)
    if not sender_active:
        # Read in this transaction, whatever the caller (an API request, a socket opened before
        # a deactivation) believes about the sender.
        raise ChatError("Your account is not active.", code=SENDER_INACTIVE)
    membership, member_ids, others = send_sql.memberships_for_send(conversation, sender.pk, members)
    _check_can_send(conversation, membership, others)
    original = _reply_target(conversation.pk, reply_to) if reply_to is not None else None
    # A duplicate client_id raises IntegrityError out of this transaction (send_message answers
    # it with the stored message): nothing of this attempt is kept.
    message = send_sql.append_message(
        conversation,
        sender=sender,
        kind=Message.Kind.TEXT,
        body=body,
        client_id=client_id,
        now=timezone.now(),
        reply_to=original,
        move_head=False,  # moved by _mark_sent, in the same statement where the database can
    )
    if prepared:
        _store_attachments(message, prepared, stored)
    _mark_sent(conversation, membership, message)
    push_on_commit(member_ids, realtime.message_new_event(message))
    if conversation.is_group:
        for user in _mentioned_members(conversation, sender, body):
            notification_services.notify(
                recipient=user,
                kind=NotificationKind.MENTION,
                title=f"{display_name(sender)} mentioned you in {conversation.name}",
                body=body[:300],
                url=conversation_url(conversation.pk),
            )
    else:
        for other in others:
            if not other.accepted and not other.left and message.seq == 1:
                notification_services.notify(
                    recipient=User.objects.get(pk=other.user_id),
                    kind=NotificationKind.MESSAGE_REQUEST,
                    title=f"{display_name(sender)} sent you a message request",
                    body=(body or f"{len(prepared)} file(s)")[:300],
                    url=reverse("chat:requests"),
                )
    transaction.on_commit(partial(schedule_unread_email, conversation.pk))
    return message, True


def _reply_target(conversation_id: int, message_id: int) -> Message:
    """The message a reply answers: an earlier message of this conversation (the conversation
    row is locked, so no newer message can appear meanwhile), with its sender for the quote."""
    original = Message.objects.select_related("sender").filter(pk=message_id, conversation_id=conversation_id).first()
    if original is None:
        raise ChatError(
            "You can only reply to a message of this conversation.", code="invalid_reply_to", field="reply_to"
        )
    return original


def _mark_sent(conversation: Conversation, membership: Membership, message: Message) -> None:
    """The conversation's head moves to the new message, the conversation comes back for
    everyone who archived it, and the sender has read up to their own message: ONE update on
    MySQL/MariaDB (send_sql.move_head_and_mark_sent), two elsewhere."""
    send_sql.move_head_and_mark_sent(conversation, membership, message)


def _store_attachments(message: Message, prepared: list, stored: list[str]) -> None:
    """Write each prepared file to private storage (names recorded in `stored` for cleanup)."""
    for item in prepared:
        attachment = Attachment(
            message=message,
            kind=item.kind,
            name=item.name,
            content_type=item.content_type,
            size=len(item.content),
            width=item.width,
            height=item.height,
        )
        attachment.file.save(item.storage_name(), ContentFile(item.content), save=False)
        stored.append(attachment.file.name)
        if item.thumbnail is not None:
            attachment.thumbnail.save(f"{secrets.token_hex(16)}-thumb.webp", ContentFile(item.thumbnail), save=False)
            stored.append(attachment.thumbnail.name)
        attachment.save()
    message.attachment_count = len(prepared)
    Message.objects.filter(pk=message.pk).update(attachment_count=message.attachment_count)


def _remove_attachments(message: Message) -> None:
    """A deleted message loses its files: rows now, bytes after commit — except the bytes a
    report holds (chat.services.reports): moderators can still open what was reported."""
    rows = list(Attachment.objects.filter(message=message))
    if not rows:
        return
    names = [name for row in rows for name in (row.file.name, row.thumbnail.name) if name]
    held = reports.held_file_names(names)
    names = [name for name in names if name not in held]
    Attachment.objects.filter(message=message).delete()
    message.attachment_count = 0
    Message.objects.filter(pk=message.pk).update(attachment_count=0)

    def remove_files():
        storage = attachment_storage()
        for name in names:
            try:
                storage.delete(name)
            except Exception:
                logger.exception("could not remove chat attachment file %s", name)

    transaction.on_commit(remove_files)


def _own_live_message(*, user: User, message_id: int) -> Message:
    message = locked_message_for(user=user, message_id=message_id)
    if message.sender_id != user.pk or message.kind != Message.Kind.TEXT:
        raise ChatError("You can only change your own messages.", code="not_sender")
    if message.deleted_at is not None:
        raise ChatError("This message was deleted.", code="deleted")
    return message


def locked_message_for(*, user: User, message_id: int, with_block: bool = False) -> Message:
    """The message, locked, with its sender and conversation, if the user is an active member of
    its conversation (chat.access.access_message); else Message.DoesNotExist, as for an unknown id.
    `with_block`: whether a block stands between the user and another member, read with it."""
    return access_message(user=user, message_id=message_id, for_update=True, with_block=with_block)


def next_change_seq(conversation_id: int) -> int:
    """Raise the conversation's change counter (edits, deletes, reactions) and return it; the
    row lock the UPDATE takes is held until commit, so changes commit in counter order (like
    seq for new messages)."""
    Conversation.objects.filter(pk=conversation_id).update(change_seq=F("change_seq") + 1)
    return Conversation.objects.filter(pk=conversation_id).values_list("change_seq", flat=True).get()


@transaction.atomic
def edit_message(*, user: User, message_id: int, body: str) -> Message:
    body = clean_body(body)
    message = _own_live_message(user=user, message_id=message_id)
    if body != message.body:
        message.body = body
        message.edited_at = timezone.now()
        message.change_seq = next_change_seq(message.conversation_id)
        message.save(update_fields=["body", "edited_at", "change_seq"])
        push_on_commit(active_member_ids(message.conversation), realtime.message_updated_event(message))
    return message


@transaction.atomic
def delete_message(*, user: User, message_id: int) -> Message:
    """Soft delete: the message keeps its place (seq) as a tombstone everyone sees; the text is gone."""
    message = _own_live_message(user=user, message_id=message_id)
    message.body = ""
    message.deleted_at = timezone.now()
    message.change_seq = next_change_seq(message.conversation_id)
    message.save(update_fields=["body", "deleted_at", "change_seq"])
    _remove_attachments(message)
    if message.reaction_count:  # a tombstone carries no reactions
        Reaction.objects.filter(message=message).delete()
        message.reaction_count = 0
        Message.objects.filter(pk=message.pk).update(reaction_count=0)
    push_on_commit(active_member_ids(message.conversation), realtime.message_updated_event(message))
    return message


@transaction.atomic
def mark_read(*, user: User, conversation_id: int, seq: int) -> Membership:
    """Move the user's read marker forward to `seq` (never back, never past the last message)."""
    _conversation, membership = access_conversation(user=user, conversation_id=conversation_id, for_update=True)
    if isinstance(seq, bool) or not isinstance(seq, int) or seq < 0:
        raise ChatError("seq must be a non-negative integer.", code="invalid_seq")
    seq = min(seq, membership.conversation.last_seq)
    if seq > membership.last_read_seq:
        membership.last_read_seq = seq
        membership.save(update_fields=["last_read_seq"])
        if seq == membership.conversation.last_seq:
            # Caught up: the notifications that pointed here have done their job.
            notification_services.mark_read_for_subject(user=user, subject=conversation_url(conversation_id))
        # The reader's other tabs update their badges; in a 1-on-1 the other sees "Seen".
        recipients = active_member_ids(membership.conversation) if membership.conversation.is_direct else [user.pk]
        push_on_commit(recipients, realtime.read_event(conversation_id=conversation_id, user=user, seq=seq))
    return membership
