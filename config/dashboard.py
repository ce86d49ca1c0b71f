"""The figures staff watch, on the admin index (config/admin_site.py, templates/admin/index.html).

Open help requests by category, how long the open ones have waited (median and oldest), the
reports waiting for a moderator, the meetings that could not be created, and help requests per
day over the last two weeks as a small bar chart (an inline SVG drawn here: no script, no CDN,
nothing the strict CSP would block). Figures only: no personal data, no message text. A handful
of aggregate queries, whatever the table sizes (each uses an index of its model).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Count, Min, Q
from django.urls import reverse
from django.utils import timezone

from helpdesk.models import HelpRequest, HelpRequestStatus, MeetingState
from social.models import Report

TREND_DAYS = 14
# The chart's drawing box (SVG user units); the CSS scales it to the module's width.
CHART_WIDTH = 560
CHART_HEIGHT = 80
BAR_GAP = 8


@dataclass(frozen=True)
class Bar:
    day: datetime
    count: int
    x: int
    y: int
    width: int
    height: int


@dataclass(frozen=True)
class Trend:
    bars: list[Bar]
    total: int
    peak: int
    width: int = CHART_WIDTH
    height: int = CHART_HEIGHT


def _changelist(name: str, **query: object) -> str:
    url = reverse(f"admin:{name}_changelist")
    if not query:
        return url
    return url + "?" + "&".join(f"{key}={value}" for key, value in query.items())


def open_by_category() -> list[dict]:
    """Open requests per category, biggest first: [{"name", "count", "url"}]."""
    rows = (
        HelpRequest.objects.filter(status=HelpRequestStatus.OPEN)
        .values("category_id", "category__name")
        .annotate(n=Count("pk"))
        .order_by("-n", "category__name")
    )
    return [
        {
            "name": row["category__name"],
            "count": row["n"],
            "url": _changelist("helpdesk_helprequest", status__exact="open", category__id__exact=row["category_id"]),
        }
        for row in rows
    ]


def waiting_times(now: datetime) -> dict:
    """How long the open requests have waited: their count, the median and the oldest wait."""
    created = HelpRequest.objects.filter(status=HelpRequestStatus.OPEN).order_by("created_at", "pk")
    count = created.count()
    if not count:
        return {"count": 0, "median": None, "oldest": None}
    times = created.values_list("created_at", flat=True)
    middle = [times[(count - 1) // 2], times[count // 2]]
    median_created = middle[0] + (middle[1] - middle[0]) / 2
    return {"count": count, "median": now - median_created, "oldest": now - times[0]}


def pending_reports(now: datetime) -> dict:
    figures = Report.objects.filter(handled=False).aggregate(n=Count("pk"), oldest=Min("created_at"))
    return {
        "count": figures["n"],
        "oldest": now - figures["oldest"] if figures["oldest"] else None,
        "url": _changelist("social_report", handled__exact=0),
    }


def failed_meetings() -> dict:
    count = HelpRequest.objects.filter(status=HelpRequestStatus.SCHEDULED, meeting_state=MeetingState.FAILED).count()
    return {
        "count": count,
        "url": _changelist("helpdesk_helprequest", status__exact="scheduled", meeting_state__exact="failed"),
    }


def requests_per_day(now: datetime, days: int = TREND_DAYS) -> Trend:
    """New help requests per local day (the site's time zone), the last `days` days up to today,
    in ONE query: a filtered count per day boundary computed here, so no database time-zone
    functions are needed (MariaDB without its zone tables answers NULL to CONVERT_TZ)."""
    today = timezone.localtime(now).replace(hour=0, minute=0, second=0, microsecond=0)
    starts = [today - timedelta(days=days - 1 - i) for i in range(days)]
    # Each boundary is a local midnight: rebuilt from the date, so a DST change stays exact.
    starts = [timezone.make_aware(datetime(s.year, s.month, s.day)) for s in starts]
    ends = [*starts[1:], starts[-1] + timedelta(days=1)]
    counts = HelpRequest.objects.filter(created_at__gte=starts[0]).aggregate(
        **{
            f"d{i}": Count("pk", filter=Q(created_at__gte=start, created_at__lt=end))
            for i, (start, end) in enumerate(zip(starts, ends, strict=True))
        }
    )
    values = [counts[f"d{i}"] for i in range(days)]
    peak = max(values) if values else 0
    slot = CHART_WIDTH // days
    bars = []
    for i, (start, value) in enumerate(zip(starts, values, strict=True)):
        height = round(value / peak * (CHART_HEIGHT - 2)) if peak else 0
        if value and height < 2:
            height = 2  # a day with one request still shows
        bars.append(
            Bar(day=start, count=value, x=i * slot, y=CHART_HEIGHT - height, width=slot - BAR_GAP, height=height)
        )
    return Trend(bars=bars, total=sum(values), peak=peak)


def collect(now: datetime | None = None) -> dict:
    now = now or timezone.now()
    return {
        "open_by_category": open_by_category(),
        "waiting": waiting_times(now),
        "reports": pending_reports(now),
        "failed_meetings": failed_meetings(),
        "trend": requests_per_day(now),
        "open_url": _changelist("helpdesk_helprequest", status__exact="open"),
    }
