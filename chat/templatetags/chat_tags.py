"""Message bodies as safe HTML: escaped first, then http(s) links and @mentions marked up.

static/js/chat.js renders live messages with the same rules (DOM APIs, no innerHTML).
"""

import re

from django import template
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

register = template.Library()

# Runs on ESCAPED text: a URL stops at whitespace and at characters escape() produced from < > " '.
URL_RE = re.compile(r"\bhttps?://(?:(?!&quot;|&#x27;|&lt;|&gt;)[^\s<>\"'])+", re.IGNORECASE)
MENTION_RE = re.compile(r"(?<![\w@/&#;])@([A-Za-z][\w.-]{0,60}[\w])")
TRAILING = ".,:;!?)]}"


def _link(match: re.Match) -> str:
    url = match.group(0)
    tail = ""
    while url and url[-1] in TRAILING:
        tail = url[-1] + tail
        url = url[:-1]
    return f'<a href="{url}" rel="noopener nofollow" target="_blank">{url}</a>{tail}'


@register.filter
def chat_body(text: str) -> SafeString:
    escaped = str(escape(text or ""))
    parts = []
    position = 0
    for match in URL_RE.finditer(escaped):
        parts.append(MENTION_RE.sub(r'<span class="mention">@\1</span>', escaped[position : match.start()]))
        parts.append(_link(match))
        position = match.end()
    parts.append(MENTION_RE.sub(r'<span class="mention">@\1</span>', escaped[position:]))
    # Safe: every part was built from escaped text.
    return mark_safe("".join(parts))
