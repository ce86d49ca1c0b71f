"""One refusal type (config.refusals.Refusal), mapped once per way out.

The source checks keep it so: no module defines its own `refused()` mapper, no api.py catches a
refusal to answer it itself (config.api.exception_handler does), and every app's refusal is a
Refusal. The behaviour tests send one refusal per app through the API (status and the exact
body) and through a page (the message shown, nothing changed).
"""

import ast
from pathlib import Path

import pytest
from django.urls import reverse

from accounts.services import AccountRefusal
from chat import services as chat_services
from chat.models import Membership, Message
from chat.services import ChatError
from config.content_inspection import Refused
from config.inputs import InputError
from config.refusals import Refusal
from config.unavailable import Unavailable
from experts.models import ExpertProfile
from experts.services import ExpertRefusal
from experts.tests.factories import CategoryFactory
from helpdesk import services as helpdesk_services
from helpdesk.models import HelpRequest
from helpdesk.services import HelpdeskRefusal
from live.consumer import FrameError
from social import services as social_services
from social.models import Block, FriendRequest
from social.services import SocialRefusal
from social.tests.factories import make_friends

ROOT = Path(__file__).resolve().parent.parent
APPS = ("accounts", "notifications", "social", "experts", "chat", "helpdesk", "config", "live")
REFUSAL_NAMES = {
    "Refusal",
    "ChatError",
    "SocialRefusal",
    "ExpertRefusal",
    "AccountRefusal",
    "HelpdeskRefusal",
    "FrameError",
    "Refused",
    "InputError",
    "Unavailable",
}


def _sources():
    for app in APPS:
        for path in (ROOT / app).rglob("*.py"):
            if "tests" in path.parts or "migrations" in path.parts:
                continue
            yield path, ast.parse(path.read_text(), filename=str(path))


def _name(node) -> str:
    if isinstance(node, ast.Attribute):
        return node.attr
    if isinstance(node, ast.Name):
        return node.id
    return ""


# --- The source keeps one door per way out ----------------------------------------------------


def test_no_module_defines_its_own_refused_mapper():
    mappers = [
        f"{path.relative_to(ROOT)}:{node.lineno} {node.name}"
        for path, tree in _sources()
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name in {"refused", "_refused", "_refusal"}
    ]
    assert mappers == []


def test_no_api_module_catches_a_refusal_to_answer_it_itself():
    catches = []
    for path, tree in _sources():
        if path.name != "api.py":
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.ExceptHandler) and node.type is not None:
                types = node.type.elts if isinstance(node.type, ast.Tuple) else [node.type]
                caught = {_name(kind) for kind in types} & REFUSAL_NAMES
                if caught:
                    catches.append(f"{path.relative_to(ROOT)}:{node.lineno} {sorted(caught)}")
    assert catches == []


@pytest.mark.parametrize(
    "refusal",
    [
        ChatError,
        SocialRefusal,
        ExpertRefusal,
        AccountRefusal,
        HelpdeskRefusal,
        FrameError,
        Refused,
        InputError,
        Unavailable,
    ],
)
def test_every_apps_refusal_is_a_refusal(refusal):
    assert issubclass(refusal, Refusal)


@pytest.mark.parametrize("module", ["social/services.py", "experts/services.py"])
def test_the_rule_services_raise_no_django_validation_error(module):
    assert "ValidationError" not in (ROOT / module).read_text()


def test_upload_and_input_refusals_keep_their_statuses():
    assert Refused("Too big.", code="file_too_large").status == 413
    assert Refused("Not that.", code="file_type").status == 415
    assert Refused("Empty.", code="empty_file").status == 400
    assert InputError("malformed_json", "The text is not valid JSON.").status == 400


def test_the_sockets_error_frame_names_the_refused_field_when_there_is_one():
    named = Refusal("Reply to a message of this conversation.", code="invalid_reply_to", field="reply_to")
    unnamed = Refusal("You are sending messages too fast.", code="rate_limited")

    assert named.frame(client_id="c1", conversation=None) == {
        "type": "error",
        "code": "invalid_reply_to",
        "detail": "Reply to a message of this conversation.",
        "field": "reply_to",
        "client_id": "c1",
    }
    assert "field" not in unnamed.frame()


# --- Through the API: the refusal's status and the one body ---------------------------------------


def test_social_a_second_request_is_409_with_the_refusal_body(api_of, ada, bob):
    social_services.send_friend_request(from_user=ada, to_user=bob)

    answer = api_of(ada).post(reverse("api:social-friend-requests"), {"to": str(bob.public_id)}, format="json")

    assert answer.status_code == 409
    assert answer.json() == {
        "detail": "You have already sent Bob Babbage a friend request; it is waiting for an answer.",
        "code": "duplicate",
    }
    assert FriendRequest.objects.count() == 1


def test_experts_a_second_application_is_409_with_the_refusal_body(api_of, ada):
    maths = CategoryFactory(name="Mathematics")
    application = {"headline": "Maths tutor", "bio": "I teach algebra.", "categories": [maths.pk]}
    assert api_of(ada).post(reverse("api:experts-me"), application, format="json").status_code == 201

    answer = api_of(ada).post(reverse("api:experts-me"), application, format="json")

    assert answer.status_code == 409
    assert answer.json() == {
        "detail": "You have already applied; your application is waiting for review. You can edit it meanwhile.",
        "code": "already_applied",
    }
    assert ExpertProfile.objects.count() == 1


def test_experts_a_refused_field_is_named_in_errors(api_of, ada):
    answer = api_of(ada).post(
        reverse("api:experts-me"), {"headline": "Tutor", "bio": "Bio.", "categories": [999_999]}, format="json"
    )

    message = "Choose areas of expertise from the list: one of them does not exist or is closed."
    assert answer.status_code == 400
    assert answer.json() == {
        "detail": message,
        "code": "invalid_category",
        "errors": {"categories": [message]},
        "error_codes": {"categories": ["invalid_category"]},
    }


def test_accounts_resending_to_a_confirmed_address_is_409_with_the_refusal_body(api_of, ada):
    answer = api_of(ada).post(reverse("api:me_email_verification"))

    assert answer.status_code == 409
    assert answer.json() == {"detail": "Your e-mail address is already confirmed.", "code": "already_verified"}


def test_accounts_a_wrong_current_password_is_400_on_its_field(api_of, ada):
    answer = api_of(ada).post(
        reverse("api:password_change"),
        {"current_password": "not-it", "new_password": "a-long-new-passphrase-42"},
        format="json",
    )

    assert answer.status_code == 400
    body = answer.json()
    assert body["code"] == "wrong_password"
    assert body["errors"] == {"current_password": [body["detail"]]}


def test_chat_an_empty_message_is_400_with_the_refusal_body(api_of, ada, bob):
    conversation = chat_services.open_direct_conversation(user=ada, other=bob)

    answer = api_of(ada).post(
        reverse("api:chat-messages", args=[conversation.pk]), {"body": "  ", "client_id": "c-0000001"}, format="json"
    )

    assert answer.status_code == 400
    assert answer.json() == {
        "detail": "Write something before sending.",
        "code": "empty_body",
        "errors": {"non_field_errors": ["Write something before sending."]},
        "error_codes": {"non_field_errors": ["empty_body"]},
    }
    assert not Message.objects.filter(conversation=conversation).exists()


def test_helpdesk_cancelling_twice_is_409_with_the_refusal_body(helpdesk_settings, api_of, ada):
    help_request = helpdesk_services.submit_help_request(
        requester=ada,
        category_id=CategoryFactory(name="Linear Algebra").pk,
        title="Stuck on eigenvalues",
        description="I cannot find the eigenvalues of a 3x3 matrix.",
        slots=(),
        times_note="Weekdays after 18:00",
        files=[],
    )
    url = reverse("api:helpdesk-cancel", args=[help_request.public_id])
    assert api_of(ada).post(url, {}, format="json").status_code == 200

    answer = api_of(ada).post(url, {}, format="json")

    assert answer.status_code == 409
    body = answer.json()
    assert set(body) == {"detail", "code"} and body["code"] == "illegal_transition"
    assert HelpRequest.objects.get(pk=help_request.pk).status == "cancelled"


# --- Through a page: the message shown, nothing changed ----------------------------------------


def test_chat_a_refused_page_action_goes_back_with_the_message(client_of, ada, bob):
    make_friends(ada, bob)
    group = chat_services.create_group(owner=ada, name="Lab", members=[bob])
    settings_page = reverse("chat:settings", args=[group.pk])

    answer = client_of(bob).post(
        reverse("chat:promote", args=[group.pk, bob.public_id]), HTTP_REFERER=f"http://testserver{settings_page}"
    )

    assert answer.status_code == 302 and answer["Location"] == f"http://testserver{settings_page}"
    shown = client_of(bob).get(settings_page).content.decode()
    assert "Only the group&#x27;s owner and admins can do that." in shown
    assert Membership.objects.get(conversation=group, user=bob).role == Membership.Role.MEMBER


def test_a_refused_action_without_referer_or_next_goes_home_never_to_a_post_only_url(client_of, ada):
    answer = client_of(ada).post(reverse("accounts:email_verification_resend"))

    assert answer.status_code == 302 and answer["Location"] == "/"
    assert "Your e-mail address is already confirmed." in client_of(ada).get("/").content.decode()


def test_a_next_off_the_site_is_ignored(client_of, ada):
    answer = client_of(ada).post(
        reverse("accounts:email_verification_resend"),
        {"next": "https://evil.example/"},
        HTTP_REFERER="https://evil.example/",
    )

    assert answer["Location"] == "/"


def test_social_a_refused_block_says_why_and_changes_nothing(client_of, ada, bob):
    social_services.block_user(blocker=ada, blocked=bob)

    answer = client_of(ada).post(reverse("social:block", args=[bob.public_id]))

    assert answer.status_code == 409
    assert "You have already blocked Bob Babbage." in answer.content.decode()
    assert Block.objects.count() == 1


def test_experts_a_refused_area_request_is_an_error_on_its_field(client_of, ada):
    held = [CategoryFactory(name=f"Area {index}") for index in range(5)]
    profile = ExpertProfile.objects.create(user=ada, headline="Tutor", bio="Bio.", status=ExpertProfile.Status.APPROVED)
    profile.categories.set(held)

    answer = client_of(ada).post(reverse("experts:request_area"), {"category": CategoryFactory(name="Sixth").pk})

    assert "An expert has at most 5 areas, counting those waiting for review" in answer.content.decode()
    assert not profile.area_requests.exists()


def test_a_page_script_asking_for_json_gets_the_refusal_body(client_of, ada, bob):
    conversation = chat_services.open_direct_conversation(user=ada, other=bob)
    message, _ = chat_services.send_message(
        sender=ada, conversation_id=conversation.pk, body="Hi", client_id="c-0000002"
    )

    answer = client_of(bob).post(
        reverse("chat:delete_message", args=[conversation.pk, message.pk]), headers={"accept": "application/json"}
    )

    assert answer.status_code == 403
    assert answer.json()["code"] == "not_sender"
    assert Message.objects.get(pk=message.pk).deleted_at is None
