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
    page.wait_for_url("**" + reverse("accounts:register_sent"))
    confirm_address(page, site, email=email)
    log_in(page, site, email=email, password=password)


def confirmation_url(site: str, *, email: str) -> str:
    """The link the sign-up e-mail carries (made here: the server's mail goes to its console)."""
    from accounts import tokens
    from accounts.models import User

    user = User.objects.get(email__iexact=email)
    token = tokens.make_email_token(user=user, purpose=tokens.VERIFY, email=user.email)
    return site + reverse("accounts:email_confirm", kwargs={"token": token})


def confirm_address(page: Page, site: str, *, email: str) -> None:
    page.goto(confirmation_url(site, email=email))
    page.click("#confirm-email")
    page.wait_for_url("**" + reverse("accounts:login") + "*")


def log_in(page: Page, site: str, *, email: str, password: str = PASSWORD) -> None:
    if reverse("accounts:login") not in page.url:
        page.goto(site + reverse("accounts:login"))
    page.fill("input[name=username]", email)
    page.fill("input[name=password]", password)
    page.click("main form button[type=submit]")
    page.wait_for_url(site + reverse("home"))
