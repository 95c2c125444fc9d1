"""Pixel work on the images a generation takes in: masks, the outpaint canvas, conversions.

The app has one mask convention: a greyscale PNG of the first input's size, white (255)
where the image may change, black (0) where it must not, grey in between (a feathered
edge). ``mask_for_openai`` converts it to OpenAI's (transparent where it may change);
FLUX Fill on fal and Replicate takes the app's own. Everything here is deterministic and
local: no network, no database.
"""

from __future__ import annotations

import io

from PIL import Image, ImageFilter, ImageOps

from imagegen.providers.base import InputImage, Margins

# How much of the input's edge the outpaint canvas smears into the margins before a
# provider paints over them: a blurred stretch of the picture, so that a provider which
# looks at the masked area too (FLUX Fill does) starts from plausible colours, not grey.
MARGIN_BLUR_RADIUS = 24


def decode(image: InputImage) -> Image.Image:
    """The input's pixels (already validated when it was stored)."""
    decoded = Image.open(io.BytesIO(image.data))
    decoded.load()
    return decoded


def png_input(image: Image.Image) -> InputImage:
    """An InputImage holding ``image`` as a PNG (lossless: pixels stay exactly as given)."""
    out = io.BytesIO()
    image.save(out, format="PNG", compress_level=3)
    return InputImage(data=out.getvalue(), format="PNG", width=image.width, height=image.height)


def mask_pixels(mask: InputImage) -> Image.Image:
    """The mask as one 8-bit channel, white = change. A mask with transparency (a canvas
    drawn on a transparent background) counts transparent pixels as black: what was not
    painted is kept."""
    image = decode(mask)
    if image.mode in ("RGBA", "LA") or (image.mode == "P" and "transparency" in image.info):
        image = image.convert("RGBA")
        grey = image.convert("L")
        alpha = image.getchannel("A")
        return Image.composite(grey, Image.new("L", image.size, 0), alpha)
    return image.convert("L")


def normalized_mask(mask: InputImage) -> InputImage:
    """The mask as a greyscale PNG in the app's convention (what providers are given)."""
    return png_input(mask_pixels(mask))


def mask_for_openai(mask: InputImage, image: InputImage) -> InputImage:
    """OpenAI's convention: an RGBA PNG of the image's size whose fully transparent pixels
    are where the image may change (the rest is the picture, opaque). Grey (feathered)
    pixels become partly transparent."""
    pixels = decode(image).convert("RGBA")
    alpha = ImageOps.invert(mask_pixels(mask))
    pixels.putalpha(alpha)
    return png_input(pixels)


def outpaint_canvas(image: InputImage, margins: Margins) -> tuple[InputImage, InputImage]:
    """The padded canvas and its mask for outpainting ``image`` by ``margins``: the original
    pixels at (left, top), exactly as they were; the margins filled with a blurred stretch of
    the picture; the mask white over the margins and black over the original."""
    original = decode(image)
    mode = "RGBA" if "A" in original.getbands() else "RGB"
    original = original.convert(mode)
    width = image.width + margins.left + margins.right
    height = image.height + margins.top + margins.bottom
    backdrop = original.resize((width, height), Image.Resampling.BILINEAR).filter(
        ImageFilter.GaussianBlur(MARGIN_BLUR_RADIUS)
    )
    backdrop.paste(original, (margins.left, margins.top))
    mask = Image.new("L", (width, height), 255)
    mask.paste(
        0, (margins.left, margins.top, margins.left + image.width, margins.top + image.height)
    )
    return png_input(backdrop), png_input(mask)


def margins_for_ratio(width: int, height: int, ratio_w: int, ratio_h: int) -> Margins:
    """The smallest margins that extend a ``width``×``height`` picture to the aspect ratio
    ``ratio_w``:``ratio_h``, split evenly between the two sides (the odd pixel right or
    below); no margins when it already has that ratio."""
    if width * ratio_h < height * ratio_w:  # too narrow: widen
        target = -(-height * ratio_w // ratio_h)
        extra = target - width
        return Margins(left=extra // 2, right=extra - extra // 2)
    target = -(-width * ratio_h // ratio_w)
    extra = target - height
    return Margins(top=extra // 2, bottom=extra - extra // 2)
