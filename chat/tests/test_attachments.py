"""Files on messages: content checks, re-encoding, private storage, members-only downloads."""

import io
import zipfile
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from PIL import Image

from chat import selectors, services
from chat.models import Attachment, Message
from chat.services import ChatError
from chat.tests.factories import client_id, direct_between, send

pytestmark = pytest.mark.django_db


def jpeg_with_exif(size=(1200, 800)) -> bytes:
    image = Image.new("RGB", size, (200, 30, 30))
    exif = Image.Exif()
    exif[0x010F] = "SpyCam Inc"  # Make
    exif[0x0131] = "GPS-Tracker 1.0"  # Software
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", exif=exif.tobytes())
    data = buffer.getvalue()
    assert b"SpyCam" in data
    return data


def upload(name, data, content_type="application/octet-stream"):
    return SimpleUploadedFile(name, data, content_type=content_type)


def docx_bytes() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("word/document.xml", "<w:document/>")
    return buffer.getvalue()


def send_files(sender, conversation, files, body=""):
    return services.send_message(
        sender=sender, conversation_id=conversation.pk, body=body, client_id=client_id(), files=files
    )


# --- Service -------------------------------------------------------------------------------------


def test_an_image_is_stored_re_encoded_without_metadata_with_a_thumbnail(ada, bob, settings):
    conversation = direct_between(ada, bob)
    message, created = send_files(ada, conversation, [upload("holiday.jpeg", jpeg_with_exif(), "image/jpeg")])

    assert created and message.body == "" and message.attachment_count == 1
    attachment = message.attachments.get()
    assert (attachment.kind, attachment.content_type, attachment.name) == ("image", "image/jpeg", "holiday.jpg")
    stored = attachment.file.read()
    assert b"SpyCam" not in stored and b"GPS-Tracker" not in stored
    with Image.open(io.BytesIO(stored)) as image:
        assert image.format == "JPEG" and image.size == (1200, 800)
        assert not image.getexif()
    with Image.open(attachment.thumbnail.open("rb")) as thumb:
        assert thumb.format == "WEBP" and max(thumb.size) == 480
    # Private: under CHAT_ATTACHMENT_ROOT, nothing under MEDIA_ROOT, random stored names.
    path = Path(attachment.file.path)
    assert path.is_relative_to(Path(settings.CHAT_ATTACHMENT_ROOT).resolve())
    assert "holiday" not in path.name
    assert not Path(settings.MEDIA_ROOT).exists() or not any(Path(settings.MEDIA_ROOT).rglob("*.jpg"))


def test_file_types_come_from_the_content_not_the_name(ada, bob):
    conversation = direct_between(ada, bob)
    message, _ = send_files(
        ada,
        conversation,
        [
            upload("report.exe", b"%PDF-1.7\n%%EOF\n"),
            upload("essay.docx", docx_bytes()),
            upload("notes.md", b"# Fourier\nsum of sines"),
        ],
        body="Three files",
    )
    got = {(a.kind, a.content_type, a.name) for a in message.attachments.all()}
    assert got == {
        ("file", "application/pdf", "report.pdf"),
        ("file", "application/vnd.openxmlformats-officedocument.wordprocessingml.document", "essay.docx"),
        ("file", "text/markdown; charset=utf-8", "notes.md"),
    }


@pytest.mark.parametrize(
    ("name", "data", "code"),
    [
        ("virus.pdf", b"MZ\x90\x00\x03\x00\x00\x00" + bytes(range(256)), "file_type"),  # a Windows executable
        ("photo.png", b"\x89PNG\r\n\x1a\n" + b"garbage" * 10, "bad_image"),  # truncated image
        ("archive.docx", b"PK\x03\x04not really a zip", "file_type"),
        ("empty.txt", b"", "empty_file"),
    ],
)
def test_refused_files_store_nothing(ada, bob, name, data, code, settings):
    conversation = direct_between(ada, bob)
    with pytest.raises(ChatError) as refused:
        send_files(ada, conversation, [upload("ok.txt", b"fine"), upload(name, data)], body="hi")
    assert refused.value.code == code
    assert not Message.objects.filter(conversation=conversation).exists()
    assert not Attachment.objects.exists()
    root = Path(settings.CHAT_ATTACHMENT_ROOT)
    assert not root.exists() or not any(p.is_file() for p in root.rglob("*"))


def test_size_and_count_limits(ada, bob, settings):
    conversation = direct_between(ada, bob)
    settings.CHAT_ATTACHMENT_MAX_BYTES = 1000
    with pytest.raises(ChatError) as too_big:
        send_files(ada, conversation, [upload("big.txt", b"a" * 1001)])
    assert too_big.value.code == "file_too_large"
    settings.CHAT_ATTACHMENT_MAX_FILES = 2
    with pytest.raises(ChatError) as too_many:
        send_files(ada, conversation, [upload(f"{i}.txt", b"x") for i in range(3)])
    assert too_many.value.code == "too_many_files"
    assert not Message.objects.filter(conversation=conversation).exists()


def test_an_outsider_cannot_attach_to_someone_elses_conversation(ada, bob, eve):
    conversation = direct_between(ada, bob)
    with pytest.raises(Exception) as refused:
        send_files(eve, conversation, [upload("a.txt", b"sneaky")])
    assert type(refused.value).__name__ == "DoesNotExist"
    assert not Attachment.objects.exists()


def test_a_failed_send_removes_the_files_it_already_wrote(ada, bob, settings, monkeypatch):
    conversation = direct_between(ada, bob)
    from chat.services import messages as message_services

    root = Path(settings.CHAT_ATTACHMENT_ROOT)
    calls = {"n": 0}

    def fail_after_files(*args, **kwargs):
        # The read-marker update runs after the files were written: make it fail.
        calls["n"] += 1
        raise RuntimeError("database went away")

    monkeypatch.setattr(message_services, "_mark_sent", fail_after_files)
    with pytest.raises(RuntimeError):
        send_files(ada, conversation, [upload("a.txt", b"text")])
    assert calls["n"] == 1
    assert not any(p.is_file() for p in root.rglob("*"))


def test_deleting_a_message_removes_its_files(ada, bob, django_capture_on_commit_callbacks):
    conversation = direct_between(ada, bob)
    message, _ = send_files(ada, conversation, [upload("a.txt", b"secret plans")])
    path = Path(message.attachments.get().file.path)
    assert path.exists()
    with django_capture_on_commit_callbacks(execute=True):
        services.delete_message(user=ada, message_id=message.pk)
    assert not path.exists()
    assert not Attachment.objects.exists()
    message.refresh_from_db()
    assert message.attachment_count == 0


def test_a_retried_send_with_files_stores_them_once(ada, bob):
    conversation = direct_between(ada, bob)
    cid = client_id()
    first, created = services.send_message(
        sender=ada, conversation_id=conversation.pk, body="", client_id=cid, files=[upload("a.txt", b"one")]
    )
    again, created_again = services.send_message(
        sender=ada, conversation_id=conversation.pk, body="", client_id=cid, files=[upload("a.txt", b"one")]
    )
    assert created and not created_again and first.pk == again.pk
    assert Attachment.objects.count() == 1


def test_a_message_needs_text_or_files(ada, bob):
    conversation = direct_between(ada, bob)
    with pytest.raises(ChatError) as refused:
        services.send_message(sender=ada, conversation_id=conversation.pk, body="  ", client_id=client_id())
    assert refused.value.code == "empty_body"


# --- Pages ---------------------------------------------------------------------------------------


def test_upload_through_the_page_and_download_as_a_member(ada, bob, client_of):
    conversation = direct_between(ada, bob)
    client = client_of(ada)
    response = client.post(
        reverse("chat:send", args=[conversation.pk]),
        {"body": "Slides", "client_id": client_id(), "files": [upload("slides.pdf", b"%PDF-1.4 slides")]},
    )
    assert response.status_code == 302
    attachment = Attachment.objects.get()
    page = client.get(reverse("chat:conversation", args=[conversation.pk]))
    assert reverse("chat:attachment", args=[attachment.pk]) in page.content.decode()

    client = client_of(bob)
    download = client.get(reverse("chat:attachment", args=[attachment.pk]))
    assert download.status_code == 200
    assert download["Content-Disposition"].startswith('attachment; filename="slides.pdf"')
    assert download["X-Content-Type-Options"] == "nosniff"
    assert download["Content-Type"] == "application/pdf"
    assert b"".join(download.streaming_content) == b"%PDF-1.4 slides"


def test_image_thumbnails_are_inline_webp_and_files_are_never_inline(ada, bob, client_of):
    conversation = direct_between(ada, bob)
    message, _ = send_files(ada, conversation, [upload("a.png", _png()), upload("a.txt", b"<script>x</script>")])
    image = message.attachments.get(kind="image")
    text = message.attachments.get(kind="file")
    client = client_of(bob)
    thumb = client.get(reverse("chat:attachment_thumbnail", args=[image.pk]))
    assert thumb.status_code == 200
    assert (thumb["Content-Type"], thumb["Content-Disposition"]) == ("image/webp", "inline")
    assert thumb["X-Content-Type-Options"] == "nosniff"
    assert client.get(reverse("chat:attachment_thumbnail", args=[text.pk])).status_code == 404
    html = client.get(reverse("chat:attachment", args=[text.pk]))
    assert html["Content-Disposition"].startswith("attachment;")
    assert "sandbox" in html["Content-Security-Policy"]


def test_upload_with_javascript_answers_json(ada, bob, client_of):
    conversation = direct_between(ada, bob)
    client = client_of(ada)
    url = reverse("chat:send", args=[conversation.pk])
    ok = client.post(
        url, {"client_id": client_id(), "files": [upload("a.txt", b"hello")]}, headers={"accept": "application/json"}
    )
    assert ok.status_code == 201
    payload = ok.json()["message"]
    assert payload["attachments"][0]["name"] == "a.txt"
    assert payload["attachments"][0]["url"] == reverse("chat:attachment", args=[payload["attachments"][0]["id"]])
    refused = client.post(
        url,
        {"client_id": client_id(), "files": [upload("a.bin", b"\x00\x01\x02")]},
        headers={"accept": "application/json"},
    )
    assert refused.status_code == 415 and refused.json()["code"] == "file_type"


def test_someone_elses_files_are_404_everywhere(ada, bob, eve, client_of, api_of):
    conversation = direct_between(ada, bob)
    message, _ = send_files(ada, conversation, [upload("a.png", _png())])
    attachment = message.attachments.get()
    client = client_of(eve)
    assert client.get(reverse("chat:attachment", args=[attachment.pk])).status_code == 404
    assert client.get(reverse("chat:attachment_thumbnail", args=[attachment.pk])).status_code == 404
    assert api_of(eve).get(reverse("api:chat-attachment", args=[attachment.pk])).status_code == 404
    upload_404 = client.post(
        reverse("chat:send", args=[conversation.pk]), {"client_id": client_id(), "files": [upload("x.txt", b"x")]}
    )
    assert upload_404.status_code == 404
    with pytest.raises(Attachment.DoesNotExist):
        selectors.attachment_for(user=eve, attachment_id=attachment.pk)


def test_a_deleted_messages_files_are_gone_for_members_too(ada, bob, client_of):
    conversation = direct_between(ada, bob)
    message, _ = send_files(ada, conversation, [upload("a.txt", b"x")])
    attachment_id = message.attachments.get().pk
    services.delete_message(user=ada, message_id=message.pk)
    assert client_of(bob).get(reverse("chat:attachment", args=[attachment_id])).status_code == 404


def test_a_member_who_left_loses_access(ada, bob, cleo, client_of):
    from chat.tests.factories import befriend

    befriend(ada, cleo)
    befriend(ada, bob)
    group = services.create_group(owner=ada, name="Lab", members=[bob, cleo])
    message, _ = send_files(ada, group, [upload("a.txt", b"x")])
    attachment_id = message.attachments.get().pk
    assert client_of(cleo).get(reverse("chat:attachment", args=[attachment_id])).status_code == 200
    services.leave_group(user=cleo, conversation_id=group.pk)
    assert client_of(cleo).get(reverse("chat:attachment", args=[attachment_id])).status_code == 404


# --- API -----------------------------------------------------------------------------------------


def test_api_upload_multipart_and_download(ada, bob, api_of):
    conversation = direct_between(ada, bob)
    api = api_of(ada)
    response = api.post(
        reverse("api:chat-messages", args=[conversation.pk]),
        {"body": "photo", "client_id": client_id(), "files": [upload("cat.jpg", jpeg_with_exif((300, 200)))]},
        format="multipart",
    )
    assert response.status_code == 201, response.content
    files = response.json()["attachments"]
    assert files[0]["kind"] == "image" and (files[0]["width"], files[0]["height"]) == (300, 200)
    assert files[0]["thumbnail_url"]
    download = api_of(bob).get(reverse("api:chat-attachment", args=[files[0]["id"]]))
    assert download.status_code == 200
    assert download["Content-Disposition"].startswith('attachment; filename="cat.jpg"')
    listing = api_of(bob).get(reverse("api:chat-messages", args=[conversation.pk]))
    assert listing.json()["results"][0]["attachments"][0]["id"] == files[0]["id"]


def test_api_refuses_a_disallowed_file_with_415(ada, bob, api_of):
    conversation = direct_between(ada, bob)
    response = api_of(ada).post(
        reverse("api:chat-messages", args=[conversation.pk]),
        {"client_id": client_id(), "files": [upload("x.exe", b"MZ\x00\x00binary")]},
        format="multipart",
    )
    assert response.status_code == 415 and response.json()["code"] == "file_type"
    assert not Message.objects.exists()


def test_history_with_attachments_costs_one_extra_query_not_one_per_message(ada, bob, django_assert_num_queries):
    conversation = direct_between(ada, bob)
    for _ in range(5):
        send_files(ada, conversation, [upload("a.txt", b"x")])
    send(ada, conversation, "plain")
    page, _ = selectors.history(user=ada, conversation_id=conversation.pk)
    from chat import realtime

    with django_assert_num_queries(0):
        payloads = [realtime.message_payload(m) for m in page]
    assert sum(len(p["attachments"]) for p in payloads) == 5


def _png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGBA", (64, 48), (0, 128, 255, 128)).save(buffer, format="PNG")
    return buffer.getvalue()
