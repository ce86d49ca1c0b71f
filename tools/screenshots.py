"""Screenshots of Lyceum's main pages on a phone and a laptop, for a design review.

Against a running server (e.g. `daphne -b 127.0.0.1 -p 8123 config.asgi:application`):

    .venv/bin/python tools/screenshots.py http://127.0.0.1:8123 \
        --email ada@example.com --password 'correct-horse-battery' --out /tmp/shots

Captures the public home, log-in and sign-up pages signed out, then logs in and captures the
dashboard, the user's profile, profile edit, notifications and notification settings, each at
390x844 (phone) and 1366x900 (laptop), full page. Also records, per page, the HTTP status,
console errors (CSP violations show up there) and whether the page scrolls sideways.
Uses Debian's Chromium (`/usr/bin/chromium`, or CHROMIUM_PATH), not a Playwright download.

The README's pictures (docs/img/chat.png and docs/img/expert-queue.png, 1366x800, what a
laptop shows) come from the demo data (`make demo`) with `--readme`:

    .venv/bin/python tools/screenshots.py http://127.0.0.1:8123 --readme docs/img \
        --email amara.okafor@lyceum.local --expert-email kenji.watanabe@lyceum.local \
        --password lyceum-demo-2026

The chat is the student's most recent conversation (the first row of Chats), the queue the
expert's (the navbar's Queue link); both once the live connection is online.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from playwright.sync_api import Page, sync_playwright

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
VIEWPORTS = {"phone": (390, 844), "laptop": (1366, 900)}
# Log-in and sign-up are found from the navbar's buttons on the public home.
NAVBAR_PUBLIC = {"login": "Log in", "register": "Sign up"}
# Pages reached from the navbar's profile menu are found by their link text, so this script
# does not hard-code another app's URLs.
MENU_PAGES = {
    "profile": "My profile",
    "profile_edit": "Edit profile",
    "password_change": "Change password",
    "notification_settings": "Notification settings",
}


def _capture(page: Page, base: str, name: str, path: str, out: Path, label: str, report: list[dict]) -> None:
    errors: list[str] = []

    def on_console(msg) -> None:
        if msg.type == "error":
            errors.append(msg.text)

    page.on("console", on_console)
    response = page.goto(base + path, wait_until="networkidle")
    # Let live.js settle on a connection state and the dropdown/transition CSS finish.
    page.wait_for_timeout(600)
    overflow = page.evaluate("document.documentElement.scrollWidth > document.documentElement.clientWidth")
    file = out / f"{name}-{label}.png"
    page.screenshot(path=str(file), full_page=True)
    report.append(
        {
            "page": name,
            "viewport": label,
            "url": page.url,
            "status": response.status if response else None,
            "horizontal_overflow": overflow,
            "console_errors": errors,
            "file": str(file),
        }
    )
    page.remove_listener("console", on_console)


def _public_pages(page: Page, base: str) -> dict[str, str]:
    page.goto(base + "/", wait_until="networkidle")
    pages = {"home_public": "/"}
    for name, text in NAVBAR_PUBLIC.items():
        link = page.locator("nav.navbar a", has_text=text)
        if link.count():
            pages[name] = link.first.get_attribute("href") or ""
    pages["404"] = "/no-such-page/"
    return pages


def _log_in(page: Page, base: str, login_path: str, email: str, password: str) -> None:
    page.goto(base + login_path, wait_until="networkidle")
    page.fill("input[name=username], input[name=email]", email)
    page.fill("input[name=password]", password)
    page.click("form button[type=submit]")
    page.wait_for_load_state("networkidle")


def _private_pages(page: Page, base: str) -> dict[str, str]:
    page.goto(base + "/", wait_until="networkidle")
    pages = {"dashboard": "/", "notifications": "/notifications/"}
    for name, text in MENU_PAGES.items():
        link = page.locator(".dropdown-menu a.dropdown-item", has_text=text)
        if link.count():
            pages[name] = link.first.get_attribute("href") or ""
    return pages


README_VIEWPORT = (1366, 800)


def _online(page: Page) -> None:
    page.wait_for_selector("#live-status[data-state=online]", timeout=15_000)
    page.wait_for_timeout(400)  # the transition of the status dot


def _readme(browser, base: str, out: Path, *, email: str, expert_email: str, password: str) -> list[Path]:
    """The chat as the student sees it and the queue as the expert sees it, at laptop size."""
    width, height = README_VIEWPORT
    files = []
    for who, name in ((email, "chat"), (expert_email, "expert-queue")):
        context = browser.new_context(viewport={"width": width, "height": height}, color_scheme="light")
        page = context.new_page()
        public = _public_pages(page, base)
        _log_in(page, base, public.get("login", "/accounts/login/"), who, password)
        if name == "chat":
            page.locator("nav.navbar a.nav-link", has_text="Chats").first.click()
            page.wait_for_selector("#chat-list .chat-row-link")
            page.locator("#chat-list .chat-row-link").first.click()
            page.wait_for_selector("#chat .chat-message")
        else:
            page.locator("nav.navbar a.nav-link", has_text="Queue").first.click()
            page.wait_for_selector("#queue")
        _online(page)
        file = out / f"{name}.png"
        page.screenshot(path=str(file))
        files.append(file)
        context.close()
    return files


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("base_url", help="e.g. http://127.0.0.1:8123")
    parser.add_argument("--email", required=True)
    parser.add_argument("--password", required=True)
    parser.add_argument("--out", default="/tmp/shots", type=Path)  # noqa: S108 (a developer's scratch folder)
    parser.add_argument("--dark", action="store_true", help="emulate prefers-color-scheme: dark")
    parser.add_argument("--only", nargs="*", help="page names to capture (default: all)")
    parser.add_argument("--path", action="append", default=[], help="extra private page as name=/path/")
    parser.add_argument("--readme", type=Path, help="write the README's chat.png and expert-queue.png here")
    parser.add_argument("--expert-email", help="with --readme: the expert whose queue is shown")
    args = parser.parse_args(argv)
    if args.readme:
        if not args.expert_email:
            parser.error("--readme needs --expert-email")
        args.readme.mkdir(parents=True, exist_ok=True)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
            try:
                files = _readme(
                    browser,
                    args.base_url.rstrip("/"),
                    args.readme,
                    email=args.email,
                    expert_email=args.expert_email,
                    password=args.password,
                )
            finally:
                browser.close()
        for file in files:
            print(file)
        return 0

    base = args.base_url.rstrip("/")
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    extra = dict(item.split("=", 1) for item in args.path)
    wanted = set(args.only or [])
    report: list[dict] = []

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            for label, (width, height) in VIEWPORTS.items():
                suffix = f"{label}-dark" if args.dark else label
                scheme = "dark" if args.dark else "light"
                context = browser.new_context(viewport={"width": width, "height": height}, color_scheme=scheme)
                page = context.new_page()
                public = _public_pages(page, base)
                for name, path in public.items():
                    if path and (not wanted or name in wanted):
                        _capture(page, base, name, path, out, suffix, report)
                _log_in(page, base, public.get("login", "/accounts/login/"), args.email, args.password)
                pages = {**_private_pages(page, base), **extra}
                for name, path in pages.items():
                    if path and (not wanted or name in wanted):
                        _capture(page, base, name, path, out, suffix, report)
                context.close()
        finally:
            browser.close()

    (out / "report.json").write_text(json.dumps(report, indent=2))
    for row in report:
        flags = []
        if row["status"] and row["status"] >= 400 and row["page"] != "404":
            flags.append(f"HTTP {row['status']}")
        if row["horizontal_overflow"]:
            flags.append("OVERFLOWS SIDEWAYS")
        # The 404 page's own status shows up as a console error; that one is expected.
        if row["page"] == "404":
            row["console_errors"] = [e for e in row["console_errors"] if "404" not in e]
        if row["console_errors"]:
            flags.append(f"{len(row['console_errors'])} console error(s): {row['console_errors'][0][:120]}")
        print(f"{row['file']}: {', '.join(flags) or 'ok'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
