"""Celery application. Settings come from Django's settings under the CELERY_ prefix."""

import os

from celery import Celery, signals

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


@app.task(name="config.sweep_live_routes_task")
def sweep_live_routes_task() -> bool:
    """Beat, hourly: drop the route entries of live server processes that died (restarts,
    deploys) from groups that got no event since (live.layer.sweep_configured_routes; a publish
    prunes the groups it reads itself). False when the layer routes no events."""
    from live.layer import sweep_configured_routes

    return sweep_configured_routes()


@signals.task_failure.connect
def _record_task_failure(sender=None, task_id=None, exception=None, **kwargs):
    """A failed task is listed on the admin status page (config/status.py): Redis, capped."""
    from config.status import record_task_failure

    record_task_failure(task_name=getattr(sender, "name", str(sender)), task_id=str(task_id), exception=exception)
