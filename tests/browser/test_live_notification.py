"""A newcomer registers, logs in, and is signed out of the live socket when the password changes
in another tab: the tab comes back through the login page, still signed in, with the notice."""

import re

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from tests.browser.chromium import close_contexts
from tests.browser.pages import PASSWORD, register

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

NEW_PASSWORD = "another-Long-passphrase-77"
LOGIN_NEXT = re.compile(r"/accounts/login/\?next=")


def test_a_new_student_registers_logs_in_and_a_password_change_signs_the_other_tab_out(browser, site):
    # Given a visitor who registers and then logs out and in again (e-mail in another case)
    context = browser.new_context(viewport={"width": 1366, "height": 900})
    page = context.new_page()
    register(
        page,
        site,
        first_name="Ada",
        last_name="Lovelace",
        email="Ada@Example.org",
        university="University of London",
        course="Mathematics",
    )
    expect(page.locator("#live-status")).to_have_attribute("data-state", "online", timeout=10_000)
    page.locator("nav button.profile-toggle").click()
    page.locator("nav form button", has_text="Log out").click()
    page.goto(site + reverse("accounts:login"))
    page.fill("input[name=username]", "ada@example.org")
    page.fill("input[name=password]", PASSWORD)
    page.click("main form button[type=submit]")
    expect(page.locator("h1")).to_contain_text("Ada")
    expect(page.locator("#live-status")).to_have_attribute("data-state", "online", timeout=10_000)
    badge = page.locator("#notif-badge")
    expect(badge).to_have_text("1")  # the welcome notification
    home = page.url
    navigations: list[str] = []  # every page the tab asks for, redirects included
    page.on("request", lambda request: navigations.append(request.url) if request.is_navigation_request() else None)

    # When, in a second tab, the student changes their password
    other_tab = context.new_page()
    other_tab.goto(site + reverse("accounts:password_change"))
    other_tab.fill("input[name=old_password]", PASSWORD)
    other_tab.fill("input[name=new_password1]", NEW_PASSWORD)
    other_tab.fill("input[name=new_password2]", NEW_PASSWORD)
    other_tab.click("main form button[type=submit]")

    # Then the first tab's socket is signed out (every socket of the user closes, 4401): it goes
    # through the login page, which sends it straight back (this session still holds), and the
    # badge counts the "password changed" notice (live badges from others: test_friends.py)
    for _ in range(100):
        if any(LOGIN_NEXT.search(url) for url in navigations) and navigations[-1] == home and page.url == home:
            break
        page.wait_for_timeout(100)
    assert any(LOGIN_NEXT.search(url) for url in navigations), navigations
    assert navigations[-1] == home, navigations
    expect(page.locator("#live-status")).to_have_attribute("data-state", "online", timeout=10_000)
    expect(badge).to_have_text("2", timeout=10_000)
    close_contexts(context)
