"""A small world with one object of each kind, built through the services, that the IDOR matrix
points every URL at.

`owner` owns it all: a group (with a message, a file and a picture), a direct conversation with
`friend`, a notification, a friend request sent and one received, a help request with a
document, accepted and scheduled by `expert` (with its meeting), and an open one in `expert`'s
queue. Every secret of the owner's carries SECRET (group name, message bodies, file, help
request title, description and document, notification, the note of a friend request), so a
test can tell whether an answer leaked any of it.

The people who must NOT see the owner's things:
- `other`: an unrelated student;
- `non_member`: close but outside: the owner's friend, never in the group or the direct
  conversation, an approved expert of another category (so not in the help request's queue);
- `deactivated`: was in the group (and was told things), then deactivated by staff: their
  session and token still exist and must count for nothing;
- anonymous: nobody signed in.
"""

import io
import uuid
from dataclasses import dataclass, field

from django.conf import settings
from django.contrib.auth.tokens import default_token_generator
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from PIL import Image

from accounts import data_export as account_data_export
from accounts import services as account_services
from accounts.models import University, User
from accounts.tests.factories import StaffFactory, UserFactory
from chat import services as chat_services
from chat.models import Attachment, Conversation, Message
from chat.tests.factories import befriend
from experts.tests.factories import CategoryFactory, ExpertProfileFactory
from helpdesk import services as help_services
from helpdesk.models import HelpDocument, HelpRequest
from helpdesk.tests.factories import session_times
from notifications import services as notification_services
from notifications.models import Notification, NotificationKind
from social import services as social_services
from social.models import FriendRequest

SECRET = f"secret-{uuid.uuid4().hex[:12]}"
UNKNOWN_ID = 2**62  # an id no row has (and that fits every id column)
UNKNOWN_UUID = uuid.UUID("00000000-0000-4000-8000-000000000000")


def _png(name: str) -> SimpleUploadedFile:
    buffer = io.BytesIO()
    Image.new("RGB", (32, 32), (10, 120, 200)).save(buffer, "PNG")
    return SimpleUploadedFile(name, buffer.getvalue(), content_type="image/png")


def _session_of(person: User) -> str:
    """A session of this person, signed in through the site's login backend."""
    client = Client()
    client.force_login(person, backend="accounts.backends.EmailBackend")
    return client.cookies[settings.SESSION_COOKIE_NAME].value


@dataclass
class World:
    owner: User
    friend: User
    other: User
    non_member: User
    deactivated: User
    expert: User
    staff: User
    group: Conversation
    direct: Conversation
    message: Message
    attachment: Attachment
    notification: Notification
    request_sent: FriendRequest
    request_received: FriendRequest
    help_request: HelpRequest
    open_help_request: HelpRequest
    document: HelpDocument
    values: dict[str, object] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)  # role -> access token, made while active
    sessions: dict[str, str] = field(default_factory=dict)  # role -> session key, signed in while active
    clients: dict[str, Client] = field(default_factory=dict)  # the tests' clients, by role

    def people(self) -> dict[str, User | None]:
        return {
            "owner": self.owner,
            "other": self.other,
            "non_member": self.non_member,
            "deactivated": self.deactivated,
            "anonymous": None,
            "expert": self.expert,
            "staff": self.staff,
        }


def build_world() -> World:
    owner = UserFactory(first_name="Olive", last_name="Owner", email=f"owner.{SECRET}@uni.example")
    friend = UserFactory(first_name="Fred", last_name="Friend")
    other = UserFactory(first_name="Oscar", last_name="Other")
    non_member = UserFactory(first_name="Nina", last_name="Nearby")
    deactivated = UserFactory(first_name="Dora", last_name="Deactivated")
    staff = StaffFactory(first_name="Stan", last_name="Staff")
    for person in (friend, non_member, deactivated):
        befriend(owner, person)

    # chat: a group with a message carrying a file, a picture, and a direct conversation
    group = chat_services.create_group(owner=owner, name=f"Group {SECRET}", members=[friend, deactivated])
    chat_services.set_group_picture(actor=owner, conversation_id=group.pk, upload=_png("group.png"))
    message, _ = chat_services.send_message(
        sender=owner,
        conversation_id=group.pk,
        body=f"Message {SECRET}",
        client_id=uuid.uuid4().hex,
        files=[_png(f"photo-{SECRET}.png")],  # an image: it has a thumbnail too
    )
    attachment = message.attachments.get()
    direct = chat_services.open_direct_conversation(user=owner, other=friend)
    chat_services.send_message(
        sender=owner, conversation_id=direct.pk, body=f"Direct {SECRET}", client_id=uuid.uuid4().hex
    )

    # social: a request the owner sent (pending) and one the owner received
    stranger, admirer = UserFactory(), UserFactory()
    request_sent = social_services.send_friend_request(
        from_user=owner, to_user=stranger, note=f"Note {SECRET}"
    ).friend_request
    request_received = social_services.send_friend_request(
        from_user=admirer, to_user=owner, note="Hello"
    ).friend_request

    # help desk: one request accepted and scheduled by the expert (with a document), one open
    category, elsewhere = CategoryFactory(), CategoryFactory()
    expert = ExpertProfileFactory(categories=[category]).user
    ExpertProfileFactory(user=non_member, categories=[elsewhere])
    help_request = help_services.submit_help_request(
        requester=owner,
        category_id=category.pk,
        title=f"Help {SECRET}",
        description=f"Description {SECRET}",
        times_note="Weekdays",
        files=[SimpleUploadedFile(f"doc-{SECRET}.txt", f"Document {SECRET}\n".encode(), content_type="text/plain")],
    )
    help_services.accept_help_request(expert=expert, request_id=help_request.public_id)
    start, end = session_times()
    help_request = help_services.schedule_session(
        expert=expert, request_id=help_request.public_id, start=start, end=end
    )
    help_request.refresh_from_db()
    open_help_request = help_services.submit_help_request(
        requester=owner,
        category_id=category.pk,
        title=f"Open {SECRET}",
        description=f"Open description {SECRET}",
        times_note="Weekends",
        files=[],
    )

    notification = notification_services.notify(
        recipient=owner, kind=NotificationKind.SYSTEM, title=f"Notice {SECRET}", url="/"
    )
    # Her "download my data" archive, ready: only she may download it.
    export = account_data_export.request_data_export(user=owner)
    account_data_export.build_data_export(export_id=export.pk)
    signed_in = {
        "owner": owner,
        "other": other,
        "non_member": non_member,
        "deactivated": deactivated,
        "expert": expert,
        "staff": staff,
    }
    tokens = {role: account_services.issue_api_tokens(user=person)["access"] for role, person in signed_in.items()}
    sessions = {role: _session_of(person) for role, person in signed_in.items()}
    # what staff do in the admin ("Active" unticked)
    User.objects.filter(pk=deactivated.pk).update(is_active=False)
    deactivated.refresh_from_db()

    world = World(
        owner=owner,
        friend=friend,
        other=other,
        non_member=non_member,
        deactivated=deactivated,
        expert=expert,
        staff=staff,
        group=group,
        direct=direct,
        message=message,
        attachment=attachment,
        notification=notification,
        request_sent=request_sent,
        request_received=request_received,
        help_request=help_request,
        open_help_request=open_help_request,
        document=help_request.documents.get(),
        tokens=tokens,
        sessions=sessions,
    )
    world.values = {
        "group": group.pk,
        "direct": direct.pk,
        "message": message.pk,
        "attachment": attachment.pk,
        "notification": notification.pk,
        "request_sent": request_sent.pk,
        "request_received": request_received.pk,
        "expert_profile": expert.expert_profile.pk,
        # the university list is public (sign-up offers it): the world's students' university
        "university": University.objects.order_by("pk").values_list("pk", flat=True).first(),
        "owner": owner.public_id,
        "friend": friend.public_id,
        "help_request": help_request.public_id,
        "open_help_request": open_help_request.public_id,
        "document": world.document.public_id,
        "meeting": help_request.meeting_external_id,
        "data_export": export.public_id,
        "reset_uid": urlsafe_base64_encode(force_bytes(owner.pk)),
        "reset_token": default_token_generator.make_token(owner),
    }
    return world
