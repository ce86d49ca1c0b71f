"""Reactions: a member puts one of the curated emoji (chat.emoji) on a message, or takes it off.

A reaction is a change of the message, carried like an edit: it raises the conversation's
`change_seq` under the row lock and stores it on the message, and the message goes out as
"message.updated" (with its `reactions`) to every member's open tabs after commit. A client
that was away gets it from the change cursor (resync `changes`, the API's `changed_after`),
so exactly-once holds for reactions as for edits. Adding one that is there already, or taking
off one that is not, changes nothing and pushes nothing.
"""

from django.db import IntegrityError, transaction
from django.db.models import F

from accounts import selectors as account_selectors
from accounts.models import User
from chat import realtime
from chat.access import active_member_ids
from chat.emoji import emoji_code, is_reaction_emoji
from chat.models import Message, Reaction
from chat.services.common import ChatError
from chat.services.messages import check_send_rate, locked_message_for, next_change_seq
from live.push import push_on_commit


def clean_emoji(emoji: object) -> str:
    if not is_reaction_emoji(emoji):
        raise ChatError("Pick one of the emoji offered.", code="invalid_emoji", field="emoji")
    return emoji  # type: ignore[return-value]


def _message_to_react_to(user: User, message_id: int) -> Message:
    """The message, locked, if the user is an active member of its conversation (else it does
    not exist for them); refused for system messages, deleted ones and blocked direct chats."""
    message = locked_message_for(user=user, message_id=message_id, with_block=True)
    if message.kind != Message.Kind.TEXT:
        raise ChatError("You can only react to messages people wrote.", code="not_allowed")
    if message.deleted_at is not None:
        raise ChatError("This message was deleted.", code="deleted")
    if message.conversation.is_direct and message.blocked_either_way:  # read with the lock
        raise ChatError("You cannot message this student.", code="blocked")
    return message


@transaction.atomic
def set_reaction(*, user: User, message_id: int, emoji: str, on: bool) -> tuple[Message, bool]:
    """Put `emoji` on the message (on=True) or take it off; (message, changed). The message comes
    back with its reactions attached (chat.realtime.reactions_payload). Rate limited with sends."""
    if not account_selectors.can_act(user):
        raise ChatError(account_selectors.UNVERIFIED_MESSAGE, code="unverified")
    emoji = clean_emoji(emoji)
    message = _message_to_react_to(user, message_id)
    check_send_rate(user.pk)
    code = emoji_code(emoji)
    existing = Reaction.objects.filter(message=message, user=user, code=code)
    changed = False
    if on and not existing.exists():
        try:
            with transaction.atomic():  # a double click racing itself: the unique constraint wins
                Reaction.objects.create(message=message, user=user, code=code)
            changed = True
        except IntegrityError:
            changed = False
        delta = 1
    elif not on:
        changed = existing.delete()[0] > 0
        delta = -1
    if changed:
        Message.objects.filter(pk=message.pk).update(reaction_count=F("reaction_count") + delta)
        message.change_seq = next_change_seq(message.conversation_id)
        Message.objects.filter(pk=message.pk).update(change_seq=message.change_seq)
    message.refresh_from_db(fields=["reaction_count", "change_seq"])
    message.reaction_rows = list(Reaction.objects.filter(message=message).select_related("user").order_by("pk"))
    if changed:
        push_on_commit(active_member_ids(message.conversation), realtime.message_updated_event(message))
    return message, changed
