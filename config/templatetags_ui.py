"""Presentation helpers available in every template (TEMPLATES OPTIONS "builtins").

Widgets render their own attributes, so a template cannot add Bootstrap classes to them; these
filters can, without each form having to know about the CSS framework.
"""

import functools
import json
import zlib
from pathlib import Path

from django import template
from django.conf import settings
from django.forms.boundfield import BoundField
from django.templatetags.static import static
from django.urls import NoReverseMatch, reverse
from django.utils.safestring import SafeString, mark_safe

from config import timezones

register = template.Library()

# widget_type (BoundField.widget_type) -> the Bootstrap class of the control.
_WIDGET_CLASSES = {
    "checkbox": "form-check-input",
    "radio": "form-check-input",
    "select": "form-select",
    "selectmultiple": "form-select",
    "nullbooleanselect": "form-select",
    "selectdate": "form-select",
    "range": "form-range",
    "color": "form-control form-control-color",
}

AVATAR_TONES = 8


@register.filter
def add_class(field: BoundField, css: str):
    """Render the field's widget with extra classes, keeping the ones the form set."""
    existing = field.field.widget.attrs.get("class", "")
    return field.as_widget(attrs={"class": f"{existing} {css}".strip()})


@register.filter
def bootstrap_class(field: BoundField) -> str:
    """The Bootstrap class for this field's control, plus `is-invalid` when it has errors."""
    css = _WIDGET_CLASSES.get(field.widget_type, "form-control")
    if field.errors:
        css += " is-invalid"
    return css


@register.filter
def bootstrap_widget(field: BoundField):
    """The widget rendered with its Bootstrap class (and `is-invalid` when the field has errors)."""
    return add_class(field, bootstrap_class(field))


@register.filter
def avatar_tone(person) -> int:
    """A stable colour (0..7) for an initials avatar, the same on every page for one person."""
    key = str(getattr(person, "public_id", None) or getattr(person, "pk", "") or person)
    return zlib.crc32(key.encode()) % AVATAR_TONES


def _url(name: str, fallback: str = "") -> str:
    try:
        return reverse(name)
    except NoReverseMatch:
        return fallback


@register.simple_tag
def profile_checklist(user) -> dict:
    """What a student's profile still lacks, for the dashboard's nudge.

    Returns {"steps": [{"label", "done", "icon"}], "done": n, "total": n, "complete": bool}.
    """
    steps = [
        {"label": "Add a profile photo", "icon": "bi-camera", "done": bool(user.avatar)},
        {"label": "Say which university you are at", "icon": "bi-building", "done": bool(user.university)},
        {"label": "Add your course", "icon": "bi-journal-bookmark", "done": bool(user.course)},
        {"label": "Write a short bio", "icon": "bi-chat-quote", "done": bool(user.bio)},
        {"label": "List a few interests", "icon": "bi-stars", "done": bool(user.interests)},
    ]
    done = sum(step["done"] for step in steps)
    return {
        "steps": steps,
        "done": done,
        "total": len(steps),
        "complete": done == len(steps),
        "edit_url": _url("accounts:profile_edit", "#"),
    }


@register.filter
def page_range(page, on_each_side: int = 1):
    """Page numbers around the current one, with Paginator.ELLIPSIS where pages are skipped."""
    return page.paginator.get_elided_page_range(page.number, on_each_side=on_each_side, on_ends=1)


JS_DIR = Path(settings.BASE_DIR) / "static" / "js"


@functools.cache
def _js_import_map() -> str:
    imports = {}
    for path in sorted(JS_DIR.rglob("*.js")):
        name = f"js/{path.relative_to(JS_DIR).as_posix()}"
        imports[f"{settings.STATIC_URL}{name}"] = static(name)
    # In a <script> element: "<" escaped so no text can close it.
    return json.dumps({"imports": imports}, separators=(",", ":")).replace("<", "\\u003c")


@register.simple_tag
def js_import_map() -> SafeString:
    """The import map's JSON for the site's ES modules (static/js): each module's plain static
    URL → its URL from the static files storage (hashed in production). Modules import each
    other by relative paths, which the browser resolves to the plain URLs and this map turns
    into the hashed ones, so a page never mixes two releases' modules."""
    return mark_safe(_js_import_map())  # JSON of our own file names, "<" escaped


@register.simple_tag
def time_range(start, end, short: bool = False) -> str:
    """A session or slot in the reader's zone (the active one): "Sunday 1 November 2026,
    09:00-10:00 PST" (short: "Sun 1 Nov 2026, …"). Empty when a bound is missing."""
    if not start or not end:
        return ""
    return timezones.format_range(start, end, day=timezones.SHORT_DAY if short else timezones.LONG_DAY)


@register.filter
def local_moment(moment) -> str:
    """One instant in the reader's zone: "Sun 1 Nov 2026, 09:00 PST"."""
    return timezones.format_moment(moment) if moment else ""


@register.filter
def duration_short(value) -> str:
    """A timedelta as the one or two largest units staff read at a glance: "3 d 4 h", "2 h 5 min",
    "12 min", "under a minute". Empty for None."""
    if value is None:
        return ""
    seconds = max(0, int(value.total_seconds()))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    if days:
        return f"{days} d {hours} h" if hours else f"{days} d"
    if hours:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    if minutes:
        return f"{minutes} min"
    return "under a minute"
