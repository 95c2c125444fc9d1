"""The permission vocabulary: one question, asked the same way of every model.

``Model.objects.for_user(user, action)`` answers "which rows may this user do ACTION to".
Every view, API endpoint and file endpoint starts its query there; a row outside
``for_user(user, VIEW)`` does not exist for that user (404), and one the user sees but may not
change is a 403 (``get_for_user`` tells the two apart). Each model's queryset declares the
actions it knows and builds the scope for a signed-in user in ``_scope``; an anonymous user
gets nothing.

The actions:
- ``view``: see the row (and its files).
- ``change``: change the row's own fields.
- ``delete``: delete the row.
- ``move``: take the row out of its container (an image out of its project). Where it may
  go is one more question of the model's queryset (``Image.objects.movable_to(user,
  target)``): a move must not show the row to anyone its owner had not shared it with.
- ``contribute``: put things into the row or take them out (a project's images and
  generations).
- ``download``: fetch the row's files: ``view``, plus staff who may view the model in the
  admin (thumbnails there).
"""

from django.db import models
from django.db.models import Exists, OuterRef

from imagegen.core.exceptions import Forbidden, NotFound

VIEW = "view"
CHANGE = "change"
DELETE = "delete"
MOVE = "move"
CONTRIBUTE = "contribute"
DOWNLOAD = "download"


class PermissionQuerySet(models.QuerySet):
    """Base queryset of every model a user may or may not act on."""

    #: The actions this model knows; ``for_user`` refuses any other (a programming error).
    actions: tuple[str, ...] = (VIEW,)

    def for_user(self, user, action: str = VIEW):
        """The rows ``user`` may do ``action`` to (none for an anonymous user)."""
        if action not in self.actions:
            raise ValueError(
                f"{self.model.__name__} has no action {action!r}; it has {', '.join(self.actions)}."
            )
        if user is None or not user.is_authenticated:
            return self.none()
        return self._scope(user, action)

    def _scope(self, user, action: str):
        raise NotImplementedError

    def allows(self, user, action: str, row) -> bool:
        """Whether the user may do ``action`` to this one row (one query)."""
        return self.for_user(user, action).filter(pk=row.pk).exists()

    def with_permission(self, user, action: str, name: str):
        """Each row annotated with ``name``: whether the user may do ``action`` to it (one
        subquery for the whole list, not a query per row)."""
        allowed = self.model.objects.for_user(user, action).filter(pk=OuterRef("pk"))
        return self.annotate(**{name: Exists(allowed)})

    def get_for_user(self, user, action: str = VIEW, *, denied: str = "Not allowed.", **lookup):
        """The one row matching ``lookup`` that the user may do ``action`` to. NotFound when
        the user cannot see it (or it does not exist: the same answer); Forbidden with
        ``denied`` when they see it but may not do ``action``."""
        row = self.for_user(user, VIEW).filter(**lookup).first()
        if row is None:
            raise NotFound()
        if action != VIEW and not self.allows(user, action, row):
            raise Forbidden(denied)
        return row
