"""Credential lifecycle: when a user's password changes (the account page, the admin, an
admin reset, ``set_password`` anywhere), the account is deactivated or deleted, every API
token and session of that user ends.

Apps above listen to ``user_deactivated`` (generation cancels the user's queued work);
settings_app never imports them.
"""

from django.conf import settings
from django.db import transaction
from django.db.models.signals import post_save, pre_delete, pre_save
from django.dispatch import Signal, receiver

from imagegen.core import audit
from settings_app.models import NamedToken
from settings_app.services import end_sessions_and_tokens

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


@receiver(post_save, sender=settings.AUTH_USER_MODEL, dispatch_uid="settings_app.credentials_after")
def end_access_on_credential_change(sender, instance, created, raw=False, **kwargs):
    """A new password hash (the rule Django uses for sessions) or a deactivation ends every
    session and API token of the user; a deactivation also tells the apps above."""
    before = getattr(instance, "_credentials_before", None)
    instance._credentials_before = None
    if raw or created or before is None:
        return
    password_before, active_before = before
    deactivated = active_before and not instance.is_active
    password_changed = instance.password != password_before
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


def track_audited_models() -> None:
    """An API token's requests-per-minute limit (set in the admin): an audit entry with
    before/after when it changes (the token's creation and revocation are recorded by
    settings_app.services)."""
    audit.track_model(
        NamedToken, ("requests_per_minute",), "limit.changed", creations="never", deletions=False
    )
