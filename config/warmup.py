"""What a daphne process does once at start so that its first sockets do not pay for it.

Celery sets itself up lazily: the first `apply_async` of a process (a chat send schedules the
unread e-mail of its window) registers the tasks, imports the broker transport and builds the
producer pool, all of it under the GIL, so every socket of that process would stall while the
first messages after a deploy are sent. Done here at start instead. Nothing here opens a
connection: a broker that is down at start costs nothing until a task is sent.
"""

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
