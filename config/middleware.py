"""Request id for every request (set on the response, carried into the logs), the reader's
time zone for every page, the API's errors as JSON, private caching, and the pages' one answer
to a refusal."""

import contextvars
import logging
import time
import uuid

from django.utils import timezone
from django.utils.cache import patch_cache_control

from config.timezones import in_zone_of

request_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")
user_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("user_id", default="-")

logger = logging.getLogger("lyceum.request")

# URL parts that are credentials: a password-reset link's token, an e-mail confirmation token.
SECRET_URL_KWARGS = ("token",)
REDACTED = "[redacted]"


def loggable_path(request) -> str:
    """The request's path as a log line may show it: without the query string (a live ticket,
    a pasted token) and with the URL's secret parts (SECRET_URL_KWARGS of the route it
    matched) blanked: whoever reads the logs must not be able to follow a reset or
    confirmation link."""
    path = request.path
    match = getattr(request, "resolver_match", None)
    for name in SECRET_URL_KWARGS:
        value = match.kwargs.get(name) if match is not None else None
        if value:
            path = path.replace(str(value), REDACTED)
    return path


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
                    loggable_path(request),
                    response.status_code,
                    (time.monotonic() - started) * 1000,
                    extra={"client": request.META.get("REMOTE_ADDR", "")},
                )
            return response
        finally:
            request_id_var.reset(token)
            user_id_var.set("-")


API_PREFIX = "/api/"


class TimeZoneMiddleware:
    """Pages show the signed-in user's local time: their `time_zone` is the active zone for the
    request (template `date`/`time` filters and `timezone.localtime()` follow it). Anonymous
    visitors see the site's default. The API (/api/) stays in UTC whoever asks, so clients get
    one timestamp format and render it in their user's zone themselves."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if request.path.startswith(API_PREFIX) or user is None or not user.is_authenticated:
            timezone.deactivate()
            return self.get_response(request)
        with in_zone_of(user):
            return self.get_response(request)


# Headers of an error answer that still mean something once its body is JSON.
_KEPT_HEADERS = ("Allow", "Retry-After", "WWW-Authenticate", "X-Request-ID", "Vary")


class ApiErrorsAsJsonMiddleware:
    """Every error answer under /api/ is JSON in the API's one shape (config.api.error_body).

    DRF answers its own errors in JSON; this covers what Django answers around it: a path that
    matches no route or whose value does not fit its converter (404), a body larger than
    DATA_UPLOAD_MAX_MEMORY_SIZE or a bad Host (400), an unhandled error (500), and the debug
    pages DEBUG shows for those. The API's documentation pages (HTML) answer 200 and are left
    alone, as is every answer that already is JSON."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if not request.path.startswith(API_PREFIX) or response.status_code < 400:
            return response
        if response.get("Content-Type", "").startswith("application/json"):
            return response
        # Imported here: the logging set-up imports this module before Django's apps are ready.
        from django.http import JsonResponse

        from config.api import error_body

        json_response = JsonResponse(error_body(None, response.status_code), status=response.status_code)
        for header in _KEPT_HEADERS:
            if header in response:
                json_response[header] = response[header]
        return json_response


class PrivateCacheMiddleware:
    """What a signed-in person is shown, and every API answer, is `Cache-Control: private`: a
    shared cache (a proxy, a CDN) must never keep one person's page for another. Directives a
    view set itself stay (no-store on documents and downloads, max-age on thumbnails); `public`
    gives way. Listed after AuthenticationMiddleware, so DRF's token users count too (DRF puts
    the user it authenticated on the request) and the session's Vary: Cookie is still added."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        user = getattr(request, "user", None)
        if request.path.startswith(API_PREFIX) or (user is not None and user.is_authenticated):
            patch_cache_control(response, private=True)
        return response


class RefusalMiddleware:
    """The pages' one answer to a rule's refusal (config.refusals.Refusal) that a view lets
    through: the message on the next page (`tell`) and a redirect back (`back_url`: the form's
    safe `next`, else the same-site Referer, else home); a dependency that is down
    (config.unavailable.Unavailable) gets the 503 page instead, as there is nothing to go back to.
    A page's script that asks for JSON (`Accept: application/json`, chat's uploads and
    reactions) gets the API's refusal body and status instead. The transaction the service ran
    in is already rolled back, so nothing changed. The API (/api/) answers refusals itself
    (config.api.exception_handler) and is left alone. Listed after MessageMiddleware."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        # Imported here: the logging set-up imports this module before Django's apps are ready.
        from config import unavailable
        from config.refusals import Refusal, back_url, tell, with_retry_after

        if not isinstance(exception, Refusal) or request.path.startswith(API_PREFIX):
            return None
        if request.headers.get("Accept", "").startswith("application/json"):
            from django.http import JsonResponse

            return with_retry_after(JsonResponse(exception.body(), status=exception.status), exception)
        if isinstance(exception, unavailable.Unavailable):
            return unavailable.page(request, exception)
        tell(request, exception)
        from django.http import HttpResponseRedirect

        # Not django.shortcuts.redirect: it would take a target without "/" for a view name.
        return HttpResponseRedirect(back_url(request))
