"""A notification is read once its subject is shown to its user: on the page it links to, and
on the API read that shows the same thing (notifications.services.mark_read_for_subject).

Every kind the code defines has a scenario here that makes one through the code that really
sends it, then shows its subject. A new NotificationKind without a scenario fails
test_every_kind_the_code_defines_has_a_scenario, so no kind can be forgotten.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

import pytest
from cryptography.fernet import Fernet
from django.test import RequestFactory, override_settings
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from accounts import data_export, deletion
from accounts import services as account_services
from accounts.tests.factories import StaffFactory, UserFactory
from chat import services as chat_services
from chat.services import unread_email
from chat.tests.factories import befriend, client_id
from experts import services as expert_services
from experts.tests.factories import CategoryFactory, ExpertProfileFactory
from helpdesk import services as help_services
from helpdesk.models import HelpRequest
from helpdesk.tasks import create_meeting_task
from helpdesk.tests.factories import started
from notifications.models import Notification, NotificationKind
from notifications.services import notify
from social import services as social_services

pytestmark = pytest.mark.django_db

STRONG = "a-long-unusual-passphrase-42"


@dataclass
class Shown:
    """Who was told, where the subject is shown to them, and the API read that shows it too."""

    recipient: object
    page: str
    api: str | None


@dataclass
class World:
    requester: object
    expert: object
    staff: object
    category: object


@pytest.fixture(autouse=True)
def _helpdesk(settings, tmp_path):
    settings.HELPDESK_DOCUMENT_KEYS = [Fernet.generate_key().decode()]
    settings.HELPDESK_DOCUMENT_ROOT = str(tmp_path / "help-documents")
    settings.CHAT_ATTACHMENT_ROOT = str(tmp_path / "chat-files")
    settings.MEETING_PROVIDER = "memory"
    settings.ACCOUNT_EXPORT_ROOT = str(tmp_path / "exports")


@pytest.fixture
def world(db):
    category = CategoryFactory(name="Linear Algebra", slug="linear-algebra")
    expert = ExpertProfileFactory(user=UserFactory(first_name="Grace", last_name="Hopper"), categories=[category]).user
    return World(
        requester=UserFactory(first_name="Ada", last_name="Lovelace"),
        expert=expert,
        staff=StaffFactory(first_name="Sam", last_name="Staff"),
        category=category,
    )


def _request(world: World) -> HelpRequest:
    return help_services.submit_help_request(
        requester=world.requester, category_id=world.category.pk, title="Eigenvalues", description="Stuck."
    )


def _session():
    start = (timezone.now() + timedelta(days=2)).replace(microsecond=0)
    return start, start + timedelta(hours=1)


def _scheduled(world: World) -> HelpRequest:
    help_request = _request(world)
    start, end = _session()
    return help_services.accept_help_request(
        expert=world.expert, request_id=help_request.public_id, start=start, end=end
    )


def _for_request(recipient, help_request: HelpRequest) -> Shown:
    api = reverse("api:helpdesk-request", kwargs={"public_id": help_request.public_id})
    return Shown(recipient, help_request.get_absolute_url(), api)


# --- One scenario per kind: make it the way the code does, say where its subject is shown ------


def welcome(world):
    user = account_services.register_user(email="new@example.edu", password=STRONG, first_name="Nia", last_name="N")
    return Shown(user, reverse("accounts:profile_edit"), reverse("api:me"))


def password_changed(world):
    account_services.change_password(user=world.requester, new_password=STRONG)
    return Shown(world.requester, reverse("accounts:password_reset"), None)  # a page, no API read


def system(world):
    notify(recipient=world.requester, kind=NotificationKind.SYSTEM, title="Maintenance on Sunday")  # no link
    return Shown(world.requester, reverse("notifications:list"), reverse("api:notification-list"))


def friend_request(world):
    bob = UserFactory(first_name="Bob")
    social_services.send_friend_request(from_user=bob, to_user=world.requester)
    return Shown(world.requester, reverse("social:requests_incoming"), reverse("api:social-friend-requests"))


def friend_accepted(world):
    bob = UserFactory(first_name="Bob")
    sent = social_services.send_friend_request(from_user=world.requester, to_user=bob).friend_request
    social_services.accept_friend_request(user=bob, request_id=sent.pk)
    return Shown(world.requester, reverse("social:friends"), reverse("api:social-friends"))


def unread_messages(world):
    bob = UserFactory(first_name="Bob")
    befriend(world.requester, bob)
    conversation = chat_services.open_direct_conversation(user=bob, other=world.requester)
    chat_services.send_message(sender=bob, conversation_id=conversation.pk, body="Hi!", client_id=client_id())
    unread_email.email_unread_messages(conversation_id=conversation.pk)
    return _conversation_shown(world.requester, conversation)


def mention(world):
    bob, cleo = UserFactory(first_name="Bob"), UserFactory(first_name="Cleo")
    befriend(bob, world.requester)
    befriend(bob, cleo)
    group = chat_services.create_group(owner=bob, name="Lab", members=[world.requester, cleo])
    chat_services.send_message(sender=bob, conversation_id=group.pk, body="@ada the probe?", client_id=client_id())
    return _conversation_shown(world.requester, group)


def _conversation_shown(user, conversation) -> Shown:
    return Shown(
        user,
        reverse("chat:conversation", args=[conversation.pk]),
        reverse("api:chat-messages", kwargs={"pk": conversation.pk}),
    )


def message_request(world):
    stranger = UserFactory(first_name="Stan")
    conversation = chat_services.open_direct_conversation(user=stranger, other=world.requester)
    chat_services.send_message(sender=stranger, conversation_id=conversation.pk, body="Hey", client_id=client_id())
    return Shown(world.requester, reverse("chat:requests"), reverse("api:chat-conversations") + "?requests=1")


def expert_approved(world):
    profile = ExpertProfileFactory(user=UserFactory(first_name="Alan"), categories=[world.category], status="pending")
    expert_services.approve_expert(profile_id=profile.pk, reviewer=world.staff, note="")
    return Shown(profile.user, reverse("experts:detail", args=[profile.pk]), reverse("api:experts-me"))


def expert_rejected(world):
    profile = ExpertProfileFactory(user=UserFactory(first_name="Alan"), categories=[world.category], status="pending")
    expert_services.reject_expert(profile_id=profile.pk, reviewer=world.staff, note="Add your degree.")
    return Shown(profile.user, reverse("experts:mine"), reverse("api:experts-me"))


def _area_request(world):
    physics = CategoryFactory(name="Physics", slug="physics")
    return expert_services.request_expertise_area(user=world.expert, category_id=physics.pk, motivation="PhD")


def expert_area_approved(world):
    area_request = _area_request(world)
    expert_services.approve_expertise_area(request_id=area_request.pk, reviewer=world.staff)
    # Shown on the expert's own page, and by both API reads of it.
    return Shown(world.expert, reverse("experts:mine"), reverse("api:experts-me-area-requests"))


def expert_area_declined(world):
    area_request = _area_request(world)
    expert_services.decline_expertise_area(request_id=area_request.pk, reviewer=world.staff, note="Show a degree.")
    return Shown(world.expert, reverse("experts:mine"), reverse("api:experts-me"))


def help_request_new(world):
    # Defined for experts' queues; nothing sends it today (the queue updates live). Its subject
    # is the request, as for every help-desk kind.
    help_request = _request(world)
    notify(
        recipient=world.expert,
        kind=NotificationKind.HELP_REQUEST_NEW,
        title="New request",
        url=help_request.get_absolute_url(),
    )
    return _for_request(world.expert, help_request)


def help_request_accepted(world):
    help_request = _request(world)
    help_services.accept_help_request(expert=world.expert, request_id=help_request.public_id)
    return _for_request(world.requester, help_request)


def help_request_scheduled(world):
    return _for_request(world.requester, _scheduled(world))


def help_meeting_ready(world):
    help_request = _scheduled(world)
    create_meeting_task.apply(args=[help_request.pk], throw=True)
    return _for_request(world.requester, help_request)


def help_meeting_failed(world):
    help_request = _scheduled(world)
    help_request.refresh_from_db()
    help_services.record_meeting_failed(
        request_pk=help_request.pk, external_id=help_request.meeting_external_id, error="403 no policy"
    )
    return _for_request(world.expert, help_request)


def help_session_reminder(world):
    help_request = _scheduled(world)
    help_services.send_due_reminders(now=help_request.scheduled_start - timedelta(minutes=30))
    return _for_request(world.requester, help_request)


def help_request_released(world):
    help_request = _request(world)
    help_services.accept_help_request(expert=world.expert, request_id=help_request.public_id)
    help_services.release_help_request(expert=world.expert, request_id=help_request.public_id, note="Busy")
    return _for_request(world.requester, help_request)


def help_request_cancelled(world):
    help_request = _scheduled(world)
    help_services.cancel_help_request(requester=world.requester, request_id=help_request.public_id)
    return _for_request(world.expert, help_request)


def help_request_expired(world):
    help_request = _request(world)
    help_services.expire_stale_requests(older_than=timedelta(0), now=timezone.now() + timedelta(seconds=1))
    return _for_request(world.requester, help_request)


def help_request_completed(world):
    help_request = started(_scheduled(world))
    help_services.complete_help_request(expert=world.expert, request_id=help_request.public_id)
    return _for_request(world.requester, help_request)


def help_rating_received(world):
    help_request = started(_scheduled(world))
    help_services.complete_help_request(expert=world.expert, request_id=help_request.public_id)
    help_services.rate_help_request(requester=world.requester, request_id=help_request.public_id, stars=5)
    return _for_request(world.expert, help_request)


def _asked_directly(world: World) -> HelpRequest:
    return help_services.submit_help_request(
        requester=world.requester,
        category_id=world.category.pk,
        title="Eigenvalues",
        description="Stuck.",
        direct_expert_profile_id=world.expert.expert_profile.pk,
    )


def help_request_direct(world):
    return _for_request(world.expert, _asked_directly(world))


def help_request_to_queue(world):
    help_request = _asked_directly(world)
    help_services.decline_direct_request(expert=world.expert, request_id=help_request.public_id, note="Away")
    return _for_request(world.requester, help_request)


def email_verify(world):
    user = account_services.register_user(email="new@example.edu", password=STRONG, first_name="Nia", last_name="N")
    return Shown(user, reverse("accounts:email"), reverse("api:me"))


def email_change_confirm(world):
    account_services.request_email_change(
        request=_password_request(world.requester),
        user=world.requester,
        new_email="ada@new.example.edu",
        current_password=STRONG,
    )
    return Shown(world.requester, reverse("accounts:email"), reverse("api:me"))


def email_change_requested(world):
    account_services.request_email_change(
        request=_password_request(world.requester),
        user=world.requester,
        new_email="ada@new.example.edu",
        current_password=STRONG,
    )
    return Shown(world.requester, reverse("accounts:password_reset"), None)  # a page, no API read


def address_in_use(world):
    account_services.register_user(email=world.requester.email, password=STRONG, first_name="Eve", last_name="E")
    return Shown(world.requester, reverse("accounts:password_reset"), None)  # a page, no API read


def _closed_and_restored(world):
    deletion.close_account(user=world.requester)
    deletion.restore_account(user=world.requester)
    world.requester.refresh_from_db()


def account_deletion_scheduled(world):
    _closed_and_restored(world)  # the notice waits for an owner who came back
    return Shown(world.requester, reverse("accounts:privacy"), reverse("api:me_data_exports"))


def account_restored(world):
    _closed_and_restored(world)
    return Shown(world.requester, reverse("accounts:privacy"), reverse("api:me_data_exports"))


def data_export_ready(world):
    export = data_export.request_data_export(user=world.requester)
    data_export.build_data_export(export_id=export.pk)
    return Shown(world.requester, reverse("accounts:privacy"), reverse("api:me_data_exports"))


def data_export_failed(world):
    export = data_export.request_data_export(user=world.requester)
    with override_settings(ACCOUNT_EXPORT_MAX_BYTES=10):
        data_export.build_data_export(export_id=export.pk)
    return Shown(world.requester, reverse("accounts:privacy"), reverse("api:me_data_exports"))


def _password_request(user):
    """A request as the e-mail change sees it (its password check goes through authenticate())."""
    user.set_password(STRONG)
    user.save(update_fields=["password"])
    request = RequestFactory().post("/accounts/email/")
    request.user = user
    return request


SCENARIOS: dict[str, Callable[[World], Shown]] = {
    NotificationKind.WELCOME: welcome,
    NotificationKind.PASSWORD_CHANGED: password_changed,
    NotificationKind.SYSTEM: system,
    NotificationKind.FRIEND_REQUEST: friend_request,
    NotificationKind.FRIEND_ACCEPTED: friend_accepted,
    NotificationKind.UNREAD_MESSAGES: unread_messages,
    NotificationKind.MENTION: mention,
    NotificationKind.MESSAGE_REQUEST: message_request,
    NotificationKind.EXPERT_APPROVED: expert_approved,
    NotificationKind.EXPERT_REJECTED: expert_rejected,
    NotificationKind.EXPERT_AREA_APPROVED: expert_area_approved,
    NotificationKind.EXPERT_AREA_DECLINED: expert_area_declined,
    NotificationKind.HELP_REQUEST_NEW: help_request_new,
    NotificationKind.HELP_REQUEST_ACCEPTED: help_request_accepted,
    NotificationKind.HELP_REQUEST_SCHEDULED: help_request_scheduled,
    NotificationKind.HELP_MEETING_READY: help_meeting_ready,
    NotificationKind.HELP_MEETING_FAILED: help_meeting_failed,
    NotificationKind.HELP_SESSION_REMINDER: help_session_reminder,
    NotificationKind.HELP_REQUEST_RELEASED: help_request_released,
    NotificationKind.HELP_REQUEST_CANCELLED: help_request_cancelled,
    NotificationKind.HELP_REQUEST_EXPIRED: help_request_expired,
    NotificationKind.HELP_REQUEST_COMPLETED: help_request_completed,
    NotificationKind.HELP_RATING_RECEIVED: help_rating_received,
    NotificationKind.HELP_REQUEST_DIRECT: help_request_direct,
    NotificationKind.HELP_REQUEST_TO_QUEUE: help_request_to_queue,
    NotificationKind.EMAIL_VERIFY: email_verify,
    NotificationKind.EMAIL_CHANGE_CONFIRM: email_change_confirm,
    NotificationKind.EMAIL_CHANGE_REQUESTED: email_change_requested,
    NotificationKind.ADDRESS_IN_USE: address_in_use,
    NotificationKind.ACCOUNT_DELETION_SCHEDULED: account_deletion_scheduled,
    NotificationKind.ACCOUNT_RESTORED: account_restored,
    NotificationKind.DATA_EXPORT_READY: data_export_ready,
    NotificationKind.DATA_EXPORT_FAILED: data_export_failed,
}


def test_every_kind_the_code_defines_has_a_scenario():
    missing = sorted(set(NotificationKind.values) - set(SCENARIOS))
    assert not missing, f"add a scenario (who is told, where its subject is shown) for: {missing}"


def _unread(shown: Shown, kind: str) -> Notification:
    notification = Notification.objects.filter(recipient=shown.recipient, kind=kind).latest("pk")
    assert notification.read_at is None, "the scenario must leave its notification unread"
    return notification


@pytest.mark.parametrize("kind", NotificationKind.values)
def test_a_notification_is_read_once_its_subject_page_is_shown_and_not_before(client, world, kind):
    # Given a notification of this kind, made by the code that sends it
    shown = SCENARIOS[kind](world)
    notification = _unread(shown, kind)
    client.force_login(shown.recipient)

    # When its user opens another page, it stays unread
    assert client.get(reverse("home")).status_code == 200
    notification.refresh_from_db()
    assert notification.read_at is None

    # When the page of its subject is shown, it is read
    assert client.get(shown.page).status_code == 200
    notification.refresh_from_db()
    assert notification.read_at is not None


# Kinds whose subject is a page no API read shows (the API changes passwords, it shows no page).
NO_API_READ = {
    NotificationKind.PASSWORD_CHANGED,
    NotificationKind.EMAIL_CHANGE_REQUESTED,
    NotificationKind.ADDRESS_IN_USE,
}


@pytest.mark.parametrize("kind", [kind for kind in NotificationKind.values if kind not in NO_API_READ])
def test_a_notification_is_read_once_an_api_read_shows_its_subject(world, kind):
    shown = SCENARIOS[kind](world)
    assert shown.api is not None, f"say which API read shows the subject of {kind}, or list it in NO_API_READ"
    notification = _unread(shown, kind)
    api = APIClient()
    api.force_authenticate(shown.recipient)

    assert api.get(shown.api).status_code == 200

    notification.refresh_from_db()
    assert notification.read_at is not None


def test_the_staffs_meeting_failure_is_read_when_its_admin_page_is_shown(client, world):
    help_meeting_failed(world)
    help_request = HelpRequest.objects.get()
    notification = Notification.objects.get(recipient=world.staff, kind=NotificationKind.HELP_MEETING_FAILED)
    client.force_login(world.staff)

    assert client.get(notification.url).status_code == 200

    notification.refresh_from_db()
    assert notification.read_at is not None
    assert notification.url == reverse("admin:helpdesk_helprequest_change", args=[help_request.pk])


def test_showing_a_subject_reads_only_that_users_notifications_of_it(client, world):
    help_request = _scheduled(world)
    help_services.cancel_help_request(requester=world.requester, request_id=help_request.public_id)
    client.force_login(world.requester)  # the requester views the request the expert was told about

    client.get(help_request.get_absolute_url())

    told = Notification.objects.get(recipient=world.expert, kind=NotificationKind.HELP_REQUEST_CANCELLED)
    assert told.read_at is None
