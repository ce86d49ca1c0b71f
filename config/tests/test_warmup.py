"""config.warmup: the Celery client is set up at start, without connecting to anything, and
the start-up's objects are frozen out of the garbage collector's full collections."""

import gc
import socket
import time

import pytest

from config import warmup
from config.celery import app

# Celery's Django fix-up closes the database connections when it imports the task modules (the
# first warm-up of a test process does): allowed, as it is in a server.
pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _unfrozen():
    thresholds = gc.get_threshold()
    yield
    gc.unfreeze()  # the test process is not a server: its objects go back to the collector
    gc.set_threshold(*thresholds)


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]  # nothing listens there once the socket is closed


def test_warm_up_sets_celery_up_without_touching_the_broker(monkeypatch):
    monkeypatch.setattr(app.conf, "broker_url", f"redis://127.0.0.1:{_closed_port()}/0")
    monkeypatch.setattr(warmup, "freeze_start_up", lambda: None)  # a collection of the test process's heap
    started = time.monotonic()
    warmup.warm_up()
    assert time.monotonic() - started < 2  # no connection attempt, no retry loop
    assert app.finalized
    assert "chat.tasks.email_unread_messages_task" in app.tasks


def test_a_failing_warm_up_is_logged_and_the_server_starts_anyway(monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("no transport")

    warnings = []
    monkeypatch.setattr(app, "connection_for_write", broken)
    monkeypatch.setattr(warmup.logger, "warning", lambda message, *args, **kwargs: warnings.append(message))
    warmup.warm_up()  # does not raise
    assert warnings == ["warm-up of the Celery client failed; it will set itself up on first use"]


def test_warm_up_freezes_the_start_ups_objects_out_of_full_collections():
    gc.unfreeze()

    warmup.warm_up()

    assert gc.get_freeze_count() > 10_000


def test_warm_up_sets_the_collectors_thresholds_from_the_settings(settings):
    settings.GC_THRESHOLDS = [12_345, 17, 99]
    warmup.freeze_start_up()
    assert gc.get_threshold() == (12_345, 17, 99)


def test_no_thresholds_keep_the_collectors_own(settings):
    before = gc.get_threshold()
    settings.GC_THRESHOLDS = []
    warmup.freeze_start_up()
    assert gc.get_threshold() == before
