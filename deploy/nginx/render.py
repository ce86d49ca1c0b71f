#!/usr/bin/env python3
"""Render deploy/nginx/lyceum.conf for one host: print the site with its values swapped.

lyceum.conf is a complete nginx site holding the production defaults; this script replaces
exactly those defaults (and fails if one of them is no longer in the file, so the template
and the script cannot drift apart silently). Standard library only: cloud-init runs it with
the system python3 before the virtualenv exists.

    python3 deploy/nginx/render.py --server-name lyceum.example.com --instances 4 \\
        > /etc/nginx/sites-available/lyceum.conf
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

TEMPLATE = Path(__file__).with_name("lyceum.conf")

DEFAULT_SERVER_NAME = "lyceum.example.com"
DEFAULT_CERTIFICATE = "/etc/lyceum/tls/fullchain.pem"
DEFAULT_CERTIFICATE_KEY = "/etc/lyceum/tls/privkey.pem"
DEFAULT_STATIC_ROOT = "/opt/lyceum/staticfiles/"
DEFAULT_MEDIA_ROOT = "/var/lib/lyceum/media/"
DEFAULT_LOG_DIR = "/var/log/nginx/"
DEFAULT_ACME_ROOT = "/var/www/letsencrypt"
HTTP_LISTEN = "listen 80 default_server;"
HTTPS_LISTEN = "listen 443 ssl http2 default_server;"

POOL = re.compile(
    r"(?P<indent>[ \t]*)# BEGIN daphne instances[^\n]*\n(?P<body>.*?)[ \t]*# END daphne instances\n", re.S
)
MEDIA = re.compile(r"[ \t]*# BEGIN local media.*?# END local media\n", re.S)


def _replace(text: str, old: str, new: str) -> str:
    if old not in text:
        raise SystemExit(f"render.py: {old!r} is not in {TEMPLATE.name} any more; update render.py")
    return text.replace(old, new)


def _dir(path: str) -> str:
    return path if path.endswith("/") else path + "/"


def render(
    *,
    server_name: str = DEFAULT_SERVER_NAME,
    ports: list[int] | None = None,
    http_listen: str = "80",
    https_listen: str = "443",
    certificate: str = DEFAULT_CERTIFICATE,
    certificate_key: str = DEFAULT_CERTIFICATE_KEY,
    static_root: str = DEFAULT_STATIC_ROOT,
    media_root: str | None = DEFAULT_MEDIA_ROOT,
    log_dir: str = DEFAULT_LOG_DIR,
    acme_root: str = DEFAULT_ACME_ROOT,
) -> str:
    """The site text. `ports`: the daphne ports (default 8001-8004); `media_root` None drops
    the /media/ location (uploads in S3); `*_listen`: an nginx listen address ("443",
    "127.0.0.1:8443")."""
    text = TEMPLATE.read_text()
    ports = ports if ports is not None else [8001, 8002, 8003, 8004]
    if not ports:
        raise SystemExit("render.py: at least one daphne port is needed")
    match = POOL.search(text)
    if match is None:
        raise SystemExit("render.py: the daphne instances block is missing from lyceum.conf")
    indent = match.group("indent")
    servers = "".join(f"{indent}server 127.0.0.1:{port} max_fails=3 fail_timeout=10s;\n" for port in ports)
    text = text[: match.start("body")] + servers + text[match.end("body") :]

    if media_root is None:
        text = MEDIA.sub("", text) if MEDIA.search(text) else _replace(text, "# BEGIN local media", "")
    else:
        text = _replace(text, f"alias {DEFAULT_MEDIA_ROOT};", f"alias {_dir(media_root)};")

    text = _replace(text, HTTP_LISTEN, f"listen {http_listen} default_server;")
    text = _replace(text, HTTPS_LISTEN, f"listen {https_listen} ssl http2 default_server;")
    text = _replace(text, f"ssl_certificate {DEFAULT_CERTIFICATE};", f"ssl_certificate {certificate};")
    text = _replace(text, f"ssl_certificate_key {DEFAULT_CERTIFICATE_KEY};", f"ssl_certificate_key {certificate_key};")
    text = _replace(text, f"alias {DEFAULT_STATIC_ROOT};", f"alias {_dir(static_root)};")
    text = _replace(text, f"root {DEFAULT_ACME_ROOT};", f"root {acme_root};")
    text = _replace(text, f" {DEFAULT_LOG_DIR}lyceum.", f" {_dir(log_dir)}lyceum.")
    # Last: the host name appears in server_name, the redirect and the health-check Host.
    text = _replace(text, DEFAULT_SERVER_NAME, server_name)
    return text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--server-name", default=DEFAULT_SERVER_NAME, help="the public host name")
    parser.add_argument("--instances", type=int, default=4, help="daphne processes (default 4)")
    parser.add_argument("--first-port", type=int, default=8001, help="port of the first (default 8001)")
    parser.add_argument("--certificate", default=DEFAULT_CERTIFICATE)
    parser.add_argument("--certificate-key", default=DEFAULT_CERTIFICATE_KEY)
    parser.add_argument("--static-root", default=DEFAULT_STATIC_ROOT, help="collectstatic's STATIC_ROOT")
    parser.add_argument("--media-root", default=DEFAULT_MEDIA_ROOT, help="MEDIA_ROOT (local uploads)")
    parser.add_argument("--no-local-media", action="store_true", help="uploads are in S3: no /media/")
    args = parser.parse_args(argv)
    if not 1 <= args.instances <= 64:
        parser.error("--instances must be between 1 and 64")
    ports = list(range(args.first_port, args.first_port + args.instances))
    sys.stdout.write(
        render(
            server_name=args.server_name,
            ports=ports,
            certificate=args.certificate,
            certificate_key=args.certificate_key,
            static_root=args.static_root,
            media_root=None if args.no_local_media else args.media_root,
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
