"""Request id for every request (set on the response, carried into the logs), and the reader's
time zone for every page."""

import contextvars
import logging
import time
import uuid

from django.utils import timezone

from config.timezones import in_zone_of

request_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")
user_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("user_id", default="-")

logger = logging.getLogger("lyceum.request")


class RequestIdMiddleware:
    """Gives each request an id (or keeps a sane one from the proxy) and logs one line for it."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        incoming = request.headers.get("X-Request-ID", "")
        request_id = (
            incoming
            if incoming.isascii() and 8 <= len(incoming) <= 64 and incoming.replace("-", "").isalnum()
            else uuid.uuid4().hex
        )
        request.request_id = request_id
        token = request_id_var.set(request_id)
        started = time.monotonic()
        try:
            response = self.get_response(request)
            user = getattr(request, "user", None)
            if user is not None and user.is_authenticated:
                user_id_var.set(str(user.pk))
                request.log_user_id = str(user.pk)  # for records logged after this returns
            response["X-Request-ID"] = request_id
            if not request.path.startswith(("/static/", "/healthz")):
                logger.info(
                    "%s %s %s %.1fms",
                    request.method,
                    request.path,
                    response.status_code,
                    (time.monotonic() - started) * 1000,
                    extra={"client": request.META.get("REMOTE_ADDR", "")},
                )
            return response
        finally:
            request_id_var.reset(token)
            user_id_var.set("-")


class TimeZoneMiddleware:
    """Pages show the signed-in user's local time: their `time_zone` is the active zone for the
    request (template `date`/`time` filters and `timezone.localtime()` follow it). Anonymous
    visitors see the site's default. The API (/api/) stays in UTC whoever asks, so clients get
    one timestamp format and render it in their user's zone themselves."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if request.path.startswith("/api/") or user is None or not user.is_authenticated:
            timezone.deactivate()
            return self.get_response(request)
        with in_zone_of(user):
            return self.get_response(request)
