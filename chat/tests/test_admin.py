import pytest
from django.urls import reverse

from accounts.tests.factories import StaffFactory
from chat.tests.factories import direct_between, send

pytestmark = pytest.mark.django_db


def test_staff_browse_conversations_and_search_messages(client, ada, bob):
    conversation = direct_between(ada, bob)
    send(ada, conversation, "findable words")
    client.force_login(StaffFactory())

    conversations = client.get(reverse("admin:chat_conversation_changelist"))
    detail = client.get(reverse("admin:chat_conversation_change", args=[conversation.pk]))
    search = client.get(reverse("admin:chat_message_changelist"), {"q": "findable"})
    deleted = client.get(reverse("admin:chat_message_changelist"), {"deleted": "yes", "kind": "text"})

    assert conversations.status_code == detail.status_code == 200
    assert "findable words" in search.content.decode()
    assert "findable words" not in deleted.content.decode()


def test_staff_open_a_group_that_has_a_picture(client, ada, bob, settings, tmp_path):
    import io

    from django.core.files.uploadedfile import SimpleUploadedFile
    from PIL import Image

    from chat import services
    from chat.tests.factories import befriend

    settings.CHAT_ATTACHMENT_ROOT = str(tmp_path / "chat")
    befriend(ada, bob)
    group = services.create_group(owner=ada, name="Pictured", members=[bob])
    buffer = io.BytesIO()
    Image.new("RGB", (32, 32), (1, 2, 3)).save(buffer, "PNG")
    services.set_group_picture(
        actor=ada, conversation_id=group.pk, upload=SimpleUploadedFile("p.png", buffer.getvalue())
    )
    client.force_login(StaffFactory())

    page = client.get(reverse("admin:chat_conversation_change", args=[group.pk]))

    # the picture is private (members only): the page names the file, it does not link it
    assert page.status_code == 200
    assert "chat/group-pictures/" in page.content.decode()
