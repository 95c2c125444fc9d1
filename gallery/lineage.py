"""Lineage: what an image was made from (its generation's inputs and mask) and what was made
from it, as far as the asking user may see (docs/image-operations.md).

A parent the user may not view is named by role only ("hidden": it exists, it is not theirs
to see, so neither its id nor its pixels are shown); a deleted parent stays in the lineage as
"deleted" with the id it had; a mask drawn for the generation is "drawn". Children are the
visible images of generations that took this image in.
"""

from gallery.models import GenerationInput, Image
from imagegen.core.permissions import VIEW


def parents(user, image: Image) -> list[dict]:
    rows = list(
        GenerationInput.objects.filter(generation_id=image.generation_id).order_by("position")
    )
    present = [row.image_id for row in rows if row.image_id]
    visible = set(
        Image.objects.for_user(user, VIEW).filter(pk__in=present).values_list("pk", flat=True)
    )
    out = []
    for row in rows:
        state = row.state
        if state == "present" and row.image_id not in visible:
            state = "hidden"
        out.append(
            {
                "image": row.image_ref if state in ("present", "deleted") else None,
                "role": row.role,
                "state": state,
            }
        )
    return out


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
