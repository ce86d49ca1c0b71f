"""The chat as an app, in Chromium at 1366 px (laptop) and 390 px (phone), against a real daphne:
two panes on a laptop and one at a time on a phone, switching without a page load (one socket,
back/forward, deep links), New message, formatting and times that are the same live and on
load, day separators, upload progress, Retry, the signed-out close code, the pages without
JavaScript, and axe-core's WCAG 2.1 AA checks.

Screenshots go to artifacts/screenshots/ (chat-*.png) for a person to look at.
"""

import datetime
import json
import re
import zoneinfo
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.sessions.models import Session
from django.db import connection
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from playwright.sync_api import expect

from accounts.tests.factories import UserFactory
from chat import services
from chat.models import Message
from chat.tests.factories import befriend, direct_between, send
from tests.browser.axe import axe_violations
from tests.browser.chromium import close_contexts

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SHOTS = Path(settings.BASE_DIR) / "artifacts" / "screenshots"
LAPTOP = {"width": 1366, "height": 900}
PHONE = {"width": 390, "height": 844}
TIME_FORMAT = re.compile(r"^\d{1,2}:\d{2}(\s?[AP]M)?$")


def _shot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"chat-{name}.png"))


class Browser:
    """One signed-in browser (a context with the user's session cookie) and its errors."""

    def __init__(self, browser, site, user, *, viewport, js=True, axe=False):
        client = Client()
        client.force_login(user)
        cookie = client.cookies[settings.SESSION_COOKIE_NAME].value
        self.context = browser.new_context(
            viewport=viewport, java_script_enabled=js, bypass_csp=axe, timezone_id=user.time_zone
        )
        self.context.add_cookies([{"name": settings.SESSION_COOKIE_NAME, "value": cookie, "url": site}])
        self.page = self.context.new_page()
        self.site = site
        self.errors = []
        self.sockets = []
        self.page.on("pageerror", lambda error: self.errors.append(str(error)))
        self.page.on("console", lambda m: m.type == "error" and self.errors.append(m.text))
        self.page.on("websocket", lambda ws: self.sockets.append(ws.url))

    def goto(self, name, *args, online=True):
        self.page.goto(self.site + reverse(name, args=args))
        if online:
            expect(self.page.locator("#live-status")).to_have_attribute("data-state", "online", timeout=10_000)

    def mark_page(self):
        """A flag that a page load would wipe: still there means the page never reloaded."""
        self.page.evaluate("() => { window.__samePage = true; }")

    def same_page(self) -> bool:
        return self.page.evaluate("() => window.__samePage === true")

    def close(self):
        close_contexts(self.context)


@pytest.fixture
def people(transactional_db, settings):
    """Ada and her friends Bob (a long chat over three days), Cleo (two messages), Dan (never
    written to) and a group of the four."""
    settings.CHAT_SEND_RATE = (1000, 10)  # this process writes the history at once
    # In a thread of its own: the services' live pushes cannot run on Playwright's event loop.
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(_write_history).result()


def _write_history():
    try:
        return _history()
    finally:
        connection.close()


def _history():
    ada = UserFactory(first_name="Ada", last_name="Lovelace", email="ada@example.org", university="UCL")
    bob = UserFactory(first_name="Bob", last_name="Babbage", email="bob@example.org", university="UCL")
    cleo = UserFactory(first_name="Cleo", last_name="Patra", email="cleo@example.org", university="KCL")
    dan = UserFactory(first_name="Dan", last_name="Brown", email="dan@example.org", university="LSE")
    for friend in (bob, cleo, dan):
        befriend(ada, friend)
    with_bob = direct_between(ada, bob)
    # Fifteen messages three days ago, fifteen yesterday and fifteen today, each fifteen within one
    # day in Ada's zone at any hour (just after midnight they sit closer together).
    now = timezone.now()
    midnight = now.astimezone(zoneinfo.ZoneInfo(ada.time_zone)).replace(hour=0, minute=0, second=0, microsecond=0)
    step = min(datetime.timedelta(minutes=1), (now - midnight) / 20)
    for n in range(1, 46):
        message = send(ada if n % 3 == 0 else bob, with_bob, f"Message number {n} about the **lab** report")
        days_ago = 3 if n <= 15 else 1 if n <= 30 else 0
        created_at = now - datetime.timedelta(days=days_ago) - (15 - (n - 1) % 15) * step
        Message.objects.filter(pk=message.pk).update(created_at=created_at)
    with_cleo = direct_between(ada, cleo)
    send(cleo, with_cleo, "Hi Ada! Lunch at one?")
    send(ada, with_cleo, "Yes, see you at the canteen")
    group = services.create_group(owner=ada, name="Lab partners", members=[bob, cleo])
    send(bob, group, "I booked the lab for *Thursday*")
    send(cleo, group, "Great, I'll bring `matplotlib` examples")
    send(ada, group, "Perfect @Bob")
    eve = UserFactory(first_name="Eve", last_name="Newcomer", email="eve@example.org", university="UCL")
    request = services.open_direct_conversation(user=eve, other=ada)
    send(eve, request, "Hi, are you in the same statistics class?")
    return {
        "request": request,
        "ada": ada,
        "bob": bob,
        "cleo": cleo,
        "dan": dan,
        "with_bob": with_bob,
        "with_cleo": with_cleo,
        "group": group,
    }


def _composer(page):
    return page.locator("#composer textarea[name=body]")


def _send(page, text: str) -> None:
    _composer(page).fill(text)
    _composer(page).press("Enter")


def test_on_a_laptop_the_list_and_the_conversation_sit_side_by_side_and_switch_without_a_reload(browser, site, people):
    ada = Browser(browser, site, people["ada"], viewport=LAPTOP)
    page = ada.page

    # Given Ada opens her long chat with Bob from a deep link
    ada.goto("chat:conversation", people["with_bob"].pk)
    ada.mark_page()

    # Then the list and the conversation are side by side, with no footer and no page scroll
    expect(page.locator("#chat-pane-list")).to_be_visible()
    expect(page.locator("#chat")).to_be_visible()
    expect(page.locator("footer")).to_have_count(0)
    assert page.evaluate("() => document.documentElement.scrollHeight <= window.innerHeight + 1")
    # only the message list scrolls, and it starts at the newest message, at the bottom
    scroll = page.evaluate(
        "() => { const s = document.getElementById('chat-scroll');"
        " return [s.scrollHeight, s.clientHeight, s.scrollTop]; }"
    )
    assert scroll[0] > scroll[1] and scroll[2] + scroll[1] >= scroll[0] - 2
    expect(page.locator(".chat-message").last).to_be_in_viewport()
    # the list shows previews, unread counts and which conversation is open
    expect(page.locator(".chat-row.is-open")).to_contain_text("Bob Babbage")
    expect(page.locator(".chat-row", has_text="Lab partners")).to_contain_text("You: Perfect @Bob")
    # days are separated, and every time has the one format
    days = page.locator("#chat-messages [data-divider=day]").all_inner_texts()
    assert days[-2:] == ["Yesterday", "Today"] and len(days) == 3
    times = page.locator("#chat-messages .chat-time").all_inner_texts()
    assert times and all(TIME_FORMAT.match(t) for t in times), times
    expect(page.locator("#chat-messages .chat-body strong").first).to_have_text("lab")
    _shot(page, "laptop-long")

    # When she opens the short chat with Cleo from the list
    page.locator(".chat-row", has_text="Cleo Patra").locator("a").click()

    # Then it replaces the conversation in place: new URL, same page, same socket
    expect(page).to_have_url(re.compile(rf"/chat/{people['with_cleo'].pk}/$"))
    expect(page.locator("#chat-title")).to_have_text("Cleo Patra")
    expect(page).to_have_title(re.compile("^Cleo Patra"))
    expect(page.locator(".chat-row.is-open")).to_contain_text("Cleo Patra")
    assert ada.same_page()
    # the two messages sit at the bottom, next to the composer
    gap = page.evaluate(
        """() => {
          const items = document.querySelectorAll('#chat-messages .chat-message');
          const last = items[items.length - 1].getBoundingClientRect();
          return document.getElementById('composer').getBoundingClientRect().top - last.bottom;
        }"""
    )
    assert 0 <= gap < 60, gap
    _shot(page, "laptop-short")

    # And a message sent there goes live over the same socket
    _send(page, "On my way")
    expect(page.locator(".chat-message.mine .chat-state").last).to_have_text("Sent", timeout=10_000)

    # When she goes back and forward
    page.go_back()
    expect(page).to_have_url(re.compile(rf"/chat/{people['with_bob'].pk}/$"))
    expect(page.locator("#chat-title")).to_have_text("Bob Babbage")
    page.go_forward()
    expect(page.locator("#chat-title")).to_have_text("Cleo Patra")
    expect(page.locator(".chat-message.mine .chat-body").last).to_have_text("On my way")
    assert ada.same_page()

    # And the group shows who said what
    page.locator(".chat-row", has_text="Lab partners").locator("a").click()
    expect(page.locator("#chat-title")).to_have_text("Lab partners")
    expect(page.locator(".chat-sender")).to_have_text(["Bob Babbage", "Cleo Patra"])
    expect(page.locator(".chat-body em")).to_have_text("Thursday")
    expect(page.locator(".chat-body code")).to_have_text("matplotlib")
    _shot(page, "laptop-group")
    assert ada.same_page()
    assert len([url for url in ada.sockets if url.endswith("/ws/live/")]) == 1
    assert ada.errors == []
    ada.close()


def test_on_a_phone_the_list_leads_to_the_conversation_and_back(browser, site, people):
    ada = Browser(browser, site, people["ada"], viewport=PHONE)
    page = ada.page

    # Given Ada opens her chats on a phone: the list fills the screen
    ada.goto("chat:list")
    ada.mark_page()
    expect(page.locator("#chat-pane-list")).to_be_visible()
    expect(page.locator("#chat-pane-main")).to_be_hidden()
    expect(page.locator("footer")).to_have_count(0)
    _shot(page, "phone-list")

    # When she opens the chat with Bob
    page.locator(".chat-row", has_text="Bob Babbage").locator("a").click()

    # Then the conversation fills the screen instead, newest message at the bottom, no reload
    expect(page).to_have_url(re.compile(rf"/chat/{people['with_bob'].pk}/$"))
    expect(page.locator("#chat")).to_be_visible()
    expect(page.locator("#chat-pane-list")).to_be_hidden()
    expect(page.locator(".chat-message").last).to_be_in_viewport()
    assert ada.same_page()
    _shot(page, "phone-conversation")

    # When she taps the composer and the keyboard takes the lower part of the screen
    _composer(page).focus()
    page.set_viewport_size({"width": 390, "height": 480})

    # Then the composer and the newest message stay on screen above it
    expect(page.locator("#composer")).to_be_in_viewport(ratio=1)
    box = page.locator("#composer").bounding_box()
    assert box["y"] + box["height"] <= 480 + 1
    expect(page.locator(".chat-message").last).to_be_in_viewport()
    assert page.evaluate("() => document.documentElement.scrollHeight <= window.innerHeight + 1")
    _shot(page, "phone-composer-focused")
    page.set_viewport_size(PHONE)

    # When she taps Back
    page.locator("#chat .chat-back").click()

    # Then she is on the list again, on the same page
    expect(page).to_have_url(re.compile(r"/chat/$"))
    expect(page.locator("#chat-pane-list")).to_be_visible()
    expect(page.locator("#chat-pane-main")).to_be_hidden()
    # and the browser's forward button brings the conversation back
    page.go_forward()
    expect(page.locator("#chat")).to_be_visible()
    expect(page.locator("#chat-title")).to_have_text("Bob Babbage")
    assert ada.same_page()
    assert ada.errors == []
    ada.close()


@pytest.mark.parametrize("viewport", [LAPTOP, PHONE], ids=["laptop", "phone"])
def test_new_message_picks_a_friend_and_starts_the_direct_chat(browser, site, people, viewport):
    ada = Browser(browser, site, people["ada"], viewport=viewport)
    page = ada.page

    # Given Ada on her chats
    ada.goto("chat:list")
    ada.mark_page()

    # When she presses New message and types the start of Dan's name
    page.locator("#chat-new-message").click()
    expect(page).to_have_url(re.compile(r"/chat/new-message/$"))
    expect(page.locator("#friend-list .chat-friend")).to_have_count(3)
    page.locator("#friend-filter").fill("da")
    expect(page.locator("#friend-list .chat-friend:visible")).to_have_count(1)
    _shot(page, f"{'phone' if viewport is PHONE else 'laptop'}-new-message")
    page.locator("#friend-list .chat-friend:visible button").click()

    # Then the new 1-on-1 opens (a POST started it), ready to write in, without a page load
    expect(page.locator("#chat-title")).to_have_text("Dan Brown")
    conversation = services.open_direct_conversation(user=people["ada"], other=people["dan"])
    expect(page).to_have_url(re.compile(rf"/chat/{conversation.pk}/$"))
    expect(page.locator("#chat-empty")).to_be_visible()
    expect(_composer(page)).to_be_focused()
    _send(page, "Hi Dan, welcome to the course")
    expect(page.locator(".chat-message.mine .chat-state")).to_have_text("Sent", timeout=10_000)
    assert ada.same_page()
    if viewport is LAPTOP:
        expect(page.locator(".chat-row", has_text="Dan Brown")).to_be_visible(timeout=10_000)
    assert ada.errors == []
    ada.close()


def test_a_formatted_message_looks_the_same_live_and_after_a_reload(browser, site, people):
    ada = Browser(browser, site, people["ada"], viewport=LAPTOP)
    cleo = Browser(browser, site, people["cleo"], viewport=PHONE)
    ada.goto("chat:conversation", people["with_cleo"].pk)
    cleo.goto("chat:conversation", people["with_cleo"].pk)
    text = "**Bold** and _italic_, `code`, https://example.org/notes and @Ada\nsecond line <b>not html</b>"

    # When Cleo sends a formatted message
    _send(cleo.page, text)

    # Then Ada sees it formatted, live, with the escaped HTML as text
    live_item = ada.page.locator(".chat-message:not(.mine)").last
    expect(live_item.locator(".chat-body strong")).to_have_text("Bold", timeout=10_000)
    expect(live_item.locator(".chat-body em")).to_have_text("italic")
    expect(live_item.locator(".chat-body code")).to_have_text("code")
    expect(live_item.locator(".chat-body a")).to_have_attribute("href", "https://example.org/notes")
    expect(live_item.locator(".chat-body .mention")).to_have_text("@Ada")
    expect(live_item.locator(".chat-body")).to_contain_text("<b>not html</b>")
    expect(live_item.locator(".chat-body b")).to_have_count(0)
    live_html = live_item.locator(".chat-body").inner_html()
    live_time = live_item.locator(".chat-time").inner_text()
    # and Cleo's own copy, once acknowledged, is the server's rendering too
    mine = cleo.page.locator(".chat-message.mine").last
    expect(mine.locator(".chat-state")).to_have_text("Sent", timeout=10_000)
    assert mine.locator(".chat-body").inner_html() == live_html

    # When Ada reloads the page
    ada.page.reload()
    loaded = ada.page.locator(".chat-message:not(.mine)").last

    # Then the message and its time look exactly the same
    assert loaded.locator(".chat-body").inner_html() == live_html
    assert loaded.locator(".chat-time").inner_text() == live_time
    assert TIME_FORMAT.match(live_time)
    assert ada.errors == [] and cleo.errors == []
    ada.close()
    cleo.close()


def test_attachments_show_upload_progress_and_a_failed_upload_can_be_retried(browser, site, people, tmp_path):
    ada = Browser(browser, site, people["ada"], viewport=LAPTOP)
    page = ada.page
    ada.goto("chat:conversation", people["with_cleo"].pk)
    pdf = tmp_path / "thesis.pdf"
    pdf.write_bytes(b"%PDF-1.4\n" + b"% padding to make the upload take a while\n" * 60_000 + b"%%EOF\n")
    # Record every state the upload box goes through.
    page.evaluate(
        """() => {
          window.__uploadStates = [];
          const box = document.getElementById('composer-upload');
          new MutationObserver(() => window.__uploadStates.push(
            `${box.dataset.state}|${box.querySelector('.chat-upload-text').textContent}`))
            .observe(box, { attributes: true, subtree: true, childList: true, characterData: true });
        }"""
    )

    # Given the connection fails during the first try
    page.route("**/send/", lambda route: route.abort("connectionfailed"))
    page.set_input_files("#composer-files", str(pdf))
    _composer(page).fill("My thesis draft")
    _composer(page).press("Enter")

    # Then the upload says so and offers Retry
    upload = page.locator("#composer-upload")
    expect(upload).to_have_attribute("data-state", "failed", timeout=10_000)
    expect(upload).to_contain_text("could not be sent")
    retry = upload.locator("[data-action=retry-upload]")
    expect(retry).to_be_visible()
    _shot(page, "laptop-upload-failed")

    # When the network is back but slow, and she presses Retry
    page.unroute("**/send/")
    cdp = ada.context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send(
        "Network.emulateNetworkConditions",
        {"offline": False, "latency": 20, "downloadThroughput": -1, "uploadThroughput": 400 * 1024},
    )
    retry.click()

    # Then she watches it progress, and the file arrives in the conversation once
    expect(upload).to_have_attribute("data-state", "uploading", timeout=5_000)
    expect(upload.locator("progress")).to_be_visible()
    _shot(page, "laptop-upload-progress")
    expect(page.locator(".chat-message.mine .chat-file-name")).to_have_text(["thesis.pdf"], timeout=30_000)
    expect(upload).to_be_hidden()
    states = page.evaluate("() => window.__uploadStates")
    percents = [int(m.group(1)) for s in states if (m := re.search(r"Uploading… (\d+)%", s))]
    assert len(set(percents)) >= 2 and percents == sorted(percents), states
    assert Message.objects.filter(body="My thesis draft").count() == 1
    assert [e for e in ada.errors if "ERR_CONNECTION_FAILED" not in e and "Failed to load" not in e] == []
    ada.close()


class RefusingSocket:
    """Routes the page's live socket through Playwright; while `refuse` is on, a message.send
    is answered with the server's error frame instead of reaching the server."""

    def __init__(self, page):
        self.refuse = False
        self.page_side = None
        page.route_web_socket("**/ws/live/**", self._route)

    def _route(self, ws) -> None:
        self.page_side = ws
        server = ws.connect_to_server()

        def from_page(message):
            frame = json.loads(message) if isinstance(message, str) else {}
            if self.refuse and frame.get("type") == "message.send":
                ws.send(
                    json.dumps(
                        {
                            "type": "error",
                            "code": "unavailable",
                            "detail": "The chat is busy.",
                            "client_id": frame["client_id"],
                            "conversation": frame["conversation"],
                        }
                    )
                )
                return
            server.send(message)

        ws.on_message(from_page)


def test_a_message_the_server_refused_shows_retry_and_is_sent_once_on_retry(browser, site, people):
    ada = Browser(browser, site, people["ada"], viewport=PHONE)
    page = ada.page
    socket = RefusingSocket(page)
    ada.goto("chat:conversation", people["with_cleo"].pk)

    # Given the server refuses her next message
    socket.refuse = True
    _send(page, "Are we still on for lunch?")

    # Then it is marked as not sent, with the reason, Retry and Discard
    failed = page.locator(".chat-message.failed")
    expect(failed).to_have_count(1, timeout=10_000)
    expect(failed.locator(".chat-state")).to_have_text("Not sent: The chat is busy.")
    expect(failed.get_by_role("button", name="Retry")).to_be_visible()
    expect(failed.get_by_role("button", name="Discard")).to_be_visible()
    _shot(page, "phone-failed-message")

    # When the server accepts again and she presses Retry
    socket.refuse = False
    failed.get_by_role("button", name="Retry").click()

    # Then it is sent, once
    sent = page.locator(".chat-message.mine").last
    expect(sent.locator(".chat-state")).to_have_text("Sent", timeout=10_000)
    expect(page.locator(".chat-message.failed")).to_have_count(0)
    assert Message.objects.filter(body="Are we still on for lunch?").count() == 1

    # And a refused message she discards is gone
    socket.refuse = True
    _send(page, "never mind")
    page.locator(".chat-message.failed").get_by_role("button", name="Discard").click()
    expect(page.locator(".chat-message", has_text="never mind")).to_have_count(0)
    assert ada.errors == []
    ada.close()


def test_a_signed_out_close_code_leads_to_the_login_page_instead_of_reconnecting(browser, site, people):
    ada = Browser(browser, site, people["ada"], viewport=LAPTOP)
    socket = RefusingSocket(ada.page)
    path = reverse("chat:conversation", args=[people["with_cleo"].pk])
    ada.goto("chat:conversation", people["with_cleo"].pk)

    # When her session ends (signed out elsewhere) and the server closes her socket saying so
    Session.objects.all().delete()
    socket.page_side.close(code=4401, reason="signed out")

    # Then the page goes to the login page, and comes back here after signing in
    ada.page.wait_for_url(re.compile(r"/accounts/login/"), timeout=10_000)
    assert ada.page.url.endswith(f"?next={path.replace('/', '%2F')}")
    ada.close()


@pytest.mark.parametrize("viewport", [LAPTOP, PHONE], ids=["laptop", "phone"])
def test_without_javascript_the_chat_is_plain_pages_and_forms(browser, site, people, viewport):
    ada = Browser(browser, site, people["ada"], viewport=viewport, js=False)
    page = ada.page

    # Given Ada's browser runs no JavaScript
    ada.goto("chat:list", online=False)
    expect(page.locator("#chat-pane-list")).to_be_visible()

    # When she opens Cleo's chat and writes
    page.locator(".chat-row", has_text="Cleo Patra").locator("a").click()
    expect(page.locator("#chat-title")).to_have_text("Cleo Patra")
    if viewport is PHONE:
        expect(page.locator("#chat-pane-list")).to_be_hidden()
    _composer(page).fill("Sent **without** JavaScript")
    page.locator("#composer .chat-send").click()

    # Then the page comes back with her message, rendered by the server
    expect(page.locator(".chat-message.mine .chat-body strong").last).to_have_text("without")
    days = page.locator("#chat-messages [data-divider=day]").all_inner_texts()
    assert days == ["Today"]

    # When she starts a chat with Dan from New message
    page.locator("#chat-new-message" if viewport is LAPTOP else ".chat-back").first.click()
    if viewport is PHONE:
        page.locator("#chat-new-message").click()
    page.locator("#friend-filter").fill("dan")
    page.locator("#friend-filter").press("Enter")  # the filter is a GET form
    expect(page.locator("#friend-list .chat-friend")).to_have_count(1)
    page.locator("#friend-list .chat-friend button").click()

    # Then the new conversation opens
    expect(page.locator("#chat-title")).to_have_text("Dan Brown")
    # and its Back link leads to the list
    if viewport is PHONE:
        page.locator("#chat .chat-back").click()
        expect(page.locator("#chat-pane-list")).to_be_visible()
    ada.close()


def test_the_chat_screens_pass_axe_wcag_21_aa_at_both_widths(browser, site, people):
    lonely = UserFactory(first_name="Lou", last_name="Nobody", email="lou@example.org")
    screens = [
        ("list", people["ada"], "chat:list", ()),
        ("direct", people["ada"], "chat:conversation", (people["with_bob"].pk,)),
        ("group", people["ada"], "chat:conversation", (people["group"].pk,)),
        ("new-message", people["ada"], "chat:new_message", ()),
        ("requests", people["ada"], "chat:requests", ()),
        ("a request", people["ada"], "chat:conversation", (people["request"].pk,)),
        ("empty", lonely, "chat:list", ()),
    ]
    found = {}
    for viewport, label in ((LAPTOP, "laptop"), (PHONE, "phone")):
        for name, user, url_name, args in screens:
            student = Browser(browser, site, user, viewport=viewport, axe=True)
            student.goto(url_name, *args)
            if name == "empty":
                _shot(student.page, f"{label}-empty")
            violations = axe_violations(student.page)
            if violations:
                found[f"{label} {name}"] = violations
            student.close()
    assert found == {}, json.dumps(found, indent=1)
