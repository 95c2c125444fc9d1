"""Credential lifecycle: when a user's password changes (the account page, the admin, an
admin reset, ``set_password`` anywhere), the account is deactivated or deleted, every API
token and session of that user ends.

Apps above listen to ``user_deactivated`` (generation cancels the user's queued work);
settings_app never imports them.

The audit trail's hooks on settings_app's own rows: a password change (``user.password_changed``),
a key deleted by anything but its service (an admin inline: ``key.deleted``), a group's
policy and a token's rate limit (``limit.changed``); docs/audit.md.
"""

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import QuerySet
from django.db.models.signals import post_delete, post_save, pre_delete, pre_save
from django.dispatch import Signal, receiver

from imagegen.core import audit
from settings_app.models import ApiKey, GroupPolicy, NamedToken, TeamKey
from settings_app.services import end_sessions_and_tokens, record_key_deletion

# What a group's policy entry records before/after of (limit.changed).
GROUP_POLICY_FIELDS = GroupPolicy.FIELDS

# Sent (sender: the user model, user=…) after a user is saved inactive who was active.
user_deactivated = Signal()


@receiver(pre_save, sender=settings.AUTH_USER_MODEL, dispatch_uid="settings_app.credentials_before")
def remember_credentials(sender, instance, raw=False, **kwargs):
    """Note the stored password hash and active flag, to compare after the save."""
    if raw or instance.pk is None:
        instance._credentials_before = None
        return
    instance._credentials_before = (
        sender._default_manager.filter(pk=instance.pk).values_list("password", "is_active").first()
    )


def _rehashed(user, save_kwargs) -> bool:
    """Whether this save is Django's hash upgrade in ``check_password``: it saves only the
    password and clears the raw password first ("hash upgrades shouldn't be considered
    password changes"), where ``set_password`` keeps it until the save is over."""
    fields = save_kwargs.get("update_fields")
    return fields is not None and set(fields) == {"password"} and user._password is None


@receiver(post_save, sender=settings.AUTH_USER_MODEL, dispatch_uid="settings_app.credentials_after")
def end_access_on_credential_change(sender, instance, created, raw=False, **kwargs):
    """A new password (the rule Django uses for sessions) or a deactivation ends every
    session and API token of the user; a deactivation also tells the apps above. Django's
    own re-hash of the same password at sign-in (a hasher's iterations raised by an upgrade)
    is not a new password: nothing ends and nothing is recorded."""
    before = getattr(instance, "_credentials_before", None)
    instance._credentials_before = None
    if raw or created or before is None:
        return
    password_before, active_before = before
    deactivated = active_before and not instance.is_active
    password_changed = instance.password != password_before and not _rehashed(instance, kwargs)
    if password_changed or deactivated:
        with transaction.atomic():
            if password_changed:
                # The one entry of a password change, wherever it is made (the account page,
                # the admin's "set password": its LogEntry then finds the user recorded).
                # No values: never the hash.
                audit.record("user.password_changed", obj=instance)
            reason = "password_changed" if password_changed else "deactivated"
            end_sessions_and_tokens(instance, reason=reason)
    if deactivated:
        user_deactivated.send(sender=sender, user=instance)


@receiver(
    pre_delete, sender=settings.AUTH_USER_MODEL, dispatch_uid="settings_app.credentials_delete"
)
def end_access_on_delete(sender, instance, **kwargs):
    """Deleting a user deletes their tokens and their sessions (here)."""
    end_sessions_and_tokens(instance, reason="deleted")


def _part_of_a_user_deletion(origin) -> bool:
    """Whether a deletion started at ``origin`` (the signals' ``origin``: the instance or
    queryset whose delete() ran) is a user's: their keys go with them, which is the
    user.deleted entry, not one key.deleted entry per key. Read from the deletion itself, so
    nothing is left over when one fails and rolls back."""
    User = get_user_model()
    if isinstance(origin, User):
        return True
    return isinstance(origin, QuerySet) and issubclass(origin.model, User)


@receiver(post_delete, sender=ApiKey, dispatch_uid="settings_app.apikey_deleted")
@receiver(post_delete, sender=TeamKey, dispatch_uid="settings_app.teamkey_deleted")
def key_deleted(sender, instance, **kwargs):
    """A key deleted by anything but ``services.delete_api_key`` (which records it itself),
    an admin inline for one: one key.deleted entry. An admin deletion of the key claimed it
    (its admin.change entry; ``record`` then writes nothing), and a key deleted with its
    user is part of the user's deletion."""
    if getattr(instance, "_audit_recorded", False):
        return
    if sender is ApiKey and _part_of_a_user_deletion(kwargs.get("origin")):
        return
    if sender is ApiKey and audit.is_claimed("auth.user", instance.user_id):
        return
    record_key_deletion(instance, parent=instance.user if sender is ApiKey else None)


@receiver(pre_delete, sender=GroupPolicy, dispatch_uid="settings_app.grouppolicy_deleted")
def group_policy_deleted(sender, instance, **kwargs):
    """A group's policy removed (the admin inline): limit.changed with what it held (read
    before the delete: the admin's form instance carries the posted values); a policy
    deleted with its group is part of the group's deletion."""
    if audit.is_claimed("auth.group", instance.group_id):
        return
    stored = sender._base_manager.filter(pk=instance.pk).values(*GROUP_POLICY_FIELDS).first()
    if stored is None:
        return
    defaults = {name: sender._meta.get_field(name).get_default() for name in GROUP_POLICY_FIELDS}
    held = {name: [value, None] for name, (_, value) in audit.diff(defaults, stored).items()}
    audit.record(
        "limit.changed",
        obj=instance,
        changes=held,
        details={"deleted": True, "group": instance.group.name},
        parent=instance.group,
    )


def track_audited_models() -> None:
    """An API token's requests-per-minute limit (set in the admin), and a group's policy
    (the group admin's inline): an audit entry with before/after when they change (the
    token's creation and revocation are recorded by settings_app.services; a policy's
    deletion by ``group_policy_deleted``)."""
    audit.track_model(
        GroupPolicy,
        GROUP_POLICY_FIELDS,
        "limit.changed",
        creations="always",
        deletions=False,
        parent=lambda policy: policy.group,
    )
    audit.track_model(
        NamedToken, ("requests_per_minute",), "limit.changed", creations="never", deletions=False
    )
