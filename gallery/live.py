"""The gallery source of live updates (imagegen.core.live): new images, for everyone who may
see them (their owner, and the owner and members of their project).

New means an id above the marker. An image whose insert commits after a higher id's (two
ingests racing on PostgreSQL) is not announced here; the generation event that follows
its generation's success makes pages re-fetch anyway.
"""

from collections import defaultdict

from django.db.models import Max

from gallery.models import Image
from projects.models import ProjectMembership

# Images announced per poll at most; the rest follow at the next poll.
BATCH = 500


def new_images(marker: int | None):
    """Images with an id above ``marker``: events with payload {id, project}."""
    if marker is None:
        return [], Image.objects.aggregate(newest=Max("id"))["newest"] or 0
    rows = list(
        Image.objects.filter(id__gt=marker)
        .order_by("id")
        .values_list("id", "owner_id", "project_id", "project__owner_id")[:BATCH]
    )
    if not rows:
        return [], marker
    members = defaultdict(set)
    projects = {row[2] for row in rows if row[2] is not None}
    if projects:
        pairs = ProjectMembership.objects.filter(project_id__in=projects).values_list(
            "project_id", "user_id"
        )
        for project_id, user_id in pairs:
            members[project_id].add(user_id)
    events = [
        (
            {owner_id, *members[project_id], *([project_owner] if project_owner else [])},
            "image",
            {"id": image_id, "project": project_id},
        )
        for image_id, owner_id, project_id, project_owner in rows
    ]
    return events, rows[-1][0]
