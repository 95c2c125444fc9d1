"""Storing image files and cleaning them up: every multi-step file operation lives here."""

import logging
from dataclasses import dataclass, field

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db.models import Q

from gallery.imaging import ValidatedImage, make_thumbnail
from gallery.models import Image
from gallery.storage import image_name, thumbnail_name

logger = logging.getLogger(__name__)


@dataclass
class StoredFiles:
    """Names of one image's original and thumbnail, and which of them this call created."""

    file: str
    thumbnail: str
    created: list[str] = field(default_factory=list)


def store_image_files(image: ValidatedImage) -> StoredFiles:
    """Store the original bytes and a WebP thumbnail under names built from the hash."""
    stored = StoredFiles(
        file=image_name(image.sha256, image.extension),
        thumbnail=thumbnail_name(image.sha256, settings.THUMBNAIL_SIZE),
    )
    try:
        if not default_storage.exists(stored.file):
            default_storage.save(stored.file, ContentFile(image.data))
            stored.created.append(stored.file)
        if not default_storage.exists(stored.thumbnail):
            thumb = make_thumbnail(image.decoded, settings.THUMBNAIL_SIZE)
            default_storage.save(stored.thumbnail, ContentFile(thumb))
            stored.created.append(stored.thumbnail)
    except BaseException:
        discard_unreferenced(stored.created)
        raise
    return stored


def discard_unreferenced(names: list[str]) -> None:
    """Delete these storage names unless an Image row still refers to one of them."""
    if not names:
        return
    referenced = set(
        Image.objects.filter(Q(file__in=names) | Q(thumbnail__in=names)).values_list(
            "file", "thumbnail"
        ).iterator()
    )
    still_used = {name for pair in referenced for name in pair}
    for name in names:
        if name in still_used:
            continue
        try:
            default_storage.delete(name)
        except OSError:
            logger.warning("could not delete stored file %s", name, exc_info=True)
