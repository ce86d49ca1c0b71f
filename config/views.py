"""Site-level pages: the home dashboard and the load balancer's health checks."""

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.http import HttpResponseNotAllowed, HttpResponsePermanentRedirect, JsonResponse
from django.shortcuts import render
from django.templatetags.static import static
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from chat import selectors as chat_selectors
from config import next_steps
from config.context_processors import badge_counts
from experts.selectors import is_verified_expert
from notifications import selectors as notification_selectors


def home(request):
    """The landing page for visitors; the dashboard (with recent notifications) for students."""
    if not request.user.is_authenticated:
        return render(request, "home_public.html")
    return render(
        request,
        "home.html",
        {
            "recent_notifications": notification_selectors.recent_for(user=request.user, limit=5),
            "recent_chats": chat_selectors.list_conversations_for(user=request.user, limit=4),
            "next_steps": next_steps.progress_of(user=request.user),
        },
    )


@never_cache
def nav_badges(request):
    """The navbar's People and Queue badge counts as JSON, for static/js/nav-badges.js. An
    anonymous caller is refused before anything else, whatever the method."""
    user = request.user
    if not user.is_authenticated:
        return JsonResponse({"errors": {"session": ["Log in to see your counts."]}}, status=401)
    if request.method != "GET":
        return HttpResponseNotAllowed(["GET"])
    return JsonResponse(badge_counts(user, is_expert=is_verified_expert(user=user)))


@never_cache
@require_GET
def healthz(request):
    """The process is up and serving. Touches nothing else."""
    return JsonResponse({"status": "ok"})


@never_cache
@require_GET
def readyz(request):
    """Ready to take traffic: the database, Redis (when configured) and a separate Celery broker answer."""
    checks: dict[str, str] = {}
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        checks["database"] = "ok"
    except Exception as exc:  # noqa: BLE001
        checks["database"] = f"error: {type(exc).__name__}"
    if settings.REDIS_URL:
        try:
            cache.set("readyz", "1", 5)
            checks["redis"] = "ok" if cache.get("readyz") == "1" else "error: no round trip"
        except Exception as exc:  # noqa: BLE001
            checks["redis"] = f"error: {type(exc).__name__}"
    if settings.CELERY_BROKER_URL and settings.CELERY_BROKER_URL != settings.REDIS_URL:
        checks["broker"] = _broker_check(settings.CELERY_BROKER_URL)
    ready = all(value == "ok" for value in checks.values())
    return JsonResponse({"status": "ok" if ready else "unavailable", "checks": checks}, status=200 if ready else 503)


def _broker_check(url: str) -> str:
    """One cheap connection attempt to a Celery broker that is not REDIS_URL (at most ~2 s)."""
    from kombu import Connection

    options = {"socket_connect_timeout": 2, "socket_timeout": 2}
    try:
        with Connection(url, connect_timeout=2, transport_options=options) as broker:
            broker.ensure_connection(max_retries=1, interval_start=0, interval_step=0, timeout=2)
    except Exception as exc:  # noqa: BLE001
        return f"error: {type(exc).__name__}"
    return "ok"


@require_GET
def favicon(request):
    """Browsers ask for /favicon.ico whatever the page's <link rel="icon"> says. Resolved per
    request: the hashed static name exists only after collectstatic."""
    return HttpResponsePermanentRedirect(static("img/favicon.svg"))
