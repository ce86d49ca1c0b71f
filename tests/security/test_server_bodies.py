"""A body the server cannot read is answered by Django, in the API's JSON, not by the server.

Twisted parses every multipart POST before daphne sees it and answers one it cannot read with
a bare 400; daphne listening on the `lyceum:` endpoint (config.http_endpoint) leaves the body
to Django. These tests run a real daphne process on loopback."""

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import pytest

BASE_DIR = Path(__file__).resolve().parents[2]
DAPHNE = Path(sys.executable).parent / "daphne"
MALFORMED = [
    pytest.param("multipart/form-data; boundary=b", b"--b--\r\n", id="only-the-closing-boundary"),
    pytest.param("multipart/form-data; boundary=b", b"x", id="no-boundary-in-the-body"),
    pytest.param("multipart/form-data", b"abc", id="no-boundary-parameter"),
]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def daphne(endpoint: str, tmp_path):
    port = free_port()
    environment = {
        key: value for key, value in os.environ.items() if key not in {"DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL"}
    }
    environment.update(DATABASE_URL=f"sqlite:///{tmp_path / 'bodies.sqlite3'}", LOG_LEVEL="WARNING")
    log = (tmp_path / "daphne.log").open("w")
    process = subprocess.Popen(
        [str(DAPHNE), "-e", endpoint.format(port=port), "config.asgi:application"],
        cwd=BASE_DIR,
        env=environment,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2).close()
                break
            except (urllib.error.URLError, OSError):
                if time.monotonic() > deadline or process.poll() is not None:
                    raise AssertionError((tmp_path / "daphne.log").read_text()) from None
                time.sleep(0.2)
        yield port
    finally:
        process.terminate()
        process.wait(timeout=10)
        log.close()


def post(port: int, content_type: str, body: bytes) -> tuple[int, dict, bytes]:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/api/v1/auth/logout/", data=body, headers={"Content-Type": content_type}
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status, {k.lower(): v for k, v in answer.headers.items()}, answer.read()
    except urllib.error.HTTPError as answer:
        return answer.code, {k.lower(): v for k, v in answer.headers.items()}, answer.read()


@pytest.mark.parametrize(("content_type", "body"), MALFORMED)
def test_on_the_lyceum_endpoint_a_multipart_body_that_cannot_be_read_is_a_json_400(tmp_path, content_type, body):
    import json

    with daphne("lyceum:tcp:port={port}:interface=127.0.0.1", tmp_path) as port:
        status, headers, content = post(port, content_type, body)
    assert status == 400
    assert headers["content-type"].startswith("application/json")
    answer = json.loads(content)
    assert answer["detail"] and answer["errors"]
    assert "x-request-id" in headers  # Django answered


def test_on_the_lyceum_endpoint_a_readable_multipart_body_reaches_the_view(tmp_path):
    import json

    body = b'--b\r\nContent-Disposition: form-data; name="refresh"\r\n\r\nnot-a-token\r\n--b--\r\n'
    with daphne("lyceum:tcp:port={port}:interface=127.0.0.1", tmp_path) as port:
        status, _, content = post(port, "multipart/form-data; boundary=b", body)
    assert status == 400
    assert "refresh" in json.loads(content)["errors"] or "token" in content.decode().lower()


def test_on_a_plain_tcp_endpoint_twisted_answers_such_a_body_itself(tmp_path):
    # why the lyceum: endpoint exists; when Twisted or daphne stop doing this, this test says so
    with daphne("tcp:port={port}:interface=127.0.0.1", tmp_path) as port:
        status, headers, content = post(port, "multipart/form-data; boundary=b", b"x")
    assert status == 400
    assert "x-request-id" not in headers and content == b""
