"""Conversations: direct ones and message requests, groups and their members, mute and archive."""

import secrets
from collections.abc import Iterable

from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import User
from chat import realtime
from chat.access import access_conversation, active_member_ids, blocked_either_way
from chat.models import (
    GROUP_MEMBER_LIMIT,
    Conversation,
    Membership,
    direct_key_for,
)
from chat.services.common import (
    ChatError,
    Role,
    append_system_message,
    are_friends,
    clean_name,
    display_name,
    locked_conversation,
    managed_group,
)
from live.push import push_on_commit
from social import selectors as social_selectors

# --- Direct conversations and message requests --------------------------------------------------


@transaction.atomic
def open_direct_conversation(*, user: User, other: User) -> Conversation:
    """The one direct conversation between the two (created on first use).

    Friends talk at once. A non-friend's conversation reaches the other as a message request
    (their membership is not `accepted` until they accept or reply). A block either way refuses.
    """
    if user.pk == other.pk:
        raise ChatError("You cannot start a conversation with yourself.", code="self")
    if not other.is_active:
        raise ChatError("This account is no longer active.", code="inactive")
    if blocked_either_way(user.pk, other.pk):
        raise ChatError("You cannot message this student.", code="blocked")
    friends = are_friends(user.pk, other.pk)
    key = direct_key_for(user.pk, other.pk)
    conversation = Conversation.objects.filter(direct_key=key).first()
    if conversation is None:
        try:
            with transaction.atomic():
                conversation = Conversation.objects.create(
                    kind=Conversation.Kind.DIRECT, created_by=user, direct_key=key
                )
                Membership.objects.create(conversation=conversation, user=user, accepted=True)
                Membership.objects.create(conversation=conversation, user=other, accepted=friends)
            return conversation
        except IntegrityError:  # the other side opened it at the same moment
            conversation = Conversation.objects.get(direct_key=key)
    now_active = {"left_at": None}
    Membership.objects.filter(conversation=conversation, user=user).update(accepted=True, **now_active)
    if friends:
        Membership.objects.filter(conversation=conversation, user=other).update(accepted=True, **now_active)
    return conversation


@transaction.atomic
def accept_message_request(*, user: User, conversation_id: int) -> Membership:
    _conversation, membership = access_conversation(user=user, conversation_id=conversation_id, for_update=True)
    if not membership.accepted:
        membership.accepted = True
        membership.save(update_fields=["accepted"])
        push_on_commit(
            [user.pk], realtime.conversation_updated_event(conversation_id=conversation_id, reason="accepted")
        )
    return membership


@transaction.atomic
def decline_message_request(*, user: User, conversation_id: int) -> None:
    """Hide a message request: the conversation leaves the user's lists (the sender is not told)."""
    _conversation, membership = access_conversation(user=user, conversation_id=conversation_id, for_update=True)
    if membership.accepted:  # only a request can be declined; an accepted chat is archived instead
        raise Conversation.DoesNotExist("No such message request.")
    membership.left_at = timezone.now()
    membership.save(update_fields=["left_at"])


# --- Groups -------------------------------------------------------------------------------------


def _friends_only(*, actor: User, users: Iterable[User]) -> list[User]:
    wanted = {u.pk: u for u in users if u.pk != actor.pk}
    if not wanted:
        return []
    friend_ids = social_selectors.friend_ids_of(user=actor)
    strangers = [u for uid, u in wanted.items() if uid not in friend_ids or not u.is_active]
    if strangers:
        raise ChatError("You can only add your friends to a group.", code="not_friends")
    return list(wanted.values())


def _names(users: list[User]) -> str:
    names = [display_name(u) for u in users]
    if len(names) <= 3:
        return ", ".join(names[:-1]) + (" and " if len(names) > 1 else "") + names[-1]
    return f"{', '.join(names[:2])} and {len(names) - 2} others"


@transaction.atomic
def create_group(*, owner: User, name: str, members: Iterable[User]) -> Conversation:
    name = clean_name(name)
    people = _friends_only(actor=owner, users=members)
    if len(people) + 1 > GROUP_MEMBER_LIMIT:
        raise ChatError(f"A group has at most {GROUP_MEMBER_LIMIT} members.", code="member_limit")
    conversation = Conversation.objects.create(kind=Conversation.Kind.GROUP, name=name, created_by=owner)
    Membership.objects.create(conversation=conversation, user=owner, role=Role.OWNER)
    Membership.objects.bulk_create([Membership(conversation=conversation, user=u) for u in people])
    conversation = locked_conversation(conversation.pk)
    text = f'{display_name(owner)} created the group "{name}"'
    if people:
        text += f" with {_names(people)}"
    append_system_message(conversation, text + ".")
    return conversation


@transaction.atomic
def add_members(*, actor: User, conversation_id: int, users: Iterable[User]) -> list[User]:
    conversation, _mine = managed_group(actor, conversation_id)
    people = _friends_only(actor=actor, users=users)
    existing = {m.user_id: m for m in Membership.objects.filter(conversation=conversation, user__in=people)}
    added = [u for u in people if u.pk not in existing or existing[u.pk].left_at is not None]
    if not added:
        return []
    if len(active_member_ids(conversation)) + len(added) > GROUP_MEMBER_LIMIT:
        raise ChatError(f"A group has at most {GROUP_MEMBER_LIMIT} members.", code="member_limit")
    now = timezone.now()
    for user in added:
        if user.pk in existing:
            Membership.objects.filter(pk=existing[user.pk].pk).update(
                left_at=None, role=Role.MEMBER, joined_at=now, last_read_seq=conversation.last_seq, muted=False
            )
        else:
            Membership.objects.create(conversation=conversation, user=user, last_read_seq=conversation.last_seq)
    append_system_message(conversation, f"{display_name(actor)} added {_names(added)}.")
    return added


@transaction.atomic
def remove_member(*, actor: User, conversation_id: int, user: User) -> None:
    conversation, mine = managed_group(actor, conversation_id)
    if user.pk == actor.pk:
        raise ChatError("To leave the group, use Leave.", code="self")
    target = Membership.objects.active().filter(conversation=conversation, user=user).first()
    if target is None:
        raise ChatError("This student is not in the group.", code="not_member")
    if target.role == Role.OWNER or (target.role == Role.ADMIN and mine.role != Role.OWNER):
        raise ChatError("Only the owner can remove an admin, and nobody can remove the owner.", code="not_allowed")
    target.left_at = timezone.now()
    target.save(update_fields=["left_at"])
    append_system_message(
        conversation, f"{display_name(actor)} removed {display_name(user)}.", extra_recipients=[user.pk]
    )


@transaction.atomic
def leave_group(*, user: User, conversation_id: int) -> None:
    conversation, membership = access_conversation(user=user, conversation_id=conversation_id, for_update=True)
    if not conversation.is_group:
        raise ChatError("You can archive a direct conversation, not leave it.", code="not_a_group")
    membership.left_at = timezone.now()
    was_owner = membership.role == Role.OWNER
    membership.role = Role.MEMBER
    membership.save(update_fields=["left_at", "role"])
    text = f"{display_name(user)} left."
    if was_owner:
        heir = (
            Membership.objects.active()
            .filter(conversation=conversation)
            .select_related("user")
            .order_by("role", "joined_at", "pk")  # "admin" sorts before "member"
            .first()
        )
        if heir is not None:
            heir.role = Role.OWNER
            heir.save(update_fields=["role"])
            text += f" {display_name(heir.user)} is the owner now."
    append_system_message(conversation, text, extra_recipients=[user.pk])


@transaction.atomic
def rename_group(*, actor: User, conversation_id: int, name: str) -> Conversation:
    conversation, _mine = managed_group(actor, conversation_id)
    name = clean_name(name)
    if name != conversation.name:
        conversation.name = name
        conversation.save(update_fields=["name"])
        append_system_message(conversation, f'{display_name(actor)} renamed the group to "{name}".')
    return conversation


@transaction.atomic
def set_group_picture(*, actor: User, conversation_id: int, upload=None) -> Conversation:
    """Owners and admins set (upload) or remove (None) the group's picture. The image is checked
    and re-encoded before anything is written; a failure after the file is written removes it,
    and the replaced file is deleted only after commit."""
    from chat import attachments  # attachments imports services.common: import here, not at the top

    conversation, _mine = managed_group(actor, conversation_id, not_a_group="Only groups have a picture.")
    old_name = conversation.picture.name if conversation.picture else ""
    if upload is None and not old_name:
        return conversation
    content = attachments.prepare_group_picture(upload) if upload is not None else None
    storage = conversation.picture.storage
    new_name = ""
    try:
        if content is None:
            conversation.picture = ""
            text = f"{display_name(actor)} removed the group picture."
        else:
            conversation.picture.save(f"{secrets.token_hex(16)}.webp", ContentFile(content), save=False)
            new_name = conversation.picture.name
            text = f"{display_name(actor)} changed the group picture."
        conversation.save(update_fields=["picture"])
        append_system_message(conversation, text)
    except BaseException:
        if new_name:
            storage.delete(new_name)
        raise
    if old_name:
        transaction.on_commit(lambda: storage.delete(old_name))
    push_on_commit(
        active_member_ids(conversation),
        realtime.conversation_updated_event(conversation_id=conversation.pk, reason="picture"),
    )
    return conversation


@transaction.atomic
def promote_member(*, actor: User, conversation_id: int, user: User) -> Membership:
    conversation, _mine = managed_group(actor, conversation_id)
    target = Membership.objects.active().filter(conversation=conversation, user=user).first()
    if target is None:
        raise ChatError("This student is not in the group.", code="not_member")
    if target.role == Role.MEMBER:
        target.role = Role.ADMIN
        target.save(update_fields=["role"])
        append_system_message(conversation, f"{display_name(actor)} made {display_name(user)} an admin.")
    return target


@transaction.atomic
def set_muted(*, user: User, conversation_id: int, muted: bool) -> Membership:
    _conversation, membership = access_conversation(user=user, conversation_id=conversation_id, for_update=True)
    membership.muted = muted
    membership.save(update_fields=["muted"])
    push_on_commit([user.pk], realtime.conversation_updated_event(conversation_id=conversation_id, reason="muted"))
    return membership


@transaction.atomic
def set_archived(*, user: User, conversation_id: int, archived: bool) -> Membership:
    _conversation, membership = access_conversation(user=user, conversation_id=conversation_id, for_update=True)
    membership.archived = archived
    membership.save(update_fields=["archived"])
    push_on_commit([user.pk], realtime.conversation_updated_event(conversation_id=conversation_id, reason="archived"))
    return membership
