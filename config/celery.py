"""Celery application. Settings come from Django's settings under the CELERY_ prefix."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("lyceum")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@app.task(name="config.ping_task")
def ping_task(key: str = "", value: str = "pong") -> str:
    """A worker is alive and consuming: leaves `value` in the cache under `key` (no result backend)."""
    if key:
        from django.core.cache import cache

        cache.set(key, value, timeout=300)
    return value
