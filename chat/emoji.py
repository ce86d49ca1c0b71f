"""The curated emoji of the chat: the only reactions a message can carry, and the composer's picker.

A bounded set, not arbitrary text: a reaction is one of these characters (stored as typed
here), so a reaction can never smuggle in text, and every client can show each one with its
name (the picker's labels, "Ada reacted with thumbs up"). The order is the picker's.
"""

# (emoji, name): the name is what screen readers say and the tooltip shows.
EMOJI: tuple[tuple[str, str], ...] = (
    ("👍", "thumbs up"),
    ("❤️", "red heart"),
    ("😂", "face with tears of joy"),
    ("😮", "surprised"),
    ("😢", "crying face"),
    ("🙏", "thank you"),
    ("🎉", "party popper"),
    ("🔥", "fire"),
    ("👏", "clapping hands"),
    ("😀", "grinning face"),
    ("😊", "smiling face"),
    ("😉", "winking face"),
    ("😍", "heart eyes"),
    ("🤔", "thinking face"),
    ("😅", "sweat smile"),
    ("🙂", "slightly smiling face"),
    ("😎", "cool"),
    ("🥳", "partying face"),
    ("😴", "sleeping face"),
    ("😬", "grimacing face"),
    ("🙄", "rolling eyes"),
    ("😡", "angry face"),
    ("🤯", "mind blown"),
    ("🤗", "hugging face"),
    ("👎", "thumbs down"),
    ("👌", "OK hand"),
    ("🙌", "raised hands"),
    ("💪", "flexed biceps"),
    ("👋", "waving hand"),
    ("🤝", "handshake"),
    ("✅", "check mark"),
    ("❌", "cross mark"),
    ("❓", "question mark"),
    ("💯", "hundred points"),
    ("⭐", "star"),
    ("💡", "light bulb"),
    ("📚", "books"),
    ("📝", "memo"),
    ("☕", "coffee"),
    ("🍕", "pizza"),
)
EMOJI_NAMES: dict[str, str] = dict(EMOJI)
# A reaction is stored as its code points in hex ("1f44d", "2764-fe0f"), not as the character:
# MariaDB's utf8mb4 collations (general_ci, unicode_ci) compare all emoji outside the Basic
# Multilingual Plane as EQUAL, so 👍 and 😂 would collide in the unique constraint and in every
# lookup. Plain ASCII compares the same on every backend and collation.
EMOJI_CODE_MAX_LENGTH = 32


def emoji_code(emoji: str) -> str:
    return "-".join(f"{ord(char):x}" for char in emoji)


def emoji_from_code(code: str) -> str:
    return "".join(chr(int(part, 16)) for part in code.split("-"))


def emoji_name(emoji: str) -> str:
    return EMOJI_NAMES.get(emoji, "")


def is_reaction_emoji(value: object) -> bool:
    return isinstance(value, str) and value in EMOJI_NAMES
