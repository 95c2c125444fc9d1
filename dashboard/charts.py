"""Charts drawn on the server as inline SVG: no JavaScript, no chart library."""

from decimal import Decimal

from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe

from dashboard.templatetags.dashboard_figures import gpu_time

WIDTH, HEIGHT = 760, 240
LEFT, RIGHT, TOP, BOTTOM = 44, 60, 16, 28


def spend_and_count_chart(points: list[dict], interval: str) -> str:
    """Bars of generations (failures darker) and a line of spend, one slot per point."""
    if not points:
        return ""
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    slot = plot_w / len(points)
    max_count = max(max(p["generations"] for p in points), 1)
    spends = [Decimal(p["spend_usd"]) for p in points]
    max_spend = max(max(spends), Decimal("0.01"))
    bars, line = [], []
    for index, (point, spend) in enumerate(zip(points, spends, strict=True)):
        x = LEFT + index * slot
        height = plot_h * point["generations"] / max_count
        failed = plot_h * point["failures"] / max_count
        tip = (
            f"{point['date']}: {point['generations']} generations, {point['images']} "
            f"images, {point['failures']} failed, ${spend:.2f}"
        )
        if point.get("gpu_seconds"):
            tip += f", GPU time {gpu_time(point['gpu_seconds'])}"
        bars.append(
            format_html(
                '<g class="slot"><title>{}</title>'
                '<rect class="bar" x="{}" y="{}" width="{}" height="{}"/>'
                '<rect class="bar-failed" x="{}" y="{}" width="{}" height="{}"/></g>',
                tip,
                *_coords(x + slot * 0.15, TOP + plot_h - height, slot * 0.7, height),
                *_coords(x + slot * 0.15, TOP + plot_h - failed, slot * 0.7, failed),
            )
        )
        line.append(f"{x + slot / 2:.1f},{TOP + plot_h - float(plot_h * spend / max_spend):.1f}")
    labels = [(0, points[0]["date"]), (len(points) - 1, points[-1]["date"])]
    if len(points) > 2:
        labels.insert(1, (len(points) // 2, points[len(points) // 2]["date"]))
    axis = format_html_join(
        "",
        '<text class="axis" x="{}" y="{}" text-anchor="middle">{}</text>',
        ((f"{LEFT + i * slot + slot / 2:.1f}", HEIGHT - 8, d) for i, d in labels),
    )
    return format_html(
        '<svg class="chart" role="img" viewBox="0 0 {w} {h}" width="100%" '
        'aria-label="Generations and spend per {interval}">'
        '<line class="grid" x1="{l}" y1="{base}" x2="{r}" y2="{base}"/>'
        '<text class="axis" x="{lx}" y="{ty}" text-anchor="end">{max_count}</text>'
        '<text class="axis" x="{lx}" y="{base}" text-anchor="end">0</text>'
        '<text class="axis spend" x="{rx}" y="{ty}">${max_spend}</text>'
        '{bars}<polyline class="spend-line" fill="none" points="{line}"/>{axis}</svg>',
        w=WIDTH,
        h=HEIGHT,
        interval=interval,
        l=LEFT,
        r=WIDTH - RIGHT,
        base=TOP + plot_h,
        lx=LEFT - 6,
        ty=TOP + 10,
        rx=WIDTH - RIGHT + 6,
        max_count=max_count,
        max_spend=f"{max_spend:.2f}",
        bars=mark_safe("".join(bars)),
        line=" ".join(line),
        axis=axis,
    )


def _coords(*numbers: float) -> list[str]:
    """Numbers as SVG coordinates with one decimal (format_html escapes, so pre-format)."""
    return [f"{n:.1f}" for n in numbers]
