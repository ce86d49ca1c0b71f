"""Deleting one's own account, from the owner's side and from everyone else's: the password
(counted like a log-in), closing at once (signed out everywhere, held and open help requests
handed back, a confirmation e-mail), restoring by signing in during the grace period, and the
erasure after it, which leaves no personal field behind and keeps what others received."""

import re
from datetime import timedelta
from pathlib import Path

import pytest
from django.apps import apps
from django.conf import settings as django_settings
from django.core import mail
from django.db import models
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from accounts import deletion
from accounts import services as account_services
from accounts.models import DELETED_USER_NAME, DataExport, User
from accounts.tasks import erase_deleted_accounts_task
from chat.models import Message
from experts.models import ExpertProfile
from helpdesk.models import HelpDocument, HelpRequest, Rating
from notifications.models import Notification, NotificationKind
from social.models import Block, FriendRequest, Friendship
from tests.privacy.conftest import PASSWORD

pytestmark = pytest.mark.django_db


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user, backend="accounts.backends.EmailBackend")
    return client


def bearer(user) -> APIClient:
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {account_services.issue_api_tokens(user=user)['access']}")
    return api


def delete_on_the_page(client: Client, password: str = PASSWORD, confirm: bool = True):
    body = {"current_password": password}
    if confirm:
        body["confirm"] = "on"
    return client.post(reverse("accounts:account_delete"), body)


def log_in(client: Client, email: str, password: str = PASSWORD):
    return client.post(reverse("accounts:login"), {"username": email, "password": password})


def past_the_grace_period(user) -> None:
    days = django_settings.ACCOUNT_DELETION_GRACE_DAYS
    User.objects.filter(pk=user.pk).update(deletion_requested_at=timezone.now() - timedelta(days=days, minutes=1))


# --- closing ---------------------------------------------------------------------------------


def test_the_privacy_page_is_linked_from_the_profile_form(life):
    page = signed_in(life.person).get(reverse("accounts:profile_edit"))
    assert reverse("accounts:privacy") in page.content.decode()


def test_a_wrong_password_or_no_confirmation_deletes_nothing(life):
    client = signed_in(life.person)

    wrong = delete_on_the_page(client, password="not-my-password")
    unticked = delete_on_the_page(client, confirm=False)

    assert wrong.status_code == 400 and "incorrectly" in wrong.content.decode()
    assert unticked.status_code == 400 and "Tick the box" in unticked.content.decode()
    life.person.refresh_from_db()
    assert life.person.is_active and life.person.deletion_requested_at is None


def test_deleting_closes_the_account_and_signs_it_out_everywhere(life, django_capture_on_commit_callbacks):
    browser, other_device, api = signed_in(life.person), signed_in(life.person), bearer(life.person)
    assert api.get(reverse("api:me")).status_code == 200

    with django_capture_on_commit_callbacks(execute=True):
        answer = delete_on_the_page(browser)

    assert answer.status_code == 302 and answer["Location"] == reverse("accounts:deleted")
    landing = browser.get(answer["Location"])
    assert "will be erased on" in landing.content.decode()
    life.person.refresh_from_db()
    assert not life.person.is_active and life.person.deletion_requested_at is not None
    # Every way in is closed: this browser, another device, the API.
    for client in (browser, other_device):
        assert client.get(reverse("accounts:privacy"))["Location"].startswith(reverse("accounts:login"))
    assert api.get(reverse("api:me")).status_code == 401
    # Nothing is erased yet.
    assert Friendship.objects.count() == 1 and life.person.first_name == "Zelda"


def test_deleting_sends_one_confirmation_email_that_says_until_when_it_can_be_restored(
    life, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        delete_on_the_page(signed_in(life.person))

    (message,) = [m for m in mail.outbox if life.person.email in m.to]
    assert "will be deleted" in message.subject
    assert "Sign in with your e-mail address and password" in message.body
    assert django_settings.SITE_URL + reverse("accounts:login") in message.body


def test_deleting_hands_back_held_requests_and_cancels_own_open_ones(life, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        delete_on_the_page(signed_in(life.person))

    held = HelpRequest.objects.get(pk=life.held_request.pk)
    assert held.status == "open" and held.expert_id is None  # back in the queue for other experts
    assert HelpRequest.objects.get(pk=life.open_request.pk).status == "cancelled"
    assert HelpRequest.objects.get(pk=life.completed_request.pk).status == "completed"
    told = Notification.objects.filter(recipient=life.friend, kind=NotificationKind.HELP_REQUEST_RELEASED)
    assert told.exists()


def test_the_api_deletes_with_the_current_password(life):
    api = bearer(life.person)

    wrong = api.post(reverse("api:me_deletion"), {"current_password": "nope"}, format="json")
    right = api.post(reverse("api:me_deletion"), {"current_password": PASSWORD}, format="json")

    assert wrong.status_code == 400 and "current_password" in wrong.json()["errors"]
    assert right.status_code == 202
    assert right.json()["erase_after"].startswith(str(deletion.erase_after(User.objects.get(pk=life.person.pk)).date()))
    assert api.get(reverse("api:me")).status_code == 401


def test_wrong_passwords_for_deleting_are_counted_by_the_login_throttle(life):
    api = bearer(life.person)
    limit = django_settings.AXES_FAILURE_LIMIT

    answers = [
        api.post(reverse("api:me_deletion"), {"current_password": "wrong"}, format="json").status_code
        for _ in range(limit + 2)
    ]
    right = api.post(reverse("api:me_deletion"), {"current_password": PASSWORD}, format="json")

    assert answers[: limit - 1] == [400] * (limit - 1) and answers[limit:] == [429, 429]
    assert right.status_code == 429
    assert User.objects.get(pk=life.person.pk).is_active


# --- restoring during the grace period -------------------------------------------------------------


def test_signing_in_during_the_grace_period_offers_to_restore_everything(life, django_capture_on_commit_callbacks):
    delete_on_the_page(signed_in(life.person))
    client = Client()

    answer = log_in(client, life.person.email)
    assert answer.status_code == 302 and answer["Location"] == reverse("accounts:restore")
    offer = client.get(answer["Location"])
    assert offer.status_code == 200 and "Restore my account" in offer.content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        restored = client.post(reverse("accounts:restore"))

    assert restored.status_code == 302 and restored["Location"] == reverse("accounts:privacy")
    person = User.objects.get(pk=life.person.pk)
    assert person.is_active and person.deletion_requested_at is None and person.first_name == "Zelda"
    assert client.get(reverse("accounts:privacy")).status_code == 200  # signed in
    assert Friendship.objects.count() == 1
    assert Notification.objects.filter(recipient=person, kind=NotificationKind.ACCOUNT_RESTORED).exists()


def test_a_wrong_password_gets_no_restore_offer_and_the_offer_needs_the_login(life):
    delete_on_the_page(signed_in(life.person))
    client = Client()

    wrong = log_in(client, life.person.email, password="not-it")

    assert wrong.status_code == 400
    assert client.get(reverse("accounts:restore"))["Location"] == reverse("accounts:login")
    assert client.post(reverse("accounts:restore"))["Location"] == reverse("accounts:login")
    assert not User.objects.get(pk=life.person.pk).is_active


def test_after_the_grace_period_signing_in_offers_nothing(life):
    delete_on_the_page(signed_in(life.person))
    past_the_grace_period(life.person)

    assert log_in(Client(), life.person.email).status_code == 400


def test_a_staff_deactivated_account_cannot_restore_itself(life):
    account_services.deactivate_account(user=life.person)

    assert log_in(Client(), life.person.email).status_code == 400


def test_the_api_says_how_to_restore_and_restores_with_the_password(life):
    bearer(life.person).post(reverse("api:me_deletion"), {"current_password": PASSWORD}, format="json")
    api = APIClient()

    token = api.post(reverse("api:token_obtain_pair"), {"email": life.person.email, "password": PASSWORD})
    wrong = api.post(reverse("api:account_restore"), {"email": life.person.email, "password": "no"}, format="json")
    right = api.post(reverse("api:account_restore"), {"email": life.person.email, "password": PASSWORD}, format="json")

    assert token.status_code == 401 and "auth/restore" in token.json()["detail"]
    assert wrong.status_code == 400 and wrong.json()["code"] == "not_restorable"
    assert right.status_code == 200 and right.json()["access"]
    me = APIClient()
    me.credentials(HTTP_AUTHORIZATION=f"Bearer {right.json()['access']}")
    assert me.get(reverse("api:me")).json()["first_name"] == "Zelda"


# --- erasing after the grace period ---------------------------------------------------------------


def test_nothing_is_erased_during_the_grace_period(life):
    delete_on_the_page(signed_in(life.person))

    assert erase_deleted_accounts_task() == 0
    assert User.objects.get(pk=life.person.pk).first_name == "Zelda"


def test_every_field_of_the_user_is_either_erased_or_kept_for_a_stated_reason():
    # The model's own fields and many-to-many fields; not the reverse sides of other models' keys
    # (what those hold is each app's erase handler's, tested below).
    fields = {f.name for f in User._meta.get_fields() if f.concrete or (f.many_to_many and not f.auto_created)}
    unlisted = sorted(fields - set(deletion.ERASED_FIELDS) - set(deletion.KEPT_FIELDS))
    both = sorted(set(deletion.ERASED_FIELDS) & set(deletion.KEPT_FIELDS))
    stale = sorted((set(deletion.ERASED_FIELDS) | set(deletion.KEPT_FIELDS)) - fields)
    assert not unlisted, f"say whether erasure erases or keeps (and why): {unlisted}"
    assert not both and not stale
    assert all(reason.strip() for reason in deletion.KEPT_FIELDS.values())


def _erase(life, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        delete_on_the_page(signed_in(life.person))
    before = User.objects.get(pk=life.person.pk)
    avatar_path = Path(before.avatar.path)
    documents = [Path(django_settings.HELPDESK_DOCUMENT_ROOT) / d.file.name for d in HelpDocument.objects.all()]
    past_the_grace_period(life.person)
    with django_capture_on_commit_callbacks(execute=True):
        assert erase_deleted_accounts_task() == 1
    return before, User.objects.get(pk=life.person.pk), avatar_path, documents


def test_erasure_leaves_no_personal_field_of_the_user(life, django_capture_on_commit_callbacks):
    before, after, avatar_path, _ = _erase(life, django_capture_on_commit_callbacks)

    for name in deletion.ERASED_FIELDS:
        field = User._meta.get_field(name)
        if field.many_to_many:
            assert not getattr(after, name).exists(), name
            continue
        old, new = getattr(before, field.attname), getattr(after, field.attname)
        if old not in (None, "", False) and name not in {"time_zone"}:
            assert new != old, f"{name} survived erasure"
    assert after.get_full_name() == DELETED_USER_NAME and str(after) == DELETED_USER_NAME
    assert after.email.endswith("@deleted.invalid") and after.email != before.email
    assert not after.has_usable_password() and not after.avatar and after.time_zone == "UTC"
    assert after.erased_at is not None and not after.is_active
    assert not avatar_path.exists()


def test_erasure_leaves_the_persons_details_in_no_text_column_anywhere(life, django_capture_on_commit_callbacks):
    before, _, _, _ = _erase(life, django_capture_on_commit_callbacks)
    traces = [before.get_full_name(), before.email, before.bio, before.university, "Zelda's description", "very clear"]
    # Kept on purpose (docs/privacy.md): the evidence copies staff keep of reported messages, and
    # the shared lists of universities and courses (names of places, which others choose too).
    kept = {("chat", "reportedmessage"), ("accounts", "university"), ("accounts", "course")}

    found = []
    for model in apps.get_models():
        if (model._meta.app_label, model._meta.model_name) in kept:
            continue
        text_fields = [
            f.name
            for f in model._meta.concrete_fields
            if isinstance(f, models.CharField | models.TextField) and not getattr(f, "generated", False)
        ]
        for field in text_fields:
            for trace in traces:
                if model._default_manager.filter(**{f"{field}__icontains": trace}).exists():
                    found.append(f"{model._meta.label}.{field} ~ {trace!r}")
    assert not found, found


def test_erasure_removes_friends_requests_blocks_notifications_and_documents(life, django_capture_on_commit_callbacks):
    _, after, _, document_files = _erase(life, django_capture_on_commit_callbacks)

    assert not Friendship.objects.exists()
    assert not FriendRequest.objects.filter(from_user=after).exists()
    assert not FriendRequest.objects.filter(to_user=after).exists()
    assert not Block.objects.filter(blocker=after).exists()
    assert not Notification.objects.filter(recipient=after).exists()
    assert not HelpDocument.objects.exists() and document_files and not any(p.exists() for p in document_files)
    assert not DataExport.objects.filter(user=after).exists()
    profile = ExpertProfile.objects.get(user=after)
    assert profile.bio == "" and profile.headline == "" and profile.status == "rejected"
    assert erase_deleted_accounts_task() == 0  # idempotent


def test_what_others_received_stays_and_shows_a_deleted_user(life, django_capture_on_commit_callbacks):
    _, after, _, _ = _erase(life, django_capture_on_commit_callbacks)
    friend = signed_in(life.friend)

    # The message stays in the friend's conversation, from "Deleted user", with its file.
    message = Message.objects.get(pk=life.sent_message.pk)
    assert message.sender_id == after.pk and message.body == "Here are my notes, Fred"
    assert message.attachments.count() == 1
    page = friend.get(reverse("chat:conversation", args=[life.direct.pk])).content.decode()
    assert "Here are my notes, Fred" in page and DELETED_USER_NAME in page and "Quistmarlowe" not in page
    api = APIClient()
    api.force_authenticate(life.friend)
    listed = api.get(reverse("api:chat-messages", args=[life.direct.pk])).content.decode()
    assert "Here are my notes, Fred" in listed and DELETED_USER_NAME in listed and "Quistmarlowe" not in listed
    # The group goes on without the erased person.
    assert "left" in Message.objects.filter(conversation=life.group, kind="system").latest("seq").body
    # The expert keeps the request's history, anonymised; the stars stay in the average.
    request = HelpRequest.objects.get(pk=life.completed_request.pk)
    assert request.title == "Eigenvalues" and request.description == "" and request.requester_id == after.pk
    expert_page = signed_in(life.expert).get(request.get_absolute_url()).content.decode()
    assert DELETED_USER_NAME in expert_page and "Quistmarlowe" not in expert_page
    assert Rating.objects.get(request=request).stars == 4 and Rating.objects.get(request=request).feedback == ""
    profile = ExpertProfile.objects.get(user=life.expert)
    assert profile.rating_count == 1 and profile.rating_sum == 4
    # What others were told names nobody now.
    told = Notification.objects.filter(recipient=life.stranger, kind=NotificationKind.FRIEND_REQUEST).get()
    assert "Quistmarlowe" not in told.title and DELETED_USER_NAME in told.title
    # The old profile link leads nowhere; the admin lists a deleted user.
    assert friend.get(reverse("social:profile", kwargs={"public_id": life.person.public_id})).status_code == 404
    assert re.search(r"deleted-[0-9a-f]{32}@deleted\.invalid", after.email)
