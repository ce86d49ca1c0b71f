"""Fuzz the JSON API from its own OpenAPI schema (schemathesis), against a real daphne on loopback.

    .venv/bin/python tools/fuzz_api.py [--max-time SECONDS] [--seed N] [-- extra `st run` options]

A throw-away site: a fresh SQLite database and file roots in a temporary directory, the demo
data (seed_demo, seed_demo_activity), and a daphne on a free 127.0.0.1 port serving it. The run
is authenticated as a demo student (a bearer token from /api/v1/auth/token/) and fails on any
5xx, any status code the schema does not list, any body or Content-Type that does not match it.
The daphne is stopped when the run ends, whatever happens; nothing outside the temporary
directory is touched. `make fuzz-api` runs it; exit code 0 means no failure.
"""

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
PYTHON = Path(sys.executable)
BIN = PYTHON.parent
FUZZ_USER = "amara.okafor@lyceum.local"
CHECKS = "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance"
# The variables that would point the site at a real service: the fuzz run uses none of them.
SERVICE_VARIABLES = (
    "DATABASE_URL",
    "REDIS_URL",
    "CELERY_BROKER_URL",
    "EMAIL_URL",
    "AWS_STORAGE_BUCKET_NAME",
    "SENTRY_DSN",
)
PRINT_DEMO_PASSWORD = "from accounts.management.commands.seed_demo import DEMO_PASSWORD; print(DEMO_PASSWORD)"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def site_environment(root: Path) -> dict[str, str]:
    environment = {key: value for key, value in os.environ.items() if key not in SERVICE_VARIABLES}
    environment.update(
        {
            "DATABASE_URL": f"sqlite:///{root / 'fuzz.sqlite3'}",
            "MEDIA_ROOT": str(root / "media"),
            "HELPDESK_DOCUMENT_ROOT": str(root / "private" / "helpdesk"),
            "CHAT_ATTACHMENT_ROOT": str(root / "private" / "chat"),
            "DJANGO_DEBUG": "true",
            # The fuzzer sends thousands of requests as one user: the throttles are tested
            # elsewhere (tests/security/test_throttles.py), here they would only stop the run.
            "API_THROTTLE_ANON": "100000/min",
            "API_THROTTLE_USER": "100000/min",
            "AXES_FAILURE_LIMIT": "100000",
            "JWT_ACCESS_MINUTES": "120",
            "LOG_LEVEL": "WARNING",
            "PYTHONPATH": str(BASE_DIR),
        }
    )
    return environment


def wait_until_up(url: str, deadline: float) -> None:
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2):  # noqa: S310 - loopback, our own server
                return
        except (urllib.error.URLError, ConnectionError, OSError):
            time.sleep(0.3)
    raise SystemExit(f"daphne did not answer {url} in time")


def demo_token(base: str, password: str) -> str:
    request = urllib.request.Request(  # noqa: S310 - loopback
        f"{base}/api/v1/auth/token/",
        data=json.dumps({"email": FUZZ_USER, "password": password}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310
        return json.load(answer)["access"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-time", type=int, default=240, help="seconds of fuzzing (set-up adds ~1 min)")
    parser.add_argument("--seed", type=int, default=None, help="schemathesis seed, to replay a run")
    parser.add_argument("--keep", action="store_true", help="keep the temporary site (database, log) for a look")
    parser.add_argument("st_options", nargs="*", help="more `st run` options, after --")
    arguments = parser.parse_args()

    root = Path(tempfile.mkdtemp(prefix="lyceum-fuzz-"))
    environment = site_environment(root)
    manage = [str(PYTHON), str(BASE_DIR / "manage.py")]
    for command in (["migrate", "--noinput", "-v0"], ["seed_demo"], ["seed_demo_activity"]):
        subprocess.run([*manage, *command], env=environment, check=True, cwd=BASE_DIR, stdout=subprocess.DEVNULL)
    password = subprocess.run(
        [*manage, "shell", "-c", PRINT_DEMO_PASSWORD],
        env=environment,
        check=True,
        cwd=BASE_DIR,
        capture_output=True,
        text=True,
    ).stdout.split()[-1]  # `shell` first says what it imported

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = (root / "daphne.log").open("w")
    daphne = subprocess.Popen(
        [str(BIN / "daphne"), "-e", f"lyceum:tcp:port={port}:interface=127.0.0.1", "config.asgi:application"],
        env=environment,
        cwd=BASE_DIR,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        wait_until_up(f"{base}/healthz", time.monotonic() + 60)
        token = demo_token(base, password)
        command = [
            str(BIN / "st"),
            "run",
            f"{base}/api/v1/schema/",
            "--header",
            f"Authorization: Bearer {token}",
            "--checks",
            CHECKS,
            "--max-time",
            str(arguments.max_time),
            "--workers",
            "2",
            "--request-timeout",
            "20",
            "--suppress-health-check",
            "too_slow,filter_too_much",
            "--report",
            "junit",
            "--report-dir",
            str(root / "report"),
            *(["--seed", str(arguments.seed)] if arguments.seed is not None else []),
            *arguments.st_options,
        ]
        print("fuzzing", base, "as", FUZZ_USER, f"for {arguments.max_time} s", flush=True)
        result = subprocess.run(command, env=environment, cwd=BASE_DIR, timeout=arguments.max_time + 600)
        return result.returncode
    finally:
        os.killpg(daphne.pid, signal.SIGTERM)
        try:
            daphne.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(daphne.pid, signal.SIGKILL)
        log.close()
        if arguments.keep:
            print("site kept in", root)
        else:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
