"""Expert help end to end in two browsers: a student submits a request with a PDF, an expert
sees it arrive in the queue without reloading, accepts and schedules it, the meeting link
(local provider) shows on the student's page, the expert completes it, the student rates it."""

import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from playwright.sync_api import expect

from helpdesk.tests.factories import PDF_BYTES, started

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "a-Long-unusual-passphrase-42"


@pytest.fixture
def help_site(transactional_db, settings, tmp_path):
    """daphne with the help-desk URLs, the local meeting provider and eager Celery."""
    from tests.servers import daphne_server

    with daphne_server(
        MEETING_PROVIDER="local",
        HELPDESK_DOCUMENT_ROOT=str(tmp_path / "documents"),
        CELERY_BROKER_URL="",  # eager: the meeting is created in the request that schedules it
    ) as url:
        yield url


@pytest.fixture
def people(transactional_db, settings):
    """A student and a verified expert, with passwords the server's hashers understand."""
    from config import settings as project_settings
    from experts.tests.factories import CategoryFactory, ExpertProfileFactory, UserFactory

    settings.PASSWORD_HASHERS = project_settings.PASSWORD_HASHERS
    category = CategoryFactory(name="Linear Algebra", slug="linear-algebra")
    ada = UserFactory(first_name="Ada", last_name="Lovelace", email="ada@example.org", password=PASSWORD)
    grace = ExpertProfileFactory(
        user=UserFactory(first_name="Grace", last_name="Hopper", email="grace@example.org", password=PASSWORD),
        categories=[category],
    ).user
    return ada, grace, category


def log_in(page, site, email):
    page.goto(site + reverse("accounts:login"))
    page.fill("input[name=username]", email)
    page.fill("input[name=password]", PASSWORD)
    page.click("main form button[type=submit]")
    expect(page.locator("#live-status")).to_have_attribute("data-state", "online", timeout=15_000)


def test_a_request_goes_from_submission_to_rating_live(browser, help_site, people):
    _ada, _grace, category = people
    ada_context = browser.new_context(viewport={"width": 390, "height": 844})
    grace_context = browser.new_context(viewport={"width": 1366, "height": 900})
    ada, grace = ada_context.new_page(), grace_context.new_page()
    log_in(ada, help_site, "ada@example.org")
    log_in(grace, help_site, "grace@example.org")

    # Given the expert looking at her (empty) queue
    grace.goto(help_site + reverse("helpdesk:queue"))
    expect(grace.locator("#queue-empty")).to_be_visible()
    expect(grace.locator("#live-status")).to_have_attribute("data-state", "online", timeout=15_000)

    # When the student submits a request with a PDF
    ada.goto(help_site + reverse("helpdesk:new"))
    ada.select_option("select[name=category]", str(category.pk))
    ada.fill("input[name=title]", "Eigenvalues of a 3x3 matrix")
    ada.fill("textarea[name=description]", "I keep getting the characteristic polynomial wrong.")
    ada.fill("textarea[name=preferred_times]", "Weekdays after 18:00")
    ada.set_input_files(
        "input[name=files]", files=[{"name": "notes.pdf", "mimeType": "application/pdf", "buffer": PDF_BYTES}]
    )
    ada.click("#help-request-form button[type=submit]")
    expect(ada.locator("#help-request")).to_have_attribute("data-status", "open")
    expect(ada.locator("#documents")).to_contain_text("notes.pdf")

    # Then it appears in the expert's queue without a reload
    row = grace.locator("#queue-list .help-queue-row", has_text="Eigenvalues of a 3x3 matrix")
    expect(row).to_be_visible(timeout=15_000)

    # When the expert reviews it, sees the document, accepts and schedules the session
    row.get_by_role("link", name="Review").click()
    expect(grace.locator("#documents")).to_contain_text("notes.pdf")
    expect(grace.locator("#documents-locked")).to_be_visible()  # downloads only once accepted
    grace.click("#accept")
    expect(grace.locator("#help-request")).to_have_attribute("data-status", "accepted")
    expect(grace.locator("#documents a", has_text="notes.pdf")).to_have_attribute("download", "")
    start = timezone.localtime(timezone.now() + timedelta(days=1)).replace(hour=18, minute=0)
    grace.fill("input[name=start]", start.strftime("%Y-%m-%dT%H:%M"))
    grace.click("#schedule")
    expect(grace.locator("#help-request")).to_have_attribute("data-status", "scheduled")
    expect(grace.locator("#join-meeting")).to_be_visible(timeout=15_000)

    # Then the meeting link shows on the student's page (it reloads itself on the live event)
    join = ada.locator("#join-meeting")
    expect(join).to_be_visible(timeout=15_000)
    expect(join).to_have_attribute("href", re.compile(r"/help/meet/[0-9a-f-]{36}/$"))
    href = join.get_attribute("href")
    ada.goto(help_site + href[href.index("/help/meet/") :])
    expect(ada.locator("h1")).to_have_text("Meeting room")
    ada.go_back()
    expect(ada.locator("#join-meeting")).to_have_attribute("href", href)

    # When the expert moves the session by a day
    later = start + timedelta(days=1)
    grace.locator("#reschedule summary").click()
    grace.fill("input[name=move-start]", later.strftime("%Y-%m-%dT%H:%M"))
    grace.click("#reschedule-submit")
    expect(grace.locator("#timeline")).to_contain_text("Session moved")

    # Then the student's page shows the new time and the new meeting link, live
    expect(ada.locator("#timeline")).to_contain_text("Session moved", timeout=15_000)
    expect(ada.locator("#session-time")).to_contain_text(later.strftime("%-d %B %Y, %H:%M"))
    expect(ada.locator("#join-meeting")).not_to_have_attribute("href", href, timeout=15_000)

    # When the session's time has come (moved into the past here) and the expert completes it
    from helpdesk.models import HelpRequest, HelpRequestStatus

    started(HelpRequest.objects.get(status=HelpRequestStatus.SCHEDULED))
    grace.reload()
    grace.click("#complete")
    expect(grace.locator("#help-request")).to_have_attribute("data-status", "completed")

    # Then the student can rate it, once
    expect(ada.locator("#rate-form")).to_be_visible(timeout=15_000)
    ada.check("#rate-form input[name=stars][value='5']")
    ada.fill("#rate-form textarea[name=feedback]", "Patient and clear.")
    ada.click("#rate-form button[type=submit]")
    expect(ada.locator("#rating")).to_contain_text("Patient and clear.")
    expect(ada.locator("#rate-form")).to_have_count(0)
    expect(ada.locator("#timeline")).to_contain_text("Rated")

    ada_context.close()
    grace_context.close()
