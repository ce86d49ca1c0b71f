"""Issue 14's back office and "finding people" items in Chromium at 390 and 1366 px, against a
real daphne: a report from a conversation that staff read on its evidence page (and the view
in the log), the admin's figures and a help-request list that fits a laptop, the navbar badges
updating live, the directory's folding filters, and the notification list's links and New
badge. Screenshots go to artifacts/screenshots/ (backoffice-*.png) for a person to look at.
"""

import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection
from django.test import Client
from django.urls import reverse
from playwright.sync_api import expect

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SHOTS = Path(settings.BASE_DIR) / "artifacts" / "screenshots"
LAPTOP = {"width": 1366, "height": 900}
PHONE = {"width": 390, "height": 844}
WIDTHS = {"phone": PHONE, "laptop": LAPTOP}
HIDDEN = re.compile(r"\bd-none\b")


def shot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"backoffice-{name}.png"), full_page=True)


@pytest.fixture
def office_site(transactional_db, tmp_path):
    from tests.servers import daphne_server

    with daphne_server(
        MEETING_PROVIDER="local", HELPDESK_DOCUMENT_ROOT=str(tmp_path / "documents"), CELERY_BROKER_URL=""
    ) as url:
        yield url


def in_thread(build):
    """Run a data builder in a thread: the services' live pushes cannot run on Playwright's loop."""

    def run():
        try:
            return build()
        finally:
            connection.close()

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(run).result()


@pytest.fixture
def cast(transactional_db, settings, tmp_path):
    settings.HELPDESK_DOCUMENT_ROOT = str(tmp_path / "documents")
    settings.MEETING_PROVIDER = "memory"

    def build():
        from accounts.tests.factories import StaffFactory
        from chat.tests.factories import befriend, direct_between, send
        from experts.tests.factories import CategoryFactory, ExpertProfileFactory, UserFactory

        category = CategoryFactory(name="Linear Algebra", slug="linear-algebra")
        ada = UserFactory(first_name="Ada", last_name="Lovelace", email="ada@example.org", university="UCL")
        bob = UserFactory(first_name="Bob", last_name="Babbage", email="bob@example.org", university="UCL")
        befriend(ada, bob)
        conversation = direct_between(ada, bob)
        send(ada, conversation, "Are you coming to the lab?")
        send(bob, conversation, "Send me your answers or I tell everyone your secret")
        grace = ExpertProfileFactory(
            user=UserFactory(first_name="Grace", last_name="Hopper", email="grace@example.org"), categories=[category]
        ).user
        for n in range(3):
            UserFactory(first_name=f"Student{n}", last_name="Ucl", university="UCL", course="Physics")
        return {
            "ada": ada,
            "bob": bob,
            "grace": grace,
            "staff": StaffFactory(first_name="Sam", last_name="Staff", email="sam@example.org"),
            "category": category,
            "conversation": conversation,
        }

    return in_thread(build)


def signed_in(browser, site, user, viewport):
    client = Client()
    client.force_login(user)
    context = browser.new_context(viewport=viewport)
    context.add_cookies(
        [
            {
                "name": settings.SESSION_COOKIE_NAME,
                "value": client.cookies[settings.SESSION_COOKIE_NAME].value,
                "url": site,
            }
        ]
    )
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("console", lambda m: m.type == "error" and errors.append(m.text))
    page.errors = errors
    return page


def online(page):
    expect(page.locator("#live-status")).to_have_attribute("data-state", "online", timeout=15_000)


@pytest.mark.parametrize("label", list(WIDTHS))
def test_a_reported_conversation_is_read_by_staff_only_through_the_report_and_logged(browser, office_site, cast, label):
    # Given Ada in her conversation with Bob
    ada = signed_in(browser, office_site, cast["ada"], WIDTHS[label])
    ada.goto(office_site + reverse("chat:conversation", args=[cast["conversation"].pk]))
    online(ada)

    # When she reports Bob from the conversation's menu, with his message ticked for her
    ada.locator("#chat .chat-options").click()
    ada.get_by_role("link", name="Report…").click()
    expect(ada.locator("h1")).to_contain_text("Report from Bob Babbage")
    threat = ada.locator(".report-pick", has_text="Send me your answers")
    expect(threat.locator("input[type=checkbox]")).to_be_checked()
    expect(ada.locator(".report-pick", has_text="Are you coming").locator("input")).not_to_be_checked()
    ada.get_by_label("Harassment or bullying").check()
    ada.get_by_label("What happened?").fill("He is blackmailing me.")
    shot(ada, f"{label}-report-form")
    ada.get_by_role("button", name="Send report").click()
    expect(ada.locator(".alert-success")).to_contain_text("with 1 message")

    # Then staff see metadata only in the message admin…
    staff = signed_in(browser, office_site, cast["staff"], WIDTHS[label])
    staff.goto(office_site + reverse("admin:chat_message_changelist"))
    expect(staff.locator("#result_list")).to_be_visible()
    expect(staff.locator("body")).not_to_contain_text("Send me your answers")

    # …and read the reported message through the report, which the log then shows
    staff.goto(office_site + reverse("admin:social_report_changelist"))
    expect(staff.locator("#result_list tbody tr").first).to_contain_text("Bob Babbage")
    staff.locator("#result_list tbody tr").first.locator("th a").click()
    staff.get_by_role("link", name="Read the 1 reported message").click()
    expect(staff.locator(".evidence-body")).to_contain_text("Send me your answers or I tell everyone your secret")
    expect(staff.locator("body")).not_to_contain_text("Are you coming to the lab?")
    shot(staff, f"{label}-evidence")
    staff.get_by_role("link", name="evidence access log").click()
    expect(staff.locator("#result_list")).to_contain_text("sam@example.org")
    expect(staff.locator("#result_list")).to_contain_text("Read the reported messages")
    assert ada.errors == [] and staff.errors == []


def test_the_admin_index_shows_the_figures_and_the_help_request_list_fits_a_laptop(browser, office_site, cast):
    def requests():
        from helpdesk.models import HelpRequest, MeetingState
        from helpdesk.tests.factories import scheduled, submit

        submit(cast["ada"], cast["category"], title="A very long title about eigenvalues " * 4)
        failed = scheduled(cast["ada"], cast["category"], cast["grace"], title="Diagonalising with a failed meeting")
        HelpRequest.objects.filter(pk=failed.pk).update(
            meeting_state=MeetingState.FAILED, meeting_error="Graph answered 403 Forbidden: the app lacks consent"
        )

    in_thread(requests)
    staff = signed_in(browser, office_site, cast["staff"], LAPTOP)

    staff.goto(office_site + reverse("admin:index"))
    expect(staff.locator("#site-name")).to_have_text("Lyceum administration")
    expect(staff.locator("#dash-open .dash-figure")).to_have_text("1")
    expect(staff.locator("#dash-meetings .dash-figure")).to_have_text("1")
    expect(staff.locator("svg.dash-chart rect.dash-bar")).to_have_count(14)
    assert staff.locator("svg.dash-chart rect.dash-bar").last.bounding_box()["height"] > 10
    shot(staff, "laptop-admin-index")

    staff.goto(office_site + reverse("admin:helpdesk_helprequest_changelist"))
    table = staff.locator("#result_list")
    expect(table).to_be_visible()
    fits = staff.evaluate(
        """() => {
          const box = document.querySelector('#changelist .results');
          const table = document.querySelector('#result_list').getBoundingClientRect();
          const filter = document.querySelector('#changelist-filter').getBoundingClientRect();
          return {inside: box.scrollWidth <= box.clientWidth, page: document.documentElement.scrollWidth <= innerWidth,
                  beside: table.right <= filter.left};
        }"""
    )
    assert fits == {"inside": True, "page": True, "beside": True}
    headers = table.locator("thead th").all_inner_texts()
    assert [h.strip().lower() for h in headers if h.strip()] == [
        "title",
        "status",
        "category",
        "requester",
        "expert",
        "meeting",
        "created",
    ]
    cell = table.locator(".cell-truncate", has_text="A very long title")
    assert cell.get_attribute("title").startswith("A very long title about eigenvalues A very long")
    assert cell.evaluate("(el) => el.scrollWidth > el.clientWidth")  # cut with an ellipsis, whole on hover
    shot(staff, "laptop-admin-help-requests")


@pytest.mark.parametrize("label", list(WIDTHS))
def test_the_people_and_queue_badges_update_live(browser, office_site, cast, label):
    ada = signed_in(browser, office_site, cast["ada"], WIDTHS[label])
    grace = signed_in(browser, office_site, cast["grace"], WIDTHS[label])
    grace_elsewhere = signed_in(browser, office_site, cast["grace"], LAPTOP)
    for page in (ada, grace):
        page.goto(office_site + reverse("home"))
        online(page)
    people = ada.locator('[data-nav-badge="friend_requests"]')
    queue = grace.locator('[data-nav-badge="queue"]')
    expect(people).to_have_class(HIDDEN)
    expect(queue).to_have_class(HIDDEN)

    # When Grace asks Ada to be friends (from another tab)
    grace_elsewhere.goto(office_site + cast["ada"].get_absolute_url())
    grace_elsewhere.get_by_role("button", name="Add friend").first.click()
    # Then Ada's People badge counts it without a reload
    expect(people.locator(".nav-count-number")).to_have_text("1", timeout=15_000)
    expect(people).not_to_have_class(HIDDEN)

    # When Ada asks for help in Grace's category
    ada.goto(office_site + reverse("helpdesk:new"))
    ada.select_option("select[name=category]", str(cast["category"].pk))
    ada.fill("input[name=title]", "Eigenvalues of a 3x3 matrix")
    ada.fill("textarea[name=description]", "I keep getting the characteristic polynomial wrong.")
    ada.click("#help-request-form button[type=submit]")
    expect(ada.locator("#help-request")).to_have_attribute("data-status", "open")
    # Then Grace's Queue badge counts it without a reload
    expect(queue.locator(".nav-count-number")).to_have_text("1", timeout=15_000)
    if label == "phone":
        grace.locator(".navbar-toggler").click()
    expect(grace.locator(".navbar .nav-link", has_text="Queue")).to_contain_text("1")
    shot(grace, f"{label}-queue-badge")
    assert ada.errors == [] and grace.errors == []


@pytest.mark.parametrize("label", list(WIDTHS))
def test_the_directory_filters_fold_on_a_phone_so_results_come_first(browser, office_site, cast, label):
    page = signed_in(browser, office_site, cast["ada"], WIDTHS[label])

    page.goto(office_site + reverse("social:directory") + "?university=UCL&course=Physics")

    first_result = page.locator("#directory-results > li").first
    expect(first_result).to_be_visible()
    course = page.locator("input[name=course]")
    if label == "phone":
        expect(course).to_be_hidden()
        assert first_result.bounding_box()["y"] + 40 < PHONE["height"]  # on the first screen
        expect(page.locator(".filters-summary")).to_contain_text("Physics")
        page.locator(".filters-summary").click()
        expect(course).to_be_visible()
        expect(course).to_have_value("Physics")
    else:
        expect(course).to_be_visible()
    shot(page, f"{label}-directory")


@pytest.mark.parametrize("label", list(WIDTHS))
def test_notification_urls_are_links_and_new_sits_in_one_place(browser, office_site, cast, label):
    def notify():
        from notifications import services

        services.notify(recipient=cast["ada"], kind="system", title="Short", body="Join at https://example.org/room")
        services.notify(recipient=cast["ada"], kind="system", title="A much longer title that wraps " * 3, body="")

    in_thread(notify)
    page = signed_in(browser, office_site, cast["ada"], WIDTHS[label])

    page.goto(office_site + reverse("notifications:list"))

    link = page.locator("#notification-list a[href='https://example.org/room']")
    expect(link).to_have_text("https://example.org/room")
    badges = page.locator("#notification-list .notification-new")
    expect(badges).to_have_count(2)
    # Each New starts the line under its notification's text: the same left edge, whatever the title
    lefts = {round(box["x"]) for box in (badges.nth(i).bounding_box() for i in range(2))}
    assert len(lefts) == 1
    shot(page, f"{label}-notifications")
