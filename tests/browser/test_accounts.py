"""Signing up, confirming the address and changing it, in a phone-sized and a desktop browser.

A student signs up and reads "check your inbox" (the same page a taken address gets), logs in
unconfirmed and sees how to get the link again, follows the link, then asks to move their login
to another address and sees it waiting. Each step is photographed (SCREENSHOT_DIR, else the
test's temporary directory) so the pages can be looked at."""

import os
from pathlib import Path

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from accounts.tests.factories import UserFactory
from tests.browser.chromium import close_contexts
from tests.browser.pages import PASSWORD, confirm_address, log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def shots(tmp_path):
    folder = Path(os.environ.get("SCREENSHOT_DIR") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.mark.parametrize(("width", "height"), [(390, 844), (1366, 900)], ids=["phone", "desktop"])
def test_sign_up_confirm_and_change_the_address(browser, site, shots, width, height):
    UserFactory(email="taken@example.org")
    context = browser.new_context(viewport={"width": width, "height": height})
    page = context.new_page()

    # Sign up: the form, then "check your inbox"
    page.goto(site + reverse("accounts:register"))
    page.fill("input[name=first_name]", "Nina")
    page.fill("input[name=last_name]", "Simone")
    page.fill("input[name=email]", "nina@example.org")
    page.fill("input[name=password1]", PASSWORD)
    page.fill("input[name=password2]", PASSWORD)
    page.screenshot(path=shots / f"signup-form-{width}.png", full_page=True)
    page.click("main form button[type=submit]")
    expect(page.locator("main h1, main h2").first).to_contain_text("Check your inbox")
    page.screenshot(path=shots / f"signup-sent-{width}.png", full_page=True)
    sent_text = page.locator("main").inner_text()

    # A taken address reads exactly the same page
    other = context.browser.new_context(viewport={"width": width, "height": height}).new_page()
    other.goto(site + reverse("accounts:register"))
    for name, value in [("first_name", "Eve"), ("last_name", "Probe"), ("email", "taken@example.org")]:
        other.fill(f"input[name={name}]", value)
    other.fill("input[name=password1]", PASSWORD)
    other.fill("input[name=password2]", PASSWORD)
    other.click("main form button[type=submit]")
    expect(other.locator("#sign-up-sent")).to_be_visible()
    assert other.locator("main").inner_text() == sent_text

    # Logged in unconfirmed: the banner says what is missing and offers the link again
    log_in(page, site, email="nina@example.org")
    expect(page.locator("#unverified-banner")).to_be_visible()
    page.screenshot(path=shots / f"unconfirmed-home-{width}.png", full_page=True)

    # The link from the e-mail: a page that asks, then the address is confirmed
    from tests.browser.pages import confirmation_url

    page.goto(confirmation_url(site, email="nina@example.org"))
    expect(page.locator("#confirm-email")).to_be_visible()
    page.screenshot(path=shots / f"confirm-link-{width}.png", full_page=True)
    page.click("#confirm-email")
    expect(page.locator("#current-email")).to_have_text("nina@example.org")
    expect(page.locator("#unverified-banner")).to_have_count(0)

    # Changing the login address: password, then it waits for the new address's link
    page.fill("input[name=email]", "nina.simone@example.org")
    page.fill("input[name=current_password]", PASSWORD)
    page.click("#change-email")
    expect(page.locator("#pending-email")).to_contain_text("nina.simone@example.org")
    expect(page.locator("#current-email")).to_have_text("nina@example.org")
    page.screenshot(path=shots / f"email-pending-{width}.png", full_page=True)
    close_contexts(context)


def test_a_used_link_says_so(browser, site):
    page = browser.new_context(viewport={"width": 390, "height": 844}).new_page()
    user = UserFactory(email="late@example.org", email_verified_at=None)
    user.set_password(PASSWORD)
    user.save()
    confirm_address(page, site, email="late@example.org")
    page.go_back()  # the same link again
    page.reload()
    expect(page.locator("#link-error")).to_contain_text("not valid any more")
