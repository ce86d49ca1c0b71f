"""`make run`'s demo data: every part of the site has something in it, and a second run changes nothing."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from chat.models import Conversation, Message
from experts.models import ExpertProfile
from helpdesk.models import HelpRequest
from social.models import FriendRequest, Friendship

pytestmark = pytest.mark.django_db


def test_demo_activity_fills_chat_experts_and_help_and_is_idempotent():
    call_command("seed_demo", allow_production=True, stdout=StringIO())
    call_command("seed_demo_activity", allow_production=True, stdout=StringIO())

    assert Friendship.objects.count() == 3
    assert FriendRequest.objects.filter(status="pending").count() == 1
    assert Conversation.objects.count() == 3  # the accepted help request opens one too
    assert Message.objects.filter(sender__isnull=False).count() == 7
    assert ExpertProfile.objects.get().status == "approved"
    assert HelpRequest.objects.filter(status="open").count() == 1
    assert HelpRequest.objects.filter(status="scheduled").count() == 1

    out = StringIO()
    call_command("seed_demo_activity", allow_production=True, stdout=out)
    assert "nothing changed" in out.getvalue()
    assert Message.objects.filter(sender__isnull=False).count() == 7


def test_demo_activity_needs_the_demo_accounts():
    with pytest.raises(CommandError, match="seed_demo"):
        call_command("seed_demo_activity", allow_production=True, stdout=StringIO())
