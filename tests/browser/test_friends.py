"""Two students register, one finds the other by university and course and sends a friend
request; the other sees the badge change live, accepts, and both see each other as friends."""

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from tests.browser.chromium import close_contexts
from tests.browser.pages import register

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_two_students_become_friends_through_the_directory(browser, site):
    # Given two students of the same course, each in their own browser
    ada_context = browser.new_context(viewport={"width": 1366, "height": 900})
    grace_context = browser.new_context(viewport={"width": 390, "height": 844})
    ada, grace = ada_context.new_page(), grace_context.new_page()
    register(
        ada,
        site,
        first_name="Ada",
        last_name="Lovelace",
        email="ada@example.org",
        university="University of London",
        course="Mathematics",
    )
    register(
        grace,
        site,
        first_name="Grace",
        last_name="Hopper",
        email="grace@example.org",
        university="University of London",
        course="Mathematics",
    )
    expect(ada.locator("#live-status")).to_have_attribute("data-state", "online", timeout=10_000)
    ada_badge = ada.locator("#notif-badge")
    expect(ada_badge).to_have_text("1")  # welcome

    # When Grace searches the directory by university and course and sends a request
    grace.goto(site + reverse("social:directory"))
    grace.fill("input[name=university]", "University of London")
    grace.fill("input[name=course]", "Mathematics")
    grace.click("main form[role=search] button[type=submit]")
    result = grace.locator("#directory-results li", has_text="Ada Lovelace")
    expect(result).to_be_visible()
    result.get_by_role("button", name="Add friend").click()
    expect(result).to_contain_text("Request sent")

    # Then Ada's badge counts the request without a reload, and she accepts it
    expect(ada_badge).to_have_text("2", timeout=10_000)
    ada.goto(site + reverse("social:requests_incoming"))
    incoming = ada.locator("main", has_text="Grace Hopper")
    incoming.get_by_role("button", name="Accept").click()
    # (the answered row replaces the buttons: wait for it, the word "Friends" is in the nav already)
    answered = ada.locator("#incoming-requests [role=status]")
    expect(answered.get_by_role("link", name="View profile")).to_be_visible(timeout=10_000)

    # And both see each other in their friends lists
    ada.goto(site + reverse("social:friends"))
    expect(ada.locator("main")).to_contain_text("Grace Hopper")
    grace.goto(site + reverse("social:friends"))
    expect(grace.locator("main")).to_contain_text("Ada Lovelace")
    close_contexts(ada_context, grace_context)
