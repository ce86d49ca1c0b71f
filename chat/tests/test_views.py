"""The chat pages: lists, a conversation, sending without JavaScript, groups, and 404 for others."""

import datetime
import re
import uuid

import pytest
from django.urls import reverse

from chat import services
from chat.models import Conversation, Membership, Message
from chat.tests.factories import befriend, direct_between, send

pytestmark = pytest.mark.django_db


def test_the_list_shows_conversations_with_preview_and_unread_badge(client_of, ada, bob):
    conversation = direct_between(ada, bob)
    send(bob, conversation, "Are you coming to the lab? <b>now</b>")

    response = client_of(ada).get(reverse("chat:list"))

    html = response.content.decode()
    assert response.status_code == 200
    assert "Bob Babbage" in html
    assert "Are you coming to the lab? &lt;b&gt;now&lt;/b&gt;" in html
    assert 'aria-label="1 unread"' in html
    assert reverse("chat:new_group") in html


def test_the_list_page_has_no_inline_styles_or_scripts(client_of, ada, bob):
    send(bob, direct_between(ada, bob), "hi")

    html = client_of(ada).get(reverse("chat:list")).content.decode()

    assert "style=" not in html and "<style" not in html
    assert "<script>" not in html


def test_opening_a_conversation_shows_history_and_marks_it_read(client_of, ada, bob):
    conversation = direct_between(ada, bob)
    send(bob, conversation, "see https://example.org/notes and @ada")

    response = client_of(ada).get(reverse("chat:conversation", args=[conversation.pk]))

    html = response.content.decode()
    assert response.status_code == 200
    assert '<a href="https://example.org/notes" rel="noopener nofollow" target="_blank">' in html
    assert '<span class="mention">@ada</span>' in html
    assert 'id="first-unread"' in html
    assert Membership.objects.get(conversation=conversation, user=ada).last_read_seq == 1


def test_sending_without_javascript_posts_and_redirects_and_a_resubmit_is_harmless(client_of, ada, bob):
    conversation = direct_between(ada, bob)
    client = client_of(ada)
    data = {"body": "Plain form", "client_id": uuid.uuid4().hex}

    first = client.post(reverse("chat:send", args=[conversation.pk]), data)
    again = client.post(reverse("chat:send", args=[conversation.pk]), data)

    assert first.status_code == again.status_code == 302
    assert Message.objects.filter(conversation=conversation).count() == 1
    page = client.get(first.url.split("#")[0])
    assert "Plain form" in page.content.decode()


def test_an_empty_or_oversize_post_shows_the_error_and_stores_nothing(client_of, ada, bob):
    conversation = direct_between(ada, bob)
    client = client_of(ada)

    empty = client.post(reverse("chat:send", args=[conversation.pk]), {"body": " ", "client_id": uuid.uuid4().hex})
    huge = client.post(
        reverse("chat:send", args=[conversation.pk]), {"body": "x" * 4001, "client_id": uuid.uuid4().hex}
    )

    assert empty.status_code == huge.status_code == 400
    assert "Write something before sending." in empty.content.decode()
    assert not Message.objects.exists()


def test_someone_elses_conversation_and_its_actions_are_404(client_of, ada, bob, eve):
    conversation = direct_between(ada, bob)
    message = send(ada, conversation, "private")
    client = client_of(eve)
    pk = conversation.pk

    gets = [
        reverse("chat:conversation", args=[pk]),
        reverse("chat:messages", args=[pk]),
        reverse("chat:settings", args=[pk]),
        reverse("chat:edit_message", args=[pk, message.pk]),
    ]
    posts = [
        reverse("chat:send", args=[pk]),
        reverse("chat:delete_message", args=[pk, message.pk]),
        reverse("chat:edit_message", args=[pk, message.pk]),
        reverse("chat:mute", args=[pk]),
        reverse("chat:archive", args=[pk]),
        reverse("chat:accept", args=[pk]),
        reverse("chat:decline", args=[pk]),
        reverse("chat:leave", args=[pk]),
        reverse("chat:rename", args=[pk]),
        reverse("chat:add_members", args=[pk]),
        reverse("chat:remove_member", args=[pk, bob.public_id]),
        reverse("chat:promote", args=[pk, bob.public_id]),
    ]
    for url in gets:
        assert client.get(url).status_code == 404, url
    for url in posts:
        response = client.post(url, {"body": "hacked", "client_id": uuid.uuid4().hex, "name": "x", "members": [eve.pk]})
        assert response.status_code in (404, 302), url
        assert response.status_code == 404 or "settings" in response.url, url
    message.refresh_from_db()
    assert message.body == "private" and message.deleted_at is None
    assert Message.objects.count() == 1
    assert not Membership.objects.filter(user=eve).exists()


def test_a_member_cannot_edit_or_delete_anothers_message(client_of, ada, bob):
    conversation = direct_between(ada, bob)
    message = send(ada, conversation, "mine")
    client = client_of(bob)

    edit_page = client.get(reverse("chat:edit_message", args=[conversation.pk, message.pk]))
    edit = client.post(reverse("chat:edit_message", args=[conversation.pk, message.pk]), {"body": "theirs"})
    delete = client.post(reverse("chat:delete_message", args=[conversation.pk, message.pk]))

    assert edit_page.status_code == 404
    assert edit.status_code == 400
    assert delete.status_code == 302
    message.refresh_from_db()
    assert message.body == "mine" and message.deleted_at is None


def test_the_sender_edits_and_deletes_through_the_pages(client_of, ada, bob):
    conversation = direct_between(ada, bob)
    message = send(ada, conversation, "tpyo")
    client = client_of(ada)

    client.post(reverse("chat:edit_message", args=[conversation.pk, message.pk]), {"body": "typo"})
    message.refresh_from_db()
    assert message.body == "typo" and message.edited_at
    client.post(reverse("chat:delete_message", args=[conversation.pk, message.pk]))
    page = client.get(reverse("chat:conversation", args=[conversation.pk])).content.decode()
    assert "Message deleted" in page and "typo" not in page


def test_the_message_button_opens_the_same_direct_conversation(client_of, ada, bob):
    befriend(ada, bob)
    client = client_of(ada)

    first = client.post(reverse("chat:direct", args=[bob.public_id]))
    again = client.post(reverse("chat:direct", args=[bob.public_id]))
    followed_link = client.get(reverse("chat:direct", args=[bob.public_id]))

    assert first.status_code == again.status_code == followed_link.status_code == 302
    assert first.url == again.url == followed_link.url
    assert Conversation.objects.count() == 1


def test_following_a_message_link_shows_the_button_and_creates_nothing(client_of, ada, bob):
    befriend(ada, bob)
    page = client_of(ada).get(reverse("chat:direct", args=[bob.public_id]))
    assert page.status_code == 200
    assert f'<form method="post" action="{reverse("chat:direct", args=[bob.public_id])}"' in page.content.decode()
    assert not Conversation.objects.exists()


def test_the_message_button_for_a_blocked_or_unknown_student(client_of, ada, bob):
    from social.models import Block

    Block.objects.create(blocker=bob, blocked=ada)
    client = client_of(ada)

    blocked = client.post(reverse("chat:direct", args=[bob.public_id]), follow=True)
    unknown = client.post(reverse("chat:direct", args=[uuid.uuid4()]))

    assert "You cannot message this student." in blocked.content.decode()
    assert unknown.status_code == 404
    assert not Conversation.objects.exists()


def test_creating_a_group_from_the_form(client_of, ada, bob, eve):
    befriend(ada, bob)
    client = client_of(ada)

    form = client.get(reverse("chat:new_group"))
    no_name = client.post(reverse("chat:new_group"), {"name": " ", "members": [bob.pk]})
    stranger = client.post(reverse("chat:new_group"), {"name": "Lab", "members": [eve.pk]})
    created = client.post(reverse("chat:new_group"), {"name": "Lab", "members": [bob.pk]})

    assert "Bob Babbage" in form.content.decode() and "Eve" not in form.content.decode()
    assert no_name.status_code == stranger.status_code == 400
    group = Conversation.objects.get(kind="group")
    assert created.url == reverse("chat:conversation", args=[group.pk])
    assert set(group.memberships.values_list("user_id", flat=True)) == {ada.pk, bob.pk}


def test_group_settings_manage_members(client_of, ada, bob, cleo):
    befriend(ada, bob)
    befriend(ada, cleo)
    group = services.create_group(owner=ada, name="Lab", members=[bob])
    client = client_of(ada)

    page = client.get(reverse("chat:settings", args=[group.pk]))
    client.post(reverse("chat:add_members", args=[group.pk]), {"members": [cleo.pk]})
    client.post(reverse("chat:promote", args=[group.pk, bob.public_id]))
    client.post(reverse("chat:rename", args=[group.pk]), {"name": "Lab 2"})
    client.post(reverse("chat:remove_member", args=[group.pk, cleo.public_id]))

    assert page.status_code == 200 and "Make admin" in page.content.decode()
    group.refresh_from_db()
    assert group.name == "Lab 2"
    roles = dict(group.memberships.filter(left_at__isnull=True).values_list("user_id", "role"))
    assert roles == {ada.pk: "owner", bob.pk: "admin"}


def test_a_plain_member_is_refused_management_with_a_message(client_of, ada, bob, cleo):
    befriend(ada, bob)
    befriend(bob, cleo)
    group = services.create_group(owner=ada, name="Lab", members=[bob])

    response = client_of(bob).post(reverse("chat:add_members", args=[group.pk]), {"members": [cleo.pk]}, follow=True)

    assert "Only the group&#x27;s owner and admins can do that." in response.content.decode()
    assert not group.memberships.filter(user=cleo).exists()


def test_message_requests_are_listed_apart_and_can_be_accepted(client_of, ada, bob):
    conversation = services.open_direct_conversation(user=bob, other=ada)
    send(bob, conversation, "Hi, I sit behind you in the lecture")
    client = client_of(ada)

    chats = client.get(reverse("chat:list")).content.decode()
    requests = client.get(reverse("chat:requests")).content.decode()
    client.post(reverse("chat:accept", args=[conversation.pk]))

    assert "I sit behind you" not in chats
    assert "I sit behind you" in requests
    assert "I sit behind you" in client.get(reverse("chat:list")).content.decode()


def test_older_messages_load_as_a_fragment(client_of, ada, bob, settings):
    settings.CHAT_SEND_RATE = (1000, 10)
    conversation = direct_between(ada, bob)
    for i in range(60):
        send(bob, conversation, f"message {i}")
    client = client_of(ada)

    unread_page = client.get(reverse("chat:conversation", args=[conversation.pk])).content.decode()
    page = client.get(reverse("chat:conversation", args=[conversation.pk])).content.decode()
    older = client.get(reverse("chat:messages", args=[conversation.pk]), {"before": 11}).content.decode()

    # The first visit starts at the first unread message, with a way to the newest ones
    assert 'id="first-unread"' in unread_page and "message 0<" in unread_page and "Newest messages" in unread_page
    # Once read, the newest page shows, with older ones to load
    assert "message 59" in page and 'id="chat-older"' in page
    assert 'id="m-10"' in older and 'id="m-1"' in older and "<html" not in older


@pytest.mark.django_db(transaction=True)  # MariaDB indexes FULLTEXT words at commit
def test_search_finds_my_messages_only(client_of, ada, bob, cleo, eve):
    send(bob, direct_between(ada, bob), "quantum notes")
    send(cleo, direct_between(cleo, eve), "quantum secrets")

    html = client_of(ada).get(reverse("chat:search"), {"q": "quantum"}).content.decode()

    assert "quantum notes" in html and "quantum secrets" not in html


def test_anonymous_visitors_are_sent_to_login(client):
    response = client.get(reverse("chat:list"))

    assert response.status_code == 302 and "login" in response.url


# --- The chat app shell ------------------------------------------------------------------------


def test_a_conversation_page_shows_the_list_beside_it_without_the_site_footer(client_of, ada, bob, cleo):
    with_bob = direct_between(ada, bob)
    send(cleo, direct_between(ada, cleo), "hi Ada")

    html = client_of(ada).get(reverse("chat:conversation", args=[with_bob.pk])).content.decode()

    assert 'id="chat-app" data-view="conversation"' in html
    assert 'id="chat-list"' in html and "Cleo Patra" in html
    assert 'id="chat"' in html and 'data-chat-nav="back"' in html
    assert "app-footer" not in html
    assert "interactive-widget=resizes-content" in html


def test_with_pane_1_a_chat_screen_is_only_its_right_pane(client_of, ada, bob):
    conversation = direct_between(ada, bob)
    send(bob, conversation, "**hello**")
    client = client_of(ada)

    pane = client.get(reverse("chat:conversation", args=[conversation.pk]), {"pane": "1"}).content.decode()
    placeholder = client.get(reverse("chat:list"), {"pane": "1"}).content.decode()

    assert pane.lstrip().startswith("<div") and "<html" not in pane
    assert 'id="chat-pane-main" data-view="conversation" data-title="Bob Babbage · Lyceum"' in pane
    assert "<strong>hello</strong>" in pane and 'id="chat-list"' not in pane
    assert 'data-view="list"' in placeholder and "Pick a conversation" in placeholder
    assert Membership.objects.get(conversation=conversation, user=ada).last_read_seq == 1


def test_the_pane_of_someone_elses_conversation_is_a_404(client_of, ada, bob, eve):
    conversation = direct_between(ada, bob)

    assert client_of(eve).get(reverse("chat:conversation", args=[conversation.pk]), {"pane": "1"}).status_code == 404


def test_new_message_lists_only_friends_each_as_a_post_to_open_the_direct_chat(client_of, ada, bob, cleo, eve):
    befriend(ada, bob)
    befriend(ada, cleo)

    response = client_of(ada).get(reverse("chat:new_message"))

    html = response.content.decode()
    assert response.status_code == 200
    assert 'data-view="new"' in html
    for friend in (bob, cleo):
        assert f'action="{reverse("chat:direct", args=[friend.public_id])}" data-chat-open' in html
    assert "Eve Intruder" not in html
    assert html.count('method="post" action="/chat/with/') == 2


def test_new_message_filters_friends_by_name_without_javascript(client_of, ada, bob, cleo):
    befriend(ada, bob)
    befriend(ada, cleo)

    html = client_of(ada).get(reverse("chat:new_message"), {"q": "cle"}).content.decode()

    assert "Cleo Patra" in html and "Bob Babbage" not in html


def test_new_message_without_friends_points_to_the_directory(client_of, ada):
    html = client_of(ada).get(reverse("chat:new_message")).content.decode()

    assert "No friends yet" in html and reverse("social:directory") in html


def test_picking_a_friend_opens_the_direct_chat_once(client_of, ada, bob):
    befriend(ada, bob)
    client = client_of(ada)

    first = client.post(reverse("chat:direct", args=[bob.public_id]))
    again = client.post(reverse("chat:direct", args=[bob.public_id]))

    assert first.status_code == again.status_code == 302
    assert first.url == again.url
    assert Conversation.objects.filter(kind=Conversation.Kind.DIRECT).count() == 1


def test_messages_are_grouped_by_day_in_the_users_zone(client_of, ada, bob):
    conversation = direct_between(ada, bob)
    old = send(bob, conversation, "last week")
    Message.objects.filter(pk=old.pk).update(created_at=old.created_at - datetime.timedelta(days=8))
    yesterday = send(bob, conversation, "yesterday")
    Message.objects.filter(pk=yesterday.pk).update(created_at=yesterday.created_at - datetime.timedelta(days=1))
    send(bob, conversation, "today")

    html = client_of(ada).get(reverse("chat:conversation", args=[conversation.pk])).content.decode()

    labels = re.findall(r'data-divider="day" data-day="[\d-]+"><span>([^<]+)</span>', html)
    assert labels[1:] == ["Yesterday", "Today"] and len(labels) == 3
    assert re.match(r"^\w+day \d{1,2} \w+( \d{4})?$", labels[0])


def test_my_messages_show_the_same_sent_tick_as_live_ones(client_of, ada, bob):
    conversation = direct_between(ada, bob)
    send(ada, conversation, "mine")

    html = client_of(ada).get(reverse("chat:conversation", args=[conversation.pk])).content.decode()

    assert '<span class="chat-state" data-state="sent"><i class="bi bi-check2" aria-hidden="true"></i>' in html
    assert 'data-chat-time title="' in html
