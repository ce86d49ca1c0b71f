"""deploy/systemd: the units parse (systemd-analyze verify) and keep their promises."""

import configparser
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings

from tests.deploy.nginx_stack import DEPLOY
from tests.servers import unit_command

UNITS = DEPLOY / "systemd"
VENV_BIN = Path(sys.executable).parent
SYSTEMD_ANALYZE = shutil.which("systemd-analyze")


def unit(name: str) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=False, interpolation=None, delimiters=("=",))
    parser.optionxform = str  # keys are case-sensitive
    parser.read_string((UNITS / name).read_text())
    return parser


def seconds(value: str) -> int:
    match = re.fullmatch(r"(\d+)(s|min)?", value)
    assert match, value
    return int(match.group(1)) * (60 if match.group(2) == "min" else 1)


@pytest.mark.skipif(SYSTEMD_ANALYZE is None, reason="systemd-analyze is not installed (Debian: systemd)")
def test_systemd_analyze_verify_accepts_every_unit_without_a_warning(tmp_path):
    # verify checks that ExecStart's program exists: point the copies at this venv's daphne
    # and celery instead of /opt/lyceum/.venv, and at this checkout's deploy/uvicorn-serve
    # (the only changes).
    for source in UNITS.iterdir():
        text = source.read_text().replace("/opt/lyceum/.venv/bin/", f"{VENV_BIN}/")
        text = text.replace("/opt/lyceum/deploy/", f"{DEPLOY}/")
        (tmp_path / source.name).write_text(text)
    names = [
        "lyceum.target",
        "lyceum-worker.service",
        "lyceum-beat.service",
        "lyceum-daphne@8001.service",
        "lyceum-uvicorn@8001.service",
    ]

    result = subprocess.run(
        [SYSTEMD_ANALYZE, "verify", "--man=no", *(f"./{name}" for name in names)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode == 0, result.stderr
    assert result.stderr.strip() == "", result.stderr


def test_daphne_template_serves_one_loopback_port_per_instance_behind_nginx():
    service = unit("lyceum-daphne@.service")["Service"]

    assert "-e lyceum:tcp:port=%i:interface=127.0.0.1:backlog=1024" in service["ExecStart"]
    assert "--proxy-headers" in service["ExecStart"]
    assert " --no-server-name " in service["ExecStart"]
    assert service["ExecStart"].endswith("config.asgi:application")
    assert service["EnvironmentFile"] == "/etc/lyceum/lyceum.env"
    assert service["User"] == "lyceum"
    assert service["Restart"] == "always"
    assert int(service["LimitNOFILE"]) >= 65536
    assert service["KillSignal"] == "SIGTERM"


def test_uvicorn_template_serves_the_same_application_on_the_same_ports_as_daphne():
    service = unit("lyceum-uvicorn@.service")["Service"]
    # The unit runs deploy/uvicorn-serve (the image too): loopback, its port, nginx on loopback.
    assert service["ExecStart"] == "/opt/lyceum/deploy/uvicorn-serve 127.0.0.1 %i 127.0.0.1"
    assert (DEPLOY / "uvicorn-serve").stat().st_mode & 0o111, "deploy/uvicorn-serve is not executable"
    argv = unit_command("uvicorn", 8001)
    line = " ".join(argv) + " "

    assert Path(argv[0]).name == "uvicorn" and argv[-1] == "config.asgi:application"
    for option in (
        "--host 127.0.0.1",
        "--port 8001",
        "--backlog 1024",
        "--loop uvloop",
        "--http httptools",
        "--ws websockets",
        "--lifespan off",
        "--proxy-headers",
        "--forwarded-allow-ips 127.0.0.1",
        "--no-server-header",
        "--no-access-log",
        # its INFO lines name a WebSocket's URL with the query (a live ticket): off
        "--log-level warning",
        f"--log-config {DEPLOY / 'uvicorn-logging.json'}",
    ):
        assert f" {option} " in line, option
    # nginx keeps an idle upstream connection up to 60 s: uvicorn must not close it first
    assert int(argv[argv.index("--timeout-keep-alive") + 1]) > 60
    assert (DEPLOY / "uvicorn-logging.json").is_file()
    # SIGTERM closes the sockets (1012), then requests in flight get less than systemd's stop timeout.
    graceful = int(argv[argv.index("--timeout-graceful-shutdown") + 1])
    assert graceful < seconds(service["TimeoutStopSec"])
    for key in ("EnvironmentFile", "User", "Restart", "LimitNOFILE", "KillSignal", "WorkingDirectory"):
        assert service[key] == unit("lyceum-daphne@.service")["Service"][key], key
    # One server per port: each template conflicts with the other's instance of the same port.
    assert unit("lyceum-uvicorn@.service")["Unit"]["Conflicts"] == "lyceum-daphne@%i.service"
    assert unit("lyceum-daphne@.service")["Unit"]["Conflicts"] == "lyceum-uvicorn@%i.service"


def test_worker_stop_waits_longer_than_the_task_time_limit_and_signals_only_the_main_process():
    service = unit("lyceum-worker.service")["Service"]

    assert seconds(service["TimeoutStopSec"]) > settings.CELERY_TASK_TIME_LIMIT
    assert service["KillMode"] == "mixed"
    assert service["KillSignal"] == "SIGTERM"
    assert "celery -A config worker" in service["ExecStart"]


def test_every_service_belongs_to_lyceum_target():
    for name in ("lyceum-daphne@.service", "lyceum-uvicorn@.service", "lyceum-worker.service", "lyceum-beat.service"):
        parsed = unit(name)
        assert parsed["Unit"]["PartOf"] == "lyceum.target", name
        assert parsed["Install"]["WantedBy"] == "lyceum.target", name
    assert unit("lyceum.target")["Install"]["WantedBy"] == "multi-user.target"


def test_beat_keeps_its_schedule_in_its_state_directory():
    service = unit("lyceum-beat.service")["Service"]

    assert "celery -A config beat" in service["ExecStart"]
    assert f"/var/lib/{service['StateDirectory']}/celerybeat-schedule" in service["ExecStart"]
