"""Chat's one access rule: a conversation you are not an active member of does not exist for you.

Every service, selector, view, API endpoint and frame handler reaches a conversation through
`access_conversation` (fetch and authorise in one call, like Zulip's `access_stream_by_id`), or
filters memberships with `Membership.objects.active()` when it needs many. A non-member, a
member who left, a removed member and an unknown id all get the same
`Conversation.DoesNotExist` (404 / "not_found"), before any other refusal (403, 409), so the
answer tells nothing about a conversation the caller is not in. `blocked_either_way`
(social.selectors, re-exported here) is the one block check between two people.
"""

from django.db.models import OuterRef, Q, QuerySet

from chat.models import Conversation, Membership
from social.models import Block
from social.selectors import blocked_either_way

__all__ = ["access_conversation", "active_member_ids", "blocked_either_way", "blocks_either_way"]


def access_conversation(*, user, conversation_id: int, for_update: bool = False) -> tuple[Conversation, Membership]:
    """(the conversation, the user's active membership), or Conversation.DoesNotExist.

    `for_update=True` locks the conversation row until the transaction ends (seq and change
    allocation are serialised per conversation), then reads the membership under that lock."""
    conversations = Conversation.objects.select_for_update() if for_update else Conversation.objects
    if for_update:
        conversation = conversations.filter(pk=conversation_id).first()
        membership = (
            Membership.objects.active().filter(conversation_id=conversation_id, user=user).first()
            if conversation is not None
            else None
        )
    else:
        membership = (
            Membership.objects.active()
            .select_related("conversation")
            .filter(conversation_id=conversation_id, user=user)
            .first()
        )
        conversation = membership.conversation if membership is not None else None
    if conversation is None or membership is None:
        raise Conversation.DoesNotExist("No such conversation.")
    membership.conversation = conversation
    return conversation, membership


def active_member_ids(conversation_id: int) -> list[int]:
    """The user ids of the conversation's active members (who a push about it reaches)."""
    return list(Membership.objects.active().filter(conversation_id=conversation_id).values_list("user_id", flat=True))


def blocks_either_way(user_id: int) -> QuerySet[Block]:
    """The Block rows between `user_id` and the membership row's user (OuterRef("user_id")), for
    an Exists() annotation over memberships."""
    return Block.objects.filter(
        Q(blocker_id=OuterRef("user_id"), blocked_id=user_id) | Q(blocker_id=user_id, blocked_id=OuterRef("user_id"))
    )
