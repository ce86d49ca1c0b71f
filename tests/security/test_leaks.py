"""Small leaks: what an outsider, a blocked user or a link-follower could learn or change."""

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from PIL import Image
from rest_framework.test import APIClient

from accounts.tests.factories import UserFactory
from chat import services as chat_services
from chat.tests.factories import befriend

pytestmark = pytest.mark.django_db


def png() -> SimpleUploadedFile:
    buffer = io.BytesIO()
    Image.new("RGB", (64, 64), (30, 120, 200)).save(buffer, "PNG")
    return SimpleUploadedFile("p.png", buffer.getvalue(), content_type="image/png")


def api_as(user) -> APIClient:
    api = APIClient()
    api.force_authenticate(user)
    return api


# --- a conversation's kind is not told to outsiders -------------------------------------------


@pytest.mark.parametrize("method", ["put", "delete"])
@pytest.mark.parametrize("with_file", [True, False], ids=["with-picture", "empty-body"])
def test_an_outsider_gets_the_same_404_for_a_direct_conversation_picture_as_for_none(method, with_file):
    # given a direct conversation between two friends, and an outsider
    ada, bob, eve = UserFactory(), UserFactory(), UserFactory()
    befriend(ada, bob)
    direct = chat_services.open_direct_conversation(user=ada, other=bob)
    body = {"picture": png()} if with_file else {}
    # when the outsider tries to set or remove "its picture"
    answer = getattr(api_as(eve), method)(reverse("api:chat-picture", args=[direct.pk]), body, format="multipart")
    missing = getattr(api_as(eve), method)(
        reverse("api:chat-picture", args=[direct.pk + 1000]), body, format="multipart"
    )
    # then the answer is the one for a conversation that does not exist, not 409 not_a_group
    assert (answer.status_code, answer.json()) == (missing.status_code, missing.json())
    assert answer.status_code == 404


def test_a_member_of_a_direct_conversation_still_learns_it_has_no_picture():
    ada, bob = UserFactory(), UserFactory()
    befriend(ada, bob)
    direct = chat_services.open_direct_conversation(user=ada, other=bob)
    answer = api_as(ada).put(reverse("api:chat-picture", args=[direct.pk]), {"picture": png()}, format="multipart")
    assert answer.status_code == 409 and answer.json()["code"] == "not_a_group"


# --- a blocked user does not see the blocker ----------------------------------------------------


def test_a_blocked_user_cannot_open_the_blockers_profile_page_nor_find_them_through_the_api(client):
    from social import services as social_services

    # given Ada blocked Eve
    ada = UserFactory(first_name="Ada", last_name="Blocker", university="Northbridge University")
    eve = UserFactory(first_name="Eve", last_name="Blocked", university="Northbridge University")
    social_services.block_user(blocker=ada, blocked=eve)
    client.force_login(eve)
    # then Ada's profile page is a 404 for Eve, by its address old and new
    assert client.get(ada.get_absolute_url()).status_code == 404
    assert client.get(reverse("accounts:profile", args=[ada.public_id]), follow=True).status_code == 404
    # and no API that shows a person shows Ada to her
    api = api_as(eve)
    found = api.get(reverse("api:social-directory"), {"q": "Ada"}).json()["results"]
    assert str(ada.public_id) not in {person["public_id"] for person in found}
    suggested = api.get(reverse("api:social-suggestions")).json()
    assert str(ada.public_id) not in str(suggested)
    assert api.post(reverse("api:social-friend-requests"), {"to": str(ada.public_id)}, format="json").status_code == 404
    assert api.post(reverse("api:chat-direct"), {"user": str(ada.public_id)}, format="json").status_code in {403, 404}


# --- following a link changes nothing -----------------------------------------------------------


def test_following_a_message_link_does_not_re_accept_a_declined_message_request(client):
    from chat.models import Membership

    # given Eve (not a friend) wrote to Ada, and Ada declined the request
    ada, eve = UserFactory(), UserFactory()
    conversation = chat_services.open_direct_conversation(user=eve, other=ada)
    chat_services.decline_message_request(user=ada, conversation_id=conversation.pk)
    before = list(Membership.objects.filter(conversation=conversation).values("user_id", "accepted", "left_at"))
    # when Ada follows a link to /chat/with/<Eve>/ (a prefetch, a reload, a crafted link)
    client.force_login(ada)
    answer = client.get(reverse("chat:direct", args=[eve.public_id]))
    # then nothing changed: the request stays declined, and the page offers the button instead
    assert answer.status_code == 200
    assert list(Membership.objects.filter(conversation=conversation).values("user_id", "accepted", "left_at")) == before
    # and the button (a POST) is what opens it again
    assert client.post(reverse("chat:direct", args=[eve.public_id])).status_code == 302
    assert Membership.objects.get(conversation=conversation, user=ada).accepted


def test_following_a_message_link_to_a_new_person_creates_no_conversation(client):
    from chat.models import Conversation

    ada, bob = UserFactory(), UserFactory()
    befriend(ada, bob)
    client.force_login(ada)
    assert client.get(reverse("chat:direct", args=[bob.public_id])).status_code == 200
    assert not Conversation.objects.exists()


def test_the_profiles_message_button_is_a_form_that_posts(client):
    ada, bob = UserFactory(), UserFactory()
    befriend(ada, bob)
    client.force_login(ada)
    page = client.get(bob.get_absolute_url()).content.decode()
    assert f'<form method="post" action="{reverse("chat:direct", args=[bob.public_id])}"' in page
