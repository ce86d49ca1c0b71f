"""The university and course lists at sign-up, and an expert's new area waiting for review, in a
phone-sized and a desktop browser. Each step is photographed (SCREENSHOT_DIR, else the test's
temporary directory) so the pages can be looked at."""

import os
from pathlib import Path

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from accounts.models import User
from accounts.tests.factories import UserFactory
from experts.tests.factories import CategoryFactory, ExpertProfileFactory
from tests.browser.pages import PASSWORD, log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SIZES = pytest.mark.parametrize(("width", "height"), [(390, 844), (1366, 900)], ids=["phone", "desktop"])


@pytest.fixture
def shots(tmp_path):
    folder = Path(os.environ.get("SCREENSHOT_DIR") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def datalist(page, list_id: str) -> list[str]:
    return page.eval_on_selector_all(f"#{list_id} option", "options => options.map(o => o.value)")


@SIZES
def test_sign_up_offers_the_universities_and_their_courses_as_one_types(browser, site, shots, width, height):
    UserFactory(university="Northbridge University", course="Computer Science")
    UserFactory(university="Northbridge University", course="Chemistry")
    UserFactory(university="Lakeside College", course="History")
    page = browser.new_context(viewport={"width": width, "height": height}).new_page()

    page.goto(site + reverse("accounts:register"))
    assert datalist(page, "university-options") == ["Lakeside College", "Northbridge University"]
    page.fill("input[name=first_name]", "Nina")
    page.fill("input[name=last_name]", "Simone")
    page.fill("input[name=email]", "nina@example.org")
    page.fill("input[name=password1]", PASSWORD)
    page.fill("input[name=password2]", PASSWORD)
    page.locator("input[name=university]").press_sequentially("northb")
    expect(page.locator("#university-options option")).to_have_count(1)
    assert datalist(page, "university-options") == ["Northbridge University"]
    page.fill("input[name=university]", "Northbridge University")  # as picking it from the list does
    page.locator("input[name=course]").focus()  # the courses of that university
    expect(page.locator("#course-options option")).to_have_count(2)
    assert datalist(page, "course-options") == ["Chemistry", "Computer Science"]
    page.locator("input[name=course]").press_sequentially("computer science")
    page.evaluate("window.scrollTo(0, 0)")  # else the sticky navbar lands mid-page in the full-page shot
    page.screenshot(path=shots / f"students-signup-lists-{width}.png", full_page=True)

    page.click("main form button[type=submit]")
    page.wait_for_url("**" + reverse("accounts:register_sent"))

    nina = User.objects.get(email="nina@example.org")
    assert (nina.university, nina.course) == ("Northbridge University", "Computer Science")


@SIZES
def test_an_expert_asks_for_a_new_area_and_sees_it_waiting_for_review(browser, site, shots, settings, width, height):
    from config import settings as project_settings

    settings.PASSWORD_HASHERS = project_settings.PASSWORD_HASHERS  # the server checks it with these
    maths = CategoryFactory(name="Mathematics", slug="mathematics")
    CategoryFactory(name="Physics", slug="physics")
    expert = UserFactory(first_name="Grace", last_name="Hopper", email="grace@example.org", password=PASSWORD)
    ExpertProfileFactory(user=expert, categories=[maths], headline="Mathematics for engineers")
    page = browser.new_context(viewport={"width": width, "height": height}).new_page()
    log_in(page, site, email="grace@example.org")

    page.goto(site + reverse("experts:mine"))
    page.select_option("select[name=category]", label="Physics")
    page.fill("textarea[name=motivation]", "PhD in theoretical physics, five years of teaching.")
    page.click("[data-testid=area-requests] button[type=submit]")

    pending = page.locator("[data-testid=area-request-pending]")
    expect(pending).to_contain_text("Physics")
    expect(pending).to_contain_text("Waiting for review")
    expect(page.locator("[data-testid=area-requests]")).to_contain_text("You have, or have asked for, every open area")
    page.locator("[data-testid=area-requests]").scroll_into_view_if_needed()
    page.screenshot(path=shots / f"students-expert-pending-area-{width}.png", full_page=True)
