"""scripts/run-check (CI's proof of `make run`) and scripts/new-env (a .env for docker compose)."""

import re
import socket
import sys

from cryptography.fernet import Fernet

from tests.scripts.sandbox import make_sandbox
from tests.servers import BASE_DIR


def test_run_check_passes_once_slash_answers_200_and_stops_what_make_run_started(tmp_path):
    box = make_sandbox(tmp_path)
    # `make run PORT=N`: a server answering 200 on /, like daphne after the seeding.
    box.stub("make", f'exec {sys.executable} -m http.server "${{2#PORT=}}" --bind 127.0.0.1 --directory "{tmp_path}"')
    (tmp_path / "index.html").write_text("hello")

    result = box.run("run-check", RUN_CHECK_TIMEOUT="30")

    assert result.returncode == 0, result.stderr
    port = int(re.search(r"on port (\d+)", result.stdout).group(1))
    with socket.socket() as probe:  # stopped: nothing answers on that port any more
        assert probe.connect_ex(("127.0.0.1", port)) != 0


def test_run_check_fails_with_the_log_when_make_run_exits(tmp_path):
    box = make_sandbox(tmp_path)
    box.stub("make", 'echo "Exception: Can not find valid pkg-config name"; exit 2')

    result = box.run("run-check", RUN_CHECK_TIMEOUT="30")

    assert result.returncode == 1
    assert "make run exited (2)" in result.stderr
    assert "Can not find valid pkg-config name" in result.stderr


def test_new_env_fills_the_three_secrets_and_keeps_every_other_line(tmp_path):
    box = make_sandbox(tmp_path)
    target = tmp_path / "dot-env"

    result = box.run("new-env", str(target))

    assert result.returncode == 0, result.stderr
    written = target.read_text()
    values = dict(re.findall(r"^([A-Z_]+)=(.*)$", written, re.M))
    Fernet(values["HELPDESK_DOCUMENT_KEYS"])  # a valid key
    assert len(values["DJANGO_SECRET_KEY"]) >= 50
    assert re.fullmatch(r"[0-9a-f]{48}", values["MYSQL_PASSWORD"])
    example = (BASE_DIR / "deploy" / "env.example").read_text().splitlines()
    assert [line for line in written.splitlines() if not line.startswith(tuple(values))] == [
        line for line in example if not line.startswith(tuple(values))
    ]


def test_new_env_never_overwrites_an_existing_file(tmp_path):
    box = make_sandbox(tmp_path)
    target = tmp_path / "dot-env"
    target.write_text("HELPDESK_DOCUMENT_KEYS=the-key-of-stored-documents\n")

    result = box.run("new-env", str(target))

    assert result.returncode == 1
    assert target.read_text() == "HELPDESK_DOCUMENT_KEYS=the-key-of-stored-documents\n"
