"""Two students chat live in two browsers: unread badge, typing, live delivery, "Seen"; then one
goes offline, the other sends three messages, and the first comes back to exactly those three,
in order (the resync from the database after the reconnect)."""

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from accounts.models import User
from social.models import Friendship
from tests.browser.chromium import close_contexts
from tests.browser.pages import register
from tests.servers import daphne_server

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def chat_site(transactional_db, settings):
    """A real daphne on this run's database."""
    with daphne_server() as url:
        yield url


def _befriend(*emails: str) -> list[User]:
    a, b = (User.objects.get(email=email) for email in emails)
    low, high = Friendship.ordered_ids(a.pk, b.pk)
    Friendship.objects.create(user_low_id=low, user_high_id=high)
    return [a, b]


class SocketSwitch:
    """Routes a page's live sockets through Playwright so the test can cut them: Chromium's
    offline emulation does not close an open WebSocket. While "offline", reconnects are refused."""

    def __init__(self, page):
        self.online = True
        self.open = []
        page.route_web_socket("**/ws/live/**", self._route)

    def _route(self, ws) -> None:
        if not self.online:
            ws.close(code=1006, reason="offline")
            return
        self.open.append((ws, ws.connect_to_server()))

    def go_offline(self) -> None:
        self.online = False
        for page_side, server_side in self.open:
            page_side.close(code=1001, reason="offline")
            server_side.close()
        self.open.clear()

    def go_online(self) -> None:
        self.online = True


def open_direct_chat(page, site: str, other: User) -> None:
    """What following another student's "Message" link does: the page's button (a POST) opens
    the conversation."""
    page.goto(site + reverse("chat:direct", args=[other.public_id]))
    page.get_by_role("button", name="Start the conversation").click()
    page.wait_for_url("**/chat/*/")


def _send(page, text: str) -> None:
    page.fill("#composer textarea[name=body]", text)
    page.press("#composer textarea[name=body]", "Enter")


def test_two_students_chat_live_and_nothing_is_lost_while_one_is_offline(browser, chat_site):
    site = chat_site
    # Given two friends, each signed in in their own browser (laptop and phone)
    ada_context = browser.new_context(viewport={"width": 1366, "height": 900})
    bob_context = browser.new_context(viewport={"width": 390, "height": 844})
    ada, bob = ada_context.new_page(), bob_context.new_page()
    bob_network = SocketSwitch(bob)
    errors = []
    for page in (ada, bob):
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.on("console", lambda message: message.type == "error" and errors.append(message.text))
    register(ada, site, first_name="Ada", last_name="Lovelace", email="ada@example.org", university="UCL")
    register(bob, site, first_name="Bob", last_name="Babbage", email="bob@example.org", university="UCL")
    _, bob_user = _befriend("ada@example.org", "bob@example.org")

    # When Ada opens the chat with Bob from his "Message" link while Bob watches his chat list
    bob.goto(site + reverse("chat:list"))
    expect(bob.locator("#live-status")).to_have_attribute("data-state", "online", timeout=10_000)
    open_direct_chat(ada, site, bob_user)
    expect(ada.locator("#live-status")).to_have_attribute("data-state", "online", timeout=10_000)
    _send(ada, "Hi Bob! Notes: https://example.org/notes")

    # Then her message is acknowledged, and Bob's list shows it with an unread badge, live
    mine = ada.locator("#chat-messages .chat-message.mine")
    expect(mine).to_have_count(1)
    expect(mine.locator(".chat-state")).to_have_text("Sent", timeout=10_000)
    row = bob.locator(".chat-row", has_text="Ada Lovelace")
    expect(row).to_be_visible(timeout=10_000)
    expect(row.get_by_test_id("unread-badge")).to_have_text("1")
    expect(row).to_contain_text("Hi Bob!")
    _send(ada, "Are you coming to the lab?")
    expect(row.get_by_test_id("unread-badge")).to_have_text("2", timeout=10_000)

    # When Bob opens the conversation and Ada starts typing
    row.locator("a").click()
    expect(bob.locator("#chat-messages .chat-message")).to_have_count(2)
    link = bob.locator("#chat-messages a[href='https://example.org/notes']")
    expect(link).to_have_attribute("rel", "noopener nofollow")
    expect(bob.locator("#live-status")).to_have_attribute("data-state", "online", timeout=10_000)
    ada.fill("#composer textarea[name=body]", "I am typ")
    ada.type("#composer textarea[name=body]", "ing")

    # Then Bob sees the typing indicator, and Ada sees that Bob has seen her messages
    expect(bob.locator("#chat-typing")).to_have_text("typing…", timeout=10_000)
    expect(ada.locator("#chat-seen")).to_be_visible(timeout=10_000)
    ada.fill("#composer textarea[name=body]", "")

    # And a reply from Bob reaches Ada live
    _send(bob, "Yes, see you there")
    expect(ada.locator("#chat-messages .chat-message:not(.mine) .chat-body")).to_have_text(
        ["Yes, see you there"], timeout=10_000
    )

    # When Bob goes offline and Ada sends three messages meanwhile
    bob_context.set_offline(True)
    bob_network.go_offline()
    expect(bob.locator("#live-status")).not_to_have_attribute("data-state", "online", timeout=15_000)
    for text in ("one", "two", "three"):
        _send(ada, text)
    expect(ada.locator("#chat-messages .chat-message.mine .chat-state")).to_have_text(["Sent"] * 5, timeout=10_000)
    bob_bodies = bob.locator("#chat-messages .chat-message .chat-body")
    expect(bob_bodies).to_have_count(3)

    # Then when Bob comes back he sees exactly those three, in order, once each — without reloading
    bob_network.go_online()
    bob_context.set_offline(False)
    expect(bob.locator("#live-status")).to_have_attribute("data-state", "online", timeout=20_000)
    expect(bob_bodies).to_have_text(
        [
            "Hi Bob! Notes: https://example.org/notes",
            "Are you coming to the lab?",
            "Yes, see you there",
            "one",
            "two",
            "three",
        ],
        timeout=10_000,
    )
    seqs = bob.locator("#chat-messages .chat-message").evaluate_all("els => els.map(e => Number(e.dataset.seq))")
    assert seqs == [1, 2, 3, 4, 5, 6]
    assert errors == []
    close_contexts(ada_context, bob_context)


def _image(path, color) -> str:
    from PIL import Image

    Image.new("RGB", (800, 600), color).save(path, format="JPEG")
    return str(path)


def test_files_presence_badge_and_missed_edits_in_two_browsers(browser, chat_site, tmp_path):
    from chat.models import Message

    site = chat_site
    ada_context = browser.new_context(viewport={"width": 1366, "height": 900})
    bob_context = browser.new_context(viewport={"width": 390, "height": 844})
    ada, bob = ada_context.new_page(), bob_context.new_page()
    bob_network = SocketSwitch(bob)
    errors = []
    for page in (ada, bob):
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.on("console", lambda message: message.type == "error" and errors.append(message.text))
    register(ada, site, first_name="Ada", last_name="Lovelace", email="ada@example.org", university="UCL")
    register(bob, site, first_name="Bob", last_name="Babbage", email="bob@example.org", university="UCL")
    _, bob_user = _befriend("ada@example.org", "bob@example.org")

    # Ada opens the chat with Bob and says hello; Bob watches his chat list
    open_direct_chat(ada, site, bob_user)
    expect(ada.locator("#live-status")).to_have_attribute("data-state", "online", timeout=10_000)
    _send(ada, "Hello Bob")
    expect(ada.locator("#chat-messages .chat-message.mine .chat-state")).to_have_text(["Sent"], timeout=10_000)
    bob.goto(site + reverse("chat:list"))
    expect(bob.locator("#live-status")).to_have_attribute("data-state", "online", timeout=10_000)
    row = bob.locator(".chat-row", has_text="Ada Lovelace")
    # Ada is online: her dot shows on Bob's row (they are friends)
    expect(row.locator(".presence-dot")).to_be_visible(timeout=10_000)
    expect(bob.locator("#chat-nav-badge")).to_have_text("1")

    # When Ada attaches a photo and a PDF with a caption
    pdf = tmp_path / "slides.pdf"
    pdf.write_bytes(b"%PDF-1.4\n% slides\n%%EOF\n")
    ada.set_input_files("#composer-files", [_image(tmp_path / "lab.jpg", (30, 120, 200)), str(pdf)])
    expect(ada.locator("#composer-files-list li")).to_have_count(2)
    ada.fill("#composer textarea[name=body]", "Slides and a photo")
    ada.press("#composer textarea[name=body]", "Enter")

    # Then she sees them in her conversation, and Bob's badge and row update live
    expect(ada.locator(".chat-message.mine .chat-thumb img")).to_have_count(1, timeout=10_000)
    expect(ada.locator(".chat-message.mine .chat-file-name")).to_have_text(["slides.pdf"])
    expect(row).to_contain_text("Slides and a photo", timeout=10_000)
    expect(row.get_by_test_id("unread-badge")).to_have_text("2")
    expect(bob.locator("#chat-nav-badge")).to_have_text("1")

    # When Bob opens it, the thumbnail is shown and the PDF downloads as an attachment
    row.locator("a").click()
    thumb = bob.locator(".chat-thumb img")
    expect(thumb).to_have_count(1)
    bob.wait_for_function("() => document.querySelector('.chat-thumb img').naturalWidth > 0")
    expect(bob.locator("#chat-nav-badge")).to_be_hidden(timeout=10_000)
    href = bob.locator(".chat-file").get_attribute("href")
    download = bob.request.get(site + href)
    assert download.status == 200
    assert download.headers["content-disposition"].startswith('attachment; filename="slides.pdf"')
    assert download.headers["x-content-type-options"] == "nosniff"
    # Eve-like outsiders get nothing: a fresh browser without Bob's session is sent to log in
    stranger = browser.new_context().request.get(site + href, max_redirects=0)
    assert stranger.status in (302, 404)

    # When Bob goes offline, and meanwhile Ada edits her hello and deletes the files message
    expect(bob.locator("#live-status")).to_have_attribute("data-state", "online", timeout=10_000)
    bob_context.set_offline(True)
    bob_network.go_offline()
    expect(bob.locator("#live-status")).not_to_have_attribute("data-state", "online", timeout=15_000)
    hello = Message.objects.get(body="Hello Bob")
    files_message = Message.objects.get(body="Slides and a photo")
    ada.goto(site + reverse("chat:edit_message", args=[hello.conversation_id, hello.pk]))
    ada.fill("textarea[name=body]", "Hello Bob (edited)")
    ada.locator("form:has(textarea[name=body]) [type=submit]").click()
    ada.wait_for_url(f"**/chat/{hello.conversation_id}/**")
    ada.locator(f"#m-{files_message.seq} .chat-actions button[data-bs-toggle]").click()
    ada.locator(f"#m-{files_message.seq} .chat-actions button.text-danger").click()
    ada.wait_for_load_state()

    # Then back online, Bob sees both changes without reloading
    bob_network.go_online()
    bob_context.set_offline(False)
    expect(bob.locator("#live-status")).to_have_attribute("data-state", "online", timeout=20_000)
    expect(bob.locator(f"#m-{hello.seq} .chat-body")).to_have_text("Hello Bob (edited)", timeout=10_000)
    expect(bob.locator(f"#m-{files_message.seq} .chat-tombstone")).to_be_visible()
    expect(bob.locator(f"#m-{files_message.seq} .chat-files")).to_have_count(0)

    # And when Ada leaves, her presence dot goes away on Bob's page
    expect(bob.locator(".chat-header .presence-dot")).to_be_visible(timeout=10_000)
    close_contexts(ada_context)
    expect(bob.locator(".chat-header .presence-dot")).to_be_hidden(timeout=10_000)
    assert errors == []
    close_contexts(bob_context)
