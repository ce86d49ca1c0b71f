"""Replies, reactions and the emoji picker in Chromium at 1366 px and 390 px, against a real
daphne: a quote that scrolls to its original, reactions counted with who reacted, live to the
other member's tab, the picker by keyboard, an emoji into the composer, the pages without
JavaScript, and axe-core's WCAG 2.1 AA checks with the picker open.

Screenshots: artifacts/screenshots/chat-reactions-{laptop,phone}[-picker].png.
"""

import re
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection
from playwright.sync_api import expect

from accounts.tests.factories import UserFactory
from chat import services
from chat.tests.factories import befriend, client_id, send
from tests.browser.axe import axe_violations
from tests.browser.test_chat_shell import LAPTOP, PHONE, TIME_FORMAT, Browser, _composer, _shot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def group_chat(transactional_db, settings):
    """Ada, Bob and Cleo in "Lab partners": Bob's question, Cleo's reply to it with two
    reactions, and a message of Ada's."""
    settings.CHAT_SEND_RATE = (1000, 10)
    with ThreadPoolExecutor(1) as pool:  # the services' live pushes stay off Playwright's loop
        return pool.submit(_write_group).result()


def _write_group():
    try:
        ada = UserFactory(first_name="Ada", last_name="Lovelace", email="ada@example.org")
        bob = UserFactory(first_name="Bob", last_name="Babbage", email="bob@example.org")
        cleo = UserFactory(first_name="Cleo", last_name="Patra", email="cleo@example.org")
        befriend(ada, bob)
        befriend(ada, cleo)
        group = services.create_group(owner=ada, name="Lab partners", members=[bob, cleo])
        question = send(bob, group, "Who has the **lab** notes from Tuesday?\nI missed the second half")
        for n in range(12):  # enough to scroll: the quote's original is out of view
            send(cleo if n % 2 else bob, group, f"Talking about something else, number {n}")
        reply, _ = services.send_message(
            sender=cleo,
            conversation_id=group.pk,
            body="I do, sending them tonight",
            client_id=client_id(),
            reply_to=question.pk,
        )
        services.set_reaction(user=bob, message_id=reply.pk, emoji="🙏", on=True)
        services.set_reaction(user=ada, message_id=reply.pk, emoji="🙏", on=True)
        services.set_reaction(user=bob, message_id=reply.pk, emoji="🎉", on=True)
        mine = send(ada, group, "Thanks Cleo! @Bob see https://example.org/notes")
        return {
            "ada": ada,
            "bob": bob,
            "cleo": cleo,
            "group": group,
            "question": question,
            "reply": reply,
            "mine": mine,
        }
    finally:
        connection.close()


def _item(page, message):
    return page.locator(f'.chat-message[data-id="{message.pk}"]')


@pytest.mark.parametrize(("label", "viewport"), [("laptop", LAPTOP), ("phone", PHONE)])
def test_replies_and_reactions_live_and_on_load(browser, site, group_chat, label, viewport):
    ada = Browser(browser, site, group_chat["ada"], viewport=viewport, axe=True)
    bob = Browser(browser, site, group_chat["bob"], viewport=LAPTOP)
    page, group, reply = ada.page, group_chat["group"], group_chat["reply"]
    ada.goto("chat:conversation", group.pk)
    bob.goto("chat:conversation", group.pk)

    # Given the reply and its reactions as they were stored
    item = _item(page, reply)
    quote = item.locator(".chat-quote")
    expect(quote.locator(".chat-quote-author")).to_have_text("Bob Babbage")
    expect(quote.locator(".chat-quote-text")).to_have_text("Who has the lab notes from Tuesday?")
    pray = item.locator('.chat-reaction[data-emoji="🙏"]')
    expect(pray).to_have_attribute("aria-pressed", "true")
    expect(pray.locator(".chat-reaction-count")).to_have_text("2")
    expect(pray).to_have_attribute("aria-label", "2, You and Bob Babbage reacted with thank you")
    # links and mentions are highlighted
    expect(_item(page, group_chat["mine"]).locator(".chat-body a")).to_have_attribute(
        "href", "https://example.org/notes"
    )
    expect(_item(page, group_chat["mine"]).locator(".chat-body .mention")).to_have_text("@Bob")

    # Who reacted shows on hover
    pray.hover()
    expect(pray.locator(".chat-reaction-who")).to_be_visible()
    expect(pray.locator(".chat-reaction-who")).to_have_text("You and Bob Babbage reacted with thank you")

    # When Ada clicks the quote, the original scrolls into view and is highlighted
    quote.click()
    original = _item(page, group_chat["question"])
    expect(original).to_have_class(re.compile(r"\bchat-flash\b"))
    expect(original).to_be_in_viewport()

    # When Ada reacts to the reply with the picker, by keyboard
    react = item.locator("[data-action=react]")
    react.focus()
    react.press("Enter")
    picker = page.locator("#emoji-picker")
    expect(picker).to_be_visible()
    expect(page.locator("#emoji-picker-title")).to_have_text("React with an emoji")
    expect(picker.locator(".chat-emoji").first).to_be_focused()
    page.keyboard.press("ArrowRight")  # ❤️, the second of the list
    expect(picker.locator('.chat-emoji[data-emoji="❤️"]')).to_be_focused()
    page.keyboard.press("Enter")
    expect(picker).to_be_hidden()
    expect(react).to_be_focused()  # the focus goes back to the opener
    heart = item.locator('.chat-reaction[data-emoji="❤️"]')
    expect(heart).to_have_attribute("aria-pressed", "true")
    # Then Bob's open tab gets it live, counted, and not as his
    bob_heart = _item(bob.page, reply).locator('.chat-reaction[data-emoji="❤️"]')
    expect(bob_heart.locator(".chat-reaction-count")).to_have_text("1", timeout=10_000)
    expect(bob_heart).to_have_attribute("aria-pressed", "false")
    expect(bob_heart).to_have_attribute("aria-label", "1, Ada Lovelace reacted with red heart")

    # When Bob takes his 🎉 off by clicking it, Ada's chip goes away live
    _item(bob.page, reply).locator('.chat-reaction[data-emoji="🎉"]').click()
    expect(item.locator('.chat-reaction[data-emoji="🎉"]')).to_have_count(0, timeout=10_000)

    # When Ada replies to Cleo's message
    item.locator("[data-action=reply]").click()
    expect(page.locator("#composer-reply")).to_be_visible()
    expect(page.locator("#composer-reply .chat-replying-author")).to_have_text("Cleo Patra")
    _composer(page).fill("Great, see you in the lab")
    _composer(page).press("Enter")
    expect(page.locator("#composer-reply")).to_be_hidden()
    sent = page.locator(".chat-message.mine").last
    expect(sent.locator(".chat-state")).to_have_text("Sent", timeout=10_000)
    expect(sent.locator(".chat-quote-author")).to_have_text("Cleo Patra")
    expect(sent.locator(".chat-quote-text")).to_have_text("I do, sending them tonight")
    # Then Bob sees it live with the same quote, and the same time format as on load
    bob_sent = bob.page.locator(".chat-message").last
    expect(bob_sent.locator(".chat-body")).to_have_text("Great, see you in the lab", timeout=10_000)
    expect(bob_sent.locator(".chat-quote-text")).to_have_text("I do, sending them tonight")
    assert TIME_FORMAT.match(bob_sent.locator(".chat-time").inner_text())
    assert TIME_FORMAT.match(bob.page.locator(".chat-message .chat-time").first.inner_text())

    page.locator("#chat-scroll").evaluate("(s) => { s.scrollTop = s.scrollHeight; }")
    _item(page, reply).scroll_into_view_if_needed()
    _shot(page, f"reactions-{label}")

    # When Ada opens the composer's emoji picker
    toggle = page.locator("#composer-emoji")
    toggle.click()
    expect(picker).to_be_visible()
    expect(toggle).to_have_attribute("aria-expanded", "true")
    expect(page.locator("#emoji-picker-title")).to_have_text("Insert an emoji")
    _shot(page, f"reactions-{label}-picker")
    # Then the page with the picker open passes axe-core's WCAG 2.1 AA rules
    assert axe_violations(page) == []
    # and the picker stays inside the pane
    box, pane = picker.bounding_box(), page.locator("#chat").bounding_box()
    assert box["x"] >= pane["x"] and box["x"] + box["width"] <= pane["x"] + pane["width"] + 1, (box, pane)
    assert box["y"] >= pane["y"], (box, pane)

    # When she picks 👋 it goes into the message at the caret
    _composer(page).fill("Bye ")
    toggle.click()
    picker.locator('.chat-emoji[data-emoji="👋"]').click()
    expect(_composer(page)).to_have_value("Bye 👋")
    expect(_composer(page)).to_be_focused()
    # and Escape closes the picker, giving the focus back
    toggle.click()
    page.keyboard.press("Escape")
    expect(picker).to_be_hidden()
    expect(toggle).to_be_focused()

    assert ada.errors == [] and bob.errors == []
    ada.close()
    bob.close()


def test_replies_and_reactions_without_javascript(browser, site, group_chat):
    ada = Browser(browser, site, group_chat["ada"], viewport=PHONE, js=False)
    page, group, reply = ada.page, group_chat["group"], group_chat["reply"]
    ada.goto("chat:conversation", group.pk, online=False)

    # The composer's picker needs JavaScript: its button stays hidden
    expect(page.locator("#composer-emoji")).to_be_hidden()

    # Reacting: the React link opens a page of emoji; choosing one goes back to the message
    _item(page, reply).locator("[data-action=react]").click()
    page.locator('button[aria-label="party popper"]').click()
    chip = _item(page, reply).locator('.chat-reaction[data-emoji="🎉"]')
    expect(chip).to_have_attribute("aria-pressed", "true")
    expect(chip.locator(".chat-reaction-count")).to_have_text("2")
    # ... and the chip itself takes it off again
    chip.click()
    expect(_item(page, reply).locator('.chat-reaction[data-emoji="🎉"]')).to_have_attribute("aria-pressed", "false")

    # Replying: the Reply link fills the composer's quote; the sent message carries it
    _item(page, reply).locator("[data-action=reply]").click()
    expect(page.locator("#composer-reply")).to_be_visible()
    _composer(page).fill("Thanks!")
    page.locator(".chat-send").click()
    last = page.locator(".chat-message.mine").last
    expect(last.locator(".chat-quote-text")).to_have_text("I do, sending them tonight")
    assert ada.errors == []
    ada.close()
