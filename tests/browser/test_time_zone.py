"""The browser's time zone: offered at sign-up (a hidden field filled by static/js/timezone.js),
and offered again on the profile page when the saved zone differs."""

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from accounts.models import User
from tests.browser.chromium import close_contexts
from tests.browser.pages import PASSWORD, register

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_signing_up_keeps_the_browsers_zone_and_the_profile_offers_it_again(browser, site):
    # Given a student whose browser is in Tokyo
    context = browser.new_context(viewport={"width": 390, "height": 844}, timezone_id="Asia/Tokyo")
    page = context.new_page()

    # When she signs up
    register(page, site, first_name="Aiko", last_name="Tanaka", email="aiko@example.org")
    expect(page.locator("#live-status")).to_have_attribute("data-state", "online", timeout=10_000)

    # Then her account reads times in Tokyo
    assert User.objects.get(email="aiko@example.org").time_zone == "Asia/Tokyo"

    # When she later travels (the browser now says Los Angeles) and opens her profile
    close_contexts(context)
    context = browser.new_context(viewport={"width": 1366, "height": 900}, timezone_id="America/Los_Angeles")
    page = context.new_page()
    page.goto(site + reverse("accounts:login"))
    page.fill("input[name=username]", "aiko@example.org")
    page.fill("input[name=password]", PASSWORD)
    page.click("main form button[type=submit]")
    page.goto(site + reverse("accounts:profile_edit"))

    # Then the page offers the browser's zone, and one click picks it
    offer = page.locator("#browser-zone-offer")
    expect(offer).to_be_visible()
    expect(offer).to_contain_text("America/Los Angeles")
    offer.get_by_role("button", name="Use it").click()
    page.click("main form button[type=submit]")
    expect(page.locator(".alert-success")).to_contain_text("saved")
    assert User.objects.get(email="aiko@example.org").time_zone == "America/Los_Angeles"
    close_contexts(context)
