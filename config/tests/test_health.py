"""/healthz (the process is up) and /readyz (its database, Redis and broker answer).

The failure cases run the site in a fresh process whose DATABASE_URL / REDIS_URL /
CELERY_BROKER_URL point at a loopback port nobody listens on: a real refused connection, not a
mock.
"""

import http.client
import json
import os
import subprocess
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from django.conf import settings

from tests.servers import daphne_server, free_port

BASE_DIR = Path(__file__).resolve().parents[2]
PYTHON = sys.executable

CLIENT_PROBE = """
import json, os, sys
import django
django.setup()
from django.test import Client
response = Client().get(sys.argv[1])
print(json.dumps({"status": response.status_code, "type": response["Content-Type"], "body": response.json()}))
"""


def clean_env(**variables: str) -> dict[str, str]:
    env = {name: os.environ[name] for name in ("PATH", "HOME", "LANG", "TMPDIR") if name in os.environ}
    env.update(variables)
    return env


def get_in_fresh_process(path: str, tmp_path: Path, **variables: str) -> dict:
    """GET `path` with Django's test client in a new process started with exactly `variables`."""
    variables.setdefault("DATABASE_URL", f"sqlite:///{tmp_path / 'health.sqlite3'}")
    variables.setdefault("REDIS_KEY_PREFIX", f"lyceum-test-health-{uuid.uuid4().hex[:8]}")
    result = subprocess.run(
        [PYTHON, "-c", CLIENT_PROBE, path],
        cwd=BASE_DIR,
        env=clean_env(DJANGO_SETTINGS_MODULE="config.settings", **variables),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def closed_port_url(scheme: str, path: str = "") -> str:
    return f"{scheme}://127.0.0.1:{free_port()}{path}"


# --- In this process (both modes: embedded, and MariaDB + Redis) -------------------------------


def test_healthz_answers_200_json_without_touching_the_database(client):
    # No db fixture: a query here would raise "Database access not allowed".
    response = client.get("/healthz")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"status": "ok"}
    assert "no-cache" in response["Cache-Control"]


def test_health_endpoints_accept_only_get(client):
    assert client.post("/healthz").status_code == 405
    assert client.post("/readyz").status_code == 405


def test_readyz_reports_the_database_and_redis_when_configured(client, db):
    response = client.get("/readyz")

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["checks"]["database"] == "ok"
    if settings.REDIS_URL:
        assert body["checks"]["redis"] == "ok"
    else:
        assert "redis" not in body["checks"]
    # The broker is REDIS_URL itself (or absent): nothing more to check.
    assert "broker" not in body["checks"]
    assert "no-cache" in response["Cache-Control"]


# --- Fresh processes with unreachable services ------------------------------------------------


def test_readyz_is_503_json_when_the_database_is_unreachable(tmp_path):
    result = get_in_fresh_process("/readyz", tmp_path, DATABASE_URL=closed_port_url("mysql", "/lyceum"))

    assert result["status"] == 503
    assert result["type"] == "application/json"
    assert result["body"]["status"] == "unavailable"
    assert result["body"]["checks"]["database"] == "error: OperationalError"


def test_healthz_stays_200_while_the_database_is_unreachable(tmp_path):
    result = get_in_fresh_process("/healthz", tmp_path, DATABASE_URL=closed_port_url("mysql", "/lyceum"))

    assert result["status"] == 200
    assert result["body"] == {"status": "ok"}


def test_readyz_is_503_when_redis_is_unreachable(tmp_path):
    result = get_in_fresh_process("/readyz", tmp_path, REDIS_URL=closed_port_url("redis", "/0"))

    assert result["status"] == 503
    assert result["body"]["checks"]["database"] == "ok"
    assert result["body"]["checks"]["redis"].startswith("error: ")


def test_readyz_is_503_when_a_separate_celery_broker_is_unreachable(tmp_path):
    result = get_in_fresh_process("/readyz", tmp_path, CELERY_BROKER_URL=closed_port_url("redis", "/0"))

    assert result["status"] == 503
    assert result["body"]["checks"] == {"database": "ok", "broker": "error: OperationalError"}


def test_readyz_is_200_without_redis_or_broker_in_the_embedded_default(tmp_path):
    result = get_in_fresh_process("/readyz", tmp_path)

    assert result["status"] == 200
    assert result["body"] == {"status": "ok", "checks": {"database": "ok"}}


@pytest.mark.services
def test_readyz_checks_redis_and_a_separate_broker_for_real(tmp_path, redis_url):
    # Given the real Redis as REDIS_URL and the same server's next database as the broker
    base, _, number = redis_url.rpartition("/")
    broker = f"{base}/{(int(number or 0) + 1) % 16}"

    result = get_in_fresh_process("/readyz", tmp_path, REDIS_URL=redis_url, CELERY_BROKER_URL=broker)

    assert result["status"] == 200
    assert result["body"]["checks"] == {"database": "ok", "redis": "ok", "broker": "ok"}


# --- Production mode behind daphne, probed the way docker-compose does ---------------------------


def compose_web_healthcheck() -> str:
    """The Python one-liner docker-compose.yml runs inside the web container."""
    compose = yaml.safe_load((BASE_DIR / "docker-compose.yml").read_text())
    test = compose["services"]["web"]["healthcheck"]["test"]
    assert test[:3] == ["CMD", "python", "-c"]
    return test[3]


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes


def get_without_redirects(base_url: str, path: str, *, host: str) -> Answer:
    address = base_url.removeprefix("http://")
    connection = http.client.HTTPConnection(address, timeout=10)
    try:
        connection.request("GET", path, headers={"Host": host})
        response = connection.getresponse()
        return Answer(response.status, dict(response.getheaders()), response.read())
    finally:
        connection.close()


PRODUCTION_SERVER = {
    "DJANGO_DEBUG": "false",
    "DJANGO_SECRET_KEY": "x" * 20 + uuid.uuid4().hex + uuid.uuid4().hex,
    "DJANGO_ALLOWED_HOSTS": "lyceum.example.com,127.0.0.1",
    "HELPDESK_DOCUMENT_KEYS": "r25XTEPUxqCupvNXo-0mluiCl7macd5lruEHRqgmypg=",
    "EMAIL_URL": "smtp://127.0.0.1:25",
    "SITE_URL": "https://lyceum.example.com",
}


@pytest.mark.django_db(transaction=True)
def test_production_daphne_answers_health_checks_over_plain_http_and_redirects_the_rest():
    with daphne_server(**PRODUCTION_SERVER) as url:
        port = url.rsplit(":", 1)[1]
        probe = compose_web_healthcheck().replace("127.0.0.1:8000", f"127.0.0.1:{port}")

        # The compose health check passes: /healthz is exempt from the HTTPS redirect and the
        # probe names the first allowed host.
        passing = subprocess.run(
            [PYTHON, "-c", probe],
            env=clean_env(DJANGO_ALLOWED_HOSTS=PRODUCTION_SERVER["DJANGO_ALLOWED_HOSTS"]),
            capture_output=True,
            text=True,
            timeout=30,
        )
        # ... and fails when the host it names is not allowed (it really checks the answer).
        failing = subprocess.run(
            [PYTHON, "-c", probe],
            env=clean_env(DJANGO_ALLOWED_HOSTS="not-allowed.example.com"),
            capture_output=True,
            text=True,
            timeout=30,
        )
        ready = get_without_redirects(url, "/readyz", host="lyceum.example.com")
        page = get_without_redirects(url, "/accounts/login/", host="lyceum.example.com")

    assert passing.returncode == 0, passing.stderr
    assert failing.returncode != 0
    assert "400" in failing.stderr
    assert ready.status == 200
    assert json.loads(ready.body)["checks"]["database"] == "ok"
    assert page.status == 301
    assert page.headers["Location"] == "https://lyceum.example.com/accounts/login/"
