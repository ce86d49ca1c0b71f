"""Hostile uploads through the real pages and API, on every upload path: each is refused with a
clear answer (a 413/415 or 400 JSON body with `errors`, or a form field error), nothing is
stored, and refusing it costs this process under 50 MB and 5 s (tests/security/resource_use.py
measures the peak: tracemalloc, sampled RSS and ru_maxrss).

The files come from tests/security/hostile_files.py; the bounds that refuse them live in
config/content_inspection.py (docs/uploads.md).
"""

from functools import partial

import pytest
from cryptography.fernet import Fernet
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from rest_framework.test import APIClient

from chat import services as chat_services
from chat.models import Attachment, Message
from chat.tests.factories import befriend, client_id, direct_between
from experts.tests.factories import CategoryFactory
from helpdesk.models import HelpDocument, HelpRequest
from tests.security import hostile_files as hostile
from tests.security.resource_use import MB, measured

pytestmark = pytest.mark.django_db

MEMORY_BOUND = 50 * MB
SECONDS_BOUND = 5.0


def _one(name, build):
    return lambda: [(name, build())]


# id: (files as [(name, bytes)], the refusal's code)
HOSTILE = {
    "bzip2_bomb": (_one("bomb.odt", hostile.bzip2_bomb), "unsafe_archive"),
    "bzip2_member_lying_about_its_size": (_one("liar.odt", hostile.lying_bzip2_bomb), "unsafe_archive"),
    "deflate_bomb": (_one("bomb.docx", hostile.deflate_bomb), "unsafe_archive"),
    "deflate_member_lying_about_its_size": (_one("liar.docx", hostile.lying_deflate_member), "unsafe_archive"),
    "zip_with_100000_members": (_one("many.docx", hostile.many_members_zip), "unsafe_archive"),
    "zip_with_100000_members_declaring_2": (
        _one("many.docx", partial(hostile.many_members_zip, declared_count=2)),
        "unsafe_archive",
    ),
    "png_of_40_megapixels": (_one("big.png", hostile.big_png), "too_many_pixels"),
    "five_pngs_of_40_megapixels": (lambda: [(f"big{i}.png", hostile.big_png()) for i in range(5)], "too_many_pixels"),
    "jpeg_with_41_scans": (_one("scans.jpg", partial(hostile.jpeg_with_scans, 41)), "unsafe_image"),
}
IMAGE_CASES = ["png_of_40_megapixels", "jpeg_with_41_scans"]


def uploads(files):
    return [SimpleUploadedFile(name, data, content_type="application/octet-stream") for name, data in files]


def api_for(user) -> APIClient:
    api = APIClient()
    api.force_authenticate(user)
    return api


def assert_cheap(use) -> None:
    assert use.peak_growth < MEMORY_BOUND, str(use)
    assert use.seconds < SECONDS_BOUND, str(use)


@pytest.fixture(autouse=True)
def _private_roots(settings, tmp_path):
    settings.CHAT_ATTACHMENT_ROOT = str(tmp_path / "chat-files")
    settings.HELPDESK_DOCUMENT_ROOT = str(tmp_path / "help-documents")
    settings.HELPDESK_DOCUMENT_KEYS = [Fernet.generate_key().decode()]
    settings.MEDIA_ROOT = str(tmp_path / "media")
    settings.STORAGES = {**settings.STORAGES, "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"}}
    settings.AWS_STORAGE_BUCKET_NAME = ""


@pytest.fixture
def conversation(ada, bob):
    return direct_between(ada, bob)


@pytest.fixture
def group(ada, bob):
    befriend(ada, bob)
    return chat_services.create_group(owner=ada, name="Study group", members=[bob])


@pytest.fixture
def category(db):
    return CategoryFactory(name="Linear Algebra", slug="linear-algebra")


# The request form's slot rows (a formset), none filled in.
NO_SLOTS = {
    "slots-TOTAL_FORMS": "5",
    "slots-INITIAL_FORMS": "0",
    "slots-MIN_NUM_FORMS": "0",
    "slots-MAX_NUM_FORMS": "5",
}


def help_request_data(category, files) -> dict:
    return {
        "category": category.pk,
        "title": "Eigenvalues",
        "description": "Stuck on a 3x3 matrix.",
        "files": files,
        **NO_SLOTS,
    }


# --- Chat attachments ---------------------------------------------------------------------------


@pytest.mark.parametrize("case", HOSTILE)
def test_chat_api_refuses_the_hostile_file_cheaply_and_stores_nothing(case, ada, conversation):
    build, code = HOSTILE[case]
    files = uploads(build())

    with measured() as use:
        response = api_for(ada).post(
            reverse("api:chat-messages", args=[conversation.pk]),
            {"client_id": client_id(), "files": files},
            format="multipart",
        )

    assert_cheap(use)
    assert response.status_code in (413, 415), response.content
    body = response.json()
    assert body["code"] == code and body["errors"] == {"files": [body["detail"]]}
    assert not Message.objects.filter(conversation=conversation).exists() and not Attachment.objects.exists()


@pytest.mark.parametrize("case", ["bzip2_bomb", "zip_with_100000_members", "png_of_40_megapixels"])
def test_chat_page_upload_refuses_the_hostile_file_with_json_errors(case, client, ada, conversation):
    build, code = HOSTILE[case]
    client.force_login(ada)

    with measured() as use:
        response = client.post(
            reverse("chat:send", args=[conversation.pk]),
            {"body": "", "client_id": client_id(), "files": uploads(build())},
            headers={"accept": "application/json"},
        )

    assert response.status_code in (413, 415), response.content  # the refusal's status, as the API's
    body = response.json()
    assert body["code"] == code and body["errors"]["files"] == [body["detail"]]
    assert not Attachment.objects.exists()
    assert_cheap(use)


def test_chat_refuses_images_over_the_total_pixel_budget_of_one_message(ada, conversation, settings):
    # Given budgets small enough to test with small images: 10,000 px each, 25,000 together
    settings.UPLOAD_IMAGE_MAX_PIXELS, settings.UPLOAD_IMAGES_MAX_TOTAL_PIXELS = 10_000, 25_000
    square = hostile.big_png(100, 100)
    url = reverse("api:chat-messages", args=[conversation.pk])

    # When three 100 x 100 images are sent in one message, they are refused together
    three = api_for(ada).post(
        url, {"client_id": client_id(), "files": uploads([(f"{i}.png", square) for i in range(3)])}, format="multipart"
    )
    assert three.status_code == 413 and three.json()["code"] == "too_many_pixels_in_total"
    assert "together" in three.json()["errors"]["files"][0]
    assert not Attachment.objects.exists()

    # ... while two fit
    two = api_for(ada).post(
        url, {"client_id": client_id(), "files": uploads([(f"{i}.png", square) for i in range(2)])}, format="multipart"
    )
    assert two.status_code == 201, two.content
    assert Attachment.objects.count() == 2


# --- Help-request documents ---------------------------------------------------------------------


@pytest.mark.parametrize("case", HOSTILE)
def test_help_request_api_refuses_the_hostile_document_cheaply_and_creates_nothing(case, ada, category):
    build, _ = HOSTILE[case]
    files = uploads(build())

    with measured() as use:
        response = api_for(ada).post(
            reverse("api:helpdesk-requests"), help_request_data(category, files), format="multipart"
        )

    assert_cheap(use)
    assert response.status_code == 400, response.content
    messages = response.json()["errors"]["files"]
    assert messages and all("cannot be accepted" in m or "pixels" in m or "scans" in m for m in messages), messages
    assert not HelpRequest.objects.exists() and not HelpDocument.objects.exists()


@pytest.mark.parametrize("case", ["bzip2_bomb", "deflate_bomb", "png_of_40_megapixels"])
def test_help_request_form_shows_the_refusal_on_the_documents_field(case, client, ada, category):
    build, _ = HOSTILE[case]
    client.force_login(ada)

    with measured() as use:
        response = client.post(reverse("helpdesk:new"), help_request_data(category, uploads(build())))

    assert response.status_code == 400
    errors = response.context["form"].errors["files"]
    assert errors and ("cannot be accepted" in errors[0] or "pixels" in errors[0])
    assert errors[0].split("“")[0] == "" and "”" in errors[0]  # names the file
    assert not HelpRequest.objects.exists()
    assert_cheap(use)


def test_help_request_refuses_images_over_the_total_pixel_budget(ada, category, settings):
    settings.UPLOAD_IMAGE_MAX_PIXELS, settings.UPLOAD_IMAGES_MAX_TOTAL_PIXELS = 10_000, 25_000
    square = hostile.big_png(100, 100)

    response = api_for(ada).post(
        reverse("api:helpdesk-requests"),
        help_request_data(category, uploads([(f"{i}.png", square) for i in range(3)])),
        format="multipart",
    )

    assert response.status_code == 400
    assert "together" in response.json()["errors"]["files"][0]
    assert not HelpRequest.objects.exists()


# --- Avatars and group pictures -----------------------------------------------------------------


@pytest.mark.parametrize("case", IMAGE_CASES)
def test_avatar_api_refuses_the_hostile_image_cheaply(case, ada):
    build, _ = HOSTILE[case]
    [upload] = uploads(build())

    with measured() as use:
        response = api_for(ada).post(reverse("api:me_avatar"), {"avatar": upload}, format="multipart")

    assert response.status_code == 400
    assert response.json()["errors"]["avatar"]
    ada.refresh_from_db()
    assert not ada.avatar
    assert_cheap(use)


@pytest.mark.parametrize("case", IMAGE_CASES)
def test_group_picture_api_refuses_the_hostile_image_cheaply(case, ada, group):
    build, code = HOSTILE[case]
    [upload] = uploads(build())

    with measured() as use:
        response = api_for(ada).put(
            reverse("api:chat-picture", args=[group.pk]), {"picture": upload}, format="multipart"
        )

    assert response.status_code in (413, 415)
    body = response.json()
    assert body["code"] == code and body["errors"] == {"picture": [body["detail"]]}
    group.refresh_from_db()
    assert not group.picture
    assert_cheap(use)
