"""axe-core's WCAG 2.1 A and AA checks on every main page of Lyceum, at 390 px (phone) and
1366 px (laptop), in Chromium against a real daphne. Any violation fails, listed per page.

The pages: the dashboard; the people directory, friends and friend requests; a profile; the
notifications; the chat list, a conversation and the report form; the help request form, list
and detail; the expert queue; an expert's public page; log-in and sign-up; the admin index, its
help-request list and a report's evidence page. Each is checked as it is on screen after its scripts ran (the live
socket online), with data in it: a page with nothing on it hides most of what can go wrong.
"""

import json
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.conf import settings
from django.db import connection
from django.test import Client
from django.urls import reverse
from playwright.sync_api import expect

from tests.browser.axe import axe_violations
from tests.browser.chromium import close_contexts

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

VIEWPORTS = {"phone": {"width": 390, "height": 844}, "laptop": {"width": 1366, "height": 900}}


@pytest.fixture
def a11y_site(transactional_db, settings, tmp_path):
    from tests.servers import daphne_server

    with daphne_server(
        MEETING_PROVIDER="local",
        HELPDESK_DOCUMENT_ROOT=str(tmp_path / "documents"),
        CHAT_ATTACHMENT_ROOT=str(tmp_path / "chat"),
        CELERY_BROKER_URL="",
    ) as url:
        yield url


@pytest.fixture
def world(transactional_db, settings, tmp_path):
    settings.HELPDESK_DOCUMENT_ROOT = str(tmp_path / "documents")
    settings.CHAT_ATTACHMENT_ROOT = str(tmp_path / "chat")
    settings.MEETING_PROVIDER = "memory"
    # In a thread of its own: the services' live pushes cannot run on Playwright's event loop.
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(_build_world).result()


def _build_world():
    try:
        return _world()
    finally:
        connection.close()


def _world():
    from accounts.tests.factories import StaffFactory
    from chat import services as chat_services
    from chat.tests.factories import befriend, direct_between, send
    from experts.tests.factories import CategoryFactory, ExpertProfileFactory, UserFactory
    from helpdesk.tests.factories import submit
    from notifications import services as notification_services
    from social.tests.factories import FriendRequestFactory

    category = CategoryFactory(name="Linear Algebra", slug="linear-algebra")
    ada = UserFactory(
        first_name="Ada",
        last_name="Lovelace",
        email="ada@example.org",
        university="UCL",
        course="Mathematics",
        bio="Numbers and engines.",
        interests="analysis, music",
    )
    bob = UserFactory(first_name="Bob", last_name="Babbage", email="bob@example.org", university="UCL")
    FriendRequestFactory(from_user=UserFactory(first_name="Cleo", last_name="Patra", university="UCL"), to_user=ada)
    befriend(ada, bob)
    with_bob = direct_between(ada, bob)
    reported = send(bob, with_bob, "Did you finish the **lab** report? https://example.org/notes")
    send(ada, with_bob, "Almost, see you at 4")
    grace = ExpertProfileFactory(
        user=UserFactory(first_name="Grace", last_name="Hopper", email="grace@example.org"),
        categories=[category],
        bio="Compilers, proofs and patience.",
    ).user
    help_request = submit(ada, category, title="Eigenvalues of a 3x3 matrix with a repeated root")
    notification_services.notify(
        recipient=ada, kind="system", title="Welcome to the term", body="Timetable: https://example.org/term"
    )
    report = chat_services.report_from_conversation(
        reporter=ada, conversation_id=with_bob.pk, reported=bob, reason="spam", message_ids=[reported.pk]
    )
    return {
        "ada": ada,
        "grace": grace,
        "staff": StaffFactory(first_name="Sam", last_name="Staff", email="sam@example.org"),
        "conversation": with_bob,
        "help_request": help_request,
        "expert_profile": grace.expert_profile,
        "report": report,
    }


def _pages(world):
    ada, grace, staff = world["ada"], world["grace"], world["staff"]
    return [
        ("dashboard", ada, reverse("home")),
        ("people directory", ada, reverse("social:directory") + "?university=UCL"),
        ("friends", ada, reverse("social:friends")),
        ("friend requests", ada, reverse("social:requests_incoming")),
        ("profile", ada, ada.get_absolute_url()),
        ("notifications", ada, reverse("notifications:list")),
        ("chat list", ada, reverse("chat:list")),
        ("conversation", ada, reverse("chat:conversation", args=[world["conversation"].pk])),
        ("report form", ada, reverse("chat:report", args=[world["conversation"].pk])),
        ("help request form", ada, reverse("helpdesk:new")),
        ("help request list", ada, reverse("helpdesk:mine")),
        ("help request detail", ada, world["help_request"].get_absolute_url()),
        ("expert queue", grace, reverse("helpdesk:queue")),
        ("expert profile", ada, reverse("experts:detail", args=[world["expert_profile"].pk])),
        ("log in", None, reverse("accounts:login")),
        ("sign up", None, reverse("accounts:register")),
        ("admin index", staff, reverse("admin:index")),
        ("admin help requests", staff, reverse("admin:helpdesk_helprequest_changelist")),
        ("admin report evidence", staff, reverse("admin:chat_report_evidence", args=[world["report"].pk])),
    ]


def _context(browser, site, user, viewport):
    context = browser.new_context(viewport=viewport, bypass_csp=True)
    if user is not None:
        client = Client()
        client.force_login(user)
        cookie = client.cookies[settings.SESSION_COOKIE_NAME].value
        context.add_cookies([{"name": settings.SESSION_COOKIE_NAME, "value": cookie, "url": site}])
    return context


@pytest.mark.parametrize("label", list(VIEWPORTS))
def test_every_main_page_passes_axe_wcag_21_aa(browser, a11y_site, world, label):
    found = {}
    contexts = {}
    try:
        for name, user, path in _pages(world):
            key = user.pk if user else None
            if key not in contexts:
                contexts[key] = _context(browser, a11y_site, user, VIEWPORTS[label])
            page = contexts[key].new_page()
            response = page.goto(a11y_site + path)
            assert response is not None and response.status == 200, f"{name}: HTTP {response and response.status}"
            if user is not None and not path.startswith("/admin/"):
                expect(page.locator("#live-status")).to_have_attribute("data-state", "online", timeout=10_000)
            violations = axe_violations(page)
            if violations:
                found[name] = violations
            page.close()
    finally:
        close_contexts(*contexts.values())
    assert found == {}, json.dumps(found, indent=1)
