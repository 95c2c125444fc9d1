"""Lineage: what an image was made from (its generation's inputs and mask) and what was made
from it, as far as the asking user may see (docs/image-operations.md).

A parent the user may not view is named by role only ("hidden": it exists, it is not theirs
to see, so neither its id nor its pixels are shown); a deleted parent stays in the lineage as
"deleted" with the id it had; a mask drawn for the generation is "drawn". Children are the
visible images of generations that took this image in.
"""

from dataclasses import dataclass

from gallery.models import GenerationInput, Image
from imagegen.core.permissions import VIEW

CHUNK = 500  # generations per query (SQLite limits the parameters of one statement)


@dataclass(frozen=True)
class Parent:
    """One input of a generation as ``user`` may know it: ``state`` present, deleted,
    hidden or drawn; ``image`` its id where the state lets it be named."""

    row: GenerationInput
    state: str

    @property
    def image(self) -> int | None:
        return self.row.image_ref if self.state in ("present", "deleted") else None

    def as_dict(self) -> dict:
        return {"image": self.image, "role": self.row.role, "state": self.state}


def described(user, rows) -> list[Parent]:
    """Loaded GenerationInput rows as ``user`` may know them, in one query: an input whose
    image exists but is not theirs to view (any more) is hidden."""
    rows = list(rows)
    present = {row.image_id for row in rows if row.image_id}
    visible = (
        set(Image.objects.for_user(user, VIEW).filter(pk__in=present).values_list("pk", flat=True))
        if present
        else set()
    )
    return [
        Parent(
            row, "hidden" if row.state == "present" and row.image_id not in visible else row.state
        )
        for row in rows
    ]


def described_by_generation(user, generations) -> dict[int, list[Parent]]:
    """``described`` for the (prefetched) inputs of several generations at once, in one
    query: {generation id: [Parent, in position order]}."""
    found: dict[int, list[Parent]] = {generation.pk: [] for generation in generations}
    rows = [
        row
        for generation in generations
        for row in sorted(generation.inputs.all(), key=lambda row: row.position)
    ]
    for parent in described(user, rows):
        found[parent.row.generation_id].append(parent)
    return found


def parents(user, image: Image) -> list[dict]:
    return parents_by_generation(user, [image.generation_id]).get(image.generation_id, [])


def parents_by_generation(user, generation_ids) -> dict[int, list[dict]]:
    """``parents`` of the images of many generations at once (downloads and their
    manifests): {generation id: [{image, role, state}]}, in two queries per chunk."""
    found: dict[int, list[dict]] = {}
    ids = sorted(set(generation_ids))
    for start in range(0, len(ids), CHUNK):
        rows = GenerationInput.objects.filter(
            generation_id__in=ids[start : start + CHUNK]
        ).order_by("generation_id", "position")
        for parent in described(user, rows):
            found.setdefault(parent.row.generation_id, []).append(parent.as_dict())
    return found


MAX_CHILDREN = 50


def children(user, image: Image) -> list[dict]:
    made = (
        Image.objects.for_user(user, VIEW)
        .filter(generation__inputs__image=image)
        .values("pk", "generation__operation", "generation__inputs__role")
        .order_by("-pk")
        .distinct()[:MAX_CHILDREN]
    )
    return [
        {
            "image": row["pk"],
            "role": row["generation__inputs__role"],
            "operation": row["generation__operation"],
        }
        for row in made
    ]
