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
