"""Chat's one access rule: a conversation you are not an active member of does not exist for you.

Every service, selector, view, API endpoint and frame handler reaches a conversation through
`access_conversation` (fetch and authorise in one call, like Zulip's `access_stream_by_id`), or
filters memberships with `Membership.objects.active()` when it needs many. A non-member, a
member who left, a removed member and an unknown id all get the same
`Conversation.DoesNotExist` (404 / "not_found"), before any other refusal (403, 409), so the
answer tells nothing about a conversation the caller is not in. `blocked_either_way`
(social.selectors, re-exported here) is the one block check between two people.
"""

from django.db import connections
from django.db.models import Exists, FilteredRelation, OuterRef, Q, QuerySet

from chat.models import Conversation, Membership, Message, active_membership
from social.models import Block
from social.selectors import blocked_either_way

__all__ = ["access_conversation", "access_message", "active_member_ids", "blocked_either_way", "blocks_either_way"]


def access_conversation(*, user, conversation_id: int, for_update: bool = False) -> tuple[Conversation, Membership]:
    """(the conversation, the user's active membership), or Conversation.DoesNotExist. One query:
    the conversation with the user's active membership joined (a FilteredRelation).

    `for_update=True` locks both rows until the transaction ends: the conversation's serialises
    seq and change allocation per conversation, and the membership is read under the lock (a
    concurrent removal is seen, not raced) and is the row the caller's write changes. The
    conversation is the query's base table so it is locked first, in the order a send takes
    (conversation, then memberships): MariaDB locks the rows of a join in join order."""
    conversations = Conversation.objects.annotate(
        mine=FilteredRelation("memberships", condition=Q(memberships__user=user) & active_membership("memberships__"))
    ).select_related("mine")
    if for_update:
        conversations = conversations.select_for_update()
    conversation = conversations.filter(pk=conversation_id, mine__isnull=False).first()
    if conversation is None:
        raise Conversation.DoesNotExist("No such conversation.")
    membership = conversation.mine
    membership.conversation = conversation
    return conversation, membership


def access_message(*, user, message_id: int, for_update: bool = False, with_block: bool = False) -> Message:
    """The message, with its sender and conversation, if `user` is an active member of its
    conversation; else Message.DoesNotExist, as for an unknown id. One query (the membership
    rule as a subquery).

    `for_update=True` locks the message row until the transaction ends, and no user row: where
    the backend can name the tables to lock (FOR UPDATE OF: PostgreSQL, MySQL), only the
    message's; where it locks every joined row (MariaDB has no FOR UPDATE OF) the sender is not
    joined but read on first use (one more query there), and the conversation's row, which
    every change of a message takes next anyway (its change counter), is locked with it, in
    the same order (message, then conversation). Locking the sender's user row too would invert
    the order of a report, which locks the reporter's and the reported user's rows and then the
    reported messages (social.services.report_user, chat.services.reports): a reaction to a
    message being reported could deadlock with the report. It also held up every write of the
    sender's account meanwhile.

    `with_block=True` also reads, in the same query, whether a block stands either way between
    `user` and another member of the conversation (`message.blocked_either_way`: what a
    direct conversation refuses). A locking read does not lock the rows of its subqueries."""
    features = connections[Message.objects.db].features
    joins_sender = not for_update or features.has_select_for_update_of or not features.has_select_for_update
    messages = Message.objects.select_related(*(("sender", "conversation") if joins_sender else ("conversation",)))
    messages = messages.filter(
        pk=message_id, conversation_id__in=Membership.objects.active().filter(user=user).values("conversation_id")
    )
    if with_block:
        blocked_members = (
            Membership.objects.filter(conversation_id=OuterRef("conversation_id"))
            .exclude(user_id=user.pk)
            .filter(Exists(blocks_either_way(user.pk)))
        )
        messages = messages.annotate(blocked_either_way=Exists(blocked_members))
    if for_update:
        of_self = features.has_select_for_update_of
        messages = messages.select_for_update(of=("self",)) if of_self else messages.select_for_update()
    message = messages.first()
    if message is None:
        raise Message.DoesNotExist("No such message.")
    return message


def active_member_ids(conversation_id: int) -> list[int]:
    """The user ids of the conversation's active members (who a push about it reaches)."""
    return list(Membership.objects.active().filter(conversation_id=conversation_id).values_list("user_id", flat=True))


def blocks_either_way(user_id: int) -> QuerySet[Block]:
    """The Block rows between `user_id` and the membership row's user (OuterRef("user_id")), for
    an Exists() annotation over memberships."""
    return Block.objects.filter(
        Q(blocker_id=OuterRef("user_id"), blocked_id=user_id) | Q(blocker_id=user_id, blocked_id=OuterRef("user_id"))
    )
