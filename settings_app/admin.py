"""Admin: users with their key status and team-key permission, team keys (write-only),
user keys (masked, removable), named tokens, preferences. No page renders a stored key.

Powers that make someone more powerful are a superuser's alone (docs/security.md, "Admin
power"): making a user staff or superuser, giving permissions or groups (to a user or a
group), granting the team keys, and editing another staff account; API tokens are never
made or edited here (their owner creates them, and sees the plaintext once)."""

import copy
import logging

from django import forms
from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import GroupAdmin, UserAdmin
from django.contrib.auth.models import Group, Permission
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Exists, OuterRef, Prefetch, Q
from django_otp.plugins.otp_static.models import StaticDevice
from knox.admin import AuthTokenAdmin
from knox.models import AuthToken

from imagegen.core import audit
from settings_app import services, two_factor
from settings_app.models import (
    ApiKey,
    GroupPolicy,
    NamedToken,
    OidcIdentity,
    Preferences,
    TeamKey,
    TotpDevice,
)
from settings_app.signals import user_deactivated

User = get_user_model()
logger = logging.getLogger("imagegen.admin")


@admin.register(Preferences)
class PreferencesAdmin(admin.ModelAdmin):
    list_display = [
        "user",
        "theme",
        "time_zone",
        "default_provider",
        "items_per_page",
        "updated_at",
    ]
    list_filter = ["theme"]
    search_fields = ["user__username"]
    raw_id_fields = ["user", "default_project"]


def _last_test_text(key) -> str:
    test = key.last_test
    if test is None:
        return "not tested"
    words = test["label"] or ("works" if test["ok"] else "failed")
    return f"{words}: {test['message']}"


# --- Team keys ------------------------------------------------------------------------------


class TeamKeyForm(forms.ModelForm):
    """The key is write-only: a password input that is never filled with the stored value."""

    provider = forms.ChoiceField()
    api_key = forms.CharField(
        label="API key",
        required=False,
        strip=False,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
        help_text="Stored encrypted and never shown again. Leave empty to keep the current key.",
    )

    class Meta:
        model = TeamKey
        fields = ["provider"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["provider"].choices = [
            (name, services.provider_label(name)) for name in services.keyed_provider_names()
        ]
        if self.instance.pk is None:
            self.fields["api_key"].required = True
            self.fields["api_key"].help_text = "Stored encrypted and never shown again."

    def clean(self):
        cleaned = super().clean()
        provider, value = cleaned.get("provider"), cleaned.get("api_key")
        if provider and value:
            try:
                cleaned["api_key"] = services.clean_key(provider, value)
            except ValidationError as error:
                self.add_error("api_key", error.message_dict["api_key"])
        return cleaned


@admin.register(TeamKey)
class TeamKeyAdmin(admin.ModelAdmin):
    form = TeamKeyForm
    list_display = [
        "provider",
        "masked",
        "updated_at",
        "updated_by",
        "last_used_at",
        "last_test_text",
    ]
    readonly_fields = [
        "masked",
        "created_at",
        "updated_at",
        "updated_by",
        "last_used_at",
        "last_test_text",
    ]
    list_select_related = ["updated_by"]

    @admin.display(description="last test")
    def last_test_text(self, key):
        return _last_test_text(key)

    def get_queryset(self, request):
        return super().get_queryset(request).defer("secret")

    def save_model(self, request, obj, form, change):
        value = form.cleaned_data.get("api_key")
        if value:
            obj.set_secret(value)
            obj.updated_by = request.user
        with transaction.atomic():
            obj.save()
            if value:  # the audit entry; a change without a new key is the admin's own entry
                services.record_key_change(obj, not change, actor=request.user)


# --- User keys ------------------------------------------------------------------------------


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    """Members' own keys: masked, removable, never readable or editable here."""

    list_display = ["user", "provider", "masked", "updated_at", "last_used_at", "last_test_text"]
    list_filter = ["provider"]
    search_fields = ["user__username"]
    list_select_related = ["user"]
    fields = [
        "user",
        "provider",
        "masked",
        "created_at",
        "updated_at",
        "last_used_at",
        "last_test_text",
    ]
    readonly_fields = fields

    @admin.display(description="last test")
    def last_test_text(self, key):
        return _last_test_text(key)

    def get_queryset(self, request):
        return super().get_queryset(request).defer("secret")

    def has_add_permission(self, request):
        return False  # members add their own keys under Settings

    def has_change_permission(self, request, obj=None):
        return False


class ApiKeyInline(admin.TabularInline):
    model = ApiKey
    fields = ["provider", "masked", "updated_at", "last_used_at"]
    readonly_fields = fields
    extra = 0
    can_delete = True
    verbose_name_plural = "provider keys (masked)"

    def get_queryset(self, request):
        return super().get_queryset(request).defer("secret")

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(NamedToken)
class NamedTokenAdmin(admin.ModelAdmin):
    list_display = ["name", "owner", "prefix", "requests_per_minute", "created_at", "expires_at"]
    list_select_related = ["token__user"]
    search_fields = ["name", "token__user__username"]
    fields = ["name", "owner", "prefix", "requests_per_minute", "created_at", "expires_at"]
    # Only the rate limit is an administrator's to set (a script's token, held to so many
    # requests a minute across the API and the /v1 gateway).
    readonly_fields = ["name", "owner", "prefix", "created_at", "expires_at"]

    @admin.display(description="user")
    def owner(self, named):
        return named.token.user

    @admin.display(description="token starts with")
    def prefix(self, named):
        return named.token.token_key

    @admin.display(description="expires")
    def expires_at(self, named):
        return named.token.expiry

    def has_add_permission(self, request):
        return False  # tokens are created by their owner, who sees the plaintext once

    def delete_model(self, request, obj):
        services.revoke_token(obj)

    def delete_queryset(self, request, queryset):
        for named in queryset.select_related("token"):
            services.revoke_token(named)


# --- API tokens (knox) ---------------------------------------------------------------------


def _record_bulk_flag(field: str, value, usernames: list[str]) -> None:
    """One audit entry for a bulk admin action that set a flag on these users (an UPDATE,
    which no model hook sees)."""
    if usernames:
        audit.record(
            "user.changed",
            object_type="auth.user",
            object_label=f"{len(usernames)} user(s)",
            changes={field: [not value, value]},
            details={"count": len(usernames), "users": usernames},
        )


def _superuser(request) -> bool:
    return bool(request.user.is_active and request.user.is_superuser)


if admin.site.is_registered(AuthToken):
    admin.site.unregister(AuthToken)


@admin.register(AuthToken)
class ApiTokenAdmin(AuthTokenAdmin):
    """Read-only, removable. knox's own page would let staff make a token for any user
    (a superuser's included, shown in plaintext) or move a token to another user."""

    list_display = ["token_key", "user", "created", "expiry"]
    search_fields = ["token_key", "user__username"]
    fields = ["token_key", "user", "created", "expiry"]
    readonly_fields = fields

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


# --- Groups ---------------------------------------------------------------------------------

if admin.site.is_registered(Group):
    admin.site.unregister(Group)


class GroupPolicyForm(forms.ModelForm):
    """The policy's fields, and the team keys: the group's ``use_team_keys`` permission
    shown as a checkbox (the permission is the one record of it; only a superuser changes
    it, as any permission)."""

    team_keys = forms.BooleanField(
        label="May use the team keys",
        required=False,
        help_text="Members without a key of their own use the team's. The same as giving "
        "the group the permission \u201csettings_app | team key | May use the team's provider "
        "keys\u201d; only superusers change it.",
    )

    class Meta:
        model = GroupPolicy
        fields = GroupPolicy.FIELDS
        widgets = {
            "allowed_providers": forms.Textarea(attrs={"rows": 3}),
            "allowed_models": forms.Textarea(attrs={"rows": 4}),
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.group_id:
            self.fields["team_keys"].initial = (
                _team_permission().group_set.filter(pk=self.instance.group_id).exists()
            )


class GroupPolicyInline(admin.StackedInline):
    model = GroupPolicy
    form = GroupPolicyForm
    can_delete = True
    extra = 1
    max_num = 1
    verbose_name = "policy: models and limits of the members"
    verbose_name_plural = "policy: models and limits of the members"

    def get_formset(self, request, obj=None, **kwargs):
        formset = super().get_formset(request, obj, **kwargs)
        if not _superuser(request):  # granting the team keys is granting a permission
            # A copy on this request's form class: the field itself is shared with every
            # later request's (disabling it would disable it for superusers too).
            field = copy.copy(formset.form.base_fields["team_keys"])
            field.disabled = True
            formset.form.base_fields = {**formset.form.base_fields, "team_keys": field}
        return formset


@admin.register(Group)
class TeamGroupAdmin(GroupAdmin):
    """Django's group admin with the group's policy inline; only superusers give a group
    permissions (the team keys included)."""

    inlines = [GroupPolicyInline]

    def get_readonly_fields(self, request, obj=None):
        fields = list(super().get_readonly_fields(request, obj))
        return fields if _superuser(request) else [*fields, "permissions"]

    def save_formset(self, request, form, formset, change):
        super().save_formset(request, form, formset, change)
        if formset.model is not GroupPolicy:
            return
        for policy_form in formset.forms:
            policy = policy_form.instance
            if policy.pk is None or policy_form in formset.deleted_forms:
                continue
            if "allowed_models" not in policy_form.changed_data:
                continue  # said when the list was saved; not again at every save
            missing = policy.models_not_in_catalog()
            if missing:
                messages.warning(
                    request,
                    f"The policy of {form.instance.name} allows models the catalog does not "
                    f"have: {', '.join(missing)}. Members can use a model only once it is in "
                    "the catalog (Generation → Catalog models): check the spelling.",
                )
        if not _superuser(request):
            return
        for policy_form in formset.forms:
            if "team_keys" not in policy_form.changed_data or policy_form in formset.deleted_forms:
                continue
            if policy_form.cleaned_data.get("team_keys"):
                form.instance.permissions.add(_team_permission())
            else:
                form.instance.permissions.remove(_team_permission())


# --- Users ----------------------------------------------------------------------------------

# Fields only a superuser changes: each makes someone more powerful.
POWER_FIELDS = ["is_superuser", "is_staff", "groups", "user_permissions"]


def _team_permission():
    return Permission.objects.get(codename="use_team_keys", content_type__app_label="settings_app")


class TeamKeysAllowedFilter(admin.SimpleListFilter):
    title = "team keys"
    parameter_name = "team_keys"

    def lookups(self, request, model_admin):
        return [("yes", "May use team keys"), ("no", "May not")]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(team_keys_allowed=True)
        if self.value() == "no":
            return queryset.filter(team_keys_allowed=False)
        return queryset


# Second factors are not edited here: their secrets would show (TOTP secrets, QR codes,
# recovery codes). The user admin shows who has one and resets it ("Reset two-factor").
# TotpDevice is never registered; django-otp's static-device admin is taken off.
if admin.site.is_registered(StaticDevice):
    admin.site.unregister(StaticDevice)

if admin.site.is_registered(User):
    admin.site.unregister(User)


@admin.register(User)
class MemberAdmin(UserAdmin):
    """Django's user admin plus key status (masked) and the team-key permission.
    Deactivate a user by clearing "active" (or the action): they can no longer log in."""

    list_display = [
        "username",
        "email",
        "is_active",
        "is_staff",
        "key_status",
        "team_keys_allowed",
        "two_factor",
        "last_login",
    ]
    list_filter = [*UserAdmin.list_filter, TeamKeysAllowedFilter]
    inlines = [ApiKeyInline]
    actions = [
        "allow_team_keys",
        "disallow_team_keys",
        "deactivate",
        "activate",
        "reset_two_factor",
    ]

    def get_readonly_fields(self, request, obj=None):
        fields = list(super().get_readonly_fields(request, obj))
        return fields if _superuser(request) else [*fields, *POWER_FIELDS]

    def _may_edit(self, request, obj) -> bool:
        """Staff who are not superusers edit only themselves and accounts without admin
        access: never a superuser's or another staff member's (password included)."""
        if obj is None or _superuser(request) or obj.pk == request.user.pk:
            return True
        return not (obj.is_staff or obj.is_superuser)

    def has_change_permission(self, request, obj=None):
        return super().has_change_permission(request, obj) and self._may_edit(request, obj)

    def has_delete_permission(self, request, obj=None):
        return super().has_delete_permission(request, obj) and self._may_edit(request, obj)

    def get_actions(self, request):
        actions = super().get_actions(request)
        if not _superuser(request):  # granting the team keys is granting a permission
            actions.pop("allow_team_keys", None)
            actions.pop("disallow_team_keys", None)
        return actions

    def _editable(self, request, queryset):
        if _superuser(request):
            return queryset
        return queryset.filter(is_staff=False, is_superuser=False)

    def get_queryset(self, request):
        # The permission may come directly, through a group, or from being a superuser.
        perm = Q(codename="use_team_keys", content_type__app_label="settings_app")
        direct = Permission.objects.filter(perm, user=OuterRef("pk"))
        via_group = Permission.objects.filter(perm, group__user=OuterRef("pk"))
        return (
            super()
            .get_queryset(request)
            .annotate(team_keys_allowed=Exists(direct) | Exists(via_group) | Q(is_superuser=True))
            .annotate(
                two_factor=Exists(TotpDevice.objects.filter(user=OuterRef("pk"), confirmed=True))
            )
            .prefetch_related(
                Prefetch("api_keys", queryset=ApiKey.objects.defer("secret").order_by("provider"))
            )
        )

    @admin.display(description="provider keys")
    def key_status(self, user):
        keys = list(user.api_keys.all())
        if not keys:
            return "none"
        return ", ".join(f"{k.provider} {k.masked}" for k in keys)

    @admin.display(description="team keys", boolean=True, ordering="team_keys_allowed")
    def team_keys_allowed(self, user):
        return user.team_keys_allowed

    @admin.display(description="two-factor", boolean=True, ordering="two_factor")
    def two_factor(self, user):
        return user.two_factor

    @admin.action(description="Reset two-factor sign-in (they sign in with their password alone)")
    def reset_two_factor(self, request, queryset):
        # Staff who are not superusers reset only accounts they may edit; nobody resets
        # their own here (Settings → Two-factor sign-in asks for a code).
        users = self._editable(request, queryset).exclude(pk=request.user.pk)
        for user in users:
            two_factor.reset(user)
        messages.success(
            request,
            f"Two-factor sign-in reset for {len(users)} user(s); they may set it up again.",
        )

    @admin.action(description="Allow the selected users to use the team keys")
    def allow_team_keys(self, request, queryset):
        users = list(queryset.values_list("pk", flat=True))
        _team_permission().user_set.add(*users)  # one insert, not one per user
        messages.success(request, f"{len(users)} user(s) may now use the team keys.")

    @admin.action(description="Stop the selected users using the team keys")
    def disallow_team_keys(self, request, queryset):
        users = list(queryset.values_list("pk", flat=True))
        _team_permission().user_set.remove(*users)
        messages.success(
            request,
            f"{len(users)} user(s) may no longer use the team "
            "keys (superusers always may; check their groups too).",
        )

    @admin.action(description="Deactivate the selected users (they can no longer log in)")
    def deactivate(self, request, queryset):
        users = self._editable(request, queryset).exclude(pk=request.user.pk)
        with transaction.atomic():
            # Locked: exactly these are deactivated (one reactivated meanwhile by another
            # admin is read active, or waits), and only they are counted and recorded.
            ending = list(users.filter(is_active=True).select_for_update().order_by("username"))
            User.objects.filter(pk__in=[user.pk for user in ending]).update(is_active=False)
            _record_bulk_flag("is_active", False, [user.username for user in ending])
            # An UPDATE runs no save hook: their sessions and API tokens end here, as a
            # deactivating save ends them (settings_app.signals).
            services.end_sessions_and_tokens_of_many(ending, reason="deactivated")
        for user in ending:
            user.is_active = False
            # Their queued work stops; one user's failure must not skip the others'.
            for _receiver, error in user_deactivated.send_robust(sender=type(user), user=user):
                if isinstance(error, Exception):
                    logger.error("deactivating user %s: a receiver failed: %r", user.pk, error)
        messages.success(request, f"{len(ending)} user(s) deactivated.")

    @admin.action(description="Reactivate the selected users")
    def activate(self, request, queryset):
        users = self._editable(request, queryset)
        with transaction.atomic():
            names = sorted(users.filter(is_active=False).values_list("username", flat=True))
            count = users.update(is_active=True)
            _record_bulk_flag("is_active", True, names)
        messages.success(request, f"{count} user(s) reactivated.")


@admin.register(OidcIdentity)
class OidcIdentityAdmin(admin.ModelAdmin):
    """Which provider identity signs in to which account (docs/identity.md). Read-only:
    deleting a link makes that identity's next sign-in create a new account; a link is
    never made or moved here (that would hand an account to another person)."""

    list_display = ["user", "issuer", "subject", "last_sign_in_at", "created_at"]
    list_select_related = ["user"]
    list_filter = ["issuer"]
    search_fields = ["user__username", "subject"]
    fields = ["user", "issuer", "subject", "synced_groups", "created_at", "last_sign_in_at"]
    readonly_fields = fields

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
