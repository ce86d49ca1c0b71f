"""Chat event types and their JSON shapes, defined once.

Every chat event goes to each member's user group through the one door (live.push), so every
open tab of a member gets it, across daphne processes. Events are hints: the database is the
queue, and a client that missed one resyncs from it (frame "resync" → "message.batch").
"""

import re
from typing import Any

from django.urls import reverse

from chat.emoji import emoji_name
from chat.formatting import render_body
from config.timezones import api_timestamp
from live import presence

# Server → client event types.
MESSAGE_NEW = "message.new"
MESSAGE_ACK = "message.ack"  # to the sending socket only
MESSAGE_UPDATED = "message.updated"
MESSAGE_DELETED = "message.deleted"
MESSAGE_BATCH = "message.batch"  # the answer to a "resync" frame, one per conversation
CONVERSATION_UPDATED = "conversation.updated"
TYPING = "typing"
READ = "read"
UNREAD = "chat.unread"  # the answer to "chat.unread.query": unread conversations (navbar badge)

# Client → server frame types (chat.frames registers their handlers with live.consumer).
FRAME_SEND = "message.send"
FRAME_RESYNC = "resync"
FRAME_TYPING = "typing"
FRAME_READ = "read"
FRAME_UNREAD_QUERY = "chat.unread.query"


def user_ref(user) -> str:
    """A user's one external id, as every API answer and socket frame carries it: their
    public_id, a UUID string. (The integer pk stays inside: presence, channel groups, SQL.)
    The way in is the other direction's one function per surface (chat.api's `_people`, the
    `<uuid:public_id>` routes): a public_id to an active User, else 404."""
    return str(user.public_id)


def user_payload(user) -> dict[str, Any] | None:
    if user is None:
        return None
    return {"public_id": user_ref(user), "name": user.get_full_name(), "initials": user.initials}


def attachment_payload(attachment) -> dict[str, Any]:
    """A file of a message; the URLs are the permission-checked views (members only)."""
    image = attachment.kind == "image"
    return {
        "id": attachment.pk,
        "kind": attachment.kind,
        "name": attachment.name,
        "content_type": attachment.content_type,
        "size": attachment.size,
        "width": attachment.width,
        "height": attachment.height,
        "url": reverse("chat:attachment", args=[attachment.pk]),
        "thumbnail_url": reverse("chat:attachment_thumbnail", args=[attachment.pk]) if image else None,
    }


def attachments_of(message) -> list:
    """The message's attachments without a query when it has none (or they were prefetched)."""
    if message.deleted_at is not None or not getattr(message, "attachment_count", 0):
        return []
    return list(message.attachments.all())


REPLY_EXCERPT_CHARS = 120
# The formatting marks a quote leaves out: it shows the words, not **the** `markup`.
_EXCERPT_MARKS_RE = re.compile(r"\*\*|`+|(?<![\w*])\*(?=\S)|(?<=\S)\*(?![\w*])|(?<![\w_])_(?=\S)|(?<=\S)_(?![\w_])")
REACTION_NAMES_SHOWN = 20


def reply_excerpt(message) -> str:
    """The first line of a message, short: what a reply's quote shows of the original."""
    if message.deleted_at is not None:
        return ""
    line = next((line.strip() for line in message.body.splitlines() if line.strip()), "")
    line = _EXCERPT_MARKS_RE.sub("", line).strip()
    if not line and getattr(message, "attachment_count", 0):
        return "File" if message.attachment_count == 1 else f"{message.attachment_count} files"
    return line if len(line) <= REPLY_EXCERPT_CHARS else line[: REPLY_EXCERPT_CHARS - 1].rstrip() + "…"


def reply_payload(message) -> dict[str, Any] | None:
    """The quote of the message this one answers: null when it answers none (or the original is
    gone); `deleted` when the original was deleted (its text is not carried)."""
    if not message.reply_to_id:
        return None
    original = message.reply_to
    if original is None:
        return None
    sender = original.sender if original.sender_id else None
    return {
        "id": original.pk,
        "seq": original.seq,
        "sender": (sender.get_full_name() or "A student") if sender is not None else None,
        "sender_public_id": user_ref(sender) if sender is not None else None,
        "excerpt": reply_excerpt(original),
        "deleted": original.deleted_at is not None,
    }


def reactions_of(message) -> list:
    """The message's Reaction rows (with their users), oldest first, without a query when it has
    none or they were attached by chat.selectors.attach_reactions."""
    if message.deleted_at is not None or not getattr(message, "reaction_count", 0):
        return []
    rows = getattr(message, "reaction_rows", None)
    if rows is None:
        rows = list(message.reactions.select_related("user").order_by("pk"))
    return rows


def reactions_payload(message) -> list[dict[str, Any]]:
    """Reactions grouped by emoji, in the order each emoji was first used: the count, every
    reacting user's public_id (so each client knows whether it is "mine") and the first names."""
    groups: dict[str, dict[str, Any]] = {}
    for row in reactions_of(message):
        group = groups.setdefault(
            row.emoji,
            {"emoji": row.emoji, "name": emoji_name(row.emoji), "count": 0, "user_public_ids": [], "names": []},
        )
        group["count"] += 1
        group["user_public_ids"].append(user_ref(row.user))
        if len(group["names"]) < REACTION_NAMES_SHOWN:
            group["names"].append(row.user.get_full_name() or "A student")
    return list(groups.values())


def message_payload(message) -> dict[str, Any]:
    """One message as every client sees it (API serializer and socket share this shape)."""
    deleted = message.deleted_at is not None
    return {
        "id": message.pk,
        "conversation": message.conversation_id,
        "seq": message.seq,
        "kind": message.kind,
        "sender": user_payload(message.sender) if message.sender_id else None,
        "body": "" if deleted else message.body,
        "body_html": "" if deleted else str(render_body(message.body)),
        "client_id": message.client_id,
        "created_at": api_timestamp(message.created_at),
        "edited_at": api_timestamp(message.edited_at),
        "deleted": deleted,
        "change_seq": message.change_seq,
        "attachments": [attachment_payload(a) for a in attachments_of(message)],
        "reply_to": reply_payload(message),
        "reactions": reactions_payload(message),
    }


def message_new_event(message) -> dict[str, Any]:
    return {"type": MESSAGE_NEW, "conversation": message.conversation_id, "message": message_payload(message)}


def message_ack_event(message) -> dict[str, Any]:
    return {
        "type": MESSAGE_ACK,
        "client_id": message.client_id,
        "id": message.pk,
        "seq": message.seq,
        "conversation": message.conversation_id,
        "message": message_payload(message),
    }


def message_updated_event(message) -> dict[str, Any]:
    kind = MESSAGE_DELETED if message.deleted_at is not None else MESSAGE_UPDATED
    return {"type": kind, "conversation": message.conversation_id, "message": message_payload(message)}


def message_batch_event(
    *,
    conversation_id: int,
    messages: list,
    more: bool,
    changes: list | None = None,
    change_seq: int | None = None,
    changes_more: bool = False,
) -> dict[str, Any]:
    """The answer to "resync". With a change cursor in the request it also carries `changes`
    (messages edited or deleted since then, current state), `change_seq` (the cursor to ask
    from next time) and `changes_more`."""
    event = {
        "type": MESSAGE_BATCH,
        "conversation": conversation_id,
        "messages": [message_payload(m) for m in messages],
        "more": more,
    }
    if changes is not None:
        event["changes"] = [message_payload(m) for m in changes]
        event["change_seq"] = change_seq
        event["changes_more"] = changes_more
    return event


def conversation_updated_event(*, conversation_id: int, reason: str) -> dict[str, Any]:
    return {"type": CONVERSATION_UPDATED, "conversation": conversation_id, "reason": reason}


def typing_event(*, conversation_id: int, user) -> dict[str, Any]:
    return {"type": TYPING, "conversation": conversation_id, "user": user_payload(user)}


def read_event(*, conversation_id: int, user, seq: int) -> dict[str, Any]:
    return {"type": READ, "conversation": conversation_id, "user": user_ref(user), "seq": seq}


def presence_event(*, user, online: bool) -> dict[str, Any]:
    """What a user's friends get when the user comes online or goes offline (live.presence)."""
    return {"type": presence.PRESENCE, "user": user_ref(user), "online": online}


def unread_event(*, count: int) -> dict[str, Any]:
    return {"type": UNREAD, "count": count}
