"""Uploads: image files a user brings in, stored and shown like generated ones.

Each file is validated exactly like a provider's result, turned upright and stripped of its
metadata unless the user keeps it (imagegen.core.imaging.prepare_upload), stored
content-addressed with a thumbnail, and becomes an Image with ``origin`` "upload" of a
finished generation of operation "upload" (so every image has a generation: the gallery,
downloads and lineage need nothing special). Uploads cost nothing, run nothing, and are left
out of the generation lists and the usage figures; they count in storage figures.

A batch is all or nothing: one bad file refuses the whole upload, naming every bad file.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from decimal import Decimal
from functools import partial
from pathlib import PurePath

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from gallery.models import Image, Origin
from gallery.services import (
    StoredFiles,
    discard_unreferenced,
    store_image_files,
    stored_image,
)
from generation.finish_hooks import generation_finished
from generation.models import UPLOAD, Generation, Status
from imagegen.core.imaging import InvalidImage, ValidatedImage, prepare_upload
from projects.models import Project

logger = logging.getLogger(__name__)

MAX_FILES = 20  # per upload
MAX_TITLE = 200


@dataclass
class UploadedFile:
    name: str
    data: bytes | None  # None: over the size limit (not read)
    size: int


def read_files(files) -> list[UploadedFile]:
    """Django UploadedFiles, read unless they are over MAX_IMAGE_SIZE (refused unread)."""
    read = []
    for item in files:
        size = getattr(item, "size", 0) or 0
        data = None if size > settings.MAX_IMAGE_SIZE else item.read()
        read.append(UploadedFile(name=str(getattr(item, "name", "") or ""), data=data, size=size))
    return read


def _title(name: str) -> str:
    stem = PurePath(name.replace("\\", "/")).stem if name else ""
    return " ".join(stem.split())[:MAX_TITLE]


def _project(user, project) -> Project | None:
    if project in (None, ""):
        return None
    if isinstance(project, Project):
        project = project.pk
    try:
        pk = int(project)
    except (TypeError, ValueError):
        raise ValidationError({"project": ["No such project."]}) from None
    found = Project.objects.for_user(user, "contribute").filter(pk=pk).first()
    if found is None:
        raise ValidationError({"project": ["No such project."]})
    return found


def upload_images(
    user, files: list[UploadedFile], *, project=None, keep_metadata: bool = False
) -> list[Image]:
    """Store every file as an uploaded Image of ``user`` (in ``project`` when given, one they
    may contribute to); ValidationError naming each refused file, and nothing stored."""
    if not files:
        raise ValidationError({"file": ["Choose at least one image file."]})
    if len(files) > MAX_FILES:
        raise ValidationError({"file": [f"At most {MAX_FILES} files per upload."]})
    target = _project(user, project)
    # One file at a time, stored at once and its decoded pixels let go: twenty 16-megapixel
    # files held decoded together would take over a gigabyte. A refused file stops nothing
    # else from being checked (every refusal is named), and then everything stored is removed.
    checked: list[ValidatedImage] = []
    stored: list[StoredFiles] = []
    errors = []
    try:
        for item in files:
            label = item.name or "the file"
            if item.data is None:
                errors.append(
                    f"{label}: {item.size:,} bytes, over the "
                    f"{settings.MAX_IMAGE_SIZE:,}-byte limit."
                )
                continue
            try:
                image = prepare_upload(item.data, keep_metadata=keep_metadata)
            except InvalidImage as exc:
                errors.append(f"{label}: {exc}.")
                continue
            item.data = None  # the prepared bytes are the ones kept
            if not errors:
                stored.append(store_image_files(image))
            image.decoded = None
            checked.append(image)
        if errors:
            raise ValidationError({"file": errors})
        with transaction.atomic():
            images = [
                _record(user, target, item, image, files_)
                for item, image, files_ in zip(files, checked, stored, strict=True)
            ]
            for uploaded in images:  # their bytes count in the storage figures
                transaction.on_commit(partial(generation_finished, uploaded.generation_id))
            return images
    except BaseException:
        discard_unreferenced([name for s in stored for name in s.created])
        raise


def _record(user, project, item: UploadedFile, image: ValidatedImage, files: StoredFiles):
    now = timezone.now()
    generation = Generation.objects.create(
        owner=user,
        project=project,
        provider=UPLOAD,
        model=UPLOAD,
        operation=UPLOAD,
        prompt="",
        width=image.width,
        height=image.height,
        num_images=1,
        steps=None,
        cfg_scale=None,
        seed=None,
        status=Status.SUCCEEDED,
        cost_usd=Decimal(0),
        cost_is_estimate=False,
        created_at=now,
        started_at=now,
        finished_at=now,
        updated_at=now,
        provider_metadata={"file_name": item.name[:MAX_TITLE]} if item.name else {},
    )
    uploaded = stored_image(
        image,
        files,
        generation=generation,
        owner=user,
        project=project,
        origin=Origin.UPLOAD,
        title=_title(item.name),
        created_at=now,
    )
    uploaded.save()
    logger.info("image %s uploaded by user %s", uploaded.pk, user.pk)
    return uploaded
