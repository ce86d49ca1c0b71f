"""Chat's frames on the live socket, registered with live.consumer's frame registry.

The database is the queue: "message.send" stores first (chat.services.send_message pushes
"message.new" to every member's tabs after commit) and acks the sending socket; "resync" answers
from the database what a client missed while it was away; "typing" goes to the other members
(not stored, throttled); "read" moves the read marker; "chat.unread.query" answers the navbar
badge. Every database hop goes through `consumer.db` (live.consumer: the live pool, after the
socket's credential check). Imported by chat's AppConfig.ready(), which also gives the socket
its "hello" part and count and presence policy (hello_part, hello_unread_count,
presence_policy below).
"""

import time

from django.conf import settings
from django.db.models import QuerySet

from chat import realtime as chat_realtime
from chat import selectors as chat_selectors
from chat import services as chat_services
from chat.models import Conversation, Membership
from config import inputs
from live import presence, push
from live.consumer import FrameError, LiveConsumer, credential_checked_batch, frame_handler
from live.db import Batched


def hello_part(user) -> dict:
    """Chat's part of "hello": who the socket is."""
    return {"user": chat_realtime.user_ref(user)}


def hello_unread_count(user) -> QuerySet[Membership]:
    """Chat's count in "hello", `chat_unread`: the conversations with unread messages (counted
    in the hello's one statement; depends on the user only through its pk)."""
    return chat_selectors.unread_conversations(user=user)


# Who hears that a user came online or went offline: their friends (never blocked users).
presence_policy = presence.Policy(audience=chat_selectors.presence_audience, event=chat_realtime.presence_event)


@frame_handler(chat_realtime.FRAME_UNREAD_QUERY)
async def unread_query(consumer: LiveConsumer, frame: dict) -> None:
    """{"type": "chat.unread.query"} → {"type": "chat.unread", "count"} (the navbar badge)."""
    count = await consumer.db(chat_selectors.unread_conversations_count)(user=consumer.scope["user"])
    await consumer.send_json(chat_realtime.unread_event(count=count))


# --- Messages ------------------------------------------------------------------------------------

SEND_BURST = 10  # a sender may send this many messages at once ...
SEND_REFILL_PER_SECOND = 2.0  # ... and then 2 a second: 10 messages per 5 s
RESYNC_MAX_CONVERSATIONS = 50
TYPING_MIN_INTERVAL_SECONDS = 3.0


def _conversation_id(frame: dict, **extra) -> int:
    conversation_id = inputs.parse_id(frame.get("conversation"))
    if conversation_id is None:
        raise FrameError("invalid_conversation", '"conversation" must be a conversation id.', **extra)
    return conversation_id


def _take_send_token(consumer: LiveConsumer) -> bool:
    """A token bucket per socket: bursts of SEND_BURST, then SEND_REFILL_PER_SECOND."""
    now = time.monotonic()
    tokens, last = getattr(consumer, "send_bucket", (float(SEND_BURST), now))
    tokens = min(float(SEND_BURST), tokens + (now - last) * SEND_REFILL_PER_SECOND)
    if tokens < 1.0:
        consumer.send_bucket = (tokens, now)
        return False
    consumer.send_bucket = (tokens - 1.0, now)
    return True


# The sockets' sends of this process, gathered while earlier ones are on the live pool: one
# pool hop and one transaction for all that wait (chat.services.send_messages; each send's
# outcome is what it would have been alone). LIVE_SEND_BATCHES bounds the batches in flight.
_store_messages = Batched(
    credential_checked_batch(chat_services.send_messages), concurrency=lambda: settings.LIVE_SEND_BATCHES
)


@frame_handler(chat_realtime.FRAME_SEND)
async def send_chat_message(consumer: LiveConsumer, frame: dict) -> None:
    """{"type": "message.send", "conversation", "body", "client_id"[, "reply_to"]} → "message.ack"
    to this socket. `reply_to` names an earlier message of the same conversation; any other id
    is refused with the error code "invalid_reply_to"."""
    client_id = frame.get("client_id") if isinstance(frame.get("client_id"), str) else None
    if client_id is not None and len(client_id) > 64:
        client_id = None
    conversation_id = _conversation_id(frame, client_id=client_id)
    refused = {"client_id": client_id, "conversation": conversation_id}
    if not _take_send_token(consumer):
        # Not a bad frame: a fast typist is not an attacker. Nothing is stored.
        await consumer.send_json(
            {"type": "error", "code": "rate_limited", "detail": "You are sending messages too fast.", **refused}
        )
        return
    try:
        message, _created = await consumer.db_batched(
            _store_messages,
            chat_services.TextSend(
                consumer.scope["user"],
                conversation_id,
                frame.get("body"),
                frame.get("client_id"),
                frame.get("reply_to"),
            ),
        )
    except chat_services.ChatError as error:
        if error.code == "rate_limited":
            await consumer.send_json(error.frame(**refused))
            return
        raise FrameError(error.code, error.message, field=error.field, **refused) from None
    except Conversation.DoesNotExist:
        raise FrameError("not_found", "No such conversation.", **refused) from None
    # The message ends this typing spell: the next "typing" frame goes out at once.
    consumer.__dict__.get("typing_sent", {}).pop(conversation_id, None)
    await consumer.send_json(chat_realtime.message_ack_event(message))


def _resync_batches(user, wanted: dict[int, tuple[int, int | None]]) -> list[dict]:
    frames = []
    for conversation_id, (after_seq, after_change) in wanted.items():
        try:
            messages, more = chat_selectors.messages_since(
                user=user, conversation_id=conversation_id, after_seq=after_seq
            )
            changes = None
            if after_change is not None:
                changes, cursor, changes_more = chat_selectors.changes_since(
                    user=user, conversation_id=conversation_id, after_change=after_change
                )
        except Conversation.DoesNotExist:
            frames.append(
                {
                    "type": "error",
                    "code": "not_found",
                    "detail": "No such conversation.",
                    "conversation": conversation_id,
                }
            )
            continue
        if changes is None:
            frames.append(
                chat_realtime.message_batch_event(conversation_id=conversation_id, messages=messages, more=more)
            )
        else:
            frames.append(
                chat_realtime.message_batch_event(
                    conversation_id=conversation_id,
                    messages=messages,
                    more=more,
                    changes=changes,
                    change_seq=cursor,
                    changes_more=changes_more,
                )
            )
    return frames


def _non_negative(value) -> bool:
    return not isinstance(value, bool) and isinstance(value, int) and 0 <= value < 2**63


@frame_handler(chat_realtime.FRAME_RESYNC)
async def resync(consumer: LiveConsumer, frame: dict) -> None:
    """{"type": "resync", "conversations": {"<id>": <last seq seen>}} → one "message.batch" each.

    A value may also be {"seq": <last seq seen>, "changes": <last change_seq seen>}: the batch
    then also carries the messages edited or deleted since that change cursor."""
    wanted = frame.get("conversations")
    if not isinstance(wanted, dict) or not 0 < len(wanted) <= RESYNC_MAX_CONVERSATIONS:
        raise FrameError(
            "invalid_resync", f'"conversations" must map up to {RESYNC_MAX_CONVERSATIONS} conversation ids to seqs.'
        )
    parsed: dict[int, tuple[int, int | None]] = {}
    for key, value in wanted.items():
        conversation_id = _conversation_id({"conversation": key})
        seq, changes = value, None
        if isinstance(value, dict):
            seq, changes = value.get("seq"), value.get("changes")
            if not _non_negative(changes):
                raise FrameError("invalid_resync", '"changes" must be a non-negative integer.')
        if not _non_negative(seq):
            raise FrameError("invalid_resync", "Each seq must be a non-negative integer.")
        parsed[conversation_id] = (seq, changes)
    for batch in await consumer.db(_resync_batches)(consumer.scope["user"], parsed):
        await consumer.send_json(batch)


@frame_handler(chat_realtime.FRAME_TYPING)
async def typing(consumer: LiveConsumer, frame: dict) -> None:
    """{"type": "typing", "conversation"} → pushed to the other members (not stored, throttled).

    Who gets it is read for every frame that passes the throttle (chat.selectors.typing_audience):
    a member removed from the group, or a block made, counts at once."""
    conversation_id = _conversation_id(frame)
    sent = consumer.__dict__.setdefault("typing_sent", {})
    now = time.monotonic()
    if now - sent.get(conversation_id, -TYPING_MIN_INTERVAL_SECONDS) < TYPING_MIN_INTERVAL_SECONDS:
        return
    try:
        audience = await consumer.db(chat_selectors.typing_audience)(
            user=consumer.scope["user"], conversation_id=conversation_id
        )
    except Conversation.DoesNotExist:
        raise FrameError("not_found", "No such conversation.", conversation=conversation_id) from None
    sent[conversation_id] = now
    await push.apush_to_users(
        audience, chat_realtime.typing_event(conversation_id=conversation_id, user=consumer.scope["user"])
    )


@frame_handler(chat_realtime.FRAME_READ)
async def read(consumer: LiveConsumer, frame: dict) -> None:
    """{"type": "read", "conversation", "seq"}: move my read marker (pushed as "read")."""
    conversation_id = _conversation_id(frame)
    seq = frame.get("seq")
    if isinstance(seq, bool) or not isinstance(seq, int) or seq < 0:
        raise FrameError("invalid_seq", '"seq" must be a non-negative integer.', conversation=conversation_id)
    try:
        await consumer.db(chat_services.mark_read)(
            user=consumer.scope["user"], conversation_id=conversation_id, seq=seq
        )
    except (Conversation.DoesNotExist, Membership.DoesNotExist):
        raise FrameError("not_found", "No such conversation.", conversation=conversation_id) from None
