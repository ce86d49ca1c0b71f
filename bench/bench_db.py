"""The benchmarks' database setup, written once: Lyceum's environment for a database URL, a
MariaDB/MySQL database created (or dropped and created) from its URL, Django set up on it and
migrated.

    sys.path.insert(0, str(BASE_DIR / "bench"))   # scripts run as files, so bench/ is not a package
    from bench_db import ensure_mysql_database, lyceum_env, setup_django

Only the standard library at import time: the load generator's processes import the scripts that
import this module without Django.
"""

from __future__ import annotations

import base64
import os
import secrets
import sys
from pathlib import Path
from urllib.parse import urlsplit

BASE_DIR = Path(__file__).resolve().parent.parent


def database_name(database_url: str) -> str:
    """The database of a `mysql://user:password@host:port/name` URL."""
    return urlsplit(database_url).path.lstrip("/")


def ensure_mysql_database(database_url: str, *, fresh: bool = False) -> str:
    """Create the URL's database (utf8mb4) if it is missing; `fresh` drops it first. A URL of
    another vendor (sqlite://) is left alone. Returns the database name."""
    parts = urlsplit(database_url)
    name = database_name(database_url)
    if parts.scheme not in ("mysql", "mariadb"):
        return name
    if not name or "`" in name:
        raise SystemExit(f"not a database name: {name!r}")
    import MySQLdb

    server = MySQLdb.connect(
        host=parts.hostname or "127.0.0.1",
        port=parts.port or 3306,
        user=parts.username or "root",
        password=parts.password or "",
    )
    try:
        with server.cursor() as cursor:
            if fresh:
                cursor.execute(f"DROP DATABASE IF EXISTS `{name}`")
            cursor.execute(f"CREATE DATABASE IF NOT EXISTS `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
    finally:
        server.close()
    return name


def lyceum_env(database_url: str, redis_url: str, secret_key: str) -> dict[str, str]:
    """The environment a benchmark's Lyceum process (daphne, a measuring child) runs with: this
    process's environment without its Django/Redis/Celery settings, plus the benchmark's own."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "REDIS_", "CELERY_"))}
    env.update(
        DATABASE_URL=database_url,
        REDIS_URL=redis_url,
        REDIS_KEY_PREFIX="lyceum-bench-load",
        CELERY_QUEUE="lyceum-bench-load",
        DJANGO_DEBUG="false",
        DJANGO_SECRET_KEY=secret_key,
        DJANGO_ALLOWED_HOSTS="127.0.0.1,localhost",
        DJANGO_SECURE_SSL_REDIRECT="false",
        HELPDESK_DOCUMENT_KEYS=base64.urlsafe_b64encode(secrets.token_bytes(32)).decode(),
        LOG_LEVEL="WARNING",
        EMAIL_URL="locmem://",
        SITE_URL="http://127.0.0.1",
    )
    env.pop("PYTEST_VERSION", None)
    return env


def setup_django(*, project: Path = BASE_DIR, environ: dict[str, str] | None = None, migrate: bool = True) -> None:
    """Django set up in this process on `project` (the checkout measured) with `environ` applied
    (usually lyceum_env's, or just DATABASE_URL), then the database migrated."""
    if environ:
        os.environ.update(environ)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    sys.path.insert(0, str(project))
    import django

    django.setup()
    if migrate:
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
