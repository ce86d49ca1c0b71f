"""A real browser through the production shape: Chromium -> nginx (TLS) -> two daphnes, with a
Celery worker, on this run's database and Redis.

Marked browser and services: it runs in its own pytest invocation with the services' URLs
(Playwright's event loop must not leak into other tests), e.g.

    DATABASE_URL=mysql://root@127.0.0.1:3306/lyceum REDIS_URL=redis://127.0.0.1:6379/0 \\
        .venv/bin/pytest -m browser tests/deploy/test_browser_stack.py

(`make test-browser-stack`; CI: .ci/run and the "Browser through nginx" step of .github/workflows/ci.yml.)
"""

from __future__ import annotations

import contextlib
import json
import ssl

import pytest
from playwright.sync_api import expect

from accounts.tests.factories import UserFactory
from tests.browser.chromium import CHROMIUM, CHROMIUM_ARGS, SKIP_NO_CHROMIUM, chromium_missing
from tests.deploy.nginx_stack import NGINX, SKIP_NO_NGINX, daphne_process, nginx_process, render_site
from tests.deploy.test_nginx_stack import HOST, Stack, production_settings, session_cookie, static_root  # noqa: F401
from tests.ops.processes import Worker, private_queue, remove_queue_keys, run_site_snippet
from tests.servers import server_env

pytestmark = [
    pytest.mark.browser,
    pytest.mark.services,
    pytest.mark.skipif(not NGINX.exists(), reason=SKIP_NO_NGINX),
]


SEND_NOTIFY = """
import sys
from config.celery import app
app.send_task("notifications.tasks.notify_user_task", args=[int(sys.argv[1]), "system", sys.argv[2]])
"""


def test_a_browser_through_nginx_gets_a_workers_notification_live(redis_url, transactional_db, static_root, tmp_path):  # noqa: F811
    if chromium_missing():
        pytest.skip(SKIP_NO_CHROMIUM)
    from playwright.sync_api import sync_playwright

    queue = private_queue()
    env = {**production_settings(static_root), "CELERY_QUEUE": queue}
    alice = UserFactory(first_name="Alice")
    staff = UserFactory(is_staff=True)
    try:
        with contextlib.ExitStack() as stack_of:
            daphnes = [stack_of.enter_context(daphne_process(tmp_path, **env)) for _ in range(2)]
            site = render_site(tmp_path / "nginx", upstream_ports=[d.port for d in daphnes], static_root=static_root)
            stack_of.enter_context(nginx_process(site))
            stack = Stack(site, daphnes, ssl.create_default_context(cafile=str(site.certificate.ca_pem)))
            worker = Worker(server_env(**env), tmp_path / "worker.log").start()
            stack_of.callback(worker.stop)
            worker.wait_ready()
            origin = f"https://{HOST}:{site.https_port}"

            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                try:
                    # Given alice signed in, on her notifications page, through nginx (TLS)
                    context = browser.new_context(ignore_https_errors=True)  # the test CA
                    name, _, value = session_cookie(alice).partition("=")
                    context.add_cookies([{"name": name, "value": value, "url": origin, "secure": True}])
                    page = context.new_page()
                    page.goto(f"{origin}/notifications/")
                    expect(page.locator("#live-status")).to_have_attribute("data-state", "online", timeout=15_000)

                    # When a task on the worker notifies her
                    run_site_snippet(SEND_NOTIFY, server_env(**env), str(alice.pk), "Hello from the worker")

                    # Then the page, never reloaded, shows it live and counts it
                    expect(page.locator("#toasts")).to_contain_text("Hello from the worker", timeout=30_000)
                    expect(page.locator("#notif-badge")).to_have_text("1", timeout=10_000)

                    # and the staff status page, through nginx, counts the browser's socket
                    status, _, body = stack.get("/admin/status/?format=json", cookie=session_cookie(staff))
                    assert status == 200
                    live = json.loads(body)["live_sockets"]
                    assert live["total"] == 1
                    assert {row["process"].rsplit(":", 1)[1] for row in live["processes"] if row["count"]} <= {
                        str(d.process.pid) for d in daphnes
                    }
                    context.close()
                finally:
                    browser.close()
    finally:
        remove_queue_keys(redis_url, queue)
