"""Message search: every word must match, only my conversations; FULLTEXT on MySQL/MariaDB."""

import pytest
from django.db import connection

from chat import selectors, services
from chat.tests.factories import direct_between, send

# InnoDB indexes FULLTEXT words at commit: the rows must be committed to be found on MariaDB.
pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def chats(ada, bob, eve):
    mine = direct_between(ada, bob)
    theirs = direct_between(bob, eve)
    send(ada, mine, "The Fourier transform lecture is at noon")
    send(bob, mine, "Bring the fourier notes, please")
    send(bob, mine, "Coffee after the exam?")
    send(bob, theirs, "Fourier secrets between Bob and Eve")
    return mine, theirs


def bodies(found):
    return sorted(m.body for m in found)


def test_every_word_must_match_in_any_order_and_case(ada, chats):
    assert bodies(selectors.search_messages(user=ada, q="fourier")) == [
        "Bring the fourier notes, please",
        "The Fourier transform lecture is at noon",
    ]
    assert bodies(selectors.search_messages(user=ada, q="LECTURE fourier")) == [
        "The Fourier transform lecture is at noon"
    ]
    assert selectors.search_messages(user=ada, q="fourier coffee") == []


def test_word_prefixes_match(ada, chats):
    assert bodies(selectors.search_messages(user=ada, q="four lect")) == ["The Fourier transform lecture is at noon"]


def test_stopwords_and_short_words_still_narrow_by_text(ada, chats):
    # "the" is an InnoDB stopword and "at" is shorter than its minimum word: both are checked
    # as text, never dropped silently and never making the search find nothing.
    assert bodies(selectors.search_messages(user=ada, q="the exam")) == ["Coffee after the exam?"]
    assert bodies(selectors.search_messages(user=ada, q="at noon")) == ["The Fourier transform lecture is at noon"]


def test_boolean_operators_in_the_query_are_plain_text(ada, chats):
    assert selectors.search_messages(user=ada, q='-fourier +"secrets" (x*') == []
    assert bodies(selectors.search_messages(user=ada, q="+fourier* notes")) == []


def test_only_my_active_conversations_and_no_deleted_messages(ada, bob, eve, chats):
    mine, _ = chats
    assert "Fourier secrets between Bob and Eve" not in bodies(selectors.search_messages(user=ada, q="fourier"))
    assert bodies(selectors.search_messages(user=eve, q="fourier")) == ["Fourier secrets between Bob and Eve"]
    note = send(ada, mine, "fourier draft to delete")
    services.delete_message(user=ada, message_id=note.pk)
    assert "fourier draft to delete" not in bodies(selectors.search_messages(user=ada, q="draft"))


def test_too_short_queries_find_nothing(ada, chats):
    assert selectors.search_messages(user=ada, q=" f ") == []


@pytest.mark.skipif(connection.vendor != "mysql", reason="the FULLTEXT index exists on MySQL/MariaDB only")
def test_mysql_has_the_fulltext_index_and_search_uses_it(ada, chats):
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT index_type FROM information_schema.statistics WHERE table_schema = DATABASE() "
            "AND table_name = 'chat_message' AND index_name = 'chat_message_body_ft'"
        )
        assert cursor.fetchone() == ("FULLTEXT",)
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        selectors.search_messages(user=ada, q="fourier")
    assert any("MATCH (chat_message.body) AGAINST" in q["sql"] for q in queries.captured_queries)


@pytest.mark.parametrize("window", [1, 3, 1_000_000])
def test_the_recent_window_and_the_older_messages_give_the_same_answer(ada, bob, settings, window):
    """On MySQL/MariaDB the newest messages are scanned first and older ones come through the
    FULLTEXT index: whatever the window, the same messages, newest first, once each."""
    mine = direct_between(ada, bob)
    sent = [send(bob if i % 2 else ada, mine, f"fourier series part {i}") for i in range(6)]
    send(ada, mine, "something else entirely")
    settings.CHAT_SEARCH_RECENT_WINDOW = window
    found = selectors.search_messages(user=ada, q="fourier part")
    assert [m.pk for m in found] == [m.pk for m in reversed(sent)]
    assert [m.pk for m in selectors.search_messages(user=ada, q="fourier", limit=4)] == [
        m.pk for m in reversed(sent[2:])
    ]
