"""LOG_FORMAT=json: a real server process (daphne, the image's uvicorn, the unit's uvicorn)
writes one JSON object a line, and the request line carries the request id, the user id and the
timing as fields."""

import http.client
import json
import os
import re
import signal
import socket as socket_module
import subprocess
import time
import urllib.request

import pytest
import websockets.exceptions
import websockets.sync.client
from django.test import Client

from notifications.tests.factories import UserFactory
from tests.servers import (
    BASE_DIR,
    daphne_server,
    free_port,
    server_env,
    unit_command,
    uvicorn_serve_command,
    wait_until_serving,
)


@pytest.mark.django_db(transaction=True)
def test_request_log_lines_carry_request_id_user_id_and_timing():
    user = UserFactory()
    browser = Client()
    browser.force_login(user)
    request_id = "ops-json-log-0123456789abcdef"
    with daphne_server(LOG_FORMAT="json", LOG_LEVEL="INFO") as url:
        port = url.rsplit(":", 1)[1]
        request = urllib.request.Request(
            f"{url}/notifications/",
            headers={"Cookie": f"sessionid={browser.cookies['sessionid'].value}", "X-Request-ID": request_id},
        )
        with urllib.request.urlopen(request, timeout=20) as response:
            assert response.status == 200
            assert response.headers["X-Request-ID"] == request_id
        log_path = BASE_DIR / f"daphne-test-{port}.log"  # tests.servers writes the process's output here
        lines = []
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            lines = [line for line in log_path.read_text().splitlines() if request_id in line]
            if lines:
                break
            time.sleep(0.1)
        all_lines = [line for line in log_path.read_text().splitlines() if line.startswith("{")]

    assert len(lines) == 1, lines
    record = json.loads(lines[0])
    assert record["logger"] == "lyceum.request"
    assert record["request_id"] == request_id
    assert record["user_id"] == str(user.pk)
    assert record["method"] == "GET" and record["path"] == "/notifications/" and record["status"] == 200
    assert isinstance(record["duration_ms"], float) and record["duration_ms"] > 0
    assert record["time"] and record["level"] == "INFO"
    for line in all_lines:  # every line the process logged is JSON
        json.loads(line)


def production_env(tmp_path, settings) -> dict[str, str]:
    """A production server's environment (DEBUG off, JSON logs) on this run's database."""
    return server_env(
        LOG_FORMAT="json",
        LOG_LEVEL="INFO",
        DJANGO_DEBUG="false",
        DJANGO_SECRET_KEY=settings.SECRET_KEY,  # the session's auth hash is keyed with it
        DJANGO_ALLOWED_HOSTS="127.0.0.1",
        HELPDESK_DOCUMENT_KEYS="r25XTEPUxqCupvNXo-0mluiCl7macd5lruEHRqgmypg=",
        EMAIL_URL="smtp://127.0.0.1:25",
        SITE_URL="https://lyceum.example.com",
        STATIC_ROOT=str(tmp_path / "static"),  # empty: whitenoise warns (a Python warning)
    )


def image_command(port: int) -> list[str]:
    """The Dockerfile's CMD (deploy/uvicorn-serve 0.0.0.0 8000), on a loopback port of this
    test, trusting X-Forwarded-For from loopback (the test plays the proxy container)."""
    command = json.loads(re.search(r"^CMD (\[.*\])$", (BASE_DIR / "Dockerfile").read_text(), re.M).group(1))
    assert command[1:] == ["0.0.0.0", "8000"], "the image's listen address changed"
    return uvicorn_serve_command("127.0.0.1", str(port), FORWARDED_ALLOW_IPS="127.0.0.1")


@pytest.mark.django_db(transaction=True)
def test_the_images_server_with_log_format_json_writes_only_json_lines(tmp_path, settings):
    """Every line of the process's output is JSON: startup, the access line of each request and
    socket (the client address from X-Forwarded-For), and the 4xx warning with its request id."""
    user = UserFactory()
    browser = Client()
    browser.force_login(user)
    port = free_port()
    output = tmp_path / "image.log"
    env = production_env(tmp_path, settings)
    with open(output, "wb") as log:
        process = subprocess.Popen(
            image_command(port),
            cwd=BASE_DIR,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        url = f"http://127.0.0.1:{port}"
        wait_until_serving(url, process)
        proxied = {"X-Forwarded-For": "203.0.113.7", "X-Forwarded-Proto": "https"}
        unauthorized = get(port, "/api/v1/me/", {**proxied, "X-Request-ID": "json-4xx-request-0123456789"})
        assert unauthorized in (401, 403)
        with websockets.sync.client.connect(
            f"ws://127.0.0.1:{port}/ws/live/",
            origin=f"http://127.0.0.1:{port}",  # the whole origin, as a browser sends it
            additional_headers={"Cookie": f"sessionid={browser.cookies['sessionid'].value}"},
            proxy=None,
        ) as socket:
            assert json.loads(socket.recv(timeout=10))["type"] == "hello"
        with pytest.raises(websockets.exceptions.InvalidStatus):
            websockets.sync.client.connect(f"ws://127.0.0.1:{port}/ws/live/", origin="http://evil.example", proxy=None)
        records = wait_for_records(output, lambda records: sum(r["logger"] == "lyceum.socket" for r in records) >= 2)
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=10)

    lines = output.read_text().splitlines()
    assert lines
    for line in lines:
        json.loads(line)  # every line, not only those that look like JSON
    requests = [r for r in records if r["logger"] == "lyceum.request" and r["path"] == "/api/v1/me/"]
    assert [(r["status"], r["client"], r["request_id"]) for r in requests] == [
        (unauthorized, "203.0.113.7", "json-4xx-request-0123456789")
    ]
    warnings = [r for r in records if r["logger"] == "django.request" and r["level"] == "WARNING"]
    assert [w["request_id"] for w in warnings] == ["json-4xx-request-0123456789"]
    sockets = [r for r in records if r["logger"] == "lyceum.socket"]
    assert sorted(s["outcome"] for s in sockets) == ["accepted", "refused"]
    assert all(s["path"] == "/ws/live/" and s["duration_ms"] >= 0 for s in sockets)
    assert any(r["logger"] == "py.warnings" for r in records)


def get(port: int, path: str, headers: dict[str, str]) -> int:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
    try:
        connection.request("GET", path, headers={"Host": "127.0.0.1", **headers})
        response = connection.getresponse()
        response.read()
        return response.status
    finally:
        connection.close()


def wait_for_records(path, done, timeout: float = 15.0) -> list[dict]:
    deadline = time.monotonic() + timeout
    records: list[dict] = []
    while time.monotonic() < deadline:
        records = [json.loads(line) for line in path.read_text().splitlines() if line.startswith("{")]
        if done(records):
            return records
        time.sleep(0.1)
    raise AssertionError(f"log lines never complete: {records}")


@pytest.mark.django_db(transaction=True)
def test_the_uvicorn_units_lines_are_all_json_and_carry_no_secret_from_a_url(tmp_path, settings):
    """uvicorn as its unit runs it (deploy/systemd/lyceum-uvicorn@.service): its own lines
    (a warning about a malformed request) go through Lyceum's logging, so every line is JSON
    like daphne's; and what a URL's query carries (the live socket's ticket, a token someone
    pasted) is in no line: not uvicorn's per-socket line (off), nor the 4xx warning that names
    the request."""
    user = UserFactory()
    browser = Client()
    browser.force_login(user)
    port = free_port()
    output = tmp_path / "uvicorn.log"
    with open(output, "wb") as log:
        process = subprocess.Popen(
            unit_command("uvicorn", port),
            cwd=BASE_DIR,
            env=production_env(tmp_path, settings),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    secret = "s3cret-query-value-0123456789"
    try:
        wait_until_serving(f"http://127.0.0.1:{port}", process)
        proxied = {"X-Forwarded-For": "203.0.113.7", "X-Forwarded-Proto": "https"}
        request_id = "uvicorn-4xx-request-0123456789"
        assert get(port, f"/api/v1/me/?token={secret}", {**proxied, "X-Request-ID": request_id}) in (401, 403)
        assert get(port, f"/api/v1/auth/token/?token={secret}", proxied) == 405
        with pytest.raises(websockets.exceptions.InvalidStatus):  # a ticket that was never issued
            websockets.sync.client.connect(
                f"ws://127.0.0.1:{port}/ws/live/?ticket={secret}", origin=f"http://127.0.0.1:{port}", proxy=None
            )
        with socket_module.create_connection(("127.0.0.1", port), timeout=10) as raw:
            raw.sendall(b"NOT-HTTP\r\n\r\n")  # uvicorn warns: an invalid HTTP request
            raw.recv(1024)
        wait_for_records(
            output,
            lambda records: (
                any(r["logger"] == "lyceum.socket" for r in records)
                and any(r["logger"].startswith("uvicorn") for r in records)
            ),
        )
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=15)

    text = output.read_text()
    records = [json.loads(line) for line in text.splitlines()]  # every line is JSON
    assert secret not in text
    assert any(r["logger"].startswith("uvicorn") and r["level"] == "WARNING" for r in records)  # its own too
    sockets = [r for r in records if r["logger"] == "lyceum.socket"]
    assert [(s["path"], s["outcome"]) for s in sockets] == [("/ws/live/", "refused")]
    requests = [r for r in records if r["logger"] == "lyceum.request" and r["path"] == "/api/v1/me/"]
    assert [(r["client"], r["request_id"]) for r in requests] == [("203.0.113.7", request_id)]
    warnings = [r for r in records if r["logger"] == "django.request" and r["level"] == "WARNING"]
    assert {w["request"] for w in warnings} >= {"GET /api/v1/me/", "GET /api/v1/auth/token/"}
