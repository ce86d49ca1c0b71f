"""Template helpers of the chat pages: message bodies (chat.formatting) and day separators."""

import datetime

from django import template
from django.utils import timezone
from django.utils.dateformat import format as date_format
from django.utils.safestring import SafeString

from chat.formatting import render_body
from chat.realtime import reactions_payload, reply_payload, user_ref

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


def reaction_who(group: dict, me: str | None) -> str:
    """Who reacted, for the tooltip and screen readers: "You, Ada Lovelace and 3 others".
    static/js/chat/reactions.js's reactionWho says the same for a live change. `me`: my public_id."""
    ids = group["user_public_ids"]
    names = ["You" if public_id == me else name for public_id, name in zip(ids, group["names"], strict=False)]
    if me in ids and "You" not in names:
        names.insert(0, "You")
    names.sort(key=lambda name: name != "You")  # "You" first, the others in the order they reacted
    rest = group["count"] - len(names)
    if rest > 0:
        return ", ".join(names) + f" and {rest} other{'s' if rest != 1 else ''}"
    if len(names) > 1:
        return ", ".join(names[:-1]) + " and " + names[-1]
    return names[0] if names else ""


@register.simple_tag
def chat_reactions(message, user) -> list[dict]:
    """The message's reactions as chips: emoji, count, whether I reacted, and who did."""
    me = user_ref(user) if getattr(user, "is_authenticated", False) else None
    chips = []
    for group in reactions_payload(message):
        chips.append({**group, "mine": me in group["user_public_ids"], "who": reaction_who(group, me)})
    return chips


@register.simple_tag
def chat_reply(message, user) -> dict | None:
    """The quote of the message this one answers (chat.realtime.reply_payload), with `mine`:
    whether `user` wrote the original (the quote then says "You")."""
    quote = reply_payload(message)
    if quote is None:
        return None
    mine = getattr(user, "is_authenticated", False) and quote["sender_public_id"] == user_ref(user)
    return {**quote, "mine": mine}
