"""In a browser, at 390 and 1366 px: an expired request's "Submit it again" opens the form filled
in (documents ticked); an expert's page offers "Ask <name> for help", the request waits in her
queue marked "Asked you directly"; once she accepts, the chat between the two pins the request's
card, which follows the request live (the meeting link appears without a reload).
Screenshots go to artifacts/screenshots/ (helpdesk2-*.png) for a person to look at."""

from datetime import timedelta
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from django.conf import settings
from django.urls import reverse
from django.utils import timezone
from playwright.sync_api import expect

from helpdesk.tests.factories import PDF_BYTES
from tests.browser.axe import axe_violations
from tests.browser.chromium import close_contexts

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "a-Long-unusual-passphrase-42"
SHOTS = Path(settings.BASE_DIR) / "artifacts" / "screenshots"
WIDTHS = (390, 1366)
# The test process writes documents the server reads: one key for both.
DOCUMENT_KEY = Fernet.generate_key().decode()


@pytest.fixture
def help_site(transactional_db, tmp_path):
    from tests.servers import daphne_server

    with daphne_server(
        MEETING_PROVIDER="local",
        HELPDESK_DOCUMENT_ROOT=str(tmp_path / "documents"),
        HELPDESK_DOCUMENT_KEYS=DOCUMENT_KEY,
        CELERY_BROKER_URL="",
    ) as url:
        yield url


@pytest.fixture
def people(transactional_db, settings, tmp_path):
    from config import settings as project_settings
    from experts.tests.factories import CategoryFactory, ExpertProfileFactory, UserFactory

    settings.PASSWORD_HASHERS = project_settings.PASSWORD_HASHERS
    settings.HELPDESK_DOCUMENT_ROOT = str(tmp_path / "documents")
    settings.HELPDESK_DOCUMENT_KEYS = [DOCUMENT_KEY]
    category = CategoryFactory(name="Linear Algebra", slug="linear-algebra")
    ada = UserFactory(
        first_name="Ada", last_name="Lovelace", email="ada@example.org", password=PASSWORD, time_zone="Europe/London"
    )
    grace = ExpertProfileFactory(
        user=UserFactory(
            first_name="Grace", last_name="Hopper", email="grace@example.org", password=PASSWORD, time_zone="Asia/Tokyo"
        ),
        categories=[category],
        headline="Linear algebra, numerical methods",
    )
    return ada, grace, category


def log_in(page, site, email):
    page.goto(site + reverse("accounts:login"))
    page.fill("input[name=username]", email)
    page.fill("input[name=password]", PASSWORD)
    page.click("main form button[type=submit]")
    expect(page.locator("#live-status")).to_have_attribute("data-state", "online", timeout=15_000)


def shoot(page, name, width, full_page=True):
    """A screenshot for a person to look at, and axe-core's WCAG 2.1 AA check of the same view."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"helpdesk2-{name}-{width}.png"), full_page=full_page)
    assert axe_violations(page) == [], name


def no_sideways_scroll(page):
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")


def expired_request(ada, category):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from helpdesk import services

    start = (timezone.now() + timedelta(days=1)).replace(minute=0, second=0, microsecond=0)
    help_request = services.submit_help_request(
        requester=ada,
        category_id=category.pk,
        title="Eigenvalues of a 3x3 matrix",
        description="The characteristic polynomial does not factor nicely.",
        slots=[(start, start + timedelta(hours=2))],
        times_note="Evenings are best",
        files=[SimpleUploadedFile("notes.pdf", PDF_BYTES, content_type="application/pdf")],
    )
    services.expire_stale_requests(older_than=timedelta(0), now=timezone.now() + timedelta(seconds=1))
    # the slot has passed meanwhile: the form moves it on by a week
    help_request.slots.update(start=start - timedelta(days=2), end=start - timedelta(days=2) + timedelta(hours=2))
    return help_request


@pytest.mark.parametrize("width", WIDTHS)
def test_submit_it_again_opens_the_form_filled_in(browser, help_site, people, width):
    ada, _grace, category = people
    old = expired_request(ada, category)
    context = browser.new_context(
        viewport={"width": width, "height": 900}, timezone_id="Europe/London", bypass_csp=True
    )
    page = context.new_page()
    log_in(page, help_site, "ada@example.org")
    page.goto(help_site + old.get_absolute_url())
    page.click("#submit-again-link")
    expect(page.locator("h1")).to_contain_text("Submit it again")
    expect(page.locator("input[name=title]")).to_have_value("Eigenvalues of a 3x3 matrix")
    expect(page.locator("textarea[name=description]")).to_have_value(
        "The characteristic polynomial does not factor nicely."
    )
    expect(page.locator("#slots-moved")).to_be_visible()
    expect(page.locator("#kept-documents input[type=checkbox]")).to_be_checked()
    expect(page.locator("#kept-documents")).to_contain_text("notes.pdf")
    no_sideways_scroll(page)
    shoot(page, "again-form", width)
    page.click("#submit-request")
    expect(page.locator("#help-request")).to_have_attribute("data-status", "open")
    expect(page.locator("#documents")).to_contain_text("notes.pdf")
    expect(page.locator("#timeline")).to_contain_text("Submitted again from")
    close_contexts(context)


@pytest.mark.parametrize("width", WIDTHS)
def test_ask_an_expert_then_chat_with_the_pinned_card(browser, help_site, people, width):
    _ada, grace_profile, _category = people
    ada_context = browser.new_context(
        viewport={"width": width, "height": 900}, timezone_id="Europe/London", bypass_csp=True
    )
    grace_context = browser.new_context(viewport={"width": 1366, "height": 900}, timezone_id="Asia/Tokyo")
    ada, grace = ada_context.new_page(), grace_context.new_page()
    log_in(ada, help_site, "ada@example.org")
    log_in(grace, help_site, "grace@example.org")

    # The expert's page offers "Ask Grace for help"
    ada.goto(help_site + reverse("experts:detail", args=[grace_profile.pk]))
    button = ada.locator("#ask-expert")
    expect(button).to_have_text("Ask Grace for help")
    no_sideways_scroll(ada)
    shoot(ada, "expert-page", width, full_page=False)
    button.click()
    expect(ada.locator("h1")).to_contain_text("Ask Grace Hopper for help")
    shoot(ada, "ask-form", width)
    ada.fill("input[name=title]", "Diagonalising a symmetric matrix")
    ada.fill("textarea[name=description]", "Why are the eigenvectors orthogonal?")
    ada.click("#submit-request")
    expect(ada.locator("#stage")).to_have_text("Waiting for Grace Hopper")
    expect(ada.locator("#direct-state")).to_be_visible()

    # She sees it in her queue, marked, and accepts and schedules
    grace.goto(help_site + reverse("helpdesk:queue"))
    row = grace.locator(".help-queue-row", has_text="Diagonalising a symmetric matrix")
    expect(row.locator(".help-direct-badge")).to_contain_text("Asked you directly")
    row.get_by_role("link", name="Review").click()
    start = (timezone.now() + timedelta(days=2)).astimezone(timezone.get_fixed_timezone(9 * 60))
    grace.fill("#accept-form input[name=accept-start]", start.strftime("%Y-%m-%dT10:00"))
    grace.click("#accept")
    expect(grace.locator("#help-request")).to_have_attribute("data-status", "scheduled")

    # The requester's chat with her pins the card: title, stage, her own time, the join link
    ada.goto(help_site + reverse("chat:list"))
    ada.locator("#chat-list a", has_text="Grace Hopper").first.click()
    card = ada.locator("[data-help-card]")
    expect(card).to_contain_text("Diagonalising a symmetric matrix")
    expect(card).to_contain_text("Europe/London")
    # (the link arrives live once the meeting is made, after the accept's commit)
    expect(card.locator("[data-card-join]")).to_be_visible(timeout=15_000)
    no_sideways_scroll(ada)
    shoot(ada, "chat-card", width, full_page=False)

    # ... and follows the request live: cancelled from another tab, the card says so without a reload
    other_tab = ada_context.new_page()
    other_tab.goto(help_site + card.locator("a.help-chat-card-title").get_attribute("href"))
    other_tab.locator("#cancel-request summary").click()
    other_tab.click("#cancel")
    expect(card.locator("[data-card-stage]")).to_have_text("Cancelled", timeout=15_000)
    expect(ada.locator("[data-card-join]")).to_have_count(0)
    # and the expert's open page too (it reloads itself on the live event)
    expect(grace.locator("#help-request")).to_have_attribute("data-status", "cancelled", timeout=15_000)
    close_contexts(ada_context, grace_context)
