"""``{% image_actions image can_change as actions %}``: what the shared action bar
(templates/gallery/_image_actions.html) offers on one image to the request's user."""

from django import template

from gallery.downloads import download_name
from gallery.models import Image

register = template.Library()


def _known(value):
    # An include that does not pass can_change leaves the variable unresolved: "" (the
    # template engine's string_if_invalid), not None.
    return None if value in (None, "") else bool(value)


@register.simple_tag(takes_context=True)
def image_actions(context, image, can_change=None, can_move=None) -> dict:
    """{change, move, name}: whether the user may change (favorite, rate, delete: its owner)
    and move the image, and the download's file name. Uses what the page passed or set on
    the image (``can_change`` / ``can_move`` attributes, gallery.pages marks a page's tiles
    in two queries), else asks ``Image.objects.allows`` (one query each)."""
    user = context["request"].user
    change = _known(can_change)
    if change is None:
        change = _known(getattr(image, "can_change", None))
    if change is None:
        change = Image.objects.allows(user, "change", image)
    move = _known(can_move)
    if move is None:
        move = _known(getattr(image, "can_move", None))
    if move is None:
        move = change or Image.objects.allows(user, "move", image)
    return {"change": change, "move": move, "name": download_name(image)}


ASSETS_FLAG = "_image_actions_assets"


def assets_loaded(request) -> None:
    """Mark the bar's stylesheet and script as already on the page (an htmx fragment of a
    page that loaded them), so the bars in this response do not repeat them."""
    setattr(request, ASSETS_FLAG, True)


@register.inclusion_tag("gallery/_image_actions_assets.html", takes_context=True)
def image_actions_assets(context) -> dict:
    """The bar's stylesheet and script, the first time a response asks (once per request)."""
    request = context["request"]
    first = not getattr(request, ASSETS_FLAG, False)
    assets_loaded(request)
    return {"first": first}
