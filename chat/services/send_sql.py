"""The statements of a chat send, written once as SQL instead of built by the ORM on every send.

A send is the hottest write in Lyceum, and through the ORM most of its CPU went into building
and compiling the same queries (lock, membership read with the block check, insert and head
update, read-marker update) anew on every send. Here every statement's SQL is built ONCE
per database vendor from the models' metadata (table and column names, quoting, FOR UPDATE
where the backend has it) and a send only binds its values, with the same statements in the
same transaction (the caller's `transaction.atomic`) under the same database constraints.
The lock also reads the memberships (as a JSON array), and on MySQL/MariaDB a user's send
moves the head and the read markers in one multi-table UPDATE: every round trip costs the
server process about 0.1 ms of CPU (the system calls and the wake-up), as much as building a
statement. `bench/chat_send_cpu.py` measures a send's CPU
(docs/benchmarks.md).

Rows come back as the models the rest of the code expects (`Conversation`, `Membership`,
`Message` instances marked as loaded from the database), holding the fields a send reads.
`append_message` is the one insert path of every message, user and system alike
(`bench/insert_paths.py` times it against `Message.objects.create`). The membership reads
here are chat.access's rule (active members only; a non-member gets Conversation.DoesNotExist)
written as SQL: the one other place the active-member filter is spelled out.
"""

# ruff: noqa: S608 - the SQL is assembled only from the models' own table and column names,
# quoted by the backend; every value is a bound parameter.

import json
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache

from django.db import connection
from django.db.models.base import ModelState

from accounts.models import User
from chat.models import Conversation, Membership, Message
from social.models import Block


@dataclass(frozen=True)
class _Statements:
    lock: str
    insert: str
    insert_fields: tuple
    move_head: str
    mark_sent: str
    move_head_and_mark_sent: str | None


# The JSON aggregate and array functions of each vendor Lyceum runs on (MariaDB 10.5+, MySQL
# 5.7.22+, SQLite's JSON functions): the memberships come back as one JSON array of arrays.
_JSON_AGGREGATES = {"mysql": ("JSON_ARRAYAGG", "JSON_ARRAY"), "sqlite": ("json_group_array", "json_array")}
# MariaDB cuts a JSON_ARRAYAGG longer than group_concat_max_len, sometimes into invalid JSON,
# sometimes at an element, into a valid array with members missing (a group send that skips
# them; a direct conversation whose other side, and its block, is not seen). The lock carries
# its own bound (SET STATEMENT ... FOR, MariaDB's per-statement variables), so no server
# setting and no session state (a connection whose variables were reset) can shorten it:
# 16 MiB, about 900,000 group members. MySQL does not bound JSON_ARRAYAGG by it.
MARIADB_AGGREGATE_BOUND = "SET STATEMENT group_concat_max_len = 16777216 FOR "


@lru_cache(maxsize=8)
def _statements(vendor: str, for_update: bool, mariadb: bool = False) -> _Statements:
    q = connection.ops.quote_name

    def table(model) -> str:
        return q(model._meta.db_table)

    def col(model, name: str) -> str:
        return q(model._meta.get_field(name).column)

    conv, member, message, user, block = Conversation, Membership, Message, User, Block
    aggregate, array = _JSON_AGGREGATES[vendor]
    m_user = f"m.{col(member, 'user')}"
    # A group's active members: (membership id, user id) each.
    group_members = (
        f"SELECT {aggregate}({array}(m.{col(member, 'id')}, {m_user})) FROM {table(member)} m"
        f" WHERE m.{col(member, 'conversation')} = c.{col(conv, 'id')} AND m.{col(member, 'left_at')} IS NULL"
    )
    # Direct: both memberships (also a left one), whether each user is still active, and
    # whether a block stands between that user and the sender (in either direction).
    direct_members = (
        f"SELECT {aggregate}({array}(m.{col(member, 'id')}, {m_user}, m.{col(member, 'accepted')},"
        f" m.{col(member, 'left_at')} IS NULL, u.{col(user, 'is_active')},"
        f" EXISTS(SELECT 1 FROM {table(block)} b"
        f" WHERE (b.{col(block, 'blocker')} = {m_user} AND b.{col(block, 'blocked')} = %s)"
        f" OR (b.{col(block, 'blocker')} = %s AND b.{col(block, 'blocked')} = {m_user}))))"
        f" FROM {table(member)} m INNER JOIN {table(user)} u ON u.{col(user, 'id')} = {m_user}"
        f" WHERE m.{col(member, 'conversation')} = c.{col(conv, 'id')}"
    )
    # ONE statement: the locked row, the sender's is_active and the memberships a send needs,
    # as a JSON array. Subqueries: a locking read does not lock the rows of its subqueries (the
    # user and membership rows are not locked), and they are evaluated once the row is locked,
    # so they read what the separate statement after the lock read (READ COMMITTED: a fresh view).
    lock = (MARIADB_AGGREGATE_BOUND if mariadb else "") + (
        f"SELECT c.{col(conv, 'kind')}, c.{col(conv, 'last_seq')}, c.{col(conv, 'name')},"
        f" (SELECT {col(user, 'is_active')} FROM {table(user)} WHERE {col(user, 'id')} = %s),"
        f" CASE WHEN c.{col(conv, 'kind')} = %s THEN ({direct_members}) ELSE ({group_members}) END"
        f" FROM {table(conv)} c WHERE c.{col(conv, 'id')} = %s" + (" FOR UPDATE" if for_update else "")
    )
    insert_fields = tuple(f for f in message._meta.concrete_fields if not f.primary_key)
    insert = (
        f"INSERT INTO {table(message)} ({', '.join(q(f.column) for f in insert_fields)})"
        f" VALUES ({', '.join(['%s'] * len(insert_fields))})"
    )
    move_head = (
        f"UPDATE {table(conv)} SET {col(conv, 'last_seq')} = %s, {col(conv, 'last_message')} = %s,"
        f" {col(conv, 'last_message_at')} = %s WHERE {col(conv, 'id')} = %s"
    )
    # ONE statement: the conversation comes back for everyone who archived it, and the sender's
    # read marker moves up to their own message (never down).
    read = col(member, "last_read_seq")
    mark_sent = (
        f"UPDATE {table(member)} SET {col(member, 'archived')} = %s,"
        f" {read} = CASE WHEN {col(member, 'id')} = %s AND {read} < %s THEN %s ELSE {read} END"
        f" WHERE {col(member, 'conversation')} = %s AND {col(member, 'left_at')} IS NULL"
        f" AND ({col(member, 'archived')} = %s OR {col(member, 'id')} = %s)"
    )
    # Both in ONE statement where the database updates two tables at once (MySQL/MariaDB's
    # multi-table UPDATE): a round trip less per send. The LEFT JOIN moves the head even if no
    # membership matched (cannot happen: the sender's active one always does).
    both = None
    if vendor == "mysql":
        m_id, m_read, m_archived = f"m.{col(member, 'id')}", f"m.{read}", f"m.{col(member, 'archived')}"
        both = (
            f"UPDATE {table(conv)} c LEFT JOIN {table(member)} m"
            f" ON m.{col(member, 'conversation')} = c.{col(conv, 'id')} AND m.{col(member, 'left_at')} IS NULL"
            f" AND ({m_archived} = %s OR {m_id} = %s)"
            f" SET c.{col(conv, 'last_seq')} = %s, c.{col(conv, 'last_message')} = %s,"
            f" c.{col(conv, 'last_message_at')} = %s, {m_archived} = %s,"
            f" {m_read} = CASE WHEN {m_id} = %s AND {m_read} < %s THEN %s ELSE {m_read} END"
            f" WHERE c.{col(conv, 'id')} = %s"
        )
    return _Statements(lock, insert, insert_fields, move_head, mark_sent, both)


def _sql() -> _Statements:
    mariadb = connection.vendor == "mysql" and connection.mysql_is_mariadb
    return _statements(connection.vendor, connection.features.has_select_for_update, mariadb)


def _loaded(instance):
    instance._state.adding = False
    instance._state.db = connection.alias
    return instance


def _row(model, **values):
    """A `model` instance as loaded from the database with just these fields, like a row of
    `.only(...)`: Model.__init__ (which walks every field for its default) is skipped, and a
    field that was not read is loaded on first access, as a deferred field is."""
    if "pk" in values:
        values[model._meta.pk.attname] = values.pop("pk")
    instance = model.__new__(model)
    instance.__dict__.update(values)
    instance._state = ModelState()
    return _loaded(instance)


@dataclass(frozen=True)
class SendMembers:
    """The memberships lock_conversation read for a send: [membership id, user id] of each
    active member of a group; [membership id, user id, accepted, active membership, user
    active, blocked] of both sides of a direct conversation."""

    rows: list


def lock_conversation(conversation_id: int, *, sender_id: int) -> tuple[Conversation, bool, SendMembers]:
    """The conversation row, locked until the transaction ends (seq allocation is serialised
    per conversation), whether the sender's account is active now, and the memberships
    memberships_for_send reads, all in ONE statement; Conversation.DoesNotExist when there is
    no such conversation."""
    with connection.cursor() as cursor:
        cursor.execute(_sql().lock, [sender_id, Conversation.Kind.DIRECT.value, sender_id, sender_id, conversation_id])
        row = cursor.fetchone()
    if row is None:
        raise Conversation.DoesNotExist("No such conversation.")
    kind, last_seq, name, sender_active, members = row
    conversation = _row(Conversation, pk=conversation_id, kind=kind, last_seq=last_seq, name=name)
    return conversation, bool(sender_active), SendMembers(json.loads(members) if members else [])


@dataclass
class OtherMember:
    """The other side of a direct conversation, as a send needs it."""

    membership_id: int
    user_id: int
    accepted: bool
    left: bool
    user_is_active: bool
    blocked: bool


def memberships_for_send(
    conversation: Conversation, sender_id: int, members: SendMembers
) -> tuple[Membership, list[int], list[OtherMember]]:
    """From what lock_conversation read: (the sender's active membership, every active
    member's user id, the other side of a direct conversation — empty for groups). A
    non-member gets DoesNotExist."""
    sender = None
    member_ids: list[int] = []
    others: list[OtherMember] = []
    if conversation.is_direct:
        for membership_id, user_id, accepted, active, user_is_active, blocked in members.rows:
            if active:
                member_ids.append(user_id)
            if user_id == sender_id:
                if active:
                    sender = (membership_id, bool(accepted))
            else:
                others.append(
                    OtherMember(membership_id, user_id, bool(accepted), not active, bool(user_is_active), bool(blocked))
                )
    else:
        for membership_id, user_id in members.rows:
            member_ids.append(user_id)
            if user_id == sender_id:
                sender = (membership_id, True)
    if sender is None:
        raise Conversation.DoesNotExist("No such conversation.")
    membership = _row(
        Membership, pk=sender[0], conversation_id=conversation.pk, user_id=sender_id, accepted=sender[1], left_at=None
    )
    return membership, member_ids, others


def append_message(
    conversation: Conversation,
    *,
    sender: User,
    kind: str,
    body: str,
    client_id,
    now: datetime,
    reply_to=None,
    move_head: bool = True,
) -> Message:
    """Insert the conversation's next message and move its head (the conversation is locked);
    `move_head=False` leaves the head to the caller's move_head_and_mark_sent. A duplicate
    (sender, client_id) raises IntegrityError, as Message.objects.create would."""
    sql = _sql()
    seq = conversation.last_seq + 1
    message = Message(
        conversation_id=conversation.pk,
        seq=seq,
        sender=sender,
        kind=kind,
        body=body,
        client_id=client_id,
        created_at=now,
        reply_to=reply_to,
    )
    values = [field.get_db_prep_save(field.pre_save(message, True), connection) for field in sql.insert_fields]
    with connection.cursor() as cursor:
        cursor.execute(sql.insert, values)
        message.pk = cursor.lastrowid
        if move_head:
            cursor.execute(sql.move_head, _head_values(conversation, message))
    conversation.last_seq, conversation.last_message_at = seq, now
    return _loaded(message)


def _head_values(conversation: Conversation, message: Message) -> list:
    at = Conversation._meta.get_field("last_message_at").get_db_prep_save(message.created_at, connection)
    return [message.seq, message.pk, at, conversation.pk]


def move_head_and_mark_sent(conversation: Conversation, membership: Membership, message: Message) -> None:
    """A user's send, after append_message(move_head=False): the conversation's head moves to
    `message`, the conversation comes back for everyone who archived it, and the sender's read
    marker moves up to it (never down). One statement on MySQL/MariaDB, two elsewhere."""
    sql, seq = _sql(), message.seq
    marks = [False, membership.pk, seq, seq]
    with connection.cursor() as cursor:
        if sql.move_head_and_mark_sent is not None:
            head = _head_values(conversation, message)
            cursor.execute(sql.move_head_and_mark_sent, [True, membership.pk, *head[:3], *marks, conversation.pk])
            return
        cursor.execute(sql.move_head, _head_values(conversation, message))
        cursor.execute(sql.mark_sent, [*marks, conversation.pk, True, membership.pk])
