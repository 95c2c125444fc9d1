"""``{{ image|aspect_class }}``: the tile's aspect class for the justified rows of gallery.css
(the page CSP forbids style attributes, so the ratio travels as one of a fixed set of classes)."""

from django import template

register = template.Library()

# Ratios in tenths, from 0.4 (tall) to 3.0 (wide): gallery.css defines .ar-4 ... .ar-30.
LOWEST, HIGHEST = 4, 30


@register.filter
def aspect_class(image) -> str:
    """``ar-<width/height in tenths>``, clamped to the classes gallery.css defines."""
    if not image.width or not image.height:
        return "ar-10"
    tenths = round(10 * image.width / image.height)
    return f"ar-{min(HIGHEST, max(LOWEST, tenths))}"
