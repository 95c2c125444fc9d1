"""Small filters for the Generate page's cards: counts to loop over and times as numbers."""

from django import template
from django.utils import timezone

register = template.Library()


@register.filter
def times(count) -> range:
    """``{% for _ in n|times %}``: n placeholders (at most 16)."""
    try:
        return range(max(0, min(int(count), 16)))
    except (TypeError, ValueError):
        return range(0)


@register.filter
def epoch_ms(moment) -> int | str:
    """A datetime as milliseconds since 1970 (for a data- attribute a script counts from)."""
    return int(moment.timestamp() * 1000) if moment else ""


@register.filter
def clock(moment) -> str:
    """Time since ``moment`` as m:ss (h:mm:ss past an hour), the way the card ticks it."""
    if not moment:
        return ""
    seconds = max(0, int((timezone.now() - moment).total_seconds()))
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{seconds:02d}" if hours else f"{minutes}:{seconds:02d}"


@register.filter
def seconds(value) -> str:
    """A duration in seconds, in words: "2.4 s", "1 min 5 s"."""
    if value is None:
        return ""
    value = float(value)
    if value < 60:
        return f"{value:.1f} s"
    minutes, rest = divmod(round(value), 60)
    return f"{minutes} min {rest} s" if rest else f"{minutes} min"


@register.filter
def eta_text(milliseconds) -> str:
    """An estimate of the time left, in words (generate.js counts it down the same way)."""
    if milliseconds is None:
        return ""
    left = round(int(milliseconds) / 1000)
    if left <= 0:
        return "Should finish any moment"
    if left < 60:
        return f"About {left} s left"
    return f"About {round(left / 60)} min left"


@register.filter
def option_label(name: str) -> str:
    """A model option's name as a label: "output_format" is "Output format"."""
    return str(name).replace("_", " ").capitalize()
