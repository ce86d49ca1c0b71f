"""The staff-only status page: /admin/status/, linked from the admin index.

Live sockets per process, the Celery queue, recent failed tasks (config/status.py), the e-mail
outbox (notifications' EmailDelivery) and the meetings still pending or failed (helpdesk).
`?format=json` answers the same figures as JSON (for a monitoring probe logged in as staff).
Non-staff are sent to the admin login.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.admin.views.decorators import staff_member_required
from django.db.models import Count
from django.http import JsonResponse
from django.shortcuts import render
from django.views.decorators.http import require_POST

from config import status
from config.sentry import sentry_enabled
from helpdesk.models import HelpRequest, HelpRequestStatus, MeetingState
from notifications.models import EmailDelivery


def email_outbox(limit: int = 10) -> dict[str, Any]:
    counts = dict(EmailDelivery.objects.values_list("status").annotate(n=Count("pk")).order_by())
    S = EmailDelivery.Status
    failed = list(
        EmailDelivery.objects.filter(status=S.FAILED)
        .order_by("-updated_at")
        .values("pk", "attempts", "last_error", "updated_at")[:limit]
    )
    return {
        "pending": counts.get(S.PENDING, 0),
        "sending": counts.get(S.SENDING, 0),
        "failed": counts.get(S.FAILED, 0),
        "sent": counts.get(S.SENT, 0),
        "latest_failed": failed,
    }


def meetings(limit: int = 10) -> dict[str, Any]:
    scheduled = HelpRequest.objects.filter(status=HelpRequestStatus.SCHEDULED)
    rows = list(
        scheduled.filter(meeting_state__in=[MeetingState.PENDING, MeetingState.FAILED])
        .order_by("-updated_at")
        .values("pk", "public_id", "meeting_state", "meeting_error", "scheduled_start", "updated_at")[:limit]
    )
    return {
        "pending": scheduled.filter(meeting_state=MeetingState.PENDING).count(),
        "failed": scheduled.filter(meeting_state=MeetingState.FAILED).count(),
        "latest": rows,
    }


def collect() -> dict[str, Any]:
    sockets, sockets_error = status.live_sockets_by_process()
    failures, failures_error = status.recent_task_failures()
    return {
        "process": status.PROCESS_ID,
        "live_sockets": {
            "processes": sockets,
            "total": sum(row["count"] for row in sockets),
            "error": sockets_error,
        },
        "celery": status.celery_queue(),
        "emails": email_outbox(),
        "meetings": meetings(),
        "failed_tasks": {"latest": failures, "error": failures_error},
    }


@staff_member_required
def status_view(request):
    data = collect()
    if request.GET.get("format") == "json":
        return JsonResponse(data)
    context = {
        **admin.site.each_context(request),
        "title": "Site status",
        "status": data,
        "sentry_enabled": sentry_enabled(),
    }
    return render(request, "admin/status.html", context)


class SentryCheckError(RuntimeError):
    """Raised on purpose by /admin/status/sentry-check/ to prove error reports reach Sentry."""


@staff_member_required
@require_POST
def sentry_check_view(request):
    """Staff verify error monitoring end to end: this view fails unhandled (a 500) on purpose.
    POST only (the status page's button, with its CSRF token): no link can trigger it.

    The local variable below holds the staff member's e-mail address on purpose too: the report
    Sentry receives must show it masked (config/sentry.py scrubs frame variables as well).
    """
    requested_by = request.user.email
    raise SentryCheckError(f"Sentry check requested from the status page by {requested_by}")
