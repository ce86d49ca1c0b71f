"""Expert help end to end in two browsers: a student in Los Angeles submits a request with a PDF
and two times she can meet, an expert in Tokyo sees it arrive in the queue without reloading,
sees the times in Tokyo time, accepts and schedules in one step by picking one, the meeting link
(local provider) and the time in Los Angeles time show on the student's page, the expert moves
and completes the session, the student rates it."""

import os
import re
from datetime import datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse
from django.utils import timezone
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import expect

from helpdesk.tests.factories import PDF_BYTES, started
from tests.browser.axe import axe_violations
from tests.browser.chromium import close_contexts

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "a-Long-unusual-passphrase-42"
LA, TOKYO = ZoneInfo("America/Los_Angeles"), ZoneInfo("Asia/Tokyo")


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
    ada = UserFactory(
        first_name="Ada",
        last_name="Lovelace",
        email="ada@example.org",
        password=PASSWORD,
        time_zone="America/Los_Angeles",
    )
    grace = ExpertProfileFactory(
        user=UserFactory(
            first_name="Grace", last_name="Hopper", email="grace@example.org", password=PASSWORD, time_zone="Asia/Tokyo"
        ),
        categories=[category],
    ).user
    return ada, grace, category


@pytest.fixture
def shots(tmp_path):
    folder = Path(os.environ.get("SCREENSHOT_DIR") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def shoot(page, folder, name):
    """The page at a phone's and a laptop's width, for a person to look at; axe-core's WCAG 2.1
    AA check of the same view; and no sideways scrolling at either width."""
    size = page.viewport_size
    for width in (390, 1366):
        page.set_viewport_size({"width": width, "height": 900})
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1"), (name, width)
        page.evaluate("window.scrollTo(0, 0)")  # else the sticky navbar lands mid-page
        page.screenshot(path=folder / f"helpdesk-{name}-{width}.png", full_page=True)
    assert axe_violations(page) == [], name
    page.set_viewport_size(size)


def reload_settled(page):
    """Reload; the page may be reloading itself on a live event at that moment (the expert's own
    move comes back to her as one), which aborts ours: then the page's own load is the reload."""
    try:
        page.reload()
    except PlaywrightError:
        page.wait_for_load_state("load")


def log_in(page, site, email):
    page.goto(site + reverse("accounts:login"))
    page.fill("input[name=username]", email)
    page.fill("input[name=password]", PASSWORD)
    page.click("main form button[type=submit]")
    expect(page.locator("#live-status")).to_have_attribute("data-state", "online", timeout=15_000)


def test_a_request_goes_from_submission_to_rating_live(browser, help_site, people, shots):
    _ada, _grace, category = people
    ada_context = browser.new_context(
        viewport={"width": 390, "height": 844}, timezone_id="America/Los_Angeles", bypass_csp=True
    )
    grace_context = browser.new_context(
        viewport={"width": 1366, "height": 900}, timezone_id="Asia/Tokyo", bypass_csp=True
    )
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
    # two evenings she can meet, typed in her own (Los Angeles) time
    day = timezone.now().astimezone(LA).date() + timedelta(days=2)
    ada.fill("input[name=slots-0-day]", day.isoformat())
    ada.fill("input[name=slots-0-start_time]", "18:00")
    ada.fill("input[name=slots-0-end_time]", "20:00")
    ada.fill("input[name=slots-1-day]", (day + timedelta(days=1)).isoformat())
    ada.fill("input[name=slots-1-start_time]", "18:00")
    ada.fill("input[name=slots-1-end_time]", "19:00")
    ada.fill("textarea[name=times_note]", "Any weekday evening works too")
    ada.set_input_files(
        "input[name=files]", files=[{"name": "notes.pdf", "mimeType": "application/pdf", "buffer": PDF_BYTES}]
    )
    ada.click("#help-request-form button[type=submit]")
    expect(ada.locator("#help-request")).to_have_attribute("data-status", "open")
    expect(ada.locator("#documents")).to_contain_text("notes.pdf")

    # Then it appears in the expert's queue without a reload
    row = grace.locator("#queue-list .help-queue-row", has_text="Eigenvalues of a 3x3 matrix")
    expect(row).to_be_visible(timeout=15_000)

    # When the expert reviews it: the document, and the student's times in Tokyo time
    row.get_by_role("link", name="Review").click()
    expect(grace.locator("#documents")).to_contain_text("notes.pdf")
    expect(grace.locator("#documents-locked")).to_be_visible()  # downloads only once accepted
    start = datetime.combine(day, time(18), tzinfo=LA)
    expect(grace.locator("#slots-list")).to_contain_text(start.astimezone(TOKYO).strftime("%H:%M") + "\u2013")
    expect(grace.locator("#slots-list")).to_contain_text("JST")
    shoot(grace, shots, "expert-tokyo-review")

    # ... and accepts and schedules in one step, picking the first time
    grace.locator("#accept-form input[name=accept-choice]").first.check()
    grace.select_option("#accept-form select[name=accept-duration]", "60")
    grace.click("#accept")
    expect(grace.locator("#help-request")).to_have_attribute("data-status", "scheduled")
    expect(grace.locator("#documents a", has_text="notes.pdf")).to_have_attribute("download", "")
    expect(grace.locator("#join-meeting")).to_be_visible(timeout=15_000)
    expect(grace.locator("#session-time")).to_contain_text(start.astimezone(TOKYO).strftime("%H:%M"))

    # Then the meeting link and the time in her zone show on the student's page (it reloads
    # itself on the live event)
    join = ada.locator("#join-meeting")
    expect(join).to_be_visible(timeout=15_000)
    expect(ada.locator("#session-time")).to_contain_text("18:00\u201319:00")
    expect(ada.locator("#session-origin")).to_contain_text("One of the times you offered")
    expect(join).to_have_attribute("href", re.compile(r"/help/meet/[0-9a-f-]{36}/$"))
    shoot(ada, shots, "requester-los-angeles-scheduled")
    shoot(grace, shots, "expert-tokyo-scheduled")
    # the link is on the address the site is served on (SITE_URL follows the run's port)
    href = join.get_attribute("href")
    assert href.startswith(help_site + "/help/meet/"), href
    ada.goto(href)
    expect(ada.locator("h1")).to_have_text("Meeting room")
    ada.go_back()
    expect(ada.locator("#join-meeting")).to_have_attribute("href", href)

    # When the expert moves the session by a day, to a time she proposes (typed in Tokyo time)
    later = start + timedelta(days=1)
    grace.locator("#reschedule summary").click()
    grace.check("#reschedule-form input[name=move-choice][value=other]")
    grace.fill("input[name=move-start]", later.astimezone(TOKYO).strftime("%Y-%m-%dT%H:%M"))
    grace.click("#reschedule-submit")
    expect(grace.locator("#timeline")).to_contain_text("Session moved")

    # Then the student's page shows the new time and the new meeting link, live
    expect(ada.locator("#timeline")).to_contain_text("Session moved", timeout=15_000)
    expect(ada.locator("#session-time")).to_contain_text(later.astimezone(LA).strftime("%-d %B %Y, %H:%M"))
    expect(ada.locator("#join-meeting")).not_to_have_attribute("href", href, timeout=15_000)

    # When the session's time has come (moved into the past here) and the expert completes it
    from helpdesk.models import HelpRequest, HelpRequestStatus

    started(HelpRequest.objects.get(status=HelpRequestStatus.SCHEDULED))
    reload_settled(grace)
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

    # And once completed, neither page offers to join the meeting any more
    expect(ada.locator("#join-meeting")).to_have_count(0)
    expect(ada.locator("main")).not_to_contain_text("Join the meeting")
    reload_settled(grace)
    expect(grace.locator("#join-meeting")).to_have_count(0)
    expect(grace.locator("main")).not_to_contain_text("Join the meeting")
    shoot(ada, shots, "requester-completed")

    close_contexts(ada_context, grace_context)
