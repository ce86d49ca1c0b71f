"""config/settings.py read in fresh processes with a controlled environment.

Each test starts `python` with only the variables it sets on purpose (nothing inherited from
this pytest run: no PYTEST_VERSION, DATABASE_URL or REDIS_URL), so it sees exactly what a
server started with that environment would see.
"""

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured

from config.settings import mailer_from_url
from tests.servers import database_url_for_this_run

BASE_DIR = Path(__file__).resolve().parents[2]
PYTHON = sys.executable

PRODUCTION = {
    "DJANGO_DEBUG": "false",
    "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
    "DJANGO_ALLOWED_HOSTS": "lyceum.example.com",
    "HELPDESK_DOCUMENT_KEYS": Fernet.generate_key().decode(),
    "EMAIL_URL": "smtp+tls://mailer:secret@smtp.example.com:587",
    "SITE_URL": "https://lyceum.example.com",
}


def clean_env(**variables: str) -> dict[str, str]:
    """A minimal environment: enough to run Python, plus exactly the variables given."""
    env = {name: os.environ[name] for name in ("PATH", "HOME", "LANG", "TMPDIR") if name in os.environ}
    env.update(variables)
    return env


def run(args: list[str], **variables: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [PYTHON, *args], cwd=BASE_DIR, env=clean_env(**variables), capture_output=True, text=True, timeout=120
    )


def manage(*args: str, **variables: str) -> subprocess.CompletedProcess:
    return run(["manage.py", *args], **variables)


SETTINGS_PROBE = """
import json, sys
from django.conf import settings
print(json.dumps({name: getattr(settings, name, None) for name in sys.argv[1:]}, default=str))
"""


def read_settings(*names: str, **variables: str) -> dict:
    """The named settings as a process started with exactly `variables` sees them."""
    result = run(["-c", SETTINGS_PROBE, *names], DJANGO_SETTINGS_MODULE="config.settings", **variables)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


# --- Production refuses to start without its secrets ---------------------------------------


@pytest.mark.parametrize("secret", [None, ""], ids=["absent", "empty"])
def test_production_without_secret_key_fails_naming_the_variable(secret):
    # Given production mode with hosts but no secret key
    env = {**PRODUCTION}
    del env["DJANGO_SECRET_KEY"]
    if secret is not None:
        env["DJANGO_SECRET_KEY"] = secret

    # When Django starts
    result = manage("check", **env)

    # Then it stops with ImproperlyConfigured naming the variable
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert "DJANGO_SECRET_KEY must be set" in result.stderr


@pytest.mark.parametrize("hosts", [None, ""], ids=["absent", "empty"])
def test_production_without_allowed_hosts_fails_naming_the_variable(hosts):
    env = {**PRODUCTION}
    del env["DJANGO_ALLOWED_HOSTS"]
    if hosts is not None:
        env["DJANGO_ALLOWED_HOSTS"] = hosts

    result = manage("check", **env)

    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert "DJANGO_ALLOWED_HOSTS must be set" in result.stderr


@pytest.mark.parametrize("site_url", [None, ""], ids=["absent", "empty"])
def test_production_without_site_url_fails_naming_the_variable(site_url):
    # Given production mode without the address e-mail links point at
    env = {**PRODUCTION}
    del env["SITE_URL"]
    if site_url is not None:
        env["SITE_URL"] = site_url

    # When Django starts
    result = manage("check", **env)

    # Then it refuses, naming the variable (links to 127.0.0.1 would reach no reader)
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert "SITE_URL must be set" in result.stderr


def test_a_site_url_that_is_not_an_http_address_is_refused():
    result = manage("check", **{**PRODUCTION, "SITE_URL": "lyceum.example.com"})

    assert result.returncode != 0
    assert "SITE_URL must be an http(s) address" in result.stderr


@pytest.mark.parametrize(
    ("variables", "expected"),
    [
        ({}, "http://127.0.0.1:8000"),
        ({"PORT": "8123"}, "http://127.0.0.1:8123"),
        ({"PORT": "8123", "SITE_URL": "http://lyceum.localhost:9000/"}, "http://lyceum.localhost:9000"),
    ],
    ids=["default-port", "run-command-port", "explicit"],
)
def test_development_e_mail_links_point_at_the_port_the_site_is_served_on(variables, expected):
    # `make run PORT=8123` serves daphne on 8123 and hands PORT to it: e-mail links follow.
    assert read_settings("SITE_URL", **variables)["SITE_URL"] == expected


def test_development_mode_starts_with_no_environment_at_all():
    result = manage("check")

    assert result.returncode == 0, result.stderr
    assert "System check identified no issues" in result.stdout


def test_development_secret_is_never_the_production_secret():
    dev = read_settings("SECRET_KEY", "DEBUG")
    prod = read_settings("SECRET_KEY", "DEBUG", **PRODUCTION)

    assert dev["DEBUG"] is True
    assert prod["DEBUG"] is False
    assert prod["SECRET_KEY"] == PRODUCTION["DJANGO_SECRET_KEY"]
    assert dev["SECRET_KEY"] != prod["SECRET_KEY"]


# --- Django's deployment checklist ------------------------------------------------------------


def test_production_settings_pass_the_deployment_checklist_without_a_warning():
    result = manage("check", "--deploy", "--fail-level", "WARNING", **PRODUCTION)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_production_settings_with_redis_pass_the_deployment_checklist():
    # REDIS_URL is only parsed: the checklist opens no Redis connection. (With a mysql://
    # DATABASE_URL Django's field checks ask the server its version: see the services test.)
    env = {**PRODUCTION, "REDIS_URL": "redis://redis.invalid:6379/0"}

    result = manage("check", "--deploy", "--fail-level", "WARNING", **env)

    assert result.returncode == 0, result.stdout + result.stderr


def test_deployment_checklist_fails_when_production_would_print_e_mail_to_the_console():
    # Given production settings without EMAIL_URL (console:// is the default)
    env = {**PRODUCTION}
    del env["EMAIL_URL"]

    result = manage("check", "--deploy", "--fail-level", "WARNING", **env)

    # Then Django 6.1's mail.E001 refuses the development-only mailer
    assert result.returncode != 0
    assert "mail.E001" in result.stderr


def test_production_security_settings():
    values = read_settings(
        "SECURE_SSL_REDIRECT",
        "SECURE_REDIRECT_EXEMPT",
        "SECURE_PROXY_SSL_HEADER",
        "SECURE_HSTS_SECONDS",
        "SESSION_COOKIE_SECURE",
        "CSRF_COOKIE_SECURE",
        "STORAGES",
        **PRODUCTION,
    )

    assert values["SECURE_SSL_REDIRECT"] is True
    # Load balancers and compose health checks speak plain HTTP to these two paths.
    assert values["SECURE_REDIRECT_EXEMPT"] == ["^healthz$", "^readyz$"]
    assert values["SECURE_PROXY_SSL_HEADER"] == ["HTTP_X_FORWARDED_PROTO", "https"]
    assert values["SECURE_HSTS_SECONDS"] >= 31536000
    assert values["SESSION_COOKIE_SECURE"] is True
    assert values["CSRF_COOKIE_SECURE"] is True
    assert values["STORAGES"]["staticfiles"]["BACKEND"] == "whitenoise.storage.CompressedManifestStaticFilesStorage"


def test_ssl_redirect_can_be_switched_off_for_local_http_only_by_saying_so():
    values = read_settings(
        "SECURE_SSL_REDIRECT", "SESSION_COOKIE_SECURE", **PRODUCTION, DJANGO_SECURE_SSL_REDIRECT="false"
    )

    assert values["SECURE_SSL_REDIRECT"] is False
    assert values["SESSION_COOKIE_SECURE"] is True


# --- EMAIL_URL ----------------------------------------------------------------------------------


def test_smtp_url_gives_plain_smtp_on_port_25_by_default():
    mailer = mailer_from_url("smtp://mail.example.com")

    assert mailer["BACKEND"] == "django.core.mail.backends.smtp.EmailBackend"
    assert mailer["OPTIONS"] == {
        "host": "mail.example.com",
        "port": 25,
        "username": "",
        "password": "",
        "use_tls": False,
        "use_ssl": False,
        "timeout": 10,
    }


def test_smtp_tls_url_gives_starttls_on_587_with_decoded_credentials():
    mailer = mailer_from_url("smtp+tls://user%40example.com:p%40ss%3Aword@smtp.example.com?timeout=3")

    options = mailer["OPTIONS"]
    assert (options["host"], options["port"]) == ("smtp.example.com", 587)
    assert (options["username"], options["password"]) == ("user@example.com", "p@ss:word")
    assert (options["use_tls"], options["use_ssl"]) == (True, False)
    assert options["timeout"] == 3


def test_smtps_url_gives_implicit_tls_on_465_and_keeps_an_explicit_port():
    assert mailer_from_url("smtps://u:p@smtp.example.com")["OPTIONS"]["port"] == 465
    options = mailer_from_url("smtps://u:p@smtp.example.com:2465")["OPTIONS"]
    assert (options["port"], options["use_ssl"], options["use_tls"]) == (2465, True, False)


def test_console_and_locmem_urls_give_the_development_backends():
    assert mailer_from_url("console://") == {"BACKEND": "django.core.mail.backends.console.EmailBackend"}
    assert mailer_from_url("locmem://") == {"BACKEND": "django.core.mail.backends.locmem.EmailBackend"}


@pytest.mark.parametrize("url", ["http://mail.example.com", "smtp+ssl://x", "mail.example.com", ""])
def test_unsupported_email_url_is_refused(url):
    with pytest.raises(ImproperlyConfigured, match="EMAIL_URL scheme"):
        mailer_from_url(url)


def test_email_url_from_the_environment_becomes_the_default_mailer():
    values = read_settings("MAILERS", EMAIL_URL="smtps://a:b@smtp.example.com")

    assert values["MAILERS"]["default"]["OPTIONS"]["host"] == "smtp.example.com"
    assert values["MAILERS"]["default"]["OPTIONS"]["use_ssl"] is True


def test_bad_email_url_in_the_environment_stops_start_up():
    result = manage("check", EMAIL_URL="sendmail://localhost")

    assert result.returncode != 0
    assert "ImproperlyConfigured: EMAIL_URL scheme 'sendmail' is not supported" in result.stderr


# --- DATABASE_URL ------------------------------------------------------------------------------


def test_mysql_url_gives_utf8mb4_strict_mode_and_connection_health_checks():
    values = read_settings("DATABASES", DATABASE_URL="mysql://lyceum:s3cret@db.example.com:3307/lyceum")

    db = values["DATABASES"]["default"]
    assert db["ENGINE"] == "django.db.backends.mysql"
    assert (db["HOST"], db["PORT"], db["NAME"], db["USER"], db["PASSWORD"]) == (
        "db.example.com",
        3307,
        "lyceum",
        "lyceum",
        "s3cret",
    )
    assert db["OPTIONS"]["charset"] == "utf8mb4"
    assert "STRICT_TRANS_TABLES" in db["OPTIONS"]["init_command"]
    assert db["CONN_HEALTH_CHECKS"] is True
    # Under ASGI Django advises against persistent connections.
    assert db["CONN_MAX_AGE"] == 0
    assert db["TEST"]["CHARSET"] == "utf8mb4"


def test_no_database_url_gives_the_embedded_sqlite_file():
    db = read_settings("DATABASES")["DATABASES"]["default"]

    assert db["ENGINE"] == "django.db.backends.sqlite3"
    assert db["NAME"] == str(BASE_DIR / "db.sqlite3")


# --- REDIS_URL: channel layer, cache and Celery broker switch together ---------------------


def test_redis_url_switches_channel_layer_cache_and_celery_broker_together():
    values = read_settings(
        "CHANNEL_LAYERS",
        "CACHES",
        "CELERY_BROKER_URL",
        "CELERY_TASK_ALWAYS_EAGER",
        REDIS_URL="redis://redis.example.com:6379/2",
    )

    layer = values["CHANNEL_LAYERS"]["default"]
    assert layer["BACKEND"] == "live.layer.FanoutChannelLayer"
    assert layer["CONFIG"]["hosts"][0]["address"] == "redis://redis.example.com:6379/2"
    # redis-py 8's 5 s socket timeout would crash idle consumers (channels_redis#422).
    assert layer["CONFIG"]["hosts"][0]["socket_timeout"] is None
    assert values["CACHES"]["default"]["BACKEND"] == "django.core.cache.backends.redis.RedisCache"
    assert values["CACHES"]["default"]["LOCATION"] == "redis://redis.example.com:6379/2"
    assert values["CELERY_BROKER_URL"] == "redis://redis.example.com:6379/2"
    assert values["CELERY_TASK_ALWAYS_EAGER"] is False


def test_without_redis_url_everything_is_in_memory_and_celery_is_eager():
    values = read_settings("CHANNEL_LAYERS", "CACHES", "CELERY_BROKER_URL", "CELERY_TASK_ALWAYS_EAGER")

    assert values["CHANNEL_LAYERS"]["default"]["BACKEND"] == "channels.layers.InMemoryChannelLayer"
    assert values["CACHES"]["default"]["BACKEND"] == "django.core.cache.backends.locmem.LocMemCache"
    assert values["CELERY_BROKER_URL"] == ""
    assert values["CELERY_TASK_ALWAYS_EAGER"] is True


def test_a_separate_celery_broker_makes_celery_non_eager_without_redis():
    values = read_settings(
        "CHANNEL_LAYERS", "CELERY_BROKER_URL", "CELERY_TASK_ALWAYS_EAGER", CELERY_BROKER_URL="amqp://mq.example.com//"
    )

    assert values["CELERY_BROKER_URL"] == "amqp://mq.example.com//"
    assert values["CELERY_TASK_ALWAYS_EAGER"] is False
    assert values["CHANNEL_LAYERS"]["default"]["BACKEND"] == "channels.layers.InMemoryChannelLayer"


def test_redis_keys_and_celery_queue_are_named_by_the_environment():
    values = read_settings(
        "CHANNEL_LAYERS",
        "CACHES",
        "CELERY_TASK_DEFAULT_QUEUE",
        REDIS_URL="redis://r.example.com:6379/0",
        REDIS_KEY_PREFIX="site-a",
        CELERY_QUEUE="site-a-tasks",
    )
    defaults = read_settings("CACHES", "CELERY_TASK_DEFAULT_QUEUE", REDIS_URL="redis://r.example.com:6379/0")

    assert values["CHANNEL_LAYERS"]["default"]["CONFIG"]["prefix"] == "site-a"
    assert values["CACHES"]["default"]["KEY_PREFIX"] == "site-a"
    assert values["CELERY_TASK_DEFAULT_QUEUE"] == "site-a-tasks"
    assert defaults["CACHES"]["default"]["KEY_PREFIX"] == "lyceum"
    assert defaults["CELERY_TASK_DEFAULT_QUEUE"] == "lyceum"


# --- AWS_STORAGE_BUCKET_NAME: S3 uploads ------------------------------------------------------


def test_a_bucket_switches_uploads_to_s3_signing_sigv4_in_the_bucket_region():
    found = read_settings(
        "STORAGES",
        "AWS_S3_SIGNATURE_VERSION",
        "AWS_S3_REGION_NAME",
        "AWS_S3_OBJECT_PARAMETERS",
        "AWS_QUERYSTRING_EXPIRE",
        AWS_STORAGE_BUCKET_NAME="lyceum-uploads",
        AWS_S3_REGION_NAME="eu-central-1",
    )
    assert found["STORAGES"]["default"]["BACKEND"] == "storages.backends.s3.S3Storage"
    assert (found["AWS_S3_SIGNATURE_VERSION"], found["AWS_S3_REGION_NAME"]) == ("s3v4", "eu-central-1")
    assert found["AWS_S3_OBJECT_PARAMETERS"] == {"ServerSideEncryption": "AES256"}
    assert found["AWS_QUERYSTRING_EXPIRE"] == 600


def test_a_bucket_without_a_region_stops_start_up_naming_the_variable():
    result = manage("check", AWS_STORAGE_BUCKET_NAME="lyceum-uploads")

    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr and "AWS_S3_REGION_NAME must be set" in result.stderr


# --- The real database's own checks (services mode) ----------------------------------------


@pytest.mark.services
def test_real_mysql_connection_passes_the_database_checks(mysql_database, db):
    # Given production settings pointing at this run's MariaDB/MySQL test database
    url = database_url_for_this_run()

    # When Django runs the checks that talk to the server
    result = manage("check", "--deploy", "--database", "default", **PRODUCTION, DATABASE_URL=url)

    # Then the connection's sql_mode is strict (no mysql.W002) and nothing about MySQL is flagged
    output = result.stdout + result.stderr
    assert "mysql." not in output, output


# --- Documentation ----------------------------------------------------------------------------


def test_every_variable_the_settings_read_is_documented_in_env_example():
    import re

    source = (BASE_DIR / "config" / "settings.py").read_text()
    read = set(re.findall(r"env(?:\.\w+)?\(\s*\"([A-Z][A-Z0-9_]+)\"", source))
    documented = set(re.findall(r"^#?([A-Z][A-Z0-9_]+)=", (BASE_DIR / "deploy" / "env.example").read_text(), re.M))

    assert read, "no env(...) reads found in settings.py"
    assert read - documented == set()
