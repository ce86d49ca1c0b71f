import pytest

from tests.browser.chromium import CHROMIUM, CHROMIUM_ARGS, SKIP_NO_CHROMIUM, chromium_missing


@pytest.fixture(scope="session")
def browser():
    if chromium_missing():
        pytest.skip(SKIP_NO_CHROMIUM)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def site(transactional_db):
    """A real daphne process serving this test run's database."""
    from tests.servers import daphne_server

    with daphne_server() as url:
        yield url
