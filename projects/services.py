"""Business actions on projects: create, change (members included) and delete."""

import logging

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from imagegen.core import audit, limits
from projects.models import Project, ProjectMembership, Role
from projects.signals import project_deleting

logger = logging.getLogger(__name__)

MAX_MEMBERS = 200
MAX_NAME = limits.MAX_TITLE  # Project.name's column
MAX_DESCRIPTION = limits.MAX_LONG_TEXT


def _check_text(field: str, value: str, limit: int) -> str:
    # Every path (API, the HTML forms) comes through here: a NUL cannot be stored by
    # PostgreSQL and an over-long name does not fit its column; both are field errors.
    if "\x00" in value:
        raise ValidationError({field: ["Null characters are not allowed."]})
    if len(value) > limit:
        raise ValidationError({field: [f"At most {limit} characters ({len(value)} given)."]})
    return value


def _name_taken() -> ValidationError:
    return ValidationError({"name": ["You already have a project with this name."]})


def _check_name(owner, name: str, project: Project | None = None) -> str:
    name = _check_text("name", (name or "").strip(), MAX_NAME)
    if not name:
        raise ValidationError({"name": ["Give the project a name."]})
    taken = Project.objects.filter(owner=owner, name=name)
    if project is not None:
        taken = taken.exclude(pk=project.pk)
    if taken.exists():
        raise _name_taken()
    return name


def _check_cover(project: Project, image_id):
    if image_id is None:
        return None
    image = project.images.filter(pk=image_id).first() if project.pk else None
    if image is None:
        raise ValidationError({"cover_image": ["Choose an image that is in this project."]})
    return image


UNKNOWN_MEMBER = "Not every username listed is an active user here; check the spelling."


def _check_members(owner, members) -> dict:
    """{user: role} from a list of {"username", "role"}; ValidationError naming the problem."""
    if len(members) > MAX_MEMBERS:
        raise ValidationError({"members": [f"At most {MAX_MEMBERS} members."]})
    wanted: dict[str, str] = {}
    for entry in members:
        username, role = entry.get("username", ""), entry.get("role", Role.VIEWER)
        if role not in Role.values:
            raise ValidationError(
                {"members": [f"{username}: role is one of {', '.join(Role.values)}."]}
            )
        if "\x00" in username:  # cannot be anyone's name, and PostgreSQL refuses to look
            raise ValidationError({"members": ["Null characters are not allowed."]})
        if username in wanted:
            raise ValidationError({"members": [f"{username} is listed twice."]})
        wanted[username] = role
    users = {
        u.username: u
        for u in get_user_model().objects.filter(username__in=list(wanted), is_active=True)
    }
    if set(wanted) - set(users):
        # One answer for a name nobody has and for an inactive account, naming no entry: the
        # form must not tell which usernames exist on the team.
        raise ValidationError({"members": [UNKNOWN_MEMBER]})
    if owner.username in wanted:
        raise ValidationError({"members": ["The owner is not listed as a member."]})
    return {users[name]: role for name, role in wanted.items()}


def set_members(project: Project, members) -> None:
    """Make the project's members exactly these {"username", "role"} entries."""
    wanted = _check_members(project.owner, members)
    with transaction.atomic():
        leaving = project.memberships.exclude(user__in=list(wanted)).select_related("user")
        for membership in leaving:
            _record_sharing("project.unshared", project, membership.user, [membership.role, None])
        leaving.delete()
        current = {m.user_id: m for m in project.memberships.all()}
        for user, role in wanted.items():
            membership = current.get(user.pk)
            if membership is None:
                ProjectMembership.objects.create(project=project, user=user, role=role)
                _record_sharing("project.shared", project, user, [None, role])
            elif membership.role != role:
                _record_sharing("project.role_changed", project, user, [membership.role, role])
                membership.role = role
                membership.save(update_fields=["role"])


def _record_sharing(action: str, project: Project, member, roles: list, actor=None) -> None:
    """One audit entry per member added, removed or given another role."""
    audit.record(
        action,
        actor=actor,
        obj=project,
        changes={"role": roles},
        details={"member": member.get_username(), "owner": project.owner.get_username()},
    )


def change_member(project: Project, username: str, role: str | None) -> None:
    """Add one member with ``role`` or change their role; ``role`` None removes them (nothing
    happens for a name that is not a member). The other members stay."""
    members = {m.user.username: m.role for m in project.memberships.select_related("user")}
    if role is None:
        members.pop(username, None)
    else:
        members[username] = role
    set_members(project, [{"username": u, "role": r} for u, r in members.items()])


def remove_member(project: Project, username: str) -> None:
    """Remove one member (nothing happens for a name that is not a member)."""
    change_member(project, username, None)


def leave_project(project: Project, user) -> None:
    """``user`` stops being a member of ``project``; the owner cannot leave their own
    project (they delete it or keep it)."""
    if project.owner_id == user.pk:
        raise ValidationError("You own this project: delete it instead of leaving it.")
    with transaction.atomic():
        membership = project.memberships.filter(user=user).first()
        if membership is not None:
            _record_sharing("project.unshared", project, user, [membership.role, None], user)
            membership.delete()


def create_project(owner, data: dict) -> Project:
    """Create a project owned by ``owner`` with name, description and members."""
    project = Project(
        owner=owner,
        name=_check_name(owner, data.get("name")),
        description=_check_text("description", data.get("description", ""), MAX_DESCRIPTION),
    )
    try:
        with transaction.atomic():
            project.save()
            if data.get("members"):
                set_members(project, data["members"])
    except IntegrityError:  # the same name, created meanwhile
        raise _name_taken() from None
    return project


def update_project(project: Project, data: dict) -> Project:
    """Change name, description, cover image and (when given) the whole member list."""
    fields = []
    if "name" in data:
        project.name = _check_name(project.owner, data["name"], project)
        fields.append("name")
    if "description" in data:
        project.description = _check_text("description", data["description"], MAX_DESCRIPTION)
        fields.append("description")
    if "cover_image" in data:
        project.cover_image = _check_cover(project, data["cover_image"])
        fields.append("cover_image")
    try:
        with transaction.atomic():
            if fields:
                project.save(update_fields=[*fields, "updated_at"])
            if "members" in data:
                set_members(project, data["members"])
    except IntegrityError:  # renamed to a name another project took meanwhile
        raise _name_taken() from None
    return project


def delete_project(project: Project, *, delete_images: bool = False) -> int:
    """Delete the project. Its images stay in their owners' galleries, unassigned, unless
    ``delete_images``: then every image in it is deleted too (by the gallery, which listens
    to ``project_deleting``; files after commit). Return the number of images deleted."""
    with transaction.atomic():
        answers = project_deleting.send(sender=Project, project=project, with_images=delete_images)
        deleted = sum(count for _, count in answers if isinstance(count, int))
        audit.record(
            "project.deleted",
            obj=project,
            details={
                "owner": project.owner.get_username(),
                "images_deleted": deleted,
                "with_images": delete_images,
            },
        )
        project.delete()  # images left in it become unassigned (SET_NULL)
    logger.info("project %s deleted with %d image(s)", project.pk, deleted)
    return deleted
