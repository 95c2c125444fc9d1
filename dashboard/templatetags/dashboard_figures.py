"""Filters of the dashboard page: GPU time in words (the API and the CSV keep the exact
seconds)."""

from django import template

register = template.Library()


@register.filter
def gpu_time(value) -> str:
    """GPU-seconds for a reader: "0.4 s", "42 s", "3 min 20 s", "1 h 02 min"; "—" for none."""
    if value is None or value == "":
        return "—"
    seconds = float(value)
    if seconds <= 0:
        return "—"
    if seconds < 0.05:
        return "< 0.1 s"
    if seconds < 9.95:
        return f"{seconds:.1f} s"
    whole = round(seconds)
    if whole < 60:
        return f"{whole} s"
    if whole < 3600:
        minutes, rest = divmod(whole, 60)
        return f"{minutes} min {rest:02d} s"
    hours, minutes = divmod(round(seconds / 60), 60)
    return f"{hours} h {minutes:02d} min"
