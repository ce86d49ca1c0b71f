"""A person with a full life on Lyceum, for the account deletion and data export tests: a picture,
friends, friend requests and a block, a group and a direct conversation with messages both ways
and a file, help requests asked (one completed, rated, with a document; one open) and one held
as an expert, and notifications."""

import io
import uuid
from dataclasses import dataclass

import pytest
from cryptography.fernet import Fernet
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from accounts import services as account_services
from accounts.tests.factories import DEFAULT_PASSWORD, UserFactory
from chat import services as chat_services
from chat.tests.factories import befriend
from experts.tests.factories import CategoryFactory, ExpertProfileFactory
from helpdesk import services as help_services
from helpdesk.tests.factories import session_times, started
from social import services as social_services

PASSWORD = DEFAULT_PASSWORD
DOCUMENT_BYTES = b"My working so far: det(A - xI) = 0 ...\n"
FILE_BYTES = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


def png(name: str = "me.png") -> SimpleUploadedFile:
    buffer = io.BytesIO()
    Image.new("RGB", (64, 64), (30, 120, 200)).save(buffer, "PNG")
    return SimpleUploadedFile(name, buffer.getvalue(), content_type="image/png")


@dataclass
class Life:
    person: object
    friend: object
    expert: object
    stranger: object
    admirer: object
    group: object
    direct: object
    sent_message: object
    received_message: object
    completed_request: object
    open_request: object
    held_request: object


@pytest.fixture(autouse=True)
def _private_storage(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")
    settings.STORAGES = {**settings.STORAGES, "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"}}
    settings.HELPDESK_DOCUMENT_KEYS = [Fernet.generate_key().decode()]
    settings.HELPDESK_DOCUMENT_ROOT = str(tmp_path / "help-documents")
    settings.CHAT_ATTACHMENT_ROOT = str(tmp_path / "chat-files")
    settings.ACCOUNT_EXPORT_ROOT = str(tmp_path / "exports")
    settings.MEETING_PROVIDER = "memory"


@pytest.fixture
def life(db) -> Life:
    person = UserFactory(
        first_name="Zelda",
        last_name="Quistmarlowe",
        email="zelda.quist@example.edu",
        university="Northbridge Institute of Zeldastudies",
        course="Quistology",
        bio="Bio of Zelda: I collect rare quistmarlowe stamps.",
        interests="quistball, zeldachess",
        time_zone="Europe/Rome",
    )
    account_services.set_avatar(user=person, upload=png())
    friend = UserFactory(first_name="Fred", last_name="Friend")
    stranger, admirer, blocked = UserFactory(), UserFactory(), UserFactory()
    befriend(person, friend)
    social_services.send_friend_request(from_user=person, to_user=stranger, note="Zelda here, hello")
    social_services.send_friend_request(from_user=admirer, to_user=person, note="Hi Zelda")
    social_services.block_user(blocker=person, blocked=blocked)

    group = chat_services.create_group(owner=person, name="Quist study group", members=[friend])
    direct = chat_services.open_direct_conversation(user=person, other=friend)
    sent, _ = chat_services.send_message(
        sender=person,
        conversation_id=direct.pk,
        body="Here are my notes, Fred",
        client_id=uuid.uuid4().hex,
        files=[SimpleUploadedFile("../../notes of zelda.pdf", FILE_BYTES, content_type="application/pdf")],
    )
    received, _ = chat_services.send_message(
        sender=friend, conversation_id=direct.pk, body="Thanks Zelda, see you Monday", client_id=uuid.uuid4().hex
    )
    chat_services.send_message(sender=friend, conversation_id=group.pk, body="Group hello", client_id=uuid.uuid4().hex)

    category = CategoryFactory(name="Linear Algebra")
    expert = ExpertProfileFactory(user=UserFactory(first_name="Grace", last_name="Hopper"), categories=[category]).user
    completed = help_services.submit_help_request(
        requester=person,
        category_id=category.pk,
        title="Eigenvalues",
        description="Zelda's description: stuck on chapter 3.",
        times_note="Zelda is free on weekdays",
        files=[SimpleUploadedFile("my working.txt", DOCUMENT_BYTES, content_type="text/plain")],
    )
    help_services.accept_help_request(expert=expert, request_id=completed.public_id)
    start, end = session_times()
    scheduled = help_services.schedule_session(expert=expert, request_id=completed.public_id, start=start, end=end)
    started(scheduled)
    help_services.complete_help_request(expert=expert, request_id=completed.public_id)
    help_services.rate_help_request(
        requester=person, request_id=completed.public_id, stars=4, feedback="Zelda says: very clear"
    )
    open_request = help_services.submit_help_request(
        requester=person, category_id=category.pk, title="Determinants", description="Another one.", files=[]
    )

    own_area = CategoryFactory(name="Quistology")
    ExpertProfileFactory(user=person, categories=[own_area], headline="Zelda teaches quistology", bio="Zelda's bio")
    held = help_services.submit_help_request(
        requester=friend, category_id=own_area.pk, title="Quist basics", description="Help me, please.", files=[]
    )
    help_services.accept_help_request(expert=person, request_id=held.public_id)

    return Life(
        person=person,
        friend=friend,
        expert=expert,
        stranger=stranger,
        admirer=admirer,
        group=group,
        direct=direct,
        sent_message=sent,
        received_message=received,
        completed_request=completed,
        open_request=open_request,
        held_request=held,
    )
