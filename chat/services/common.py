"""What every chat service shares: the refusal type, input rules, access and append helpers."""

import logging
import re
from collections.abc import Iterable

from django.urls import reverse
from django.utils import timezone

from accounts.models import User
from chat import realtime
from chat.access import access_conversation, active_member_ids
from chat.models import (
    BODY_MAX_LENGTH,
    CLIENT_ID_MAX_LENGTH,
    NAME_MAX_LENGTH,
    Conversation,
    Membership,
    Message,
)
from chat.services import send_sql
from config import inputs
from config.refusals import Refusal
from live.push import push_on_commit
from social.models import Friendship

logger = logging.getLogger(__name__)

Role = Membership.Role
CLIENT_ID_RE = re.compile(rf"^[A-Za-z0-9_.:-]{{8,{CLIENT_ID_MAX_LENGTH}}}$")
MENTION_RE = re.compile(r"(?<![\w@])@([A-Za-z][\w.-]{0,60})")
# Messages per user per window, for every way of sending (the live consumer also keeps its own,
# stricter token bucket so a flood is refused before it reaches the database).
DEFAULT_SEND_RATE = (30, 10)  # 30 messages per 10 seconds
DEFAULT_UNREAD_EMAIL_DELAY_SECONDS = 300
UNREAD_EMAIL_LOOKBACK = 1000  # seqs; an e-mail summarises, it does not need every message


class ChatError(Refusal):
    """A chat rule refused the action (config.refusals.Refusal); chat's codes and their
    statuses."""

    status_by_code = {
        "rate_limited": 429,
        "not_allowed": 403,
        "not_sender": 403,
        "blocked": 403,
        "unverified": 403,
        "member_limit": 409,
        "duplicate_client_id": 409,
        "deleted": 409,
        "not_a_group": 409,
        "inactive": 409,
        "file_too_large": 413,
        "too_many_pixels": 413,
        "too_many_pixels_in_total": 413,
        "file_type": 415,
        "not_an_image": 415,
        "unsafe_archive": 415,
        "unsafe_image": 415,
    }


# --- Helpers ------------------------------------------------------------------------------------


def display_name(user: User | None) -> str:
    """How chat's texts name a person (system messages, notifications)."""
    if user is None:
        return "Someone"
    return user.get_full_name() or "A student"


def clean_body(body: object) -> str:
    if not isinstance(body, str):
        raise ChatError("A message must be text.", code="invalid_body")
    body = body.strip()
    if not body:
        raise ChatError("Write something before sending.", code="empty_body")
    if len(body) > BODY_MAX_LENGTH:
        raise ChatError(f"Keep a message to {BODY_MAX_LENGTH} characters or fewer.", code="body_too_long")
    return body


def clean_optional_body(body: object) -> str:
    """The text of a message that carries files: may be empty."""
    if body is None:
        return ""
    if not isinstance(body, str):
        raise ChatError("A message must be text.", code="invalid_body")
    body = body.strip()
    if len(body) > BODY_MAX_LENGTH:
        raise ChatError(f"Keep a message to {BODY_MAX_LENGTH} characters or fewer.", code="body_too_long")
    return body


def clean_client_id(client_id: object) -> str:
    if not isinstance(client_id, str) or not CLIENT_ID_RE.match(client_id):
        raise ChatError(
            f"client_id must be 8 to {CLIENT_ID_MAX_LENGTH} letters, digits or - _ . : (a UUID is ideal).",
            code="invalid_client_id",
        )
    return client_id


def clean_reply_to(reply_to: object) -> int | None:
    """The id of the message a send answers: None, or a positive id within bounds."""
    if reply_to is None or reply_to == "":
        return None
    parsed = inputs.parse_id(reply_to)
    if parsed is None:
        raise ChatError("reply_to must be a message id.", code="invalid_reply_to", field="reply_to")
    return parsed


def clean_name(name: object) -> str:
    if not isinstance(name, str):
        raise ChatError("Give the group a name.", code="invalid_name")
    name = " ".join(name.split())
    if not name:
        raise ChatError("Give the group a name.", code="invalid_name")
    if len(name) > NAME_MAX_LENGTH:
        raise ChatError(f"Keep the name to {NAME_MAX_LENGTH} characters or fewer.", code="invalid_name")
    return name


def are_friends(a_id: int, b_id: int) -> bool:
    """Whether the two are friends (a direct conversation between them needs no accepting)."""
    low, high = Friendship.ordered_ids(a_id, b_id)
    return Friendship.objects.filter(user_low_id=low, user_high_id=high).exists()


def locked_conversation(conversation_id: int) -> Conversation:
    """A conversation row locked until commit, with no access check: for the one its caller
    has just created (every other caller goes through chat.access.access_conversation)."""
    return Conversation.objects.select_for_update().get(pk=conversation_id)


def managed_group(
    user: User, conversation_id: int, *, not_a_group: str = "Only group conversations have members to manage."
) -> tuple[Conversation, Membership]:
    """The group, locked, and the membership of its owner or admin `user`. Membership is checked
    first (chat.access): to anyone else the conversation does not exist, whatever its kind."""
    conversation, membership = access_conversation(user=user, conversation_id=conversation_id, for_update=True)
    if not conversation.is_group:
        raise ChatError(not_a_group, code="not_a_group")
    if not membership.can_manage:
        raise ChatError("Only the group's owner and admins can do that.", code="not_allowed")
    return conversation, membership


def conversation_url(conversation_id: int) -> str:
    """The conversation's page (the link of its notifications)."""
    return reverse("chat:conversation", args=[conversation_id])


def _append(
    conversation: Conversation, *, sender: User | None, kind: str, body: str, client_id=None, unarchive: bool = True
) -> Message:
    """Store the next message of a LOCKED conversation and move the conversation's head.

    `unarchive=False`: the caller brings the conversation back for those who archived it
    itself (send_message does it in the same statement as the sender's read marker)."""
    # The one insert path of every message (bench/insert_paths.py: the written-once SQL costs
    # less than half of Message.objects.create on both vendors).
    message = send_sql.append_message(
        conversation, sender=sender, kind=kind, body=body, client_id=client_id, now=timezone.now()
    )
    conversation.last_message = message
    if unarchive:  # a conversation someone archived comes back when it has news
        Membership.objects.active().filter(conversation=conversation, archived=True).update(archived=False)
    return message


def append_system_message(conversation: Conversation, text: str, *, extra_recipients: Iterable[int] = ()) -> Message:
    """A system message (no sender) in a LOCKED conversation, pushed after commit to its
    members and `extra_recipients` (who was just removed or left)."""
    message = _append(conversation, sender=None, kind=Message.Kind.SYSTEM, body=text)
    recipients = set(active_member_ids(conversation)) | set(extra_recipients)
    push_on_commit(recipients, realtime.message_new_event(message))
    push_on_commit(recipients, realtime.conversation_updated_event(conversation_id=conversation.pk, reason="members"))
    return message
