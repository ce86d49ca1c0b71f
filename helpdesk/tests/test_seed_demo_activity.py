"""`make run`'s demo data: every part of the site has something in it, and running it again after
the demo has been used (as every `make run` does) gets or creates each item and never fails."""

import uuid
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.test import Client

from accounts.models import User
from chat import services as chat_services
from chat.models import Conversation, Message
from experts.models import ExpertProfile
from helpdesk import services as help_services
from helpdesk.models import HelpRequest
from social import services as social_services
from social.models import FriendRequest, Friendship

pytestmark = pytest.mark.django_db


def seed() -> str:
    out = StringIO()
    call_command("seed_demo", allow_production=True, stdout=StringIO())
    call_command("seed_demo_activity", allow_production=True, stdout=out)
    return out.getvalue()


def user(local: str) -> User:
    return User.objects.get(email=f"{local}@lyceum.local")


def demo_messages() -> int:
    return Message.objects.filter(sender__isnull=False).count()


def assert_the_dashboard_serves(local: str) -> None:
    browser = Client()
    browser.force_login(user(local))
    assert browser.get("/").status_code == 200
    assert browser.get("/chat/").status_code == 200


def test_demo_activity_fills_chat_experts_and_help_and_is_idempotent():
    seed()

    assert Friendship.objects.count() == 3
    assert FriendRequest.objects.filter(status="pending").count() == 1
    assert Conversation.objects.count() == 3  # the accepted help request opens one too
    assert demo_messages() == 7
    assert ExpertProfile.objects.get().status == "approved"
    assert HelpRequest.objects.filter(status="open").count() == 1
    assert HelpRequest.objects.filter(status="scheduled").count() == 1

    out = seed()
    assert "nothing changed" in out
    assert demo_messages() == 7
    assert Conversation.objects.count() == 3


def test_a_demo_friend_who_was_unfriended_is_a_friend_again_after_the_next_run():
    seed()
    social_services.unfriend(user=user("amara.okafor"), other=user("lukas.becker"))

    out = seed()

    assert "amara.okafor and lukas.becker are friends" in out
    assert Friendship.objects.count() == 3
    assert_the_dashboard_serves("amara.okafor")


def test_a_deleted_demo_message_stays_deleted_and_nothing_is_sent_twice():
    seed()
    message = Message.objects.get(body="Deal. I'll bring coffee.")
    chat_services.delete_message(user=message.sender, message_id=message.pk)

    out = seed()

    assert "nothing changed" in out
    assert demo_messages() == 7
    message.refresh_from_db()
    assert message.body == "" and message.deleted_at is not None
    assert_the_dashboard_serves("sofia.marquez")


def test_an_accepted_demo_request_is_kept_and_not_sent_again():
    seed()
    waiting = FriendRequest.objects.get(status="pending")
    social_services.accept_friend_request(user=user("amara.okafor"), request_id=waiting.pk)

    out = seed()

    assert "nothing changed" in out
    assert not FriendRequest.objects.filter(status="pending").exists()
    assert Friendship.objects.count() == 4
    assert_the_dashboard_serves("amara.okafor")


def test_a_declined_demo_request_is_asked_again():
    seed()
    waiting = FriendRequest.objects.get(status="pending")
    social_services.decline_friend_request(user=user("amara.okafor"), request_id=waiting.pk)

    seed()

    assert FriendRequest.objects.filter(status="pending", from_user=user("kenji.watanabe")).count() == 1


def test_a_block_between_demo_friends_is_left_alone_and_named():
    seed()
    social_services.block_user(blocker=user("amara.okafor"), blocked=user("lukas.becker"))

    out = seed()

    assert "left as it is: amara.okafor and lukas.becker are friends" in out
    assert Friendship.objects.count() == 2
    assert_the_dashboard_serves("amara.okafor")


def test_a_member_who_left_the_demo_group_is_not_put_back_and_the_run_completes():
    seed()
    group = Conversation.objects.get(name="Exam study group")
    chat_services.leave_group(user=user("amara.okafor"), conversation_id=group.pk)
    Message.objects.filter(sender=user("amara.okafor"), conversation=group).delete()

    out = seed()

    assert "left as it is: amara.okafor's group message 3" in out
    assert Conversation.objects.filter(name="Exam study group").count() == 1
    assert_the_dashboard_serves("amara.okafor")


def test_a_cancelled_demo_help_request_is_kept_as_cancelled():
    seed()
    request = HelpRequest.objects.get(status="open")
    help_services.cancel_help_request(requester=request.requester, request_id=request.public_id)

    out = seed()

    assert "nothing changed" in out
    assert HelpRequest.objects.filter(status="open").count() == 0
    assert HelpRequest.objects.count() == 2


def test_demo_messages_seeded_by_an_earlier_version_with_random_client_ids_are_not_sent_again():
    seed()
    for message in Message.objects.filter(sender__isnull=False):
        Message.objects.filter(pk=message.pk).update(client_id=str(uuid.uuid4()))

    out = seed()

    assert "nothing changed" in out
    assert demo_messages() == 7


def test_demo_activity_needs_the_demo_accounts():
    with pytest.raises(CommandError, match="seed_demo"):
        call_command("seed_demo_activity", allow_production=True, stdout=StringIO())
