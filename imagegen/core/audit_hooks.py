"""The audit trail's hooks on what Django and its contrib apps do (the apps hook their own
actions; the one-source rule is in imagegen/core/audit.py's docstring):

- sign-in, sign-out and failed sign-in (Django's auth signals: every way of signing in sends
  them, the login page, the admin, ``POST /api/auth/token``, and later ones such as OIDC or a
  second factor), lockout (django-axes' ``user_locked_out``). The password is never read:
  only the username that was tried;
- users: created, deleted, and changes of username, email and the staff, superuser and
  active flags (before/after); group membership and permissions (the m2m changes, from
  either side); groups created, renamed, deleted and their permissions;
- every admin change: the admin's ``LogEntry``, and its bulk "Delete selected".
"""

from contextvars import ContextVar

from axes.signals import user_locked_out
from django.conf import settings
from django.contrib import admin
from django.contrib.admin.actions import delete_selected
from django.contrib.admin.models import ADDITION, DELETION, LogEntry
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.db.models.signals import m2m_changed, post_delete, post_save
from django.utils import timezone

from imagegen.core import audit
from imagegen.core.models import AuditEntry

# True while the audited "Delete selected" runs: it records the one entry itself.
_bulk_deletion: ContextVar = ContextVar("audit_bulk_deletion", default=False)

USER_FIELDS = ("username", "email", "is_active", "is_staff", "is_superuser")


# --- Sign-in --------------------------------------------------------------------------------


def signed_in(sender, request, user, **kwargs):
    audit.record("auth.sign_in", actor=user, obj=user, request=request)


def signed_out(sender, request, user, **kwargs):
    if user is not None and user.is_authenticated:
        audit.record("auth.sign_out", actor=user, obj=user, request=request)


def sign_in_failed(sender, credentials, request=None, **kwargs):
    # Django has already masked the password in ``credentials``; only the name is read.
    username = str(credentials.get("username") or "")[:150]
    audit.record(
        "auth.sign_in_failed",
        actor_label=username,
        object_type="auth.user",
        object_label=username,
        request=request,
    )


def locked_out(sender, request, username, ip_address, **kwargs):
    """One entry per lockout: axes sends the signal again for every attempt refused while the
    lockout lasts (each is a failed sign-in entry already)."""
    username = str(username or "")[:150]
    recent = AuditEntry.objects.filter(
        action="auth.lockout",
        actor_label=username,
        ip_address=ip_address,
        created_at__gte=timezone.now() - settings.AXES_COOLOFF_TIME,
    )
    if recent.exists():
        return
    audit.record(
        "auth.lockout",
        actor_label=username,
        object_type="auth.user",
        object_label=username,
        details={"address": ip_address},
        request=request,
    )


# --- Users and groups -----------------------------------------------------------------------


def user_created(sender, instance, created, raw=False, **kwargs):
    if created and not raw:
        flags = {name: getattr(instance, name) for name in USER_FIELDS}
        defaults = {name: sender._meta.get_field(name).get_default() for name in USER_FIELDS}
        audit.record("user.created", obj=instance, changes=audit.diff(defaults, flags))


def user_deleted(sender, instance, **kwargs):
    audit.record("user.deleted", obj=instance)


def _names(model, pks) -> list[str]:
    if model is Group:
        return sorted(Group.objects.filter(pk__in=pks).values_list("name", flat=True))
    if model is get_user_model():
        return sorted(model._default_manager.filter(pk__in=pks).values_list("username", flat=True))
    # Permissions: "app_label.codename".
    return sorted(
        f"{app}.{code}"
        for app, code in model._default_manager.filter(pk__in=pks).values_list(
            "content_type__app_label", "codename"
        )
    )


def membership_changed(sender, instance, action, reverse, model, pk_set, **kwargs):
    """Group membership and permissions of users and groups, from either side."""
    if action == "pre_clear":
        # What a clear removes is known only before it runs.
        field = _m2m_field(sender, instance)
        instance._audit_cleared = list(getattr(instance, field).values_list("pk", flat=True))
        return
    if action not in ("post_add", "post_remove", "post_clear"):
        return
    if action == "post_clear":
        pk_set = getattr(instance, "_audit_cleared", None) or []
        instance._audit_cleared = None
    if not pk_set:
        return
    verb = "added" if action == "post_add" else "removed"
    what = {Group: "groups", get_user_model(): "members"}.get(model, "permissions")
    audit_action = "group.changed" if isinstance(instance, Group) else "user.changed"
    audit.record(audit_action, obj=instance, details={f"{what}_{verb}": _names(model, pk_set)})


def _m2m_field(sender, instance) -> str:
    user_model = get_user_model()
    if sender is user_model.groups.through:
        return "groups" if isinstance(instance, user_model) else "user_set"
    if sender is user_model.user_permissions.through:
        return "user_permissions" if isinstance(instance, user_model) else "user_set"
    return "permissions" if isinstance(instance, Group) else "group_set"


# --- The admin ------------------------------------------------------------------------------


def admin_logged(sender, instance, created, raw=False, **kwargs):
    """One entry per admin action, unless a domain hook already recorded the object in this
    request (see imagegen/core/audit.py)."""
    if not created or raw or _bulk_deletion.get():
        return
    content_type = instance.content_type
    object_type = f"{content_type.app_label}.{content_type.model}" if content_type else ""
    object_id = str(instance.object_id or "")
    flag = {ADDITION: "addition", DELETION: "deletion"}.get(instance.action_flag, "change")
    if flag != "deletion" and audit.already_recorded(object_type, object_id):
        return
    audit.record(
        "admin.change",
        actor=instance.user,
        object_type=object_type,
        object_id=object_id,
        object_label=instance.object_repr,
        details={"admin_action": flag, "message": instance.get_change_message()[:500]},
    )
    if flag == "deletion":
        audit.claim(object_type, object_id)  # the delete's own hooks then record nothing


def audited_delete_selected(modeladmin, request, queryset):
    """Django's "Delete selected", recorded as one entry with the count (its LogEntries are
    written in bulk, which sends no signal)."""
    model = queryset.model
    object_type = model._meta.label_lower
    ids = [str(pk) for pk in queryset.values_list("pk", flat=True)]
    for pk in ids:
        audit.claim(object_type, pk)
    token = _bulk_deletion.set(True)
    try:
        response = delete_selected(modeladmin, request, queryset)
    finally:
        _bulk_deletion.reset(token)
    if response is None:  # deleted (otherwise: the confirmation page)
        audit.record(
            "admin.change",
            object_type=object_type,
            object_label=f"{len(ids)} {model._meta.verbose_name_plural}",
            details={"admin_action": "deletion", "count": len(ids), "ids": ids[:1000]},
        )
    return response


audited_delete_selected.allowed_permissions = delete_selected.allowed_permissions
audited_delete_selected.short_description = delete_selected.short_description


def connect():
    """Connect the receivers (CoreConfig.ready)."""
    user_model = get_user_model()
    user_logged_in.connect(signed_in, dispatch_uid="audit.sign_in")
    user_logged_out.connect(signed_out, dispatch_uid="audit.sign_out")
    user_login_failed.connect(sign_in_failed, dispatch_uid="audit.sign_in_failed")
    user_locked_out.connect(locked_out, dispatch_uid="audit.lockout")
    post_save.connect(user_created, sender=user_model, dispatch_uid="audit.user_created")
    post_delete.connect(user_deleted, sender=user_model, dispatch_uid="audit.user_deleted")
    audit.track_model(user_model, USER_FIELDS, "user.changed", creations="never", deletions=False)
    audit.track_model(Group, ["name"], "group.changed", creations="always")
    for through in (
        user_model.groups.through,
        user_model.user_permissions.through,
        Group.permissions.through,
    ):
        m2m_changed.connect(
            membership_changed, sender=through, dispatch_uid=f"audit.m2m.{through._meta.label}"
        )
    post_save.connect(admin_logged, sender=LogEntry, dispatch_uid="audit.admin")
    admin.site.add_action(audited_delete_selected, "delete_selected")
