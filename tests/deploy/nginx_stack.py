"""nginx and daphne processes for the deploy tests: the shipped site rendered into a temp dir.

render_site() renders deploy/nginx/lyceum.conf with deploy/nginx/render.py (the same code
cloud-init runs) for loopback ports and temp paths; main_config() wraps it in a minimal
nginx.conf (or in the distribution's own /etc/nginx/nginx.conf); nginx_process() runs nginx in
the foreground; daphne_process() runs daphne the way deploy/systemd/lyceum-daphne@.service does.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from tests.servers import BASE_DIR, VENV_BIN, free_port, server_env

NGINX = Path(os.environ.get("NGINX_PATH", "/usr/sbin/nginx"))
DEBIAN_NGINX_CONF = Path("/etc/nginx/nginx.conf")
DEPLOY = BASE_DIR / "deploy"
SKIP_NO_NGINX = f"no nginx at {NGINX}: apt-get install nginx-light (or nginx), or set NGINX_PATH to an nginx binary"


def load_render_module():
    spec = importlib.util.spec_from_file_location("lyceum_nginx_render", DEPLOY / "nginx" / "render.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@dataclass
class Certificate:
    ca_pem: Path
    cert_pem: Path
    key_pem: Path


def make_certificate(directory: Path) -> Certificate:
    """A trustme CA and a certificate for localhost / 127.0.0.1 signed by it."""
    import trustme

    ca = trustme.CA()
    issued = ca.issue_cert("localhost", "127.0.0.1")
    directory.mkdir(parents=True, exist_ok=True)
    certificate = Certificate(directory / "ca.pem", directory / "fullchain.pem", directory / "privkey.pem")
    ca.cert_pem.write_to_path(str(certificate.ca_pem))
    issued.private_key_pem.write_to_path(str(certificate.key_pem))
    # fullchain: the leaf first, then the chain (what ssl_certificate expects)
    certificate.cert_pem.write_bytes(b"".join(blob.bytes() for blob in issued.cert_chain_pems))
    return certificate


@dataclass
class Site:
    directory: Path
    conf: Path
    http_port: int
    https_port: int
    upstream_ports: list[int]
    certificate: Certificate
    static_root: Path
    media_root: Path
    logs: Path = field(init=False)

    def __post_init__(self):
        self.logs = self.directory / "logs"

    @property
    def https_url(self) -> str:
        return f"https://localhost:{self.https_port}"

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    @property
    def access_log(self) -> Path:
        return self.logs / "lyceum.access.log"

    @property
    def error_log(self) -> Path:
        return self.logs / "lyceum.error.log"


def render_site(
    directory: Path,
    *,
    upstream_ports: list[int],
    static_root: Path,
    server_name: str = "localhost",
    certificate: Certificate | None = None,
) -> Site:
    directory.mkdir(parents=True, exist_ok=True)
    certificate = certificate or make_certificate(directory / "tls")
    media_root = directory / "media"
    media_root.mkdir(exist_ok=True)
    (directory / "logs").mkdir(exist_ok=True)
    http_port, https_port = free_port(), free_port()
    text = load_render_module().render(
        server_name=server_name,
        ports=upstream_ports,
        http_listen=f"127.0.0.1:{http_port}",
        https_listen=f"127.0.0.1:{https_port}",
        certificate=str(certificate.cert_pem),
        certificate_key=str(certificate.key_pem),
        static_root=str(static_root),
        media_root=str(media_root),
        log_dir=str(directory / "logs"),
        acme_root=str(directory / "acme"),
    )
    conf = directory / "lyceum.conf"
    conf.write_text(text)
    return Site(directory, conf, http_port, https_port, upstream_ports, certificate, static_root, media_root)


def _process_settings(directory: Path) -> str:
    """pid, logs and temp paths in `directory` (nginx then runs without root), workers as the
    current user (as root they would be nobody, who cannot read a pytest tmp dir)."""
    temp = directory / "temp"
    temp.mkdir(exist_ok=True)
    lines = [
        f"pid {directory / 'nginx.pid'};",
        f"error_log {directory / 'logs' / 'error.log'} warn;",
    ]
    if os.geteuid() == 0:
        lines.insert(0, "user root;")
    return "\n".join(lines) + "\n"


def _http_temp_paths(directory: Path) -> str:
    temp = directory / "temp"
    return "".join(
        f"    {name}_temp_path {temp / name};\n" for name in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )


def main_config(site: Site) -> Path:
    """A minimal nginx.conf that includes the site (what the stack test runs)."""
    text = (
        _process_settings(site.directory)
        + "worker_processes 1;\n"
        + "events { worker_connections 1024; }\n"
        + "http {\n"
        + "    include /etc/nginx/mime.types;\n"
        + "    default_type application/octet-stream;\n"
        + "    sendfile on;\n"
        + f"    access_log {site.logs / 'access.log'};\n"
        + _http_temp_paths(site.directory)
        + f"    include {site.conf};\n"
        + "}\n"
    )
    path = site.directory / "nginx.conf"
    path.write_text(text)
    return path


def debian_main_config(site: Site) -> Path:
    """The distribution's /etc/nginx/nginx.conf with the site in place of sites-enabled/*, so
    its http-level defaults (gzip on, ssl_protocols, logs) are checked against the site too."""
    text = DEBIAN_NGINX_CONF.read_text()
    text, count = re.subn(r"include\s+/etc/nginx/sites-enabled/\*;", f"include {site.conf};", text)
    assert count == 1, "the distribution's nginx.conf no longer includes sites-enabled/*"
    text = re.sub(r"(?m)^\s*(user|pid|error_log)\s[^;]*;\s*$", "", text)
    text = re.sub(r"include\s+/etc/nginx/conf\.d/\*\.conf;", "", text)
    text = text.replace("/var/log/nginx/", f"{site.logs}/")
    temp_paths = _http_temp_paths(site.directory)
    text = re.sub(r"http\s*\{", lambda _: "http {\n" + temp_paths, text, count=1)
    path = site.directory / "nginx-debian.conf"
    path.write_text(_process_settings(site.directory) + text)
    return path


def nginx_test(config: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(NGINX), "-t", "-q", "-c", str(config), "-e", str(config.parent / "logs" / "error.log")],
        capture_output=True,
        text=True,
        timeout=30,
    )


@contextlib.contextmanager
def nginx_process(site: Site) -> Iterator[subprocess.Popen]:
    config = main_config(site)
    checked = nginx_test(config)
    if checked.returncode != 0:
        raise RuntimeError(f"nginx -t failed: {checked.stderr}")
    process = subprocess.Popen(
        [str(NGINX), "-c", str(config), "-e", str(site.logs / "error.log"), "-g", "daemon off;"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        _wait_for_port(site.https_port, process)
        yield process
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGQUIT)  # graceful: workers finish their requests
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        if process.stderr:
            process.stderr.close()


def _wait_for_port(port: int, process: subprocess.Popen, timeout: float = 15.0) -> None:
    import socket

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"nginx exited with {process.returncode}: {process.stderr.read().decode()}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
            return
        time.sleep(0.1)
    raise RuntimeError(f"nginx did not listen on {port} within {timeout}s")


@dataclass
class Daphne:
    port: int
    process: subprocess.Popen
    access_log: Path

    def websocket_connects(self) -> int:
        """How many WebSocket handshakes this process accepted (daphne's access log)."""
        if not self.access_log.exists():
            return 0
        return sum(1 for line in self.access_log.read_text().splitlines() if '"WSCONNECT /ws/live/' in line)

    def stop(self, timeout: float = 10.0) -> int:
        """SIGTERM, as systemd stops it on a deploy."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGTERM)
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            return self.process.wait()


@contextlib.contextmanager
def daphne_process(directory: Path, **env_overrides: str) -> Iterator[Daphne]:
    """daphne with the systemd unit's arguments (endpoint with backlog, --proxy-headers), its
    access log in `directory` (to see which process took which socket)."""
    port = free_port()
    access_log = directory / f"daphne-{port}.access.log"
    output = open(directory / f"daphne-{port}.log", "wb")  # noqa: SIM115 - closed below
    process = subprocess.Popen(
        [
            str(VENV_BIN / "daphne"),
            "-e",
            f"lyceum:tcp:port={port}:interface=127.0.0.1:backlog=1024",
            "--proxy-headers",
            "--access-log",
            str(access_log),
            "config.asgi:application",
        ],
        cwd=BASE_DIR,
        env=server_env(**env_overrides),
        stdout=output,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    daphne = Daphne(port, process, access_log)
    try:
        _wait_until_healthy(port, process, env_overrides.get("DJANGO_ALLOWED_HOSTS", "localhost").split(",")[0])
        yield daphne
    finally:
        daphne.stop()
        output.close()
        if process.returncode not in (0, -signal.SIGTERM, -signal.SIGKILL):
            sys.stderr.write((directory / f"daphne-{port}.log").read_text(errors="replace"))


def _wait_until_healthy(port: int, process: subprocess.Popen, host: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    request = urllib.request.Request(f"http://127.0.0.1:{port}/healthz", headers={"Host": host})
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"daphne exited with {process.returncode} before serving on {port}")
        with contextlib.suppress(OSError), urllib.request.urlopen(request, timeout=2) as response:
            if response.status == 200:
                return
        time.sleep(0.2)
    raise RuntimeError(f"daphne on {port} did not answer within {timeout}s")
