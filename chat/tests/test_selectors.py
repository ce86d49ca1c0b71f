"""chat.selectors: the conversation list in constant queries, history, resync, search, access."""

import pytest

from chat import selectors, services
from chat.models import Conversation
from chat.tests.factories import UserFactory, befriend, direct_between, send

pytestmark = pytest.mark.django_db


def _conversations_for(user, n):
    for _ in range(n):
        other = UserFactory()
        send(other, direct_between(user, other), "hi")


@pytest.mark.parametrize("count", [1, 20])
def test_the_conversation_list_costs_the_same_queries_for_1_or_20(ada, count, django_assert_num_queries):
    _conversations_for(ada, count)

    with django_assert_num_queries(2):
        rows = selectors.list_conversations_for(user=ada)
        rendered = [(r.title, r.preview, r.preview_sender, r.unread, r.other.initials) for r in rows]

    assert len(rendered) == count


def test_the_list_is_sorted_by_activity_with_preview_and_unread(ada, bob, cleo):
    with_bob, with_cleo = direct_between(ada, bob), direct_between(ada, cleo)
    send(bob, with_bob, "first")
    send(cleo, with_cleo, "second")
    send(cleo, with_cleo, "third")

    rows = selectors.list_conversations_for(user=ada)

    assert [r.id for r in rows] == [with_cleo.pk, with_bob.pk]
    assert (rows[0].title, rows[0].preview, rows[0].unread, rows[0].preview_sender) == (
        "Cleo Patra",
        "third",
        2,
        "Cleo",
    )
    assert rows[1].unread == 1


def test_own_messages_are_not_unread_and_archived_or_requests_are_listed_apart(ada, bob, cleo):
    friend = direct_between(ada, bob)
    send(ada, friend, "mine")
    request = services.open_direct_conversation(user=cleo, other=ada)
    send(cleo, request, "hello stranger")
    services.set_archived(user=ada, conversation_id=friend.pk, archived=True)

    assert selectors.list_conversations_for(user=ada) == []
    assert [r.id for r in selectors.list_conversations_for(user=ada, archived=True)] == [friend.pk]
    assert selectors.list_conversations_for(user=ada, archived=True)[0].unread == 0
    assert [r.id for r in selectors.list_conversations_for(user=ada, requests=True)] == [request.pk]


def test_group_rows_show_the_group_name(ada, bob):
    befriend(ada, bob)
    group = services.create_group(owner=ada, name="Lab", members=[bob])

    (row,) = selectors.list_conversations_for(user=bob)

    assert row.id == group.pk and row.title == "Lab" and row.other is None


def test_history_pages_backwards_and_says_when_there_is_more(ada, bob):
    conversation = direct_between(ada, bob)
    for i in range(1, 8):
        send(ada, conversation, f"m{i}")

    newest, more = selectors.history(user=bob, conversation_id=conversation.pk, limit=3)
    older, more_older = selectors.history(user=bob, conversation_id=conversation.pk, before_seq=newest[0].seq, limit=3)
    oldest, more_oldest = selectors.history(user=bob, conversation_id=conversation.pk, before_seq=older[0].seq, limit=3)

    assert [m.seq for m in newest] == [5, 6, 7] and more
    assert [m.seq for m in older] == [2, 3, 4] and more_older
    assert [m.seq for m in oldest] == [1] and not more_oldest


def test_messages_since_is_capped_with_a_more_flag(ada, bob):
    conversation = direct_between(ada, bob)
    for i in range(5):
        send(ada, conversation, f"m{i}")

    page, more = selectors.messages_since(user=bob, conversation_id=conversation.pk, after_seq=1, limit=3)
    rest, more_rest = selectors.messages_since(user=bob, conversation_id=conversation.pk, after_seq=page[-1].seq)

    assert [m.seq for m in page] == [2, 3, 4] and more
    assert [m.seq for m in rest] == [5] and not more_rest


@pytest.mark.django_db(transaction=True)  # MariaDB indexes FULLTEXT words at commit
def test_search_finds_only_my_conversations(ada, bob, cleo, eve):
    mine = direct_between(ada, bob)
    theirs = direct_between(cleo, eve)
    send(bob, mine, "the Fourier homework is due")
    send(cleo, theirs, "fourier secrets")

    found = selectors.search_messages(user=ada, q="fourier")

    assert [m.conversation_id for m in found] == [mine.pk]


@pytest.mark.parametrize(
    "read",
    [
        lambda user, c: selectors.history(user=user, conversation_id=c.pk),
        lambda user, c: selectors.messages_since(user=user, conversation_id=c.pk, after_seq=0),
        lambda user, c: selectors.conversation_for(user=user, conversation_id=c.pk),
        lambda user, c: selectors.typing_audience(user=user, conversation_id=c.pk),
    ],
    ids=["history", "since", "conversation", "members"],
)
def test_a_non_member_reads_nothing(ada, bob, eve, read):
    conversation = direct_between(ada, bob)
    send(ada, conversation)

    with pytest.raises(Conversation.DoesNotExist):
        read(eve, conversation)


def test_a_member_who_left_reads_nothing(ada, bob):
    befriend(ada, bob)
    group = services.create_group(owner=ada, name="Lab", members=[bob])
    services.leave_group(user=bob, conversation_id=group.pk)

    with pytest.raises(Conversation.DoesNotExist):
        selectors.history(user=bob, conversation_id=group.pk)
