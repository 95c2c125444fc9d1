"""Hostile text and where it must come back escaped (tests/security/test_hostile_text.py)."""

import re

# Everything at once: a script element, an attribute break-out with an event handler, a
# template expression, a javascript: URL, a right-to-left override and an emoji. ``{f}``
# names the field, so a page that shows the text can be told apart from one that does not.
TEMPLATE = (
    '<script>alert({f})</script>"><img src=x onerror=alert({f})>{{{{7*7}}}} '
    "javascript:alert({f}) \u202e\U0001f98a"
)


def hostile(field: str) -> str:
    return TEMPLATE.format(f=field)


def escaped_marker(field: str) -> str:
    """How the start of ``hostile(field)`` reads in HTML escaped by Django."""
    return f"&lt;script&gt;alert({field})&lt;/script&gt;"


# What must never reach an HTML page as markup.
RAW = [
    re.compile(p, re.IGNORECASE)
    for p in (
        r"<script>alert\(",
        r"<img src=x onerror",
        r"""(?:href|src|action)\s*=\s*["']?\s*javascript:""",
    )
]


def raw_markup(html: str) -> list[str]:
    """The hostile pieces found unescaped in ``html``."""
    return [m.group(0) for pattern in RAW for m in pattern.finditer(html)]


# C0 controls other than NUL, tab and newline in the middle of text: stored as sent.
CONTROLS = "a\x01b\x07c\x08d\x1be\x7ff\tg\nh"
