"""Replies (a quote of an earlier message of the same conversation) and emoji reactions (the
curated list, once per emoji per member, carried as a change of the message)."""

import uuid

import pytest
from django.urls import reverse

from chat import realtime, selectors, services
from chat.emoji import EMOJI
from chat.models import Conversation, Message, Reaction
from chat.services import ChatError
from chat.tests.factories import befriend, client_id, direct_between, send
from social.models import Block

pytestmark = pytest.mark.django_db

THUMBS = "👍"
HEART = "❤️"


@pytest.fixture
def group(ada, bob, cleo):
    befriend(ada, bob)
    befriend(ada, cleo)
    return services.create_group(owner=ada, name="Study group", members=[bob, cleo])


def _reply(sender, conversation, reply_to, body="Agreed"):
    message, _ = services.send_message(
        sender=sender, conversation_id=conversation.pk, body=body, client_id=client_id(), reply_to=reply_to
    )
    return message


# --- Replies ------------------------------------------------------------------------------------


def test_a_reply_carries_a_quote_of_the_original(ada, bob):
    conversation = direct_between(ada, bob)
    original = send(ada, conversation, "First line of it\nsecond line")

    reply = _reply(bob, conversation, original.pk)

    quote = realtime.message_payload(reply)["reply_to"]
    assert quote == {
        "id": original.pk,
        "seq": original.seq,
        "sender": "Ada Lovelace",
        "sender_public_id": str(ada.public_id),
        "excerpt": "First line of it",
        "deleted": False,
    }
    assert realtime.message_payload(original)["reply_to"] is None


def test_the_quote_of_a_deleted_original_says_so_and_carries_none_of_its_text(ada, bob):
    conversation = direct_between(ada, bob)
    original = send(ada, conversation, "secret plan")
    reply = _reply(bob, conversation, original.pk)

    services.delete_message(user=ada, message_id=original.pk)

    page, _ = selectors.history(user=bob, conversation_id=conversation.pk)
    quote = realtime.message_payload(page[-1])["reply_to"]
    assert page[-1].pk == reply.pk
    assert quote["deleted"] is True and quote["excerpt"] == ""
    assert "secret" not in str(realtime.message_payload(page[-1]))


@pytest.mark.parametrize("target", ["foreign", "unknown", "text"])
def test_a_reply_to_a_message_of_another_conversation_or_an_unknown_one_is_refused(ada, bob, eve, target):
    conversation = direct_between(ada, bob)
    foreign = send(eve, direct_between(eve, bob), "not yours")
    reply_to = {"foreign": foreign.pk, "unknown": 99_999_999, "text": "abc"}[target]

    with pytest.raises(ChatError) as refused:
        _reply(ada, conversation, reply_to)

    assert refused.value.code == "invalid_reply_to" and refused.value.field == "reply_to"
    assert not Message.objects.filter(conversation=conversation).exists()


def test_a_reply_over_the_api_and_its_refusal(ada, bob, eve, api_of):
    conversation = direct_between(ada, bob)
    original = send(ada, conversation, "Question?")
    foreign = send(eve, direct_between(eve, bob), "elsewhere")
    url = reverse("api:chat-messages", args=[conversation.pk])

    answer = api_of(bob).post(url, {"body": "Answer", "client_id": client_id(), "reply_to": original.pk}, format="json")
    refused = api_of(bob).post(url, {"body": "Answer", "client_id": client_id(), "reply_to": foreign.pk}, format="json")

    assert answer.status_code == 201
    assert answer.json()["reply_to"]["id"] == original.pk
    assert refused.status_code == 400
    assert refused.json()["code"] == "invalid_reply_to" and "reply_to" in refused.json()["errors"]


def test_a_reply_without_javascript_from_the_reply_link_to_the_stored_quote(ada, bob, client_of):
    conversation = direct_between(ada, bob)
    original = send(ada, conversation, "Lunch at noon?")
    client = client_of(bob)

    page = client.get(reverse("chat:conversation", args=[conversation.pk]) + f"?reply={original.pk}")
    html = page.content.decode()
    assert "Replying to" in html and "Lunch at noon?" in html
    assert f'name="reply_to" value="{original.pk}"' in html

    answer = client.post(
        reverse("chat:send", args=[conversation.pk]),
        {"body": "Yes!", "client_id": client_id(), "reply_to": str(original.pk)},
    )
    assert answer.status_code == 302
    reply = Message.objects.get(body="Yes!")
    assert reply.reply_to_id == original.pk
    shown = client.get(reverse("chat:conversation", args=[conversation.pk])).content.decode()
    assert f'class="chat-quote" href="#m-{original.seq}" data-reply-to="{original.pk}"' in shown


def test_a_reply_link_naming_another_conversations_message_shows_no_quote(ada, bob, eve, client_of):
    conversation = direct_between(ada, bob)
    foreign = send(eve, direct_between(eve, bob), "private words")

    html = client_of(ada).get(reverse("chat:conversation", args=[conversation.pk]) + f"?reply={foreign.pk}")

    assert html.status_code == 200
    assert "private words" not in html.content.decode()


# --- Reactions ----------------------------------------------------------------------------------


def test_the_curated_list_has_forty_named_emoji():
    assert len(EMOJI) == 40
    assert len({emoji for emoji, _ in EMOJI}) == 40
    assert all(name for _, name in EMOJI)


def test_a_reaction_is_counted_with_who_reacted_once_per_emoji_per_member(ada, bob, cleo, group):
    message = send(ada, group, "Exam moved to Friday")

    services.set_reaction(user=bob, message_id=message.pk, emoji=THUMBS, on=True)
    services.set_reaction(user=cleo, message_id=message.pk, emoji=THUMBS, on=True)
    _, changed = services.set_reaction(user=bob, message_id=message.pk, emoji=THUMBS, on=True)
    updated, _ = services.set_reaction(user=bob, message_id=message.pk, emoji=HEART, on=True)

    assert changed is False  # the second identical reaction changes nothing
    assert realtime.message_payload(updated)["reactions"] == [
        {
            "emoji": THUMBS,
            "name": "thumbs up",
            "count": 2,
            "user_public_ids": [str(bob.public_id), str(cleo.public_id)],
            "names": ["Bob Babbage", "Cleo Patra"],
        },
        {
            "emoji": HEART,
            "name": "red heart",
            "count": 1,
            "user_public_ids": [str(bob.public_id)],
            "names": ["Bob Babbage"],
        },
    ]
    assert Reaction.objects.count() == 3


def test_taking_a_reaction_off(ada, bob, group):
    message = send(ada, group, "hi")
    services.set_reaction(user=bob, message_id=message.pk, emoji=THUMBS, on=True)

    updated, changed = services.set_reaction(user=bob, message_id=message.pk, emoji=THUMBS, on=False)
    _, again = services.set_reaction(user=bob, message_id=message.pk, emoji=THUMBS, on=False)

    assert changed is True and again is False
    assert realtime.message_payload(updated)["reactions"] == []
    assert Message.objects.get(pk=message.pk).reaction_count == 0


@pytest.mark.parametrize("emoji", ["hello", "<b>", "", None, 5, "👍👍", "🦄"])
def test_only_the_curated_emoji_are_accepted(ada, bob, group, emoji):
    message = send(ada, group, "hi")
    with pytest.raises(ChatError) as refused:
        services.set_reaction(user=bob, message_id=message.pk, emoji=emoji, on=True)
    assert refused.value.code == "invalid_emoji"
    assert not Reaction.objects.exists()


def test_a_reaction_is_a_change_the_resync_carries_to_a_member_who_was_away(ada, bob, cleo, group):
    message = send(ada, group, "Pizza tonight?")
    head = Conversation.objects.get(pk=group.pk).change_seq

    services.set_reaction(user=bob, message_id=message.pk, emoji="🍕", on=True)

    changes, cursor, more = selectors.changes_since(user=cleo, conversation_id=group.pk, after_change=head)
    assert [m.pk for m in changes] == [message.pk] and cursor == head + 1 and not more
    assert realtime.message_payload(changes[0])["reactions"][0]["user_public_ids"] == [str(bob.public_id)]
    # ... and taking it off is one more change
    services.set_reaction(user=bob, message_id=message.pk, emoji="🍕", on=False)
    changes, cursor, _ = selectors.changes_since(user=cleo, conversation_id=group.pk, after_change=head + 1)
    assert realtime.message_payload(changes[0])["reactions"] == [] and cursor == head + 2


def test_a_reaction_is_pushed_after_commit_to_every_member(
    ada, bob, cleo, group, django_capture_on_commit_callbacks, monkeypatch
):
    message = send(ada, group, "hi")
    pushed = []
    monkeypatch.setattr("live.push.publish", lambda users, event: pushed.append((sorted(users), event)))

    with django_capture_on_commit_callbacks(execute=True):
        services.set_reaction(user=bob, message_id=message.pk, emoji=THUMBS, on=True)
        services.set_reaction(user=bob, message_id=message.pk, emoji=THUMBS, on=True)  # no change, no push

    assert len(pushed) == 1
    users, event = pushed[0]
    assert users == sorted([ada.pk, bob.pk, cleo.pk])
    assert event["type"] == "message.updated"
    assert event["message"]["reactions"][0]["count"] == 1
    assert event["message"]["change_seq"] == Conversation.objects.get(pk=group.pk).change_seq


def test_removed_members_and_outsiders_cannot_react(ada, bob, eve, group):
    message = send(ada, group, "hi")
    services.remove_member(actor=ada, conversation_id=group.pk, user=bob)

    for user in (bob, eve):
        with pytest.raises(Message.DoesNotExist):
            services.set_reaction(user=user, message_id=message.pk, emoji=THUMBS, on=True)
    assert not Reaction.objects.exists()


def test_a_blocked_direct_conversation_takes_no_reactions(ada, bob):
    conversation = direct_between(ada, bob)
    message = send(ada, conversation, "hi")
    Block.objects.create(blocker=ada, blocked=bob)

    with pytest.raises(ChatError) as refused:
        services.set_reaction(user=bob, message_id=message.pk, emoji=THUMBS, on=True)
    assert refused.value.code == "blocked"


def test_deleted_and_system_messages_take_no_reactions_and_a_delete_drops_them(ada, bob, group):
    message = send(ada, group, "hi")
    services.set_reaction(user=bob, message_id=message.pk, emoji=THUMBS, on=True)
    system = Message.objects.filter(conversation=group, kind=Message.Kind.SYSTEM).first()

    services.delete_message(user=ada, message_id=message.pk)

    assert not Reaction.objects.exists()
    for target in (message, system):
        if target is None:
            continue
        with pytest.raises(ChatError):
            services.set_reaction(user=bob, message_id=target.pk, emoji=THUMBS, on=True)


def test_reactions_are_rate_limited_like_sends(ada, bob, group, settings):
    settings.CHAT_SEND_RATE = (3, 60)
    message = send(ada, group, "hi")
    emoji = [e for e, _ in EMOJI]
    for index in range(3):
        services.set_reaction(user=bob, message_id=message.pk, emoji=emoji[index], on=True)
    with pytest.raises(ChatError) as refused:
        services.set_reaction(user=bob, message_id=message.pk, emoji=emoji[3], on=True)
    assert refused.value.code == "rate_limited"


def test_a_page_of_messages_loads_reactions_in_one_query_and_none_without_any(
    ada, bob, group, django_assert_num_queries
):
    plain = [send(ada, group, f"m{i}") for i in range(5)]
    page, _ = selectors.history(user=bob, conversation_id=group.pk)
    with django_assert_num_queries(0):
        [realtime.message_payload(m) for m in page]
    for message in plain:
        services.set_reaction(user=bob, message_id=message.pk, emoji=THUMBS, on=True)
    with django_assert_num_queries(4):  # membership check, page, attachments, reactions
        page, _ = selectors.history(user=bob, conversation_id=group.pk)
    with django_assert_num_queries(0):
        payloads = [realtime.message_payload(m) for m in page]
    assert sum(1 for p in payloads if p["reactions"]) == 5


def test_reactions_over_the_api(ada, bob, eve, group, api_of):
    message = send(ada, group, "hi")
    url = reverse("api:chat-message-reactions", args=[message.pk])

    added = api_of(bob).post(url, {"emoji": THUMBS}, format="json")
    bad = api_of(bob).post(url, {"emoji": "lol"}, format="json")
    outsider = api_of(eve).post(url, {"emoji": THUMBS}, format="json")
    removed = api_of(bob).delete(url + "?emoji=" + THUMBS)

    assert added.status_code == 200 and added.json()["reactions"][0]["user_public_ids"] == [str(bob.public_id)]
    assert bad.status_code == 400 and "emoji" in bad.json()["errors"]
    assert outsider.status_code == 404
    assert removed.status_code == 200 and removed.json()["reactions"] == []


def test_reactions_without_javascript_the_page_and_the_chips(ada, bob, group, client_of):
    message = send(ada, group, "hi")
    client = client_of(bob)
    react_url = reverse("chat:react", args=[group.pk, message.pk])

    picker = client.get(react_url)
    assert picker.status_code == 200 and "thumbs up" in picker.content.decode()
    answer = client.post(react_url, {"emoji": THUMBS})
    assert answer.status_code == 302 and answer["Location"].endswith(f"#m-{message.seq}")

    html = client.get(reverse("chat:conversation", args=[group.pk])).content.decode()
    assert 'aria-pressed="true"' in html and 'name="action" value="remove"' in html
    assert "1, You reacted with thumbs up" in html
    client.post(react_url, {"emoji": THUMBS, "action": "remove"})
    assert not Reaction.objects.exists()


def test_the_react_route_answers_json_for_the_page_script(ada, bob, group, client_of):
    message = send(ada, group, "hi")
    url = reverse("chat:react", args=[group.pk, message.pk])

    answer = client_of(bob).post(url, {"emoji": HEART}, HTTP_ACCEPT="application/json")
    bad = client_of(bob).post(url, {"emoji": "x"}, HTTP_ACCEPT="application/json")

    assert answer.status_code == 200 and answer.json()["message"]["reactions"][0]["emoji"] == HEART
    assert bad.status_code == 400 and bad.json()["code"] == "invalid_emoji"


def test_the_react_route_of_another_conversation_is_a_404(ada, bob, eve, group, client_of):
    message = send(ada, group, "hi")
    other = direct_between(bob, eve)
    answer = client_of(bob).post(reverse("chat:react", args=[other.pk, message.pk]), {"emoji": THUMBS})
    assert answer.status_code == 404
    assert not Reaction.objects.exists()


@pytest.mark.parametrize(
    ("body", "excerpt"),
    [
        ("Who has the **lab** notes?\nsecond line", "Who has the lab notes?"),
        ("\n\n  use `numpy` _today_ \n", "use numpy today"),
        ("snake_case and 2*3*4 stay", "snake_case and 2*3*4 stay"),
        ("x" * 200, "x" * 119 + "…"),
    ],
)
def test_a_quote_shows_the_first_line_without_formatting_marks(ada, bob, body, excerpt):
    conversation = direct_between(ada, bob)
    original = send(ada, conversation, body)
    assert realtime.reply_excerpt(original) == excerpt


def test_who_reacted_says_you_first_and_counts_past_the_names_shown():
    from chat.templatetags.chat_tags import reaction_who

    ids = [str(uuid.UUID(int=n)) for n in range(100)]
    group = {"count": 2, "user_public_ids": [ids[2], ids[1]], "names": ["Ada Lovelace", "Me"]}
    assert reaction_who(group, ids[1]) == "You and Ada Lovelace"
    assert reaction_who(group, ids[3]) == "Ada Lovelace and Me"
    many = {"count": 25, "user_public_ids": ids[2:27], "names": [f"P{i}" for i in range(20)]}
    assert reaction_who(many, ids[99]).endswith("P19 and 5 others")
    assert reaction_who({**many, "user_public_ids": [*ids[2:26], ids[99]]}, ids[99]).startswith("You, P0")


def test_every_emoji_is_its_own_reaction_on_every_database(ada, bob, group, settings):
    # MariaDB's utf8mb4 collations compare all emoji outside the BMP as equal: stored as their
    # code points, 👍, 😂 and 🎉 of one member on one message stay three reactions.
    from chat.emoji import emoji_code, emoji_from_code

    settings.CHAT_SEND_RATE = (1000, 10)
    assert all(emoji_from_code(emoji_code(emoji)) == emoji for emoji, _ in EMOJI)
    message = send(ada, group, "hi")
    for emoji in ("👍", "😂", "🎉"):
        services.set_reaction(user=bob, message_id=message.pk, emoji=emoji, on=True)
    updated, _ = services.set_reaction(user=bob, message_id=message.pk, emoji="😂", on=False)
    assert [group["emoji"] for group in realtime.message_payload(updated)["reactions"]] == ["👍", "🎉"]
