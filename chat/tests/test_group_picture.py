"""A group's picture: owners and admins set or remove it (page and API), members see it, nobody
else can, and bad files change nothing."""

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from PIL import Image

from chat import services
from chat.models import Conversation, Message
from chat.services import ChatError
from chat.tests.factories import befriend

pytestmark = pytest.mark.django_db


def png(size=(300, 200), name="team.png") -> SimpleUploadedFile:
    buffer = io.BytesIO()
    image = Image.new("RGB", size, (30, 120, 200))
    image.save(buffer, "PNG", pnginfo=None)
    return SimpleUploadedFile(name, buffer.getvalue(), content_type="image/png")


@pytest.fixture
def group(ada, bob):
    befriend(ada, bob)
    return services.create_group(owner=ada, name="Study group", members=[bob])


def test_the_owner_sets_a_square_webp_picture_and_members_see_a_system_message(ada, group):
    conversation = services.set_group_picture(actor=ada, conversation_id=group.pk, upload=png())

    with conversation.picture.open("rb") as stored, Image.open(stored) as image:
        assert (image.format, image.size) == ("WEBP", (256, 256))
    assert Message.objects.filter(conversation=group, body__contains="changed the group picture").exists()


def test_replacing_and_removing_delete_the_old_file_after_commit(ada, group, django_capture_on_commit_callbacks):
    first = services.set_group_picture(actor=ada, conversation_id=group.pk, upload=png()).picture.name
    storage = Conversation.objects.get(pk=group.pk).picture.storage

    with django_capture_on_commit_callbacks(execute=True):
        services.set_group_picture(actor=ada, conversation_id=group.pk, upload=png(name="other.png"))
    assert not storage.exists(first)
    second = Conversation.objects.get(pk=group.pk).picture.name
    assert storage.exists(second)

    with django_capture_on_commit_callbacks(execute=True):
        services.set_group_picture(actor=ada, conversation_id=group.pk, upload=None)
    assert not storage.exists(second)
    assert not Conversation.objects.get(pk=group.pk).picture


def test_a_plain_member_cannot_change_it_and_nothing_changes(bob, group):
    with pytest.raises(ChatError) as refused:
        services.set_group_picture(actor=bob, conversation_id=group.pk, upload=png())
    assert refused.value.code == "not_allowed"
    assert not Conversation.objects.get(pk=group.pk).picture


@pytest.mark.parametrize(
    "upload",
    [
        SimpleUploadedFile("evil.png", b"<script>alert(1)</script>", content_type="image/png"),
        SimpleUploadedFile("empty.png", b"", content_type="image/png"),
        SimpleUploadedFile("doc.pdf", b"%PDF-1.4\n%%EOF\n", content_type="application/pdf"),
    ],
    ids=["disguised", "empty", "pdf"],
)
def test_a_file_that_is_not_an_image_is_refused_and_nothing_is_stored(ada, group, upload):
    with pytest.raises(ChatError):
        services.set_group_picture(actor=ada, conversation_id=group.pk, upload=upload)
    assert not Conversation.objects.get(pk=group.pk).picture
    assert not Message.objects.filter(conversation=group, body__contains="picture").exists()


def test_direct_conversations_have_no_picture(ada, bob):
    befriend(ada, bob)
    direct = services.open_direct_conversation(user=ada, other=bob)
    with pytest.raises(ChatError) as refused:
        services.set_group_picture(actor=ada, conversation_id=direct.pk, upload=png())
    assert refused.value.code == "not_a_group"


def test_the_page_uploads_and_members_only_can_see_the_picture(ada, bob, eve, group, client):
    client.force_login(ada)
    response = client.post(reverse("chat:picture", args=[group.pk]), {"picture": png()})
    assert response.status_code == 302
    assert Conversation.objects.get(pk=group.pk).picture

    client.force_login(bob)
    shown = client.get(reverse("chat:picture", args=[group.pk]))
    assert shown.status_code == 200
    assert shown["Content-Type"] == "image/webp"
    assert shown["X-Content-Type-Options"] == "nosniff"
    assert b'src="/chat/%d/picture/"' % group.pk in client.get(reverse("chat:list")).content

    client.force_login(eve)
    assert client.get(reverse("chat:picture", args=[group.pk])).status_code == 404
    assert client.post(reverse("chat:picture", args=[group.pk]), {"remove": "1"}).status_code == 404
    assert Conversation.objects.get(pk=group.pk).picture


def test_the_api_sets_and_removes_it_with_clear_errors(ada, bob, eve, group, api_of):
    url = reverse("api:chat-picture", args=[group.pk])

    missing = api_of(ada).put(url, {}, format="multipart")
    assert missing.status_code == 400 and missing.json()["errors"]["picture"]
    disguised = api_of(ada).put(
        url, {"picture": SimpleUploadedFile("x.png", b"not an image at all")}, format="multipart"
    )
    assert disguised.status_code == 415 and disguised.json()["code"] == "not_an_image"
    assert api_of(bob).put(url, {"picture": png()}, format="multipart").status_code == 403
    assert api_of(eve).put(url, {"picture": png()}, format="multipart").status_code == 404
    assert not Conversation.objects.get(pk=group.pk).picture

    done = api_of(ada).put(url, {"picture": png()}, format="multipart")
    assert done.status_code == 200 and done.json()["picture_url"] == f"/chat/{group.pk}/picture/"
    assert api_of(bob).get(url).status_code == 200
    assert api_of(eve).get(url).status_code == 404

    removed = api_of(ada).delete(url)
    assert removed.status_code == 200 and removed.json()["picture_url"] is None
