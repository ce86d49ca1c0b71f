"""Template helpers of the chat pages: message bodies (chat.formatting) and day separators."""

import datetime

from django import template
from django.utils import timezone
from django.utils.dateformat import format as date_format
from django.utils.safestring import SafeString

from chat.formatting import render_body

register = template.Library()


@register.filter
def chat_body(text: str) -> SafeString:
    """A message body as safe HTML: the same renderer as the socket's and the API's body_html."""
    return render_body(text)


@register.filter
def chat_day(moment: datetime.datetime) -> str:
    """A day separator's label in the active time zone: "Today", "Yesterday", "Monday 3 March"
    (with the year when it is not this one). static/js/chat/format.js's dayLabel says the same
    in the browser's zone, and replaces these when JavaScript runs."""
    day = timezone.localtime(moment).date()
    today = timezone.localdate()
    if day == today:
        return "Today"
    if day == today - datetime.timedelta(days=1):
        return "Yesterday"
    return date_format(day, "l j F" if day.year == today.year else "l j F Y")


@register.filter
def chat_day_key(moment: datetime.datetime) -> str:
    """The calendar day a message belongs to in the active zone, "YYYY-MM-DD"."""
    return timezone.localtime(moment).date().isoformat()
