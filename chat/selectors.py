"""Reads of the chat app, with their joins and access checks decided here.

A conversation the user is not an active member of does not exist for them: every selector
that takes a conversation id raises `Conversation.DoesNotExist` for it (404 / an error frame).
"""

from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import connection
from django.db.models import BooleanField, Case, Exists, F, IntegerField, QuerySet, Value, When
from django.db.models.expressions import RawSQL

from accounts.models import User
from chat.access import access_conversation, blocks_either_way
from chat.models import Attachment, Conversation, Membership, Message, Reaction, direct_key_for
from config.statements import PreparedRead
from social import selectors as social_selectors

HISTORY_PAGE = 50
HISTORY_MAX = 200
SINCE_MAX = 200
SEARCH_MAX = 50
CONVERSATIONS_MAX = 100


@dataclass
class ConversationSummary:
    """One row of the recent-conversations list (and the header of a conversation page)."""

    conversation: Conversation
    membership: Membership
    other: User | None = None  # the other person of a direct conversation
    other_last_read_seq: int = 0
    members: list[Membership] = field(default_factory=list)

    @property
    def id(self) -> int:
        return self.conversation.pk

    @property
    def title(self) -> str:
        if self.conversation.is_group:
            return self.conversation.name
        return self.other.get_full_name() if self.other else "Conversation"

    @property
    def unread(self) -> int:
        # The sender's own marker moves with each message they send: own messages never count.
        return max(0, self.conversation.last_seq - self.membership.last_read_seq)

    @property
    def first_unread_seq(self) -> int | None:
        return self.membership.last_read_seq + 1 if self.unread else None

    @property
    def last_message(self) -> Message | None:
        return self.conversation.last_message

    @property
    def preview(self) -> str:
        message = self.last_message
        if message is None:
            return "No messages yet"
        if message.deleted_at is not None:
            return "Message deleted"
        if not message.body and message.attachment_count:
            return f"{message.attachment_count} file{'s' if message.attachment_count != 1 else ''}"
        return message.body[:120]

    @property
    def preview_sender(self) -> str:
        message = self.last_message
        if message is None or message.sender_id is None or message.kind != Message.Kind.TEXT:
            return ""
        if message.sender_id == self.membership.user_id:
            return "You"
        return message.sender.first_name if message.sender else ""


def _my_memberships(user: User) -> QuerySet[Membership]:
    return Membership.objects.active().filter(user=user)


def conversation_rows_for(*, user: User, archived: bool = False, requests: bool = False) -> QuerySet[Membership]:
    """The user's memberships of the conversations a list shows, most recent activity first
    (a queryset, for the API to paginate; `summaries_of` turns a page of it into rows).

    `requests=True` lists message requests instead: direct conversations a non-friend started
    that the user has not accepted yet (only those with a message in them).
    """
    memberships = _my_memberships(user).select_related(
        "conversation",
        "conversation__last_message",
        "conversation__last_message__sender",
        "conversation__last_message__reply_to__sender",
    )
    if requests:
        memberships = memberships.filter(accepted=False, conversation__last_seq__gt=0)
    else:
        memberships = memberships.filter(accepted=True, archived=archived)
    return memberships.order_by("-conversation__last_message_at", "-conversation_id")


def summaries_of(*, user: User, memberships) -> list[ConversationSummary]:
    """Rows for memberships of `user`: preview, unread count, muted/archived state and, for
    direct ones, the other person. One more query (two when a preview has reactions)."""
    memberships = list(memberships)
    attach_reactions([m.conversation.last_message for m in memberships if m.conversation.last_message])
    return _with_others(user, [ConversationSummary(conversation=m.conversation, membership=m) for m in memberships])


def list_conversations_for(
    *, user: User, archived: bool = False, requests: bool = False, limit: int = CONVERSATIONS_MAX
) -> list[ConversationSummary]:
    """The `limit` most recent rows of a conversation list (the pages' list and the
    dashboard's recent chats): two queries, whatever the count."""
    rows = conversation_rows_for(user=user, archived=archived, requests=requests)[:limit]
    return summaries_of(user=user, memberships=list(rows))


def _with_others(user: User, summaries: list[ConversationSummary]) -> list[ConversationSummary]:
    direct = {s.conversation.pk: s for s in summaries if s.conversation.is_direct}
    if direct:
        others = Membership.objects.filter(conversation_id__in=list(direct)).exclude(user=user).select_related("user")
        for other in others:
            direct[other.conversation_id].other = other.user
            direct[other.conversation_id].other_last_read_seq = other.last_read_seq
    return summaries


def unread_conversations(*, user: User) -> QuerySet[Membership]:
    """The user's accepted, unmuted conversations with unread messages (their memberships)."""
    return _my_memberships(user).filter(accepted=True, muted=False, conversation__last_seq__gt=F("last_read_seq"))


def unread_conversations_count(*, user: User) -> int:
    """How many accepted, unmuted conversations have unread messages (for a badge)."""
    return unread_conversations(user=user).count()


def conversation_for(*, user: User, conversation_id: int) -> ConversationSummary:
    """One conversation with the user's membership, the other person (direct) and the active
    members (groups). Raises Conversation.DoesNotExist unless the user is an active member."""
    membership = (
        _my_memberships(user)
        .select_related(
            "conversation",
            "conversation__last_message",
            "conversation__last_message__sender",
            "conversation__last_message__reply_to__sender",
        )
        .filter(conversation_id=conversation_id)
        .first()
    )
    if membership is None:
        raise Conversation.DoesNotExist("No such conversation.")
    if membership.conversation.last_message:
        attach_reactions([membership.conversation.last_message])
    summary = ConversationSummary(conversation=membership.conversation, membership=membership)
    if summary.conversation.is_direct:
        _with_others(user, [summary])
    else:
        summary.members = list(members_of(conversation=summary.conversation))
    return summary


def open_direct_conversation_with(*, user: User, other: User) -> Conversation | None:
    """The direct conversation of the two, if the user is in it and has accepted it (a declined
    or not yet answered message request is not "open": opening it is a POST)."""
    membership = (
        _my_memberships(user)
        .filter(accepted=True, conversation__direct_key=direct_key_for(user.pk, other.pk))
        .select_related("conversation")
        .first()
    )
    return membership.conversation if membership is not None else None


def members_of(*, conversation: Conversation) -> QuerySet[Membership]:
    """Active members of a conversation (no access check: call after conversation_for), owner first."""
    role_order = Case(
        When(role=Membership.Role.OWNER, then=Value(0)),
        When(role=Membership.Role.ADMIN, then=Value(1)),
        default=Value(2),
        output_field=IntegerField(),
    )
    return (
        Membership.objects.active()
        .filter(conversation=conversation)
        .select_related("user")
        .order_by(role_order, "user__first_name", "user__last_name", "pk")
    )


def _require_member(user: User, conversation_id: int) -> None:
    access_conversation(user=user, conversation_id=conversation_id)


def _clamp(limit: int, ceiling: int) -> int:
    return max(1, min(int(limit), ceiling))


def attach_reactions(messages: list[Message]) -> list[Message]:
    """Load the reactions of these messages in ONE query (none when no message has any) and
    attach them (`reaction_rows`, read by chat.realtime.reactions_of). Returns the list."""
    wanted = [m for m in messages if m.reaction_count and m.deleted_at is None]
    for message in messages:
        message.reaction_rows = []
    if wanted:
        by_message = {m.pk: m for m in wanted}
        for row in Reaction.objects.filter(message_id__in=list(by_message)).select_related("user").order_by("pk"):
            by_message[row.message_id].reaction_rows.append(row)
    return messages


def reply_target(*, user: User, conversation_id: int, message_id: int) -> Message | None:
    """A message of this conversation the user may answer (for the no-JavaScript composer's
    "Replying to …"), or None. The user must be an active member."""
    _require_member(user, conversation_id)
    return (
        Message.objects.select_related("sender")
        .filter(pk=message_id, conversation_id=conversation_id, kind=Message.Kind.TEXT)
        .first()
    )


def history(
    *, user: User, conversation_id: int, before_seq: int | None = None, limit: int = HISTORY_PAGE
) -> tuple[list[Message], bool]:
    """Up to `limit` messages before `before_seq` (the newest when None), oldest first, and
    whether older ones exist. A backward range scan of the (conversation, seq) unique index."""
    _require_member(user, conversation_id)
    limit = _clamp(limit, HISTORY_MAX)
    messages = (
        Message.objects.filter(conversation_id=conversation_id)
        .select_related("sender", "reply_to__sender")
        .prefetch_related("attachments")
    )
    if before_seq is not None:
        messages = messages.filter(seq__lt=before_seq)
    page = list(messages.order_by("-seq")[: limit + 1])
    more = len(page) > limit
    return attach_reactions(list(reversed(page[:limit]))), more


def messages_since(
    *, user: User, conversation_id: int, after_seq: int, limit: int = SINCE_MAX
) -> tuple[list[Message], bool]:
    """Messages after `after_seq`, oldest first, capped; `more` says the client should ask again."""
    _require_member(user, conversation_id)
    limit = _clamp(limit, SINCE_MAX)
    page = list(
        Message.objects.filter(conversation_id=conversation_id, seq__gt=max(0, after_seq))
        .select_related("sender", "reply_to__sender")
        .prefetch_related("attachments")
        .order_by("seq")[: limit + 1]
    )
    return attach_reactions(page[:limit]), len(page) > limit


def changes_since(
    *, user: User, conversation_id: int, after_change: int, limit: int = SINCE_MAX
) -> tuple[list[Message], int, bool]:
    """Messages edited or deleted after the change cursor `after_change`, in change order:
    (messages, the cursor to ask from next time, more). A range scan of (conversation, change_seq).

    The conversation's counter is read BEFORE the messages: a change committed in between is
    in the page, so the returned cursor never skips one."""
    _require_member(user, conversation_id)
    limit = _clamp(limit, SINCE_MAX)
    head = Conversation.objects.filter(pk=conversation_id).values_list("change_seq", flat=True).get()
    page = list(
        Message.objects.filter(conversation_id=conversation_id, change_seq__gt=max(0, after_change))
        .select_related("sender", "reply_to__sender")
        .prefetch_related("attachments")
        .order_by("change_seq")[: limit + 1]
    )
    more = len(page) > limit
    page = attach_reactions(page[:limit])
    cursor = page[-1].change_seq if more else max([head, max(0, after_change)] + [m.change_seq for m in page])
    return page, cursor, more


def messages_around(
    *, user: User, conversation_id: int, seq: int, limit: int = HISTORY_PAGE
) -> tuple[list[Message], bool]:
    """A page that starts a little before `seq` (for "jump to first unread")."""
    return history(user=user, conversation_id=conversation_id, before_seq=seq + limit, limit=limit)


# InnoDB's default FULLTEXT stopwords and shortest indexed word (innodb_ft_min_token_size=3):
# such terms are left out of MATCH (they would match nothing) and checked with LIKE only.
FULLTEXT_MIN_TERM = 3
FULLTEXT_STOPWORDS = frozenset(
    {"a", "about", "an", "are", "as", "at", "be", "by", "com", "de", "en", "for", "from", "how", "i", "in", "is"}
    | {"it", "la", "of", "on", "or", "that", "the", "this", "to", "was", "what", "when", "where", "who", "will"}
    | {"with", "und", "www"}
)
SEARCH_MAX_TERMS = 8
DEFAULT_SEARCH_RECENT_WINDOW = 50_000


def search_terms(q: str) -> list[str]:
    return [term for term in q.split()[:SEARCH_MAX_TERMS] if term]


def _fulltext_query(terms: list[str]) -> str:
    """A boolean-mode query: every usable term required, as a word prefix."""
    words = []
    for term in terms:
        # Boolean-mode operators in user input are dropped, not interpreted.
        word = "".join(ch for ch in term.lower() if ch.isalnum() or ch in "_")
        if len(word) >= FULLTEXT_MIN_TERM and word not in FULLTEXT_STOPWORDS:
            words.append(f"+{word}*")
    return " ".join(words)


def search_window() -> int:
    return int(getattr(settings, "CHAT_SEARCH_RECENT_WINDOW", DEFAULT_SEARCH_RECENT_WINDOW))


def search_messages(*, user: User, q: str, limit: int = SEARCH_MAX) -> list[Message]:
    """Text messages containing every word of `q` in the user's active conversations, newest first.

    Elsewhere (SQLite) a LIKE per word. On MySQL/MariaDB, two steps so neither frequent nor
    rare words are slow at millions of messages:
    1. the newest CHAT_SEARCH_RECENT_WINDOW messages (a primary-key range, newest first): a
       frequent word fills the page here after a few thousand rows;
    2. only if the page is not full, older messages through the FULLTEXT index (migration
       0003; words as prefixes), which is fast exactly when the word is rare.
    Every word is also checked with LIKE, so both steps (and SQLite) agree on what matches."""
    q = " ".join(q.split())
    if len(q) < 2:
        return []
    limit = _clamp(limit, SEARCH_MAX)
    terms = search_terms(q)
    mine = _my_memberships(user).values("conversation_id")
    messages = Message.objects.filter(conversation_id__in=mine, kind=Message.Kind.TEXT, deleted_at__isnull=True)
    for term in terms:
        messages = messages.filter(body__icontains=term)
    messages = messages.select_related("sender", "conversation").order_by("-pk")
    against = _fulltext_query(terms) if connection.vendor == "mysql" else ""
    if not against:
        return list(messages[:limit])
    newest = Message.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    floor = max(0, newest - search_window())
    found = list(messages.filter(pk__gt=floor)[:limit])
    if len(found) < limit:
        older = messages.filter(pk__lte=floor).filter(
            RawSQL("MATCH (chat_message.body) AGAINST (%s IN BOOLEAN MODE)", [against], output_field=BooleanField())
        )
        found += list(older[: limit - len(found)])
    return found


def typing_audience(*, user: User, conversation_id: int) -> list[int]:
    """Who sees the user typing here: the other active members, except those with a block
    between them and the user (either way: in a group the blocker never sees the blocked typing).
    DoesNotExist unless the user is an active member now. One query, asked for every typing
    frame: a member removed a moment ago is not an active member any more."""
    rows = list(
        Membership.objects.active()
        .filter(conversation_id=conversation_id)
        .annotate(blocked=Exists(blocks_either_way(user.pk)))
        .values_list("user_id", "blocked")
    )
    if not any(user_id == user.pk for user_id, _ in rows):
        raise Conversation.DoesNotExist("No such conversation.")
    return [user_id for user_id, is_blocked in rows if user_id != user.pk and not is_blocked]


def message_for(*, user: User, message_id: int) -> Message:
    """A message in one of the user's conversations, or Message.DoesNotExist."""
    message = (
        Message.objects.select_related("sender", "reply_to__sender")
        .filter(pk=message_id, conversation_id__in=_my_memberships(user).values("conversation_id"))
        .first()
    )
    if message is None:
        raise Message.DoesNotExist("No such message.")
    return message


# Built by the ORM once per process (config.statements): it runs for every connect that brings a
# user online, where building it cost more CPU than running it.
_presence_audience_rows = PreparedRead(social_selectors.active_friends_with_public_ids)


def presence_audience(*, user: User) -> dict[int, Any]:
    """Who may see this user's online state, and whose state this user may see: friends only.
    A block ends the friendship, so blocked users (either way) are never in it.

    Keyed by pk (presence and channel groups work on pks) with each friend's public_id as the
    value: the one statement that finds them also gives "presence.state" its external ids."""
    public_id = User._meta.get_field("public_id")
    return {pk: public_id.to_python(value) for pk, value in _presence_audience_rows.rows(user.pk)}


def attachment_for(*, user: User, attachment_id: int) -> Attachment:
    """A file of a (not deleted) message in one of the user's active conversations, else
    Attachment.DoesNotExist — someone else's file looks exactly like a missing one."""
    attachment = (
        Attachment.objects.select_related("message")
        .filter(
            pk=attachment_id,
            message__deleted_at__isnull=True,
            message__conversation_id__in=_my_memberships(user).values("conversation_id"),
        )
        .first()
    )
    if attachment is None:
        raise Attachment.DoesNotExist("No such file.")
    return attachment


REPORT_PICKER_SIZE = 30


def reportable_messages(*, user: User, conversation_id: int, limit: int = REPORT_PICKER_SIZE) -> list[Message]:
    """The newest text messages of a conversation the user is in (not deleted), oldest first,
    with their files: what the user can see and may attach to a report. DoesNotExist unless
    the user is an active member."""
    _require_member(user, conversation_id)
    page = list(
        Message.objects.filter(conversation_id=conversation_id, kind=Message.Kind.TEXT, deleted_at__isnull=True)
        .select_related("sender")
        .prefetch_related("attachments")
        .order_by("-seq")[: _clamp(limit, HISTORY_MAX)]
    )
    return list(reversed(page))


def reportable_people(*, user: User, conversation_id: int) -> list[User]:
    """Everyone else who is or was in the conversation (a report may name any of them)."""
    _require_member(user, conversation_id)
    return list(
        User.objects.filter(chat_memberships__conversation_id=conversation_id)
        .exclude(pk=user.pk)
        .order_by("first_name", "last_name", "pk")
        .distinct()
    )


def direct_conversation_with(*, user: User, other: User) -> Conversation | None:
    """The direct conversation of these two, if the user is still in it."""
    return (
        Conversation.objects.filter(direct_key=direct_key_for(user.pk, other.pk))
        .filter(pk__in=_my_memberships(user).values("conversation_id"))
        .first()
    )
