"""LOG_FORMAT=json: a real daphne process writes one JSON object a line, and the request line
carries the request id, the user id and the timing as fields."""

import json
import time
import urllib.request

import pytest
from django.test import Client

from notifications.tests.factories import UserFactory
from tests.servers import BASE_DIR, daphne_server


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
