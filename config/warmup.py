"""What a server process (uvicorn, daphne) does once at start so that its first sockets do not
pay for it.

Celery sets itself up lazily: the first `apply_async` of a process (a chat send schedules the
unread e-mail of its window) registers the tasks, imports the broker transport and builds the
producer pool, all of it under the GIL, so every socket of that process would stall while the
first messages after a deploy are sent. Done here at start instead. Nothing here opens a
connection: a broker that is down at start costs nothing until a task is sent.

Then everything the start-up made (Django's apps, models, URL patterns, templates: some 160,000
objects the garbage collector tracks) is moved out of the collector's sight with `gc.freeze()`,
as CPython's documentation advises for a long-lived server: those objects live as long as the
process, and every full collection would otherwise walk them again. A full collection stops the
event loop, and with thousands of sockets it is the longest pause a delivery meets.

The sockets' own objects (~230 per socket) cannot be frozen: they die with their socket. So the
collector's thresholds come from settings.GC_THRESHOLDS (50,000 / 20 / 100 by default, against
CPython's 700 / 10 / 10): young collections 70 times rarer, and a full collection — over a
million objects and about a second at 5,000 sockets per process — after 100 middle ones instead
of 10. Measured at 10,000 sockets (docs/benchmarks.md, "10,000 sockets"): the burst's collector
pauses 7 → 2 s per process, and no full collection in the steps that follow; the price is the
cyclic garbage that waits longer (~7 KiB more per socket).
"""

import gc
import logging

logger = logging.getLogger(__name__)


def warm_up() -> None:
    try:
        from config.celery import app

        app.loader.import_default_modules()  # every app's tasks module (autodiscovery), as a worker does
        app.finalize(auto=True)  # the task registry
        app.amqp.producer_pool  # noqa: B018 - the producer pool (connections are made on first use)
        app.backend  # noqa: B018 - the result backend (disabled here, but resolved lazily)
        app.connection_for_write().transport  # noqa: B018 - imports the broker's transport module
    except Exception:  # a warm-up must never stop the server from starting
        logger.warning("warm-up of the Celery client failed; it will set itself up on first use", exc_info=True)
    freeze_start_up()


def freeze_start_up() -> None:
    """Everything alive now out of the collector's full collections (see the module docstring),
    and settings.GC_THRESHOLDS, when set, as the collector's thresholds."""
    from django.conf import settings

    gc.collect()  # what the start-up left as garbage goes now, not frozen for good
    gc.freeze()
    thresholds = list(getattr(settings, "GC_THRESHOLDS", None) or [])
    if thresholds:
        gc.set_threshold(*thresholds)
