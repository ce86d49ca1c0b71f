"""Where a refused page action sends the browser (config.middleware.RefusalMiddleware,
config.refusals.back_url): the form's `next` (POST) if it stays on this site, else the
same-site Referer, else home. Every way we tried to turn that into an open redirect, a loop,
or a cross-site read of a refusal is here.

The refusal used: a confirmed user asking for a new confirmation e-mail (POST
accounts:email_verification_resend), refused with "Your e-mail address is already confirmed."
"""

import re

import pytest
from django.test import Client, RequestFactory
from django.urls import reverse

from accounts.tests.factories import UserFactory
from chat import services as chat_services
from chat.models import Message
from config.refusals import back_url
from social.tests.factories import make_friends

pytestmark = pytest.mark.django_db

HOME = "/"
REFUSED = "Your e-mail address is already confirmed."

# Each `next` an attacker might put in a form or a link; none may leave the site.
OFF_SITE_NEXTS = [
    "https://evil.example/",
    "http://evil.example/",
    "//evil.example/",
    "///evil.example/",
    "////evil.example/",
    "/\\evil.example/",
    "\\\\evil.example/",
    "\\/evil.example/",
    "/\\/evil.example/",
    "https:evil.example",
    "https:/evil.example",
    "https:///evil.example",
    "http:\\\\evil.example",
    "javascript:alert(document.domain)",
    "JavaScript:alert(1)",
    "java\tscript:alert(1)",
    "data:text/html,<script>alert(1)</script>",
    "vbscript:msgbox(1)",
    "\t//evil.example/",
    "\x00//evil.example/",
    "\x1f//evil.example/",
    "//evil.example@testserver/",
    "//testserver@evil.example/",
    "https://testserver@evil.example/",
    "https://evil.example\\@testserver/",
    "https://testserver.evil.example/",
    "https://evil.example/?//testserver",
    "//evil.example%2F@testserver/",
    "//\u3002evil.example/",  # an ideographic full stop
    "//evil\u3002example/",
    "//\uff45\uff56\uff49\uff4c.example/",  # fullwidth letters: NFKC turns them into evil.example
]

# Encoded forms: a browser does not decode them before resolving, so they stay on this site;
# what matters is that the Location is still a path of this site.
ENCODED_NEXTS = [
    "%2F%2Fevil.example/",
    "/%2F/evil.example/",
    "/%5Cevil.example/",
    "%5C%5Cevil.example/",
    "/%09/evil.example/",
]


def refused_post(client, **extra):
    return client.post(reverse("accounts:email_verification_resend"), **extra)


@pytest.fixture
def ada_client(client):
    client.force_login(UserFactory())
    return client


@pytest.mark.parametrize("target", OFF_SITE_NEXTS)
def test_a_next_that_leaves_the_site_is_ignored(ada_client, target):
    answer = refused_post(ada_client, data={"next": target})

    assert answer.status_code == 302
    assert answer["Location"] == HOME


@pytest.mark.parametrize("target", OFF_SITE_NEXTS)
def test_a_next_that_leaves_the_site_falls_back_to_the_same_site_referer(ada_client, target):
    answer = refused_post(ada_client, data={"next": target}, HTTP_REFERER="http://testserver/notifications/")

    assert answer["Location"] == "http://testserver/notifications/"


@pytest.mark.parametrize("target", ENCODED_NEXTS)
def test_an_encoded_next_stays_a_path_of_this_site(ada_client, target):
    answer = refused_post(ada_client, data={"next": target})

    location = answer["Location"]
    assert location in (target, HOME)
    assert not location.startswith(("//", "/\\", "\\")) and ":" not in location.split("/", 1)[0]


@pytest.mark.parametrize(
    "target",
    ["/ok\r\nSet-Cookie: stolen=1", "/ok\nLocation: https://evil.example/", "/ok%0d%0aSet-Cookie:%20stolen=1"],
)
def test_a_next_with_a_line_break_injects_no_header_and_is_no_error(ada_client, target):
    answer = refused_post(ada_client, data={"next": target})

    assert answer.status_code == 302
    assert "\r" not in answer["Location"] and "\n" not in answer["Location"]
    assert "stolen" not in answer.cookies
    assert not answer.has_header("Set-Cookie") or "stolen" not in answer["Set-Cookie"]


def test_a_next_on_this_site_is_followed(ada_client):
    answer = refused_post(ada_client, data={"next": "/notifications/?page=2"})

    assert answer["Location"] == "/notifications/?page=2"
    assert REFUSED in ada_client.get("/").content.decode()


@pytest.mark.parametrize(
    "referer",
    [
        "https://evil.example/",
        "http://evil.example/notifications/",
        "http://testserver.evil.example/",
        "http://testserver@evil.example/",
        "http://evil.example\\@testserver/",
        "//evil.example/",
        "javascript:alert(1)",
        "http:evil.example",
        "not a url at all",
    ],
)
def test_a_referer_from_another_site_is_ignored(ada_client, referer):
    answer = refused_post(ada_client, HTTP_REFERER=referer)

    assert answer["Location"] == HOME


def test_a_next_in_the_query_string_is_not_followed(ada_client):
    # Only the form's own (POST) `next` counts: a link cannot choose where a refusal lands.
    answer = ada_client.post(reverse("accounts:email_verification_resend") + "?next=/notifications/")

    assert answer["Location"] == HOME


@pytest.mark.parametrize("host_headers", [{"HTTP_HOST": "evil.example"}, {"HTTP_X_FORWARDED_HOST": "evil.example"}])
def test_a_forged_host_does_not_make_another_site_this_one(ada_client, host_headers):
    answer = refused_post(ada_client, data={"next": "http://evil.example/"}, **host_headers)

    assert "evil.example" not in answer.get("Location", "")
    if "HTTP_HOST" in host_headers:
        assert answer.status_code == 400  # not an allowed host: refused before any view


# --- A refused GET never loops --------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "referer", "post_next"),
    [
        ("/chat/", "http://testserver/chat/", None),  # the Referer is this very page
        ("/chat/?x=1", "http://testserver/chat/?x=1", None),
        ("/chat/?next=/chat/", None, None),  # a query `next` naming this page
        ("/chat/?next=/chat/%3Fnext%3D/chat/", None, None),
    ],
)
def test_a_refused_get_is_never_sent_back_to_itself(path, referer, post_next):
    headers = {"HTTP_REFERER": referer} if referer else {}
    request = RequestFactory().get(path, **headers)

    target = back_url(request)

    assert target == HOME


def test_a_refused_post_may_go_back_to_the_page_it_came_from():
    request = RequestFactory().post("/chat/1/promote/", HTTP_REFERER="http://testserver/chat/1/settings/")

    assert back_url(request) == "http://testserver/chat/1/settings/"


# --- A JSON answer cannot be had cross-site, and tells no more than a page --------------------


def test_the_session_cookie_is_not_sent_on_cross_site_subrequests(settings):
    # A cross-site fetch (even `Accept: application/json`, a CORS-safelisted header) carries
    # no session: it is an anonymous request. Lax is Django's default; None would undo it.
    assert settings.SESSION_COOKIE_SAMESITE in ("Lax", "Strict")
    assert settings.CSRF_COOKIE_SAMESITE in ("Lax", "Strict")


def test_a_cross_site_post_asking_for_json_is_refused_by_csrf_before_any_refusal():
    # Given a signed-in browser whose cookie an attacker's page gets sent along (SameSite aside)
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(UserFactory())

    # When the attacker's page posts to a refused action, asking for JSON
    answer = browser.post(
        reverse("accounts:email_verification_resend"),
        headers={"accept": "application/json", "origin": "https://evil.example", "referer": "https://evil.example/"},
    )

    # Then CSRF refuses it: the refusal's message and code are never answered
    assert answer.status_code == 403
    assert REFUSED not in answer.content.decode()
    assert b'"code"' not in answer.content


def same_page(content: bytes) -> str:
    """A page with its per-response values (CSP nonce, CSRF token) blanked."""
    page = re.sub(r'(nonce|value|content)="[^"]*"', r'\1=""', content.decode())
    return re.sub(r'"X-CSRFToken": "[^"]*"', '"X-CSRFToken": ""', page)


def test_json_answers_404_alike_for_a_message_out_of_reach_and_one_that_does_not_exist(client):
    # Given Ada's message in her conversation with Bob, and Cleo, who is in neither
    ada, bob, cleo = UserFactory(), UserFactory(), UserFactory()
    make_friends(ada, bob)
    conversation = chat_services.open_direct_conversation(user=ada, other=bob)
    message, _ = chat_services.send_message(
        sender=ada, conversation_id=conversation.pk, body="Hi", client_id="c-0000001"
    )
    client.force_login(cleo)
    json_accept = {"accept": "application/json"}

    # When Cleo asks to delete it, and a message that does not exist
    existing = client.post(reverse("chat:delete_message", args=[conversation.pk, message.pk]), headers=json_accept)
    missing = client.post(reverse("chat:delete_message", args=[conversation.pk, message.pk + 999]), headers=json_accept)

    # Then both are the same 404: no refusal (403/409) tells her the message exists
    assert existing.status_code == missing.status_code == 404
    assert same_page(existing.content) == same_page(missing.content)
    assert Message.objects.get(pk=message.pk).deleted_at is None


def test_json_a_member_who_is_not_the_sender_is_refused_with_the_body(client):
    # The refusal body is answered only once the message is within the person's reach.
    ada, bob = UserFactory(), UserFactory()
    make_friends(ada, bob)
    conversation = chat_services.open_direct_conversation(user=ada, other=bob)
    message, _ = chat_services.send_message(
        sender=ada, conversation_id=conversation.pk, body="Hi", client_id="c-0000002"
    )
    client.force_login(bob)

    answer = client.post(
        reverse("chat:delete_message", args=[conversation.pk, message.pk]), headers={"accept": "application/json"}
    )

    assert answer.status_code == 403 and answer.json()["code"] == "not_sender"


# --- `next` elsewhere: what django.shortcuts.redirect would take for a view name ----------------


@pytest.mark.parametrize("target", ["not-a-path", "accounts:login", "evil", "?next=x", "notifications"])
def test_a_next_that_is_not_a_path_goes_to_the_default_and_is_no_error(ada_client, target):
    refused = refused_post(ada_client, data={"next": target})
    read_all = ada_client.post(reverse("notifications:read_all"), {"next": target})

    assert (refused.status_code, refused["Location"]) == (302, HOME)
    assert (read_all.status_code, read_all["Location"]) == (302, reverse("notifications:list"))
