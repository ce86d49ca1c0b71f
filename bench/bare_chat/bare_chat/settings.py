"""The Channels tutorial's chat, as bare as it comes: the yardstick for bench/chat_load.py.

No database, no sessions in use, one daphne process, and the tutorial's channel layer
(`channels_redis.core.RedisChannelLayer` with its defaults: capacity 100, expiry 60 s,
redis-py's default connection pool of 100). Only the Redis address comes from the environment
(`BARE_CHAT_REDIS_URL`), so the benchmark can give it a private redis-server.

One deviation from the tutorial, without which it does not run on today's libraries:
`socket_timeout=None`. redis-py 8 sets a 5 s socket timeout, equal to the layer's 5 s blocking
receive, so every consumer that sits idle for 5 s dies with "Timeout reading from
127.0.0.1:…" (channels_redis#422) and its socket closes with 1011. Measured here without it:
8 of 1,000 sockets died during a 60 s connect burst.
"""

import os

SECRET_KEY = "bare-chat-benchmark-only"
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "channels",
    "bare_chat",
]
DATABASES: dict = {}
ROOT_URLCONF = "bare_chat.urls"
ASGI_APPLICATION = "bare_chat.asgi.application"
USE_TZ = True
CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        "CONFIG": {
            "hosts": [
                {"address": os.environ.get("BARE_CHAT_REDIS_URL", "redis://127.0.0.1:6379/0"), "socket_timeout": None}
            ]
        },
    }
}
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": "WARNING"},
}
