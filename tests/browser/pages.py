"""What a student does in the browser, shared by the browser tests."""

from django.urls import reverse
from playwright.sync_api import Page

PASSWORD = "a-Long-unusual-passphrase-42"


def register(
    page: Page,
    site: str,
    *,
    first_name: str,
    last_name: str,
    email: str,
    university: str = "",
    course: str = "",
    password: str = PASSWORD,
) -> None:
    page.goto(site + reverse("accounts:register"))
    page.fill("input[name=first_name]", first_name)
    page.fill("input[name=last_name]", last_name)
    page.fill("input[name=email]", email)
    page.fill("input[name=university]", university)
    page.fill("input[name=course]", course)
    page.fill("input[name=password1]", password)
    page.fill("input[name=password2]", password)
    page.click("main form button[type=submit]")
