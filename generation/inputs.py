"""The images a generation takes in: which ones a submission names, checked and recorded as
its lineage, and read back for the provider when it runs (docs/image-operations.md).

A submission names its inputs by gallery image id (``input_images``) and its mask by id, as a
PNG data URI, or as an uploaded file (the mask editor's). Only images the user may view can be
inputs: any other id is a 404, as everywhere, and nothing is stored. A drawn mask is stored
content-addressed like every image file and recorded on the generation alone (no gallery
image). The runner reads every input back from storage just before the provider runs, and
for outpaint pads the canvas and masks the margins (imagegen/providers/inputs.py).
"""

from __future__ import annotations

import base64
import binascii
import logging
import re
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from gallery.models import MAX_ID, GenerationInput, Image, InputRole
from imagegen.core.exceptions import NotFound
from imagegen.core.imaging import InvalidImage, validate_image
from imagegen.core.permissions import VIEW
from imagegen.core.storage import image_name
from imagegen.providers.base import InputImage, Margins, Operation
from imagegen.providers.inputs import normalized_mask, outpaint_canvas

logger = logging.getLogger(__name__)

DATA_URI = re.compile(r"^data:image/(png|jpeg|webp);base64,(?P<data>[A-Za-z0-9+/=\s]+)$")
# More than any model takes (OpenAI's GPT image models: 16); the model's own maximum is
# checked against its spec.
MAX_INPUT_IMAGES = 16


@dataclass
class Source:
    """One input as a submission named it: a gallery image, or a mask's bytes (drawn, not
    stored yet), or an input recorded earlier (a retry reads the same file again)."""

    width: int
    height: int
    image: Image | None = None
    data: bytes | None = None  # a drawn mask, validated, not stored yet
    recorded: GenerationInput | None = None

    @classmethod
    def of_image(cls, image: Image) -> Source:
        return cls(width=image.width, height=image.height, image=image)


@dataclass
class Sources:
    images: list[Source]
    mask: Source | None = None

    @property
    def first(self) -> Source | None:
        return self.images[0] if self.images else None


def image_ids(value, field: str = "input_images") -> list[int]:
    """The ids of a submission's ``input_images``: a list of distinct positive integers."""
    if value in (None, ""):
        return []
    if not isinstance(value, list | tuple):
        raise ValidationError({field: ["Give the input images as a list of image ids."]})
    ids = []
    for item in value:
        if isinstance(item, bool) or not isinstance(item, int) or not 1 <= item <= MAX_ID:
            raise ValidationError({field: [f"{item!r} is not an image id."]})
        if item in ids:
            raise ValidationError({field: [f"Image {item} is named twice."]})
        ids.append(item)
    if len(ids) > MAX_INPUT_IMAGES:
        raise ValidationError({field: [f"At most {MAX_INPUT_IMAGES} input images."]})
    return ids


def visible_images(user, ids: list[int]) -> list[Image]:
    """The images with these ids, in this order; NotFound (404) naming the first one the
    user may not view (another user's image is the same answer as a missing one)."""
    if not ids:
        return []
    found = {image.pk: image for image in Image.objects.for_user(user, VIEW).filter(pk__in=ids)}
    for pk in ids:
        if pk not in found:
            raise NotFound(f"No such image: {pk}.")
    return [found[pk] for pk in ids]


def resolve(user, data: dict) -> Sources:
    """The inputs and mask a submission names, checked for existence and visibility only
    (what the operation allows is validation.py's). NotFound for an image the user may not
    view; ValidationError for a malformed id list or mask."""
    images = [
        Source.of_image(image)
        for image in visible_images(user, image_ids(data.get("input_images")))
    ]
    return Sources(images=images, mask=_mask_source(user, data.get("mask")))


def _mask_source(user, value) -> Source | None:
    if value in (None, ""):
        return None
    if isinstance(value, GenerationInput):  # a retry: the mask the original was given
        return Source(width=value.width, height=value.height, recorded=value)
    if isinstance(value, bool):
        raise ValidationError({"mask": ["Give the mask as an image id or a PNG."]})
    if isinstance(value, int):
        if not 1 <= value <= MAX_ID:
            raise ValidationError({"mask": [f"{value!r} is not an image id."]})
        return Source.of_image(visible_images(user, [value])[0])
    if isinstance(value, str):
        # isascii: str.isdigit() also accepts digits such as "²" that int() refuses.
        if value.isascii() and value.isdigit():
            return _mask_source(user, int(value))
        return _drawn_mask(_decode_data_uri(value))
    if hasattr(value, "read"):  # an uploaded file (multipart)
        if getattr(value, "size", 0) > settings.MAX_IMAGE_SIZE:
            raise ValidationError(
                {"mask": [f"The mask is over the {settings.MAX_IMAGE_SIZE:,}-byte limit."]}
            )
        return _drawn_mask(value.read())
    raise ValidationError({"mask": ["Give the mask as an image id or a PNG."]})


def _decode_data_uri(value: str) -> bytes:
    # base64 is 4/3 of the bytes: refuse an oversized one before decoding it.
    if len(value) > settings.MAX_IMAGE_SIZE * 4 // 3 + 100:
        raise ValidationError(
            {"mask": [f"The mask is over the {settings.MAX_IMAGE_SIZE:,}-byte limit."]}
        )
    match = DATA_URI.match(value)
    if match is None:
        raise ValidationError(
            {"mask": ["Give the mask as an image id or a data:image/png;base64,… URI."]}
        )
    try:
        return base64.b64decode("".join(match["data"].split()), validate=True)
    except (binascii.Error, ValueError):
        raise ValidationError({"mask": ["The mask's base64 data is malformed."]}) from None


def _drawn_mask(data: bytes) -> Source:
    try:
        checked = validate_image(data)
    except InvalidImage as exc:
        raise ValidationError({"mask": [f"The mask is not usable: {exc}."]}) from None
    if checked.format != "PNG":
        raise ValidationError({"mask": ["The mask must be a PNG."]})
    return Source(width=checked.width, height=checked.height, data=data)


# --- Recording (at submission) ---------------------------------------------------------------


def record(generation, sources: Sources) -> list[str]:
    """Store a drawn mask and record every input of ``generation`` (its lineage); returns the
    storage names this call created (the caller discards them if its transaction fails)."""
    created: list[str] = []
    rows = []
    entries = [(InputRole.INPUT, source) for source in sources.images]
    if sources.mask is not None:
        entries.append((InputRole.MASK, sources.mask))
    for position, (role, source) in enumerate(entries):
        rows.append(_row(generation, role, position, source, created))
    GenerationInput.objects.bulk_create(rows)
    return created


def _row(generation, role, position, source: Source, created: list[str]) -> GenerationInput:
    """The lineage row of one input: its gallery image's file, the file of the input it
    repeats (a retry), or its own newly stored file (a drawn mask)."""
    if source.image is not None:
        image = source.image
        origin = {"image": image, "image_ref": image.pk, "file": image.file}
        facts = image
    elif source.recorded is not None:
        old = source.recorded
        origin = {"image_id": old.image_id, "image_ref": old.image_ref, "file": old.file}
        facts = old
    else:
        facts = validate_image(source.data)
        name = image_name(facts.sha256, facts.extension)
        if not default_storage.exists(name):
            default_storage.save(name, ContentFile(facts.data))
            created.append(name)
        origin = {"file": name}
    return GenerationInput(
        generation=generation,
        role=role,
        position=position,
        sha256=facts.sha256,
        format=facts.format,
        width=facts.width,
        height=facts.height,
        **origin,
    )


# --- Reading back (when the generation runs) --------------------------------------------------


class InputMissing(Exception):
    """An input's file is gone (its image was deleted before the generation ran)."""


def load(generation) -> tuple[list[InputImage], InputImage | None]:
    """The generation's input images and mask, read from storage, as the provider gets them
    (for outpaint: the padded canvas and a mask of its margins). InputMissing when an input's
    file is gone."""
    rows = sorted(generation.inputs.all(), key=lambda row: row.position)
    images, mask = [], None
    for row in rows:
        item = _read(row)
        if row.role == InputRole.MASK:
            mask = normalized_mask(item)
        else:
            images.append(item)
    if generation.operation == Operation.OUTPAINT and images:
        margins = Margins(**generation.operation_params.get("margins", {}))
        canvas, mask = outpaint_canvas(images[0], margins)
        images[0] = canvas
    return images, mask


def _read(row: GenerationInput) -> InputImage:
    what = "the mask" if row.role == InputRole.MASK else f"input image {row.image_ref or ''}"
    try:
        with default_storage.open(row.file, "rb") as handle:
            data = handle.read()
    except (FileNotFoundError, OSError):
        raise InputMissing(
            f"{what.strip().capitalize()} was deleted before the generation ran."
        ) from None
    return InputImage(data=data, format=row.format, width=row.width, height=row.height)
