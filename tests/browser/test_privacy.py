"""Download my data and delete my account, in a phone-sized and a desktop browser.

A student opens "Your data and your account" from their profile, prepares their data and sees
the download offered, deletes the account with their password, lands signed out on "Your account
is closed", signs in again, is offered to restore it and does. Each step is photographed
(SCREENSHOT_DIR, else the test's temporary directory)."""

import os
from pathlib import Path

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from accounts.models import User
from tests.browser.pages import PASSWORD, register

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def shots(tmp_path):
    folder = Path(os.environ.get("SCREENSHOT_DIR") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.mark.parametrize(("width", "height"), [(390, 844), (1366, 900)], ids=["phone", "desktop"])
def test_export_then_delete_then_restore(browser, site, shots, width, height):
    page = browser.new_context(viewport={"width": width, "height": height}).new_page()
    email = f"leaving{width}@example.org"
    register(page, site, first_name="Lena", last_name="Leaving", email=email, university="Yale", course="Law")
    student = User.objects.get(email=email)

    # From the profile form to the section
    page.goto(site + reverse("accounts:profile_edit"))
    page.click("#privacy-link")
    expect(page.locator("main h1")).to_contain_text("Your data and your account")

    # Prepare my data: built at once (eager Celery), offered for download
    page.click("#request-export")
    expect(page.locator("#export-list a[download]")).to_be_visible()
    page.screenshot(path=shots / f"privacy-{width}.png", full_page=True)
    with page.expect_download() as download:
        page.click("#export-list a[download]")
    assert download.value.suggested_filename.startswith("lyceum-data-")

    # Delete: a wrong password is refused on the page
    page.fill("input[name=current_password]", "not-my-password")
    page.check("input[name=confirm]")
    page.click("#delete-account")
    expect(page.locator("#account-deletion .invalid-feedback")).to_contain_text("incorrectly")
    page.screenshot(path=shots / f"privacy-refused-{width}.png", full_page=True)
    page.fill("input[name=current_password]", PASSWORD)
    page.check("input[name=confirm]")
    page.click("#delete-account")
    expect(page.locator("#account-deleted")).to_contain_text("will be erased on")
    page.screenshot(path=shots / f"account-deleted-{width}.png", full_page=True)
    assert not User.objects.get(pk=student.pk).is_active

    # Signing in again offers to restore it
    page.goto(site + reverse("accounts:login"))
    page.fill("input[name=username]", student.email)
    page.fill("input[name=password]", PASSWORD)
    page.click("main form button[type=submit]")
    expect(page.locator("#restore-offer")).to_be_visible()
    page.screenshot(path=shots / f"account-restore-{width}.png", full_page=True)
    page.click("#restore-account")
    expect(page.locator("main h1")).to_contain_text("Your data and your account")
    assert User.objects.get(pk=student.pk).is_active
