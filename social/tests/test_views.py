import re

import pytest
from django.template import Context, Template
from django.test import RequestFactory
from django.urls import reverse

from notifications.models import Notification
from social import services
from social.models import Block, FriendRequest, Friendship, Report
from social.tests.factories import BlockFactory, FriendRequestFactory, UserFactory, make_friends

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}
Status = FriendRequest.Status


def are_friends(a, b) -> bool:
    low, high = Friendship.ordered_ids(a.pk, b.pk)
    return Friendship.objects.filter(user_low_id=low, user_high_id=high).exists()


def text(response) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", response.content.decode()).split())


# --- Access -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "social:directory",
        "social:suggestions",
        "social:friends",
        "social:requests_incoming",
        "social:requests_outgoing",
    ],
)
def test_people_pages_need_a_login(client, name):
    response = client.get(reverse(name))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("accounts:login"))


@pytest.mark.parametrize(
    "name",
    [
        "social:directory",
        "social:suggestions",
        "social:friends",
        "social:requests_incoming",
        "social:requests_outgoing",
        "social:blocked",
    ],
)
def test_people_pages_render_without_inline_styles(client_of, ada, name):
    response = client_of(ada).get(reverse(name))
    assert response.status_code == 200
    body = response.content.decode()
    assert " style=" not in body and "<style" not in body


# --- Directory ----------------------------------------------------------------------------------


def test_an_empty_search_says_what_to_do(client_of, ada):
    response = client_of(ada).get(reverse("social:directory"))
    assert "Start with a filter" in text(response)
    assert "students found" not in text(response)


def test_a_search_without_results_says_so(client_of, ada):
    response = client_of(ada).get(reverse("social:directory"), {"university": "Nowhere University"})
    assert response.status_code == 200
    assert "No students match your search" in text(response)


def test_search_results_show_each_person_with_the_matching_button(client_of, ada):
    friend = UserFactory(first_name="Fran", last_name="Friend", course="Physics")
    asker = UserFactory(first_name="Asa", last_name="Asker", course="Physics")
    stranger = UserFactory(first_name="Stan", last_name="Stranger", course="Physics")
    make_friends(ada, friend)
    received = FriendRequestFactory(from_user=asker, to_user=ada)

    response = client_of(ada).get(reverse("social:directory"), {"course": "physics"})

    page = text(response)
    assert "3 students found" in page
    assert "University of Bologna · Physics" in page
    body = response.content.decode()
    assert 'data-testid="friends-badge"' in body
    assert reverse("social:accept_request", args=[received.pk]) in body
    assert reverse("social:decline_request", args=[received.pk]) in body
    assert reverse("social:send_request", args=[stranger.public_id]) in body
    assert "Add friend" in page


def test_an_over_long_filter_is_a_400_with_the_field_error(client_of, ada):
    response = client_of(ada).get(reverse("social:directory"), {"course": "x" * 121})
    assert response.status_code == 400
    assert "is-invalid" in response.content.decode()


def test_the_directory_page_costs_the_same_queries_for_3_or_20_results(client_of, ada, django_assert_max_num_queries):
    client = client_of(ada)
    for _ in range(3):
        UserFactory(course="Physics")
    client.get(reverse("social:directory"), {"course": "physics"})  # warm the session

    with django_assert_max_num_queries(12) as few:
        client.get(reverse("social:directory"), {"course": "physics"})
    for _ in range(17):
        make_friends(ada, UserFactory(course="Physics"))
    with django_assert_max_num_queries(12) as many:
        client.get(reverse("social:directory"), {"course": "physics"})

    assert len(few) == len(many)


# --- Sending, answering ----------------------------------------------------------------------


def test_add_friend_without_javascript_sends_and_redirects_with_a_message(client_of, ada, bob):
    next_url = reverse("social:directory") + "?course=x"
    response = client_of(ada).post(
        reverse("social:send_request", args=[bob.public_id]), {"next": next_url}, follow=True
    )

    assert response.redirect_chain[-1][0] == next_url
    assert "Friend request sent to Bob Babbage." in text(response)
    assert FriendRequest.objects.get().to_user == bob


def test_add_friend_with_htmx_swaps_in_the_cancel_button(client_of, ada, bob):
    response = client_of(ada).post(reverse("social:send_request", args=[bob.public_id]), {"note": "Hi!"}, **HTMX)

    assert response.status_code == 200
    request = FriendRequest.objects.get()
    assert request.note == "Hi!"
    body = response.content.decode()
    assert body.lstrip().startswith('<div class="relationship-actions')
    assert "Cancel request" in body and reverse("social:cancel_request", args=[request.pk]) in body


def test_a_note_too_long_is_a_400_and_sends_nothing(client_of, ada, bob):
    response = client_of(ada).post(reverse("social:send_request", args=[bob.public_id]), {"note": "n" * 201})

    assert response.status_code == 400
    assert "at most 200 characters" in text(response)
    assert not FriendRequest.objects.exists()


def test_a_duplicate_request_is_refused_plainly(client_of, ada, bob):
    client = client_of(ada)
    client.post(reverse("social:send_request", args=[bob.public_id]))

    response = client.post(reverse("social:send_request", args=[bob.public_id]))
    htmx = client.post(reverse("social:send_request", args=[bob.public_id]), **HTMX)

    assert response.status_code == 400
    assert "already sent Bob Babbage a friend request" in text(response)
    assert "already sent Bob Babbage a friend request" in text(htmx)
    assert FriendRequest.objects.count() == 1


def test_the_add_friend_page_offers_a_note(client_of, ada, bob):
    response = client_of(ada).get(reverse("social:send_request", args=[bob.public_id]))
    assert response.status_code == 200
    assert 'name="note"' in response.content.decode()
    assert "Send friend request" in text(response)


def test_sending_to_oneself_or_an_unknown_student_is_refused(client_of, ada):
    client = client_of(ada)
    assert client.post(reverse("social:send_request", args=[ada.public_id])).status_code == 404
    assert client.post(reverse("social:send_request", args=["00000000-0000-0000-0000-000000000000"])).status_code == 404
    assert not FriendRequest.objects.exists()


def test_a_blocked_student_cannot_even_reach_the_blocker(client_of, ada, bob):
    BlockFactory(blocker=ada, blocked=bob)
    response = client_of(bob).post(reverse("social:send_request", args=[ada.public_id]))
    assert response.status_code == 404
    assert not FriendRequest.objects.exists()


def test_accepting_on_the_requests_page_with_htmx_replaces_the_row(client_of, ada, bob):
    request = FriendRequestFactory(from_user=bob, to_user=ada)

    response = client_of(ada).post(reverse("social:accept_request", args=[request.pk]), {"fragment": "request"}, **HTMX)

    assert response.status_code == 200
    assert "You and Bob Babbage are now friends." in text(response)
    assert response.content.decode().lstrip().startswith("<li")
    assert are_friends(ada, bob)


def test_accepting_without_javascript_goes_to_the_friends_list(client_of, ada, bob):
    request = FriendRequestFactory(from_user=bob, to_user=ada)

    response = client_of(ada).post(reverse("social:accept_request", args=[request.pk]), follow=True)

    assert response.redirect_chain[-1][0] == reverse("social:friends")
    assert "Bob Babbage" in text(response)


def test_declining_and_cancelling_work_from_their_pages(client_of, ada, bob, eve):
    to_me = FriendRequestFactory(from_user=bob, to_user=ada)
    from_me = FriendRequestFactory(from_user=ada, to_user=eve)
    client = client_of(ada)

    declined = client.post(reverse("social:decline_request", args=[to_me.pk]), {"fragment": "request"}, **HTMX)
    cancelled = client.post(reverse("social:cancel_request", args=[from_me.pk]))

    assert "Friend request declined." in text(declined)
    assert cancelled.status_code == 302
    to_me.refresh_from_db()
    from_me.refresh_from_db()
    assert (to_me.status, from_me.status) == (Status.DECLINED, Status.CANCELLED)


def test_answering_an_answered_request_is_a_409_with_the_reason(client_of, ada, bob):
    request = FriendRequestFactory(from_user=bob, to_user=ada, status=Status.CANCELLED)

    response = client_of(ada).post(reverse("social:accept_request", args=[request.pk]))

    assert response.status_code == 409
    assert "This friend request was already cancelled." in text(response)
    assert not Friendship.objects.exists()


@pytest.mark.parametrize(
    ("name", "actor"),
    [
        ("social:cancel_request", "recipient"),
        ("social:cancel_request", "stranger"),
        ("social:accept_request", "sender"),
        ("social:accept_request", "stranger"),
        ("social:decline_request", "sender"),
        ("social:decline_request", "stranger"),
    ],
)
def test_nobody_else_can_answer_a_request_by_its_id(client_of, ada, bob, eve, name, actor):
    request = FriendRequestFactory(from_user=ada, to_user=bob)
    user = {"sender": ada, "recipient": bob, "stranger": eve}[actor]

    response = client_of(user).post(reverse(name, args=[request.pk]))
    htmx = client_of(user).post(reverse(name, args=[request.pk]), **HTMX)

    assert response.status_code == htmx.status_code == 404
    request.refresh_from_db()
    assert request.status == Status.PENDING
    assert not Friendship.objects.exists()


def test_action_endpoints_refuse_get(client_of, ada, bob):
    request = FriendRequestFactory(from_user=bob, to_user=ada)
    assert client_of(ada).get(reverse("social:accept_request", args=[request.pk])).status_code == 405


# --- Request pages and notifications ------------------------------------------------------------


def test_the_incoming_page_lists_requests_and_marks_their_notifications_read(client_of, ada, bob):
    services.send_friend_request(from_user=bob, to_user=ada, note="Lab partner?")
    assert Notification.objects.filter(recipient=ada, read_at=None).count() == 1

    response = client_of(ada).get(reverse("social:requests_incoming"))

    page = text(response)
    assert "Bob Babbage" in page and "Lab partner?" in page
    assert "Accept" in page and "Decline" in page
    assert not Notification.objects.filter(recipient=ada, read_at=None).exists()


def test_the_outgoing_page_lists_my_pending_requests_only(client_of, ada, bob, eve):
    FriendRequestFactory(from_user=ada, to_user=bob)
    FriendRequestFactory(from_user=ada, to_user=eve, status=Status.DECLINED)

    page = text(client_of(ada).get(reverse("social:requests_outgoing")))

    assert "Bob Babbage" in page and "Cancel request" in page
    assert "Eve Intruder" not in page


def test_empty_request_pages_say_so(client_of, ada):
    client = client_of(ada)
    assert "No friend requests waiting" in text(client.get(reverse("social:requests_incoming")))
    assert "No requests waiting for an answer" in text(client.get(reverse("social:requests_outgoing")))
    assert "No friends yet" in text(client.get(reverse("social:friends")))


# --- Friends --------------------------------------------------------------------------------------


def test_the_friends_list_searches_by_name(client_of, ada, bob, eve):
    make_friends(ada, bob)
    make_friends(ada, eve)

    page = text(client_of(ada).get(reverse("social:friends"), {"q": "bab"}))

    assert "Bob Babbage" in page and "Eve Intruder" not in page


def test_unfriend_asks_first_then_ends_the_friendship(client_of, ada, bob):
    make_friends(ada, bob)
    client = client_of(ada)

    confirm = client.get(reverse("social:unfriend", args=[bob.public_id]))
    assert "Unfriend Bob?" in text(confirm) and "Yes, unfriend" in text(confirm)
    assert are_friends(ada, bob)

    done = client.post(reverse("social:unfriend", args=[bob.public_id]), follow=True)
    assert "You and Bob Babbage are no longer friends." in text(done)
    assert not are_friends(ada, bob)


def test_unfriending_a_stranger_is_a_404_and_changes_nothing(client_of, ada, bob, eve):
    make_friends(ada, bob)
    client = client_of(eve)
    assert client.get(reverse("social:unfriend", args=[bob.public_id])).status_code == 404
    assert client.post(reverse("social:unfriend", args=[bob.public_id])).status_code == 404
    assert are_friends(ada, bob)


# --- Block, unblock, report ---------------------------------------------------------------------


def test_block_explains_then_blocks_and_hides_the_blocker(client_of, ada, bob):
    make_friends(ada, bob)
    client = client_of(ada)

    confirm = client.get(reverse("social:block", args=[bob.public_id]))
    assert "Block Bob?" in text(confirm)
    done = client.post(reverse("social:block", args=[bob.public_id]), follow=True)

    assert "You blocked Bob Babbage" in text(done)
    assert Block.objects.filter(blocker=ada, blocked=bob).exists()
    assert not are_friends(ada, bob)
    search = client_of(bob).get(reverse("social:directory"), {"q": "ada"})
    assert "Ada Lovelace" not in text(search)


def test_blocking_with_htmx_swaps_in_the_unblock_button(client_of, ada, bob):
    response = client_of(ada).post(reverse("social:block", args=[bob.public_id]), **HTMX)
    assert "Unblock" in text(response)
    assert 'data-relationship="blocked"' in response.content.decode()


def test_unblock_from_the_blocked_page(client_of, ada, bob):
    BlockFactory(blocker=ada, blocked=bob)
    client = client_of(ada)
    assert "Bob Babbage" in text(client.get(reverse("social:blocked")))

    response = client.post(reverse("social:unblock", args=[bob.public_id]), follow=True)

    assert "You unblocked Bob Babbage." in text(response)
    assert not Block.objects.exists()


def test_only_the_blocker_can_unblock(client_of, ada, bob, eve):
    BlockFactory(blocker=ada, blocked=bob)
    assert client_of(eve).post(reverse("social:unblock", args=[bob.public_id])).status_code == 404
    assert client_of(bob).post(reverse("social:unblock", args=[ada.public_id])).status_code == 404
    assert Block.objects.count() == 1


def test_report_form_files_a_report(client_of, ada, bob):
    client = client_of(ada)
    form = client.get(reverse("social:report", args=[bob.public_id]))
    assert 'name="reason"' in form.content.decode() and 'name="details"' in form.content.decode()

    response = client.post(
        reverse("social:report", args=[bob.public_id]), {"reason": "harassment", "details": "Rude DMs"}, follow=True
    )

    assert "Your report about Bob Babbage is with our team" in text(response)
    report = Report.objects.get()
    assert (report.reporter, report.reported, report.reason, report.details) == (ada, bob, "harassment", "Rude DMs")


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"details": "no reason"}, "This field is required."),
        ({"reason": "boring"}, "Select a valid choice."),
        ({"reason": "spam", "details": "d" * 2001}, "at most 2000 characters"),
    ],
)
def test_a_bad_report_is_a_400_with_the_error(client_of, ada, bob, data, message):
    response = client_of(ada).post(reverse("social:report", args=[bob.public_id]), data)
    assert response.status_code == 400
    assert message in text(response)
    assert not Report.objects.exists()


def test_reporting_oneself_is_refused_plainly(client_of, ada):
    response = client_of(ada).post(reverse("social:report", args=[ada.public_id]), {"reason": "spam"})
    assert response.status_code == 400
    assert "You cannot report yourself." in text(response)


def test_next_never_leaves_the_site(client_of, ada, bob):
    response = client_of(ada).post(
        reverse("social:send_request", args=[bob.public_id]), {"next": "https://evil.example/"}
    )
    assert response["Location"] == reverse("social:requests_outgoing")


# --- The partial for the profile page ------------------------------------------------------------


@pytest.mark.parametrize(
    ("setup", "expected"),
    [
        (lambda me, p: None, "Add friend"),
        (lambda me, p: make_friends(me, p), "Friends"),
        (lambda me, p: FriendRequestFactory(from_user=me, to_user=p), "Cancel request"),
        (lambda me, p: FriendRequestFactory(from_user=p, to_user=me), "Accept"),
        (lambda me, p: BlockFactory(blocker=me, blocked=p), "Unblock"),
        (lambda me, p: BlockFactory(blocker=p, blocked=me), "Not available"),
    ],
)
def test_the_relationship_partial_works_on_a_plain_profile_context(ada, bob, setup, expected):
    setup(ada, bob)
    request = RequestFactory().get(bob.get_absolute_url())
    request.user = ada

    html = Template('{% include "social/partials/relationship_actions.html" with person=person %}').render(
        Context({"person": bob, "request": request, "csrf_token": "t"})
    )

    assert expected in html
    assert " style=" not in html


@pytest.mark.django_db
def test_friends_page_offers_a_message_button_and_a_presence_dot_per_friend(client):
    me, friend = UserFactory(), UserFactory()
    make_friends(me, friend)
    client.force_login(me)

    page = client.get(reverse("social:friends")).content.decode()

    assert reverse("chat:direct", args=[friend.public_id]) in page
    # Hidden until the live socket says this friend is online (static/js/chat.js).
    assert f'data-presence-user="{friend.public_id}" hidden' in page
