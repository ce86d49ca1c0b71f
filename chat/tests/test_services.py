"""chat.services: ordering, idempotency, permissions, groups, read state, unread e-mails."""

import threading
import time

import pytest
from django.core import mail

from chat import services
from chat.models import Conversation, Membership, Message
from chat.services import ChatError
from chat.tests.factories import UserFactory, befriend, client_id, direct_between, send
from notifications.models import Notification, NotificationKind
from social.models import Block

pytestmark = pytest.mark.django_db


# --- Direct conversations ----------------------------------------------------------------------


def test_friends_get_the_same_direct_conversation_every_time(ada, bob):
    befriend(ada, bob)

    first = services.open_direct_conversation(user=ada, other=bob)
    again = services.open_direct_conversation(user=bob, other=ada)

    assert first.pk == again.pk
    assert first.kind == Conversation.Kind.DIRECT
    assert set(first.memberships.values_list("user_id", "accepted")) == {(ada.pk, True), (bob.pk, True)}


def test_a_non_friend_conversation_is_a_message_request_for_the_other(ada, bob):
    conversation = services.open_direct_conversation(user=ada, other=bob)

    assert Membership.objects.get(conversation=conversation, user=bob).accepted is False
    send(ada, conversation, "Hi, we are in the same lab")
    notification = Notification.objects.get(recipient=bob)
    assert notification.kind == NotificationKind.MESSAGE_REQUEST


def test_replying_to_a_message_request_accepts_it(ada, bob):
    conversation = services.open_direct_conversation(user=ada, other=bob)
    send(ada, conversation)

    send(bob, conversation, "Hi!")

    assert Membership.objects.get(conversation=conversation, user=bob).accepted is True


@pytest.mark.parametrize("blocker", ["ada", "bob"])
def test_a_block_either_way_refuses_opening_and_sending(ada, bob, blocker):
    conversation = direct_between(ada, bob)
    people = {"ada": ada, "bob": bob}
    Block.objects.create(blocker=people[blocker], blocked=bob if blocker == "ada" else ada)

    with pytest.raises(ChatError) as opening:
        services.open_direct_conversation(user=ada, other=bob)
    with pytest.raises(ChatError) as sending:
        send(ada, conversation)

    assert opening.value.code == sending.value.code == "blocked"
    assert not Message.objects.exists()


def test_nobody_opens_a_conversation_with_themselves(ada):
    with pytest.raises(ChatError, match="yourself"):
        services.open_direct_conversation(user=ada, other=ada)


# --- Sending -----------------------------------------------------------------------------------


def test_messages_get_consecutive_seqs_and_move_the_conversation_head(ada, bob):
    conversation = direct_between(ada, bob)

    first = send(ada, conversation, "one")
    second = send(bob, conversation, "two")

    conversation.refresh_from_db()
    assert (first.seq, second.seq) == (1, 2)
    assert conversation.last_seq == 2
    assert conversation.last_message_id == second.pk


def test_a_retried_send_returns_the_stored_message_and_creates_nothing(ada, bob):
    conversation = direct_between(ada, bob)
    cid = client_id()

    first, created = services.send_message(sender=ada, conversation_id=conversation.pk, body="Hi", client_id=cid)
    again, created_again = services.send_message(sender=ada, conversation_id=conversation.pk, body="Hi", client_id=cid)

    assert created and not created_again
    assert again.pk == first.pk
    assert Message.objects.count() == 1


def test_a_client_id_reused_in_another_conversation_is_refused(ada, bob, cleo):
    one, two = direct_between(ada, bob), direct_between(ada, cleo)
    cid = client_id()
    services.send_message(sender=ada, conversation_id=one.pk, body="Hi", client_id=cid)

    with pytest.raises(ChatError) as refused:
        services.send_message(sender=ada, conversation_id=two.pk, body="Hi", client_id=cid)

    assert refused.value.code == "duplicate_client_id"


def test_a_retry_is_answered_with_the_stored_message_even_when_a_new_send_would_be_refused(ada, bob, settings):
    """No client_id is read before storing: the unique constraint finds a retry, and a refused
    send still answers a retry of a message already stored (rate limited, left meanwhile)."""
    settings.CHAT_SEND_RATE = (1, 60)
    befriend(ada, bob)
    group = services.create_group(owner=ada, name="Lab", members=[bob])
    cid = client_id()
    first, _ = services.send_message(sender=bob, conversation_id=group.pk, body="Hi", client_id=cid)

    rate_limited, created = services.send_message(sender=bob, conversation_id=group.pk, body="Hi", client_id=cid)
    services.leave_group(user=bob, conversation_id=group.pk)
    after_leaving, created_after = services.send_message(sender=bob, conversation_id=group.pk, body="Hi", client_id=cid)

    assert (rate_limited.pk, created, after_leaving.pk, created_after) == (first.pk, False, first.pk, False)
    settings.CHAT_SEND_RATE = (1000, 60)
    with pytest.raises(Conversation.DoesNotExist):  # a new message after leaving: refused
        services.send_message(sender=bob, conversation_id=group.pk, body="Hi", client_id=client_id())
    assert Message.objects.filter(conversation=group, sender=bob).count() == 1


def test_a_new_message_brings_the_conversation_back_for_everyone_who_archived_it(ada, bob, cleo):
    befriend(ada, bob)
    befriend(ada, cleo)
    group = services.create_group(owner=ada, name="Lab", members=[bob, cleo])
    for user in (ada, bob):
        services.set_archived(user=user, conversation_id=group.pk, archived=True)

    message = send(cleo, group)

    rows = {m.user_id: m for m in Membership.objects.filter(conversation=group)}
    assert not any(m.archived for m in rows.values())
    assert rows[cleo.pk].last_read_seq == message.seq
    assert rows[ada.pk].last_read_seq < message.seq and rows[bob.pk].last_read_seq < message.seq


def test_a_group_send_needs_few_statements(ada, bob, cleo, django_assert_max_num_queries):
    """The send path's round trips (bench/chat_load.py): lock with the members, insert, head,
    markers (head and markers in one statement on MariaDB)."""
    befriend(ada, bob)
    befriend(ada, cleo)
    group = services.create_group(owner=ada, name="Lab", members=[bob, cleo])

    with django_assert_max_num_queries(6):  # + the savepoint pair of the test's transaction
        send(ada, group)


def test_sending_marks_the_conversation_read_for_the_sender(ada, bob):
    conversation = direct_between(ada, bob)
    send(bob, conversation)
    send(bob, conversation)

    send(ada, conversation)

    assert Membership.objects.get(conversation=conversation, user=ada).last_read_seq == 3
    assert Membership.objects.get(conversation=conversation, user=bob).last_read_seq == 2


@pytest.mark.parametrize(
    ("body", "code"),
    [("", "empty_body"), ("   \n ", "empty_body"), ("x" * 4001, "body_too_long"), (None, "invalid_body")],
)
def test_bad_bodies_are_refused_and_nothing_is_stored(ada, bob, body, code):
    conversation = direct_between(ada, bob)

    with pytest.raises(ChatError) as refused:
        services.send_message(sender=ada, conversation_id=conversation.pk, body=body, client_id=client_id())

    assert refused.value.code == code
    assert not Message.objects.exists()


@pytest.mark.parametrize("cid", ["", "short", "x" * 65, "has space 123", None, 12345678])
def test_bad_client_ids_are_refused(ada, bob, cid):
    conversation = direct_between(ada, bob)

    with pytest.raises(ChatError) as refused:
        services.send_message(sender=ada, conversation_id=conversation.pk, body="Hi", client_id=cid)

    assert refused.value.code == "invalid_client_id"


def test_a_non_member_cannot_send_or_learn_the_conversation_exists(ada, bob, eve):
    conversation = direct_between(ada, bob)

    with pytest.raises(Conversation.DoesNotExist):
        send(eve, conversation)
    with pytest.raises(Conversation.DoesNotExist):
        services.send_message(sender=eve, conversation_id=999_999, body="Hi", client_id=client_id())


def test_a_member_who_left_a_group_can_no_longer_send(ada, bob):
    befriend(ada, bob)
    group = services.create_group(owner=ada, name="Lab", members=[bob])
    services.leave_group(user=bob, conversation_id=group.pk)

    with pytest.raises(Conversation.DoesNotExist):
        send(bob, group)


@pytest.mark.parametrize("kind", ["direct", "group"])
def test_an_inactive_sender_is_refused_whatever_the_caller_holds(ada, bob, kind):
    # Given a message Ada sent, and then her account deactivated behind the caller's back
    # (the caller's `ada` is the instance a socket opened before the deactivation holds)
    befriend(ada, bob)
    conversation = (
        direct_between(ada, bob) if kind == "direct" else services.create_group(owner=ada, name="Lab", members=[bob])
    )
    before = Message.objects.filter(conversation=conversation).count()
    sent = send(ada, conversation, "before", cid="kept-client-id-1")
    type(ada).objects.filter(pk=ada.pk).update(is_active=False)
    assert ada.is_active

    # When she sends again, a new message or a retry of the stored one
    for cid in (client_id(), "kept-client-id-1"):
        with pytest.raises(ChatError) as refused:
            services.send_message(sender=ada, conversation_id=conversation.pk, body="after", client_id=cid)

        # Then both are refused and nothing is stored
        assert refused.value.code == "sender_inactive"
    assert list(Message.objects.filter(conversation=conversation).values_list("pk", flat=True))[before:] == [sent.pk]


def test_sending_too_fast_is_rate_limited(ada, bob, settings):
    settings.CHAT_SEND_RATE = (3, 60)
    conversation = direct_between(ada, bob)
    for _ in range(3):
        send(ada, conversation)

    with pytest.raises(ChatError) as refused:
        send(ada, conversation)

    assert refused.value.code == "rate_limited"
    assert Message.objects.count() == 3


def test_a_cache_outage_lets_the_send_through_instead_of_failing_it(ada, bob, settings):
    """Redis restarting must not cost a message: the database is up, so it is stored. The cache
    is a Redis where nothing listens (the discard port): every Redis command fails, through
    Django's cache and through config.redis_client alike."""
    conversation = direct_between(ada, bob)
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:9/0",
            "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5},
        }
    }

    message = send(ada, conversation)

    assert Message.objects.filter(pk=message.pk, body=message.body).exists()


def test_the_new_message_is_pushed_to_every_member_after_commit(
    ada, bob, monkeypatch, django_capture_on_commit_callbacks
):
    conversation = direct_between(ada, bob)
    pushed = []

    class RecordingLayer:  # every member's user group gets the event, in one hop to the loop
        async def group_send(self, group, message):
            pushed.append((int(group.removeprefix("user.")), message["event"]))

    monkeypatch.setattr("live.push.get_channel_layer", lambda: RecordingLayer())

    with django_capture_on_commit_callbacks(execute=True):
        message = send(ada, conversation, "Hi")

    new = [(uid, e) for uid, e in pushed if e["type"] == "message.new"]
    assert sorted(uid for uid, _ in new) == sorted([ada.pk, bob.pk])
    assert new[0][1]["message"]["id"] == message.pk
    assert new[0][1]["message"]["seq"] == 1


# --- Concurrency --------------------------------------------------------------------------------


def _send_from_threads(conversation, senders, per_sender):
    errors = []

    def worker(sender):
        from django.db import connection as thread_connection

        try:
            for i in range(per_sender):
                services.send_message(
                    sender=sender, conversation_id=conversation.pk, body=f"{sender.pk}-{i}", client_id=client_id()
                )
        except Exception as error:
            errors.append(error)
        finally:
            thread_connection.close()

    threads = [threading.Thread(target=worker, args=(s,)) for s in senders]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return errors


@pytest.mark.django_db(transaction=True)
def test_concurrent_sends_get_seqs_without_gaps_or_duplicates():
    # Given a group of five friends; when each sends ten messages from its own thread at once
    owner, *others = UserFactory.create_batch(5)
    for other in others:
        befriend(owner, other)
    group = services.create_group(owner=owner, name="Race", members=others)
    before = Conversation.objects.get(pk=group.pk).last_seq

    errors = _send_from_threads(group, [owner, *others], per_sender=10)

    # Then every message has its own seq, consecutive after the system message
    assert errors == []
    seqs = list(Message.objects.filter(conversation=group, kind="text").order_by("seq").values_list("seq", flat=True))
    assert seqs == list(range(before + 1, before + 51))
    assert Conversation.objects.get(pk=group.pk).last_seq == before + 50
    for sender in [owner, *others]:
        own = list(
            Message.objects.filter(conversation=group, sender=sender).order_by("seq").values_list("body", flat=True)
        )
        assert own == [f"{sender.pk}-{i}" for i in range(10)]  # each sender's order is kept


# --- Edit and delete ----------------------------------------------------------------------------


def test_the_sender_edits_and_deletes_their_message_and_members_see_a_tombstone(ada, bob):
    conversation = direct_between(ada, bob)
    message = send(ada, conversation, "Helo")

    edited = services.edit_message(user=ada, message_id=message.pk, body="Hello")
    deleted = services.delete_message(user=ada, message_id=message.pk)

    assert edited.edited_at is not None
    deleted.refresh_from_db()
    assert deleted.deleted_at is not None and deleted.body == ""
    assert deleted.seq == 1  # keeps its place


def test_nobody_edits_or_deletes_someone_elses_message(ada, bob, eve):
    conversation = direct_between(ada, bob)
    message = send(ada, conversation, "Mine")

    with pytest.raises(ChatError) as member_edit:
        services.edit_message(user=bob, message_id=message.pk, body="Yours now")
    with pytest.raises(ChatError):
        services.delete_message(user=bob, message_id=message.pk)
    with pytest.raises(Message.DoesNotExist):
        services.edit_message(user=eve, message_id=message.pk, body="Eve was here")
    with pytest.raises(Message.DoesNotExist):
        services.delete_message(user=eve, message_id=message.pk)

    assert member_edit.value.code == "not_sender"
    message.refresh_from_db()
    assert message.body == "Mine" and message.deleted_at is None


# --- Groups -------------------------------------------------------------------------------------


def test_a_group_is_created_with_friends_only_and_a_system_message(ada, bob, cleo, eve):
    befriend(ada, bob)
    befriend(ada, cleo)

    with pytest.raises(ChatError) as stranger:
        services.create_group(owner=ada, name="Lab", members=[bob, eve])
    group = services.create_group(owner=ada, name="  Lab   group ", members=[bob, cleo])

    assert stranger.value.code == "not_friends"
    assert group.name == "Lab group"
    roles = dict(group.memberships.values_list("user_id", "role"))
    assert roles == {ada.pk: "owner", bob.pk: "member", cleo.pk: "member"}
    system = Message.objects.get(conversation=group)
    assert system.kind == "system" and system.sender is None
    assert "created the group" in system.body


def test_the_member_limit_is_enforced(ada, monkeypatch):
    monkeypatch.setattr("chat.services.conversations.GROUP_MEMBER_LIMIT", 3)
    friends = UserFactory.create_batch(3)
    for friend in friends:
        befriend(ada, friend)

    with pytest.raises(ChatError) as refused:
        services.create_group(owner=ada, name="Too big", members=friends)

    assert refused.value.code == "member_limit"


def test_owners_and_admins_manage_members_and_each_change_is_a_system_message(ada, bob, cleo):
    befriend(ada, bob)
    befriend(ada, cleo)
    befriend(bob, cleo)
    group = services.create_group(owner=ada, name="Lab", members=[bob])

    with pytest.raises(ChatError) as member_adds:
        services.add_members(actor=bob, conversation_id=group.pk, users=[cleo])
    services.promote_member(actor=ada, conversation_id=group.pk, user=bob)
    services.add_members(actor=bob, conversation_id=group.pk, users=[cleo])
    services.rename_group(actor=bob, conversation_id=group.pk, name="Lab 2")
    services.remove_member(actor=bob, conversation_id=group.pk, user=cleo)

    assert member_adds.value.code == "not_allowed"
    bodies = list(Message.objects.filter(conversation=group).order_by("seq").values_list("body", flat=True))
    assert len(bodies) == 5
    assert "made Bob Babbage an admin" in bodies[1]
    assert "added Cleo Patra" in bodies[2]
    assert "renamed the group" in bodies[3]
    assert "removed Cleo Patra" in bodies[4]
    assert Membership.objects.get(conversation=group, user=cleo).left_at is not None


def test_an_admin_cannot_remove_the_owner(ada, bob):
    befriend(ada, bob)
    group = services.create_group(owner=ada, name="Lab", members=[bob])
    services.promote_member(actor=ada, conversation_id=group.pk, user=bob)

    with pytest.raises(ChatError):
        services.remove_member(actor=bob, conversation_id=group.pk, user=ada)


def test_when_the_owner_leaves_the_next_admin_becomes_owner(ada, bob, cleo):
    befriend(ada, bob)
    befriend(ada, cleo)
    group = services.create_group(owner=ada, name="Lab", members=[bob, cleo])
    services.promote_member(actor=ada, conversation_id=group.pk, user=cleo)

    services.leave_group(user=ada, conversation_id=group.pk)

    assert Membership.objects.get(conversation=group, user=cleo).role == "owner"
    assert "left" in Message.objects.filter(conversation=group).order_by("-seq").first().body


def test_a_mention_notifies_the_member(ada, bob, cleo):
    befriend(ada, bob)
    befriend(ada, cleo)
    group = services.create_group(owner=ada, name="Lab", members=[bob, cleo])

    send(ada, group, "@bob can you bring the probe? cc no-one@example.org")

    mentions = Notification.objects.filter(kind=NotificationKind.MENTION)
    assert list(mentions.values_list("recipient_id", flat=True)) == [bob.pk]


# --- Read state ---------------------------------------------------------------------------------


def test_mark_read_only_moves_forward_and_never_past_the_last_message(ada, bob):
    conversation = direct_between(ada, bob)
    for _ in range(3):
        send(ada, conversation)

    services.mark_read(user=bob, conversation_id=conversation.pk, seq=2)
    services.mark_read(user=bob, conversation_id=conversation.pk, seq=1)
    assert Membership.objects.get(conversation=conversation, user=bob).last_read_seq == 2
    services.mark_read(user=bob, conversation_id=conversation.pk, seq=99)
    assert Membership.objects.get(conversation=conversation, user=bob).last_read_seq == 3


def test_mark_read_of_someone_elses_conversation_is_not_found(ada, bob, eve):
    conversation = direct_between(ada, bob)

    with pytest.raises(Conversation.DoesNotExist):
        services.mark_read(user=eve, conversation_id=conversation.pk, seq=1)


# --- Unread e-mail ------------------------------------------------------------------------------


def _unread_mails(user):
    return [m for m in mail.outbox if user.email in m.to]


def test_three_unread_messages_make_exactly_one_email(ada, bob, django_capture_on_commit_callbacks):
    conversation = direct_between(ada, bob)
    for text in ("one", "two", "three"):
        send(ada, conversation, text)

    with django_capture_on_commit_callbacks(execute=True):
        sent = services.email_unread_messages(conversation_id=conversation.pk)
        again = services.email_unread_messages(conversation_id=conversation.pk)

    assert (sent, again) == (1, 0)
    notification = Notification.objects.get(kind=NotificationKind.UNREAD_MESSAGES)
    assert notification.recipient == bob
    assert notification.title.startswith("3 unread messages")
    assert len(_unread_mails(bob)) == 1
    assert _unread_mails(ada) == []


def test_no_email_for_what_was_read_deleted_or_muted_meanwhile(ada, bob, cleo):
    read = direct_between(ada, bob)
    send(ada, read)
    services.mark_read(user=bob, conversation_id=read.pk, seq=1)
    deleted = direct_between(ada, cleo)
    message = send(ada, deleted)
    services.delete_message(user=ada, message_id=message.pk)
    muted = direct_between(bob, cleo)
    send(bob, muted)
    services.set_muted(user=cleo, conversation_id=muted.pk, muted=True)

    sent = [services.email_unread_messages(conversation_id=c.pk) for c in (read, deleted, muted)]

    assert sent == [0, 0, 0]
    assert not Notification.objects.filter(kind=NotificationKind.UNREAD_MESSAGES).exists()


def test_messages_after_an_email_make_the_next_batch(ada, bob):
    conversation = direct_between(ada, bob)
    send(ada, conversation, "one")
    services.email_unread_messages(conversation_id=conversation.pk)

    send(ada, conversation, "two")
    sent = services.email_unread_messages(conversation_id=conversation.pk)

    assert sent == 1
    latest = Notification.objects.filter(kind=NotificationKind.UNREAD_MESSAGES).first()
    assert latest.title.startswith("1 unread message ")


def test_the_unread_email_is_scheduled_once_per_window(ada, bob, monkeypatch, django_capture_on_commit_callbacks):
    from chat.tasks import email_unread_messages_task

    conversation = direct_between(ada, bob)
    scheduled = []
    monkeypatch.setattr(email_unread_messages_task, "apply_async", lambda **kw: scheduled.append(kw))
    conf = email_unread_messages_task.app.conf
    conf.task_always_eager = False  # as with a real broker
    try:
        with django_capture_on_commit_callbacks(execute=True):
            for _ in range(3):
                send(ada, conversation)
    finally:
        conf.task_always_eager = True

    assert scheduled == [{"args": [conversation.pk], "countdown": services.unread_email_delay()}]


def test_a_send_is_stored_and_answered_when_the_cache_cannot_be_reached(
    ada, bob, caplog, django_capture_on_commit_callbacks
):
    """Redis (the cache) down: the send-rate check and the unread e-mail's schedule are skipped
    with a warning each, after the commit nothing raises, and the message is stored; the sweep
    sends the e-mail later. A real redis-py client against a port where nothing listens."""
    import socket

    from django.test import override_settings

    from chat.models import Message
    from chat.services import unread_email
    from chat.tasks import email_unread_messages_task

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed again: connections are refused
    conversation = direct_between(ada, bob)
    unread_email._known_waiting.pop(conversation.pk, None)
    caches = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{port}/0",
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        }
    }
    conf = email_unread_messages_task.app.conf
    conf.task_always_eager = False  # as with a real broker: the schedule asks the cache
    try:
        with override_settings(CACHES=caches), django_capture_on_commit_callbacks(execute=True):
            message = send(ada, conversation, "while Redis restarts")
    finally:
        conf.task_always_eager = True

    assert Message.objects.filter(pk=message.pk, body="while Redis restarts").exists()
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert any(w.startswith("send-rate check skipped, cache unavailable") for w in warnings), warnings
    assert any(w.startswith(f"unread e-mail of conversation {conversation.pk} left to the sweep") for w in warnings)


def test_a_process_that_knows_the_window_skips_the_cache_and_another_learns_it_from_the_key(
    ada, bob, monkeypatch, django_capture_on_commit_callbacks
):
    """The window's task is known per process: the process that scheduled it, and a second one
    (its memory emptied here) after ONE look at the key, send the rest of the window's messages
    without a cache round trip — and never schedule a second task."""
    from django.core.cache import cache

    from chat.services import unread_email
    from chat.tasks import email_unread_messages_task

    conversation = direct_between(ada, bob)
    scheduled, cache_calls = [], []
    monkeypatch.setattr(email_unread_messages_task, "apply_async", lambda **kw: scheduled.append(kw))
    for name in ("add", "get"):
        original = getattr(cache, name)

        def spy(key, *args, _name=name, _original=original, **kwargs):
            if key.startswith("chat:unread-email:"):  # not the send-rate counter
                cache_calls.append(_name)
            return _original(key, *args, **kwargs)

        monkeypatch.setattr(cache, name, spy)
    conf = email_unread_messages_task.app.conf
    conf.task_always_eager = False  # as with a real broker
    try:
        with django_capture_on_commit_callbacks(execute=True):
            send(ada, conversation)
            send(ada, conversation)
        assert (len(scheduled), cache_calls) == (1, ["add"])  # the second send asked nothing

        unread_email._known_waiting.clear()  # another process: it has seen nothing yet
        with django_capture_on_commit_callbacks(execute=True):
            send(bob, conversation)
            send(bob, conversation)
        assert (len(scheduled), cache_calls) == (1, ["add", "add", "get"])
        assert unread_email._known_waiting[conversation.pk] > time.time()
    finally:
        conf.task_always_eager = True


def test_once_the_window_is_over_the_next_message_schedules_a_new_task(
    ada, bob, monkeypatch, django_capture_on_commit_callbacks
):
    from django.core.cache import cache

    from chat.services import unread_email
    from chat.tasks import email_unread_messages_task

    conversation = direct_between(ada, bob)
    scheduled = []
    monkeypatch.setattr(email_unread_messages_task, "apply_async", lambda **kw: scheduled.append(kw))
    conf = email_unread_messages_task.app.conf
    conf.task_always_eager = False
    try:
        with django_capture_on_commit_callbacks(execute=True):
            send(ada, conversation)
        # The window ends: the key expires and the memory says so.
        cache.delete(f"chat:unread-email:{conversation.pk}")
        unread_email._known_waiting[conversation.pk] = time.time() - 1
        with django_capture_on_commit_callbacks(execute=True):
            send(ada, conversation)
    finally:
        conf.task_always_eager = True

    assert len(scheduled) == 2


def test_the_task_sends_the_batch(ada, bob):
    from chat.tasks import email_unread_messages_task

    conversation = direct_between(ada, bob)
    send(ada, conversation)

    assert email_unread_messages_task(conversation.pk) == 1


def test_the_sweep_sends_what_a_lost_task_did_not(ada, bob, cleo):
    from datetime import timedelta

    from django.utils import timezone

    due = direct_between(ada, bob)
    send(ada, due, "old")
    Conversation.objects.filter(pk=due.pk).update(last_message_at=timezone.now() - timedelta(minutes=10))
    fresh = direct_between(ada, cleo)
    send(ada, fresh, "just now")

    handled = services.sweep_unread_emails()
    again = services.sweep_unread_emails()

    assert handled == [due.pk] and again == []
    assert list(
        Notification.objects.filter(kind=NotificationKind.UNREAD_MESSAGES).values_list("recipient_id", flat=True)
    ) == [bob.pk]


def test_catching_up_marks_the_conversations_notifications_read(ada, bob, cleo):
    befriend(ada, bob)
    befriend(ada, cleo)
    group = services.create_group(owner=ada, name="Lab", members=[bob, cleo])
    send(ada, group, "@bob look")
    services.email_unread_messages(conversation_id=group.pk)
    assert Notification.objects.filter(recipient=bob, read_at__isnull=True).count() == 2

    services.mark_read(user=bob, conversation_id=group.pk, seq=2)

    assert Notification.objects.filter(recipient=bob, read_at__isnull=True).count() == 0
