"""Message bodies as safe HTML: the one renderer for the page, the socket and the API.

The text is escaped FIRST; the markup is then added to escaped text only, so nothing a user
types can become an element or an attribute. The subset (docs/chat-ui.md):

- ```code blocks``` (a language word after the opening fence is ignored) → <pre><code>
- `inline code` → <code>; nothing inside code is formatted or linked
- **bold** → <strong>, *italics* or _italics_ → <em> (within a line; not inside words, so
  snake_case and 2*3*4 stay as they are)
- http(s) URLs → links (rel="noopener nofollow", new tab), trailing punctuation left out
- @mentions → <span class="mention">
- line breaks → <br>

`message_payload` (chat.realtime) carries the result as `body_html`; static/js/chat/render.js
inserts it through an allowlist of exactly these elements and attributes.
"""

import re

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

# On raw text: a fenced block, optionally with a language word on the fence line.
FENCE_RE = re.compile(r"```(?:[\w+#.-]*\n)?(.*?)\n?```", re.DOTALL)
# The rest run on ESCAPED text.
INLINE_CODE_RE = re.compile(r"`([^`\n]+)`")
# A URL stops at whitespace and at the entities escape() produced from < > " '.
URL_RE = re.compile(r"\bhttps?://(?:(?!&quot;|&#x27;|&lt;|&gt;)[^\s<>\"'\x00])+", re.IGNORECASE)
BOLD_RE = re.compile(r"(?<![\w*])\*\*(?=\S)([^\n]+?)(?<=\S)\*\*(?![\w*])")
ITALIC_STAR_RE = re.compile(r"(?<![\w*])\*(?=[^\s*])([^*\n]+?)(?<=[^\s*])\*(?![\w*])")
ITALIC_UNDERSCORE_RE = re.compile(r"(?<![\w_])_(?=[^\s_])([^_\n]+?)(?<=[^\s_])_(?![\w_])")
MENTION_RE = re.compile(r"(?<![\w@/&#;])@([A-Za-z][\w.-]{0,60}[\w])")
TRAILING = ".,:;!?)]}*_"  # left out of a link: punctuation, and emphasis closing around it
PLACEHOLDER_RE = re.compile(r"\x00(\d+)\x00")


def _inline(text: str) -> str:
    """One stretch of text outside code blocks → HTML (escaped, then marked up)."""
    kept: list[str] = []

    def keep(html: str) -> str:
        # Code and links are set aside so emphasis and mentions cannot reach into them.
        kept.append(html)
        return f"\x00{len(kept) - 1}\x00"

    def link(match: re.Match) -> str:
        url = match.group(0)
        tail = ""
        while url and url[-1] in TRAILING:
            tail = url[-1] + tail
            url = url[:-1]
        return keep(f'<a href="{url}" rel="noopener nofollow" target="_blank">{url}</a>') + tail

    html = str(escape(text))
    html = INLINE_CODE_RE.sub(lambda m: keep(f"<code>{m.group(1)}</code>"), html)
    html = URL_RE.sub(link, html)
    html = BOLD_RE.sub(r"<strong>\1</strong>", html)
    html = ITALIC_STAR_RE.sub(r"<em>\1</em>", html)
    html = ITALIC_UNDERSCORE_RE.sub(r"<em>\1</em>", html)
    html = MENTION_RE.sub(r'<span class="mention">@\1</span>', html)
    html = html.replace("\n", "<br>")
    return PLACEHOLDER_RE.sub(lambda m: kept[int(m.group(1))], html)


def render_body(text: str | None) -> SafeString:
    """A message body → safe HTML (see the module docstring for the subset)."""
    # NUL marks what _inline set aside; it has no business in a chat message.
    text = (text or "").replace("\x00", "\ufffd")
    parts = []
    position = 0
    for match in FENCE_RE.finditer(text):
        before = text[position : match.start()]
        parts.append(_inline(before.removesuffix("\n")))
        parts.append(f"<pre><code>{escape(match.group(1))}</code></pre>")
        position = match.end()
        if text.startswith("\n", position):
            position += 1  # the block ends the line
    parts.append(_inline(text[position:]))
    # Safe: every part was built from escaped text.
    return mark_safe("".join(parts))
