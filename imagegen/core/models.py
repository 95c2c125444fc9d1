"""The core's one model: the audit trail's entries (``imagegen.core.audit`` writes them).

Append-only: an entry is written once and never changed. ``save()`` of an existing row,
``delete()``, and the queryset's ``update()`` and ``delete()`` raise ``AuditEntryImmutable``;
the retention purge (``AuditEntry.objects.purge_older_than``) is the one way rows go, and the
one update allowed is the one Django's deletion of a user makes (``actor`` set to NULL: the
entry keeps the name in ``actor_label``).
"""

from django.conf import settings
from django.db import models
from django.utils import timezone


class AuditEntryImmutable(RuntimeError):
    """An attempt to change or delete an audit entry (only the retention purge deletes)."""


class AuditQuerySet(models.QuerySet):
    """Entries, newest first by default; refuses bulk changes and deletions."""

    def update(self, **kwargs):
        # Deleting a user sets ``actor`` to NULL through this (on_delete=SET_NULL): the only
        # update an entry ever gets, and it keeps the name in actor_label.
        if set(kwargs) == {"actor"} and kwargs["actor"] is None:
            return super().update(**kwargs)
        raise AuditEntryImmutable("Audit entries cannot be changed.")

    def delete(self):
        raise AuditEntryImmutable("Audit entries cannot be deleted (only the retention purge).")

    delete.queryset_only = True

    def for_filters(self, *, actor=None, action=None, object_type=None, start=None, end=None):
        """The entries matching the audit page's and API's filters (each optional): actor (a
        username, matched exactly against the snapshot), action slug, object type (e.g.
        ``settings_app.teamkey``), ``start``/``end`` as aware datetimes (end excluded)."""
        rows = self
        if actor:
            rows = rows.filter(actor_label=actor)
        if action:
            rows = rows.filter(action=action)
        if object_type:
            rows = rows.filter(object_type=object_type)
        if start is not None:
            rows = rows.filter(created_at__gte=start)
        if end is not None:
            rows = rows.filter(created_at__lt=end)
        return rows


class AuditManager(models.Manager.from_queryset(AuditQuerySet)):
    def purge_older_than(self, cutoff) -> int:
        """Delete the entries written before ``cutoff``: the retention purge, the one way an
        entry goes. Returns how many were deleted."""
        old = self.get_queryset().filter(created_at__lt=cutoff)
        deleted, _ = models.QuerySet.delete(old)  # past AuditQuerySet.delete's refusal
        return deleted


class AuditEntry(models.Model):
    """One security- or money-relevant action: when, who (from which address and client),
    what, on which object, what changed (never a secret: imagegen.core.audit redacts)."""

    # What an entry shows, in this order: the admin's page, the API, the CSV export.
    FIELDS = (
        "created_at",
        "actor",
        "actor_label",
        "ip_address",
        "client",
        "action",
        "object_type",
        "object_id",
        "object_label",
        "changes",
        "details",
    )

    created_at = models.DateTimeField(default=timezone.now, db_index=True, editable=False)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        editable=False,
    )
    actor_label = models.CharField(
        max_length=150, blank=True, editable=False, help_text="The username at the time."
    )
    ip_address = models.GenericIPAddressField(null=True, blank=True, editable=False)
    client = models.CharField(
        max_length=200,
        blank=True,
        editable=False,
        help_text='The browser, "API token …", "admin", "worker" or "command".',
    )
    action = models.CharField(max_length=40, db_index=True, editable=False)
    object_type = models.CharField(max_length=100, blank=True, editable=False)
    object_id = models.CharField(max_length=64, blank=True, editable=False)
    object_label = models.CharField(max_length=200, blank=True, editable=False)
    changes = models.JSONField(
        default=dict, blank=True, editable=False, help_text="Before and after, per field."
    )
    details = models.JSONField(default=dict, blank=True, editable=False)

    objects = AuditManager()

    class Meta:
        app_label = "core"
        ordering = ["-id"]
        verbose_name = "audit entry"
        verbose_name_plural = "audit entries"
        indexes = [models.Index(fields=["object_type", "object_id"], name="core_audit_object")]

    def __str__(self):
        who = self.actor_label or "system"
        return f"{self.action} by {who}"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise AuditEntryImmutable("Audit entries cannot be changed.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AuditEntryImmutable("Audit entries cannot be deleted (only the retention purge).")
