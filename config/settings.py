"""Lyceum settings: one file, driven by the environment.

With no environment set, everything runs embedded (SQLite, in-memory channel layer, eager
Celery, console e-mail, local file storage, local meeting provider). Each variable below
switches one part to the real service; docs/settings.md lists them all.
"""

import os
from datetime import timedelta
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

import environ
from django.core.exceptions import ImproperlyConfigured
from django.utils.csp import CSP

from config import redis_client
from config.converters import MAX_DATABASE_ID

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
if env.bool("DJANGO_READ_DOT_ENV", default=False):
    environ.Env.read_env(BASE_DIR / ".env")

DEBUG = env.bool("DJANGO_DEBUG", default=True)


def _required(name: str, dev_default: str) -> str:
    """A secret that has a harmless default in development and must be set in production."""
    value = env.str(name, default="")
    if value:
        return value
    if DEBUG:
        return dev_default
    raise ImproperlyConfigured(f"{name} must be set when DJANGO_DEBUG is off.")


SECRET_KEY = _required("DJANGO_SECRET_KEY", "dev-insecure-key-only-for-local-development-0123456789")
# Old keys still accepted for sessions, reset links and signed values while they age out.
SECRET_KEY_FALLBACKS = env.list("DJANGO_SECRET_KEY_FALLBACKS", default=[])
ALLOWED_HOSTS = env.list(
    "DJANGO_ALLOWED_HOSTS", default=[] if not DEBUG else ["localhost", "127.0.0.1", "[::1]", "testserver"]
)
if not DEBUG and not ALLOWED_HOSTS:
    raise ImproperlyConfigured("DJANGO_ALLOWED_HOSTS must be set when DJANGO_DEBUG is off.")
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])


def _site_url() -> str:
    """Where links in e-mails point (never taken from a request's Host header, which a client
    chooses). Development: the address `make run` serves, http://127.0.0.1:$PORT (PORT as the
    run command got it, 8000 by default). Production: required."""
    value = env.str("SITE_URL", default="").strip().rstrip("/")
    if not value:
        if not DEBUG:
            raise ImproperlyConfigured(
                "SITE_URL must be set when DJANGO_DEBUG is off: the public address e-mail links use, "
                "e.g. https://lyceum.example.com."
            )
        port = env.str("PORT", default="8000").strip() or "8000"
        if not port.isdigit() or not 0 < int(port) < 65536:
            raise ImproperlyConfigured(f"PORT must be a TCP port number, not {port!r}.")
        return f"http://127.0.0.1:{int(port)}"
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
        raise ImproperlyConfigured(
            f"SITE_URL must be an http(s) address like https://lyceum.example.com, not {value!r}."
        )
    return value


SITE_URL = _site_url()
SITE_NAME = "Lyceum"

INSTALLED_APPS = [
    "daphne",
    "config.apps.LyceumAdminConfig",  # django.contrib.admin with Lyceum's site
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "rest_framework_simplejwt",
    "rest_framework_simplejwt.token_blacklist",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "axes",
    "channels",
    "live",  # the socket stack; its one table: live.models.RevokedLogin
    "accounts",
    "notifications",
    "social",
    "experts",
    "chat",
    "helpdesk",
]

MIDDLEWARE = [
    "config.middleware.RequestIdMiddleware",
    "config.middleware.ApiErrorsAsJsonMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "config.middleware.TimeZoneMiddleware",
    "config.middleware.PrivateCacheMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "config.middleware.RefusalMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"
ASGI_APPLICATION = "config.asgi.application"
WSGI_APPLICATION = None

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "builtins": ["config.templatetags_ui"],
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.csp",
                "notifications.context_processors.unread_notifications",
                "config.context_processors.navigation",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
_db = DATABASES["default"]
if _db["ENGINE"] == "django.db.backends.sqlite3":
    # A file, not memory: live-server browser tests serve from another thread.
    # One file per test process, so parallel runs on one checkout do not share it.
    _db["TEST"] = {"NAME": env.str("LYCEUM_TEST_DB", default=str(BASE_DIR / f"test_db_{os.getpid()}.sqlite3"))}
    _db.setdefault("OPTIONS", {}).update({"transaction_mode": "IMMEDIATE", "timeout": 20})
elif _db["ENGINE"] == "django.db.backends.mysql":
    _db.setdefault("OPTIONS", {}).update(
        {
            "charset": "utf8mb4",
            # No group_concat_max_len here: the send's JSON_ARRAYAGG carries its own bound on
            # MariaDB (SET STATEMENT, chat/services/send_sql.py), which no reset session loses.
            "init_command": "SET sql_mode='STRICT_TRANS_TABLES', innodb_strict_mode=1",
            "isolation_level": "read committed",
        }
    )
    # One test database per test process (test_<name>_<pid>), so concurrent runs against one
    # server do not drop each other's database.
    _db["TEST"] = {
        "CHARSET": "utf8mb4",
        "COLLATION": "utf8mb4_unicode_ci",
        "NAME": env.str("LYCEUM_TEST_DB", default=f"test_{_db['NAME']}_{os.getpid()}"),
    }
    # Django's docs: "When using ASGI, persistent connections should be disabled." Under daphne
    # each request's sync code runs in a thread of its own, so a kept connection is never
    # reused, only held open. 0 closes it at the end of each request (and each Celery task).
    _db["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=0)
    _db["CONN_HEALTH_CHECKS"] = True
# The live socket's database work runs on a fixed pool of threads per daphne process
# (live.db), not on asgiref's single thread. Those threads live as long as the process, so
# their connections are kept (and reused) for LIVE_DB_CONN_MAX_AGE seconds: at most
# LIVE_DB_THREADS connections per process, instead of a new connection per database hop.
# A send spends most of its time waiting for its round trips (the GIL released), so a process
# needs several sends in flight: 8 threads held 500 msg/s where 2 held 400 (docs/benchmarks.md,
# "Chat under load"). Each thread keeps one connection: processes x LIVE_DB_THREADS plus the HTTP
# threads must stay below the database's max_connections.
LIVE_DB_THREADS = env.int("LIVE_DB_THREADS", default=8)
LIVE_DB_CONN_MAX_AGE = env.int("DATABASE_LIVE_CONN_MAX_AGE", default=60)
# Chat sends of one process that arrive while earlier ones are on the live pool share one pool
# hop and one transaction (live.db.Batched, chat.services.send_messages): one batch at a time,
# and up to this many once half a batch waits or a send has waited 50 ms. Under LIVE_DB_THREADS: the other frames and
# the connects keep threads of their own. In the benchmark 4 held 600 msg/s where sends one by
# one held 500 (docs/benchmarks.md).
LIVE_SEND_BATCHES = env.int("LIVE_SEND_BATCHES", default=4)
# A live handshake that has waited this long (from when it reached the application) for a pool
# thread is refused as busy without its database work (live.handshake): its server gives up on it
# soon anyway. Below the server's own handshake timeout: uvicorn's 10 s (the websockets library's
# open_timeout), daphne's 5 s (--websocket_connect_timeout; its systemd unit sets 4).
LIVE_HANDSHAKE_BUDGET_SECONDS = env.float("LIVE_HANDSHAKE_BUDGET_SECONDS", default=8.0)
# The garbage collector's thresholds in a server process (config.warmup, gc.set_threshold), as
# "young,middle,old". CPython's 700,10,10 make a server with thousands of sockets run a full
# collection (over a million objects: a second's pause) several times a minute under load;
# these make young collections rarer and full ones far rarer (docs/benchmarks.md, "10,000
# sockets"). "700,10,10" restores CPython's.
GC_THRESHOLDS = env.list("GC_THRESHOLDS", cast=int, default=[50_000, 20, 100])
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis: channel layer, cache and Celery broker switch together ----------------------
REDIS_URL = env.str("REDIS_URL", default="")
# A test run gets its own key space on a shared Redis (pytest sets PYTEST_VERSION).
_KEY_PREFIX = env.str(
    "REDIS_KEY_PREFIX", default=f"lyceum-test-{os.getpid()}" if "PYTEST_VERSION" in os.environ else "lyceum"
)
# The Redis cache's connection options (redis_client.outage_retry: one immediate retry, no
# backoff, so a Redis that is down is seen at once).
redis_cache_options = {"socket_connect_timeout": 2, "socket_timeout": 5, "retry": redis_client.outage_retry()}
if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            # Lyceum's own layer (live.layer): one subscriber connection and a small
            # pool of publish connections per process, so it survives a connect burst of 1,000
            # sockets; it subscribes again after a Redis restart and retries a publish that
            # meets a connection Redis dropped (a repeated publish is harmless: clients dedup).
            "BACKEND": "live.layer.FanoutChannelLayer",
            "CONFIG": {
                "hosts": [{"address": REDIS_URL, "socket_timeout": None}],
                "prefix": _KEY_PREFIX,
                # "process": each process gets only the events for groups it holds (one route
                # script call per event; docs/architecture.md, "The live path"); "fanout":
                # every process reads every event.
                "routing": env.str("LIVE_ROUTING", default="process"),
                # Each process's live counters (received, delivered) are written to Redis this
                # often (live.layer, STATS_KEY); 0 turns it off.
                "stats_seconds": env.float("LIVE_STATS_SECONDS", default=5.0),
            },
        }
    }
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": _KEY_PREFIX,
            "OPTIONS": redis_cache_options,
        }
    }
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# --- Celery ---------------------------------------------------------------------------
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default=REDIS_URL)
CELERY_TASK_ALWAYS_EAGER = not CELERY_BROKER_URL
# The queue producers send to and workers consume (exchange and routing key follow it). A
# test run on a shared Redis uses its own queue so parallel runs never take each other's tasks.
CELERY_TASK_DEFAULT_QUEUE = env.str("CELERY_QUEUE", default="lyceum")
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_TIME_LIMIT = 120
CELERY_TASK_SOFT_TIME_LIMIT = 100
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600, "unacked_restore_interval": 30}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TIMEZONE = "UTC"
CELERY_BEAT_SCHEDULE = {
    "sweep-pending-emails": {"task": "notifications.tasks.sweep_pending_emails_task", "schedule": 60.0},
    "sweep-unread-chat-emails": {"task": "chat.tasks.sweep_unread_emails_task", "schedule": 300.0},
    "helpdesk-session-reminders": {"task": "helpdesk.tasks.send_session_reminders_task", "schedule": 60.0},
    "helpdesk-expire-requests": {"task": "helpdesk.tasks.expire_requests_task", "schedule": 900.0},
    "helpdesk-sweep-meetings": {"task": "helpdesk.tasks.sweep_pending_meetings_task", "schedule": 300.0},
    "helpdesk-direct-requests": {"task": "helpdesk.tasks.release_lapsed_direct_requests_task", "schedule": 60.0},
    "helpdesk-release-without-standing": {
        "task": "helpdesk.tasks.release_requests_without_standing_task",
        "schedule": 60.0,
    },
    "accounts-erase-deleted": {"task": "accounts.tasks.erase_deleted_accounts_task", "schedule": 3600.0},
    "accounts-expire-exports": {"task": "accounts.tasks.expire_data_exports_task", "schedule": 900.0},
    "live-sweep-routes": {"task": "config.sweep_live_routes_task", "schedule": 3600.0},
}

# --- Auth -----------------------------------------------------------------------------
AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "accounts.backends.EmailBackend",
]
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.BCryptSHA256PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher",
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.ScryptPasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "accounts:login"
PASSWORD_RESET_TIMEOUT = env.int("PASSWORD_RESET_TIMEOUT", default=60 * 60)  # one hour
# How long a link that confirms an e-mail address (sign-up, change of address) works, in seconds.
EMAIL_CONFIRMATION_TIMEOUT = env.int("EMAIL_CONFIRMATION_TIMEOUT", default=2 * 24 * 60 * 60)
# Deleting one's account (accounts.deletion): it is deactivated at once and can be restored by
# signing in for this many days; then the beat task erases its personal data.
ACCOUNT_DELETION_GRACE_DAYS = env.int("ACCOUNT_DELETION_GRACE_DAYS", default=14)
# "Download my data" (accounts.data_export): how long the link works, the largest archive (bytes
# of its content before compression) and the longest build; past a bound the export fails cleanly.
ACCOUNT_EXPORT_LINK_HOURS = env.int("ACCOUNT_EXPORT_LINK_HOURS", default=48)
ACCOUNT_EXPORT_MAX_BYTES = env.int("ACCOUNT_EXPORT_MAX_BYTES", default=500 * 1024 * 1024)
ACCOUNT_EXPORT_MAX_SECONDS = env.int("ACCOUNT_EXPORT_MAX_SECONDS", default=90)
# Exports on local storage (outside MEDIA_ROOT; downloaded only by their owner, through the view).
ACCOUNT_EXPORT_ROOT = env.str("ACCOUNT_EXPORT_ROOT", default=str(BASE_DIR / "private-media" / "exports"))

AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("AXES_COOLOFF_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_USERNAME_FORM_FIELD = "username"
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "accounts.views.lockout"
AXES_HANDLER = env.str("AXES_HANDLER", default="axes.handlers.database.AxesDatabaseHandler")
AXES_IPWARE_PROXY_COUNT = env.int("AXES_PROXY_COUNT", default=0)
AXES_IPWARE_META_PRECEDENCE_ORDER = ["HTTP_X_FORWARDED_FOR", "REMOTE_ADDR"]
RATELIMIT_PASSWORD_RESET = env.str("RATELIMIT_PASSWORD_RESET", default="5/h")
RATELIMIT_ENABLE = env.bool("RATELIMIT_ENABLE", default=True)
# Sign-ups per client address, the HTML form and the API together (accounts.ratelimits).
RATELIMIT_SIGN_UP = env.str("RATELIMIT_SIGN_UP", default="10/h")

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "accounts.authentication.LoginJWTAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    # JSON bodies go through the input gate (config.inputs): size, depth and text checked, a 400 otherwise.
    "DEFAULT_PARSER_CLASSES": [
        "config.inputs.GatedJSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    # Every list is one shape: {count, next, previous, results}, ?page= and ?page_size= (config.pagination).
    "DEFAULT_PAGINATION_CLASS": "config.pagination.PagePagination",
    "PAGE_SIZE": 20,
    "EXCEPTION_HANDLER": "config.api.exception_handler",
    # JSON only: the browsable API would answer browsers in HTML; /api/v1/docs/ is the browsable view.
    "DEFAULT_RENDERER_CLASSES": ["config.api.ApiJSONRenderer"],
    # Every API view is throttled per client IP (anonymous) or per user, unless it names its own
    # throttles (sign-up: "register" per IP). Counters live in the cache (Redis when configured,
    # so they are shared by every daphne process). config.throttling: DRF's two, skipped while
    # the cache is down.
    "DEFAULT_THROTTLE_CLASSES": [
        "config.throttling.AnonRateThrottle",
        "config.throttling.UserRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "anon": env.str("API_THROTTLE_ANON", default="60/min"),
        "user": env.str("API_THROTTLE_USER", default="600/min"),
        "register": "10/h",
    },
    # Clients are told apart by REMOTE_ADDR, never by a header they can write: behind nginx,
    # daphne's --proxy-headers has already put the one address nginx sends there.
    "NUM_PROXIES": 0,
}
SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(minutes=env.int("JWT_ACCESS_MINUTES", default=5)),
    "REFRESH_TOKEN_LIFETIME": timedelta(days=env.int("JWT_REFRESH_DAYS", default=7)),
    "ROTATE_REFRESH_TOKENS": True,
    "BLACKLIST_AFTER_ROTATION": True,
    "UPDATE_LAST_LOGIN": True,
    # An access token carries a hash of the password: changing it revokes every token.
    "CHECK_REVOKE_TOKEN": True,
    "SIGNING_KEY": SECRET_KEY,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Lyceum API",
    "DESCRIPTION": "Students, chat and expert help. Authenticate with a JWT from /api/v1/auth/token/.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    # Request bodies get their own components (`…Request`): there a CharField that refuses a
    # blank string says minLength 1, and a file is `format: binary`, as the server reads them.
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {"HelpRequestStatusEnum": "helpdesk.models.HelpRequestStatus"},
    # `<id:…>` (config.converters): a database id, 0 to the largest BIGINT; past it the path is a 404.
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "config.schema.document_framework_errors",
    ],
    "PATH_CONVERTER_OVERRIDES": {
        "id": {"type": "integer", "format": "int64", "minimum": 0, "maximum": MAX_DATABASE_ID},
    },
}

# --- Live socket ----------------------------------------------------------------------
LIVE_TICKET_SECONDS = 30
LIVE_HEARTBEAT_SECONDS = 25

# --- I18n -----------------------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- Files ----------------------------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = Path(env.str("STATIC_ROOT", default=str(BASE_DIR / "staticfiles")))
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_URL = "/media/"
MEDIA_ROOT = Path(env.str("MEDIA_ROOT", default=str(BASE_DIR / "media")))

# S3 through django-storages' own settings (so every S3Storage, including one a test builds,
# gets them): private objects, server-side encryption, signed URLs that expire after 10 minutes.
# Signatures are SigV4, which names the bucket's region: AWS refuses SigV2 on every bucket
# created since 2020, and boto3 still signs SigV2 when no version is set.
AWS_STORAGE_BUCKET_NAME = env.str("AWS_STORAGE_BUCKET_NAME", default="")
AWS_S3_ENDPOINT_URL = env.str("AWS_S3_ENDPOINT_URL", default="") or None
AWS_S3_REGION_NAME = env.str("AWS_S3_REGION_NAME", default="") or None
AWS_S3_SIGNATURE_VERSION = "s3v4"
AWS_DEFAULT_ACL = None
AWS_QUERYSTRING_AUTH = True
AWS_QUERYSTRING_EXPIRE = 600
AWS_S3_FILE_OVERWRITE = False
AWS_S3_OBJECT_PARAMETERS = {"ServerSideEncryption": env.str("AWS_S3_SSE", default="AES256")}
if AWS_STORAGE_BUCKET_NAME:
    if not AWS_S3_REGION_NAME:
        raise ImproperlyConfigured(
            "AWS_S3_REGION_NAME must be set with AWS_STORAGE_BUCKET_NAME: signed URLs (SigV4) name the bucket's region."
        )
    _default_storage = {"BACKEND": "storages.backends.s3.S3Storage"}
else:
    _default_storage = {"BACKEND": "django.core.files.storage.FileSystemStorage"}
STORAGES = {
    "default": _default_storage,
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
AVATAR_MAX_BYTES = 5 * 1024 * 1024
AVATAR_SIZE = 256
# Pixel budgets of every uploaded image (attachments, help documents, avatars, group pictures),
# checked from the header before anything is decoded: config/content_inspection.py, docs/uploads.md.
UPLOAD_IMAGE_MAX_PIXELS = 16_000_000
UPLOAD_IMAGES_MAX_TOTAL_PIXELS = 64_000_000  # per message or help request
DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024

# --- E-mail ---------------------------------------------------------------------------
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="Lyceum <no-reply@lyceum.local>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL


def mailer_from_url(url: str) -> dict:
    """`smtp://user:pass@host:port`, `smtp+tls://…` (STARTTLS), `smtps://…`, `console://`, `locmem://`."""
    parts = urlsplit(url)
    scheme = parts.scheme
    if scheme == "console":
        return {"BACKEND": "django.core.mail.backends.console.EmailBackend"}
    if scheme == "locmem":
        return {"BACKEND": "django.core.mail.backends.locmem.EmailBackend"}
    if scheme not in {"smtp", "smtp+tls", "smtps"}:
        raise ImproperlyConfigured(f"EMAIL_URL scheme {scheme!r} is not supported.")
    query = parse_qs(parts.query)
    return {
        "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "OPTIONS": {
            "host": parts.hostname or "localhost",
            "port": parts.port or (465 if scheme == "smtps" else 587 if scheme == "smtp+tls" else 25),
            "username": unquote(parts.username or ""),
            "password": unquote(parts.password or ""),
            "use_tls": scheme == "smtp+tls",
            "use_ssl": scheme == "smtps",
            "timeout": int(query.get("timeout", ["10"])[0]),
        },
    }


MAILERS = {"default": mailer_from_url(env.str("EMAIL_URL", default="console://"))}

# --- Expert help ----------------------------------------------------------------------
# Fernet keys for help-request documents: the first encrypts, all decrypt (rotate by putting a
# new key first and keeping the old ones for as long as documents encrypted with them exist).
HELPDESK_DOCUMENT_KEYS = env.list("HELPDESK_DOCUMENT_KEYS", default=[])
if not DEBUG and not HELPDESK_DOCUMENT_KEYS:
    raise ImproperlyConfigured(
        "HELPDESK_DOCUMENT_KEYS must be set when DJANGO_DEBUG is off: a Fernet key, e.g. from "
        'python3 -c "import base64, os; print(base64.urlsafe_b64encode(os.urandom(32)).decode())" '
        "(docker compose: make env writes a .env with one)."
    )
# Local storage only: documents live outside MEDIA_ROOT, served by the permission-checked view.
HELPDESK_DOCUMENT_ROOT = env.str("HELPDESK_DOCUMENT_ROOT", default=str(BASE_DIR / "private-media" / "helpdesk"))
HELPDESK_REQUEST_TTL_HOURS = env.int("HELPDESK_REQUEST_TTL_HOURS", default=72)
# "Ask <name> for help": how long the expert asked has the request to themselves before it goes
# to every expert of its category (helpdesk-direct-requests, every minute).
HELPDESK_DIRECT_WINDOW_MINUTES = env.int("HELPDESK_DIRECT_WINDOW_MINUTES", default=240)

# --- Chat -----------------------------------------------------------------------------
# Messages per user: (count, seconds).
CHAT_SEND_RATE = (env.int("CHAT_SEND_RATE_COUNT", default=30), env.int("CHAT_SEND_RATE_SECONDS", default=10))
# A member who has not read a message this long after it arrived gets one batched e-mail.
CHAT_UNREAD_EMAIL_DELAY_SECONDS = env.int("CHAT_UNREAD_EMAIL_DELAY_SECONDS", default=300)
# Shared files on local storage (outside MEDIA_ROOT; served only to members by the chat's view).
CHAT_ATTACHMENT_ROOT = env.str("CHAT_ATTACHMENT_ROOT", default=str(BASE_DIR / "private-media" / "chat"))
CHAT_ATTACHMENT_MAX_BYTES = env.int("CHAT_ATTACHMENT_MAX_BYTES", default=10 * 1024 * 1024)
CHAT_ATTACHMENT_MAX_FILES = env.int("CHAT_ATTACHMENT_MAX_FILES", default=5)
# A socket's presence lapses this long after its last heartbeat (a crashed process's users go offline).
CHAT_PRESENCE_TTL_SECONDS = env.int("CHAT_PRESENCE_TTL_SECONDS", default=2 * LIVE_HEARTBEAT_SECONDS + 10)
# Search looks through this many newest messages first, then the FULLTEXT index (MySQL) for older ones.
CHAT_SEARCH_RECENT_WINDOW = env.int("CHAT_SEARCH_RECENT_WINDOW", default=50_000)

# --- Microsoft Teams (used by helpdesk; placeholders until then) -----------------------
TEAMS_TENANT_ID = env.str("TEAMS_TENANT_ID", default="")
TEAMS_CLIENT_ID = env.str("TEAMS_CLIENT_ID", default="")
TEAMS_CLIENT_SECRET = env.str("TEAMS_CLIENT_SECRET", default="")
TEAMS_ORGANIZER_ID = env.str("TEAMS_ORGANIZER_ID", default="")
TEAMS_AUTHORITY_HOST = env.str("TEAMS_AUTHORITY_HOST", default="https://login.microsoftonline.com")
TEAMS_GRAPH_URL = env.str("TEAMS_GRAPH_URL", default="https://graph.microsoft.com/v1.0")
# PEM bundle of the CA to trust for TEAMS_AUTHORITY_HOST and TEAMS_GRAPH_URL (a TLS-inspecting
# proxy, the test stub). Unset: public CAs (certifi). REQUESTS_CA_BUNDLE is deliberately ignored.
TEAMS_CA_BUNDLE = env.str("TEAMS_CA_BUNDLE", default="") or None
# "graph" (Microsoft Teams), "local" (a join page on this site, for development) or "memory" (tests).
MEETING_PROVIDER = env.str("MEETING_PROVIDER", default="graph" if TEAMS_TENANT_ID else "local")

# --- Security -------------------------------------------------------------------------
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF, CSP.NONCE],
    "style-src": [CSP.SELF],
    "img-src": [CSP.SELF, "data:", "blob:", *env.list("CSP_IMG_SRC", default=[])],
    "font-src": [CSP.SELF],
    "connect-src": [CSP.SELF],
    "frame-ancestors": [CSP.NONE],
    "form-action": [CSP.SELF],
    "base-uri": [CSP.SELF],
    "object-src": [CSP.NONE],
}
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False  # htmx reads it through the page's meta tag instead
if not DEBUG:
    SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=True)
    SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_HSTS_SECONDS = env.int("DJANGO_HSTS_SECONDS", default=60 * 60 * 24 * 365)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True

# --- Logging --------------------------------------------------------------------------
LOG_LEVEL = env.str("LOG_LEVEL", default="INFO")
LOG_FORMAT = env.str("LOG_FORMAT", default="text")  # "text" or "json"
LOGGING_CONFIG = "config.logging.configure"
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_context": {"()": "config.logging.RequestContextFilter"}},
    "formatters": {
        "text": {"format": "%(asctime)s %(levelname)s %(name)s [req=%(request_id)s user=%(user_id)s] %(message)s"},
        "json": {"()": "config.logging.JsonFormatter"},
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT, "filters": ["request_context"]},
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        "daphne": {"level": "WARNING"},
    },
}

# --- Sentry (error monitoring; off unless SENTRY_DSN is set) ------------------------------
SENTRY_DSN = env.str("SENTRY_DSN", default="")
SENTRY_ENVIRONMENT = env.str("SENTRY_ENVIRONMENT", default="development" if DEBUG else "production")
SENTRY_RELEASE = env.str("SENTRY_RELEASE", default="")
SENTRY_TRACES_SAMPLE_RATE = env.float("SENTRY_TRACES_SAMPLE_RATE", default=0.0)
if SENTRY_DSN:
    from config.sentry import init_sentry

    init_sentry(
        dsn=SENTRY_DSN,
        environment=SENTRY_ENVIRONMENT,
        release=SENTRY_RELEASE,
        traces_sample_rate=SENTRY_TRACES_SAMPLE_RATE,
    )
# Seconds a daphne process's live-socket count (admin status page) lives in Redis unrefreshed.
LIVE_SOCKETS_TTL = env.int("LIVE_SOCKETS_TTL", default=60)

# User.email is unique case-insensitively through the unique generated column email_lower,
# which Django's check cannot see; the login backend looks addresses up case-insensitively.
# mysql.W003 fires on that generated column although it is varchar(254), within the
# 767-byte utf8mb4 index limit; MariaDB creates the unique key (checked in CI's services run).
SILENCED_SYSTEM_CHECKS = ["auth.W004", "mysql.W003"]
