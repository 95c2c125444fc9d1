"""Admin power: what a staff member who is not a superuser can do with each permission they may
be given, for every model in the admin. None may lead to code execution (the job queue runs
the function a row names), a secret, or more power than was given (staff, superuser,
permissions, groups, another staff account). The rules are in docs/security.md, "Admin power".
"""

import pytest
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.contrib.contenttypes.models import ContentType
from django.core import serializers
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django_q.models import Failure, OrmQ, Schedule, Success
from knox.models import AuthToken

from generation.usage.models import SpendEntry
from imagegen.core.models import AuditEntry
from imagegen.providers.backends import Backend, Workflow
from settings_app.models import OidcIdentity
from tests.security.world import admin_secrets
from tests.users import PASSWORD, make_user

User = get_user_model()

# Every admin model, and what its permissions give a staff member who is not a superuser.
# A newly registered model fails test_every_admin_model_was_reviewed until it is added here
# (and its powers checked below when they go beyond the model's own rows).
REVIEWED = {
    "auth.Group": "names, members' view and (with the group policy permissions) the inline "
    "policy: allowed models, budgets, caps; only superusers give a group permissions or the "
    "team keys",
    "auth.User": "non-staff accounts and oneself; never staff, superuser, groups, permissions",
    "knox.AuthToken": "view and revoke; tokens are never made or moved here",
    "django_q.Schedule": "view and delete; only superusers add or change, own functions only",
    "django_q.Success": "view and delete; only superusers resubmit, own functions only",
    "django_q.Failure": "view and delete; only superusers resubmit, own functions only",
    "django_q.OrmQ": "view and delete queued packages; never edited",
    "gallery.Image": "image rows",
    "gallery.Tag": "tag rows",
    "generation.Generation": "view, cancel or retry (as the owner would); never add or rewrite",
    "generation.CatalogModel": "the model catalog (no code, no secret)",
    "generation.Backend": "view GPU backends; only superusers add or change them (URL, login)",
    "generation.Workflow": "view ComfyUI workflows; only superusers add or change them",
    "generation.StylePreset": "style rows",
    "generation.ModelAlias": "the /v1 gateway's model names, each naming a catalog model",
    "projects.Project": "project rows and memberships",
    "settings_app.Preferences": "preference rows",
    "settings_app.TeamKey": "write-only team keys (never shown)",
    "settings_app.ApiKey": "view masked keys and remove them",
    "settings_app.NamedToken": "view token names, revoke them, set their requests per minute",
    "settings_app.OidcIdentity": "view sign-in links and remove them; never made or moved",
    "dashboard.UserBudget": "budgets",
    "dashboard.TeamBudget": "the team budget",
    "dashboard.SpendEntry": "view paid calls that are not generations; only the gate writes them",
    "axes.AccessAttempt": "login failure records",
    "axes.AccessLog": "login records",
    "axes.AccessFailureLog": "login failure records",
    "core.AuditEntry": "view only; nobody adds, changes or deletes an entry (superusers neither)",
}

# Admin actions a staff member may be offered; anything else needs a look first.
STAFF_ACTIONS = {
    "delete_selected",
    "cancel_selected",
    "retry_selected",
    "refresh_from_providers",
    "deactivate",
    "activate",
    "cleanup_expired_attempts",  # axes: removes expired login-failure rows
    # Removes the second factor of accounts the staff member may edit (never staff's for a
    # non-superuser); like setting their password, which the same permission allows.
    "reset_two_factor",
}
# Admins whose rows name a function the worker runs, or a credential: never written by staff.
NEVER_ADDED = {
    Schedule,
    AuthToken,
    OrmQ,
    Success,
    Failure,
    SpendEntry,
    Backend,
    Workflow,
    AuditEntry,
    OidcIdentity,
}
NEVER_CHANGED = {Schedule, AuthToken, OrmQ, SpendEntry, Backend, Workflow, AuditEntry, OidcIdentity}


def _permissions(model):
    content_type = ContentType.objects.get_for_model(model, for_concrete_model=False)
    return list(Permission.objects.filter(content_type=content_type))


def _clerk(*permissions, username="clerk"):
    clerk = make_user(username, is_staff=True)
    clerk.user_permissions.add(*permissions)
    return User.objects.get(pk=clerk.pk)  # no cached permissions


def _login(user):
    client = Client()
    client.force_login(user)
    return client


def _url(model, view, *args):
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}", args=args)


def test_every_admin_model_was_reviewed():
    assert {model._meta.label for model in admin.site._registry} == set(REVIEWED)


def test_each_permission_alone_shows_no_secret_offers_no_code_and_grants_nothing(world, rf):
    checked = 0
    for model, model_admin in admin.site._registry.items():
        for permission in _permissions(model):
            clerk = _clerk(permission, username=f"clerk-{permission.pk}")
            client = _login(clerk)
            row = world.admin_rows[model]
            pages = [_url(model, "changelist"), _url(model, "change", row.pk)]
            pages += [_url(model, "add"), _url(model, "history", row.pk)]
            for url in pages:
                html = client.get(url).content.decode()
                for secret in admin_secrets(world):
                    assert secret not in html, (permission.codename, url)
            request = rf.get("/admin/")
            request.user = clerk
            offered = set(model_admin.get_actions(request))
            assert offered <= STAFF_ACTIONS, (permission.codename, offered - STAFF_ACTIONS)
            if model in NEVER_ADDED:
                assert not model_admin.has_add_permission(request), permission.codename
            if model in NEVER_CHANGED:
                assert not model_admin.has_change_permission(request, row), permission.codename
            clerk.refresh_from_db()
            assert not (clerk.is_superuser or clerk.groups.exists()), permission.codename
            assert list(clerk.user_permissions.all()) == [permission]
            checked += 1
    assert checked >= 4 * len(admin.site._registry)


# --- The job queue: no staff member makes the worker run a function of their choosing ------


def _schedule_post(func="os.system", **extra):
    now = timezone.localtime()
    return {
        "name": "probe",
        "func": func,
        "hook": "",
        "args": "'id'",
        "kwargs": "",
        "schedule_type": "O",
        "minutes": "",
        "repeats": "-1",
        "next_run_0": now.strftime("%Y-%m-%d"),
        "next_run_1": now.strftime("%H:%M:%S"),
        "cron": "",
        "cluster": "",
        "intended_date_kwarg": "",
        **extra,
    }


def test_schedule_permissions_do_not_let_staff_schedule_code(world):
    clerk = _clerk(*_permissions(Schedule))
    client = _login(clerk)
    schedule = world.admin_rows[Schedule]
    assert client.post(_url(Schedule, "add"), _schedule_post()).status_code == 403
    response = client.post(_url(Schedule, "change", schedule.pk), _schedule_post())
    assert response.status_code == 403
    schedule.refresh_from_db()
    assert schedule.func == "generation.tasks.recover_generations"
    assert not Schedule.objects.exclude(func__startswith="generation.tasks.").exists()


@pytest.mark.parametrize(
    ("field", "extra"),
    [
        ("func", {}),
        ("hook", {"func": "generation.tasks.recover_generations", "hook": "os.system"}),
        (
            "kwargs",
            {
                "func": "generation.tasks.recover_generations",
                "kwargs": "chain=[('os.system', ('id',))]",
            },
        ),
    ],
)
def test_even_a_superuser_schedules_only_the_sites_own_functions(world, field, extra):
    client = _login(world.users["staff"])
    response = client.post(_url(Schedule, "add"), _schedule_post(**extra))
    assert response.status_code == 200  # the form again, with the error
    assert field in response.context["adminform"].form.errors
    assert not Schedule.objects.filter(name="probe").exists()


def test_a_superuser_may_schedule_the_recovery_sweep(world):
    client = _login(world.users["staff"])
    data = _schedule_post(func="generation.tasks.recover_generations", args="")
    assert client.post(_url(Schedule, "add"), data).status_code == 302
    assert Schedule.objects.filter(name="probe").exists()


def test_no_code_path_saves_a_schedule_with_another_function(db):
    with pytest.raises(ValidationError):
        Schedule.objects.create(name="probe", func="os.system", args="'id'")
    with pytest.raises(ValidationError):
        Schedule.objects.create(
            name="probe", func="generation.tasks.recover_generations", hook="os.system"
        )
    fixture = serializers.serialize("json", [Schedule(name="probe", func="subprocess.run")])
    with pytest.raises(ValidationError):
        for obj in serializers.deserialize("json", fixture):  # what loaddata does
            obj.save()
    assert not Schedule.objects.filter(name="probe").exists()


@pytest.fixture
def queued(monkeypatch):
    """What django-q2's resubmit action would put on the queue."""
    from django_q import admin as q_admin

    calls = []
    monkeypatch.setattr(q_admin, "async_task", lambda func, *a, **k: calls.append(func))
    return calls


@pytest.mark.parametrize("model", [Success, Failure])
def test_staff_cannot_resubmit_tasks(world, queued, model):
    clerk = _clerk(*_permissions(model))
    task = world.admin_rows[model]
    for action in ("resubmit_task", "resubmit_own_tasks"):
        data = {"action": action, "_selected_action": [task.pk]}
        _login(clerk).post(_url(model, "changelist"), data)
    assert queued == []


@pytest.mark.parametrize("model", [Success, Failure])
def test_a_superuser_resubmits_only_the_sites_own_functions(world, queued, model):
    task = world.admin_rows[model]
    model.objects.filter(pk=task.pk).update(func="os.system")
    client = _login(world.users["staff"])
    data = {"action": "resubmit_own_tasks", "_selected_action": [task.pk]}
    client.post(_url(model, "changelist"), data)
    assert queued == []
    model.objects.filter(pk=task.pk).update(func="generation.tasks.run_generation")
    client.post(_url(model, "changelist"), data)
    assert queued == ["generation.tasks.run_generation"]


def test_queued_packages_are_never_edited(world):
    row = world.admin_rows[OrmQ]
    clerk = _clerk(*_permissions(OrmQ))
    data = {"key": "elsewhere", "lock": ""}
    assert _login(clerk).post(_url(OrmQ, "change", row.pk), data).status_code == 403
    row.refresh_from_db()
    assert row.key == "default"


# --- Users, groups and tokens: no staff member gives power they were not given --------------


def _user_post(user, **extra):
    joined = timezone.localtime(user.date_joined)
    return {
        "username": user.username,
        "first_name": "",
        "last_name": "",
        "email": "",
        "is_active": "on",
        "date_joined_0": joined.strftime("%Y-%m-%d"),
        "date_joined_1": joined.strftime("%H:%M:%S"),
        "last_login_0": "",
        "last_login_1": "",
        "api_keys-TOTAL_FORMS": "0",
        "api_keys-INITIAL_FORMS": "0",
        "api_keys-MIN_NUM_FORMS": "0",
        "api_keys-MAX_NUM_FORMS": "1000",
        **extra,
    }


def test_change_user_does_not_make_anyone_staff_superuser_or_grant_permissions(world):
    group = Group.objects.create(name="Powerful")
    group.permissions.set(Permission.objects.all())
    clerk = _clerk(*_permissions(User))
    client = _login(clerk)
    others = [world.users["owner"], clerk]
    for user in others:
        power = {
            "is_staff": "on",
            "is_superuser": "on",
            "groups": [group.pk],
            "user_permissions": list(Permission.objects.values_list("pk", flat=True)),
        }
        response = client.post(_url(User, "change", user.pk), _user_post(user, **power))
        assert response.status_code == 302, response.content.decode()[:2000]
    for user in others:
        user = User.objects.get(pk=user.pk)
        assert not user.is_superuser and not user.groups.exists()
        assert user.is_staff == (user.pk == clerk.pk)
    assert clerk.user_permissions.count() == len(_permissions(User))
    assert not world.users["owner"].user_permissions.exists()


def test_change_user_does_not_touch_superusers_or_other_staff(world):
    boss = world.users["staff"]
    colleague = make_user("colleague", is_staff=True)
    client = _login(_clerk(*_permissions(User)))
    new_password = {"password1": "n3w-Passw0rd!x", "password2": "n3w-Passw0rd!x"}
    for target in (boss, colleague):
        data = _user_post(target, is_active="", email="taken@example.com")
        assert client.post(_url(User, "change", target.pk), data).status_code == 403
        password_url = reverse("admin:auth_user_password_change", args=[target.pk])
        assert client.post(password_url, new_password).status_code == 403
        assert client.post(_url(User, "delete", target.pk), {"post": "yes"}).status_code == 403
        data = {"action": "deactivate", "_selected_action": [target.pk]}
        client.post(_url(User, "changelist"), data)
        target.refresh_from_db()
        assert target.is_active and target.check_password(PASSWORD) and not target.email


def test_change_user_does_not_grant_the_team_keys(world):
    clerk = _clerk(*_permissions(User))
    data = {"action": "allow_team_keys", "_selected_action": [clerk.pk, world.users["owner"].pk]}
    _login(clerk).post(_url(User, "changelist"), data)
    for user in (clerk, world.users["owner"]):
        assert not User.objects.get(pk=user.pk).has_perm("settings_app.use_team_keys")


def test_group_permissions_do_not_grant_permissions(world):
    everything = list(Permission.objects.values_list("pk", flat=True))
    clerk = _clerk(*_permissions(Group))
    group = Group.objects.create(name="Clerks")
    clerk.groups.add(group)
    client = _login(clerk)
    data = {"name": "Clerks", "permissions": everything}
    assert client.post(_url(Group, "change", group.pk), data).status_code == 302
    assert not group.permissions.exists()
    data = {"name": "New", "permissions": everything}
    assert client.post(_url(Group, "add"), data).status_code == 302
    assert not Group.objects.get(name="New").permissions.exists()
    assert not User.objects.get(pk=clerk.pk).has_perm("auth.change_user")


# The group page's policy inline (docs/identity.md) with no policy form: what a browser posts
# for a group without a policy when nobody opens the inline.
NO_POLICY_FORMS = {
    "policy-TOTAL_FORMS": "0",
    "policy-INITIAL_FORMS": "0",
    "policy-MIN_NUM_FORMS": "0",
    "policy-MAX_NUM_FORMS": "1",
}


def test_a_superuser_still_gives_groups_permissions(world):
    group = Group.objects.create(name="Editors")
    permission = Permission.objects.get(codename="view_image")
    data = {"name": "Editors", "permissions": [permission.pk], **NO_POLICY_FORMS}
    client = _login(world.users["staff"])
    assert client.post(_url(Group, "change", group.pk), data).status_code == 302
    assert list(group.permissions.all()) == [permission]


def test_token_permissions_do_not_make_or_move_tokens(world):
    boss = world.users["staff"]
    clerk = _clerk(*_permissions(AuthToken))
    client = _login(clerk)
    before = AuthToken.objects.count()
    response = client.post(
        _url(AuthToken, "add"), {"user": boss.pk, "expiry_0": "", "expiry_1": ""}
    )
    assert response.status_code == 403
    token = world.admin_rows[AuthToken]
    owner = token.user_id
    data = {"user": boss.pk, "expiry_0": "", "expiry_1": ""}
    assert client.post(_url(AuthToken, "change", token.pk), data).status_code == 403
    token.refresh_from_db()
    assert token.user_id == owner and AuthToken.objects.count() == before


# --- Generation inputs (the lineage): shown with the generation, never written --------------


def _lineage(world):
    """The owner's image inpainted: an input image, a drawn mask, and a deleted input."""
    from gallery.models import GenerationInput
    from tests.gallery.factories import make_image

    parent = world.image
    child = make_image(world.users["owner"], operation="inpaint")
    common = {"generation": child.generation, "format": "PNG", "width": 48, "height": 32}
    GenerationInput.objects.create(
        image=parent, image_ref=parent.pk, role="input", position=0, file=parent.file,
        sha256=parent.sha256, **common,
    )  # fmt: skip
    GenerationInput.objects.create(
        role="mask", position=1, file="images/ma/sk/mask.png", sha256="m" * 64, **common
    )
    GenerationInput.objects.create(
        image_ref=987654, role="input", position=2, file="images/go/ne/gone.png",
        sha256="g" * 64, **common,
    )  # fmt: skip
    return child.generation, parent


def _input_rows():
    from gallery.models import GenerationInput

    return list(GenerationInput.objects.order_by("pk").values_list())


def test_generation_inputs_are_shown_read_only_with_thumbnails(world):
    from generation.models import Generation

    generation, parent = _lineage(world)
    url = _url(Generation, "change", generation.pk)
    html = _login(world.users["staff"]).get(url).content.decode()
    assert "Inputs (lineage)" in html
    assert reverse("image-thumbnail", args=[parent.pk]) in html
    assert reverse("admin:gallery_image_change", args=[parent.pk]) in html
    assert "drawn mask" in html and "image 987654 (deleted)" in html
    assert 'name="inputs-0-role"' not in html  # shown, not a form field
    for secret in admin_secrets(world):
        assert secret not in html
    changelist = _login(world.users["staff"]).get(_url(Generation, "changelist")).content
    assert b"column-operation" in changelist
    filtered = _login(world.users["staff"]).get(
        _url(Generation, "changelist") + "?operation=inpaint"
    )
    assert filtered.status_code == 200 and f"{generation.pk}</a>".encode() in filtered.content


def test_generation_inputs_follow_the_generations_permission(world):
    from gallery.models import GenerationInput
    from generation.models import Generation

    generation, _ = _lineage(world)
    url = _url(Generation, "change", generation.pk)
    viewer = _clerk(Permission.objects.get(codename="view_generation"))
    assert "drawn mask" in _login(viewer).get(url).content.decode()
    # The inputs' own permissions give nothing: there is no page of their own.
    inputs_only = _clerk(*_permissions(GenerationInput), username="inputs-clerk")
    assert _login(inputs_only).get(url).status_code == 403


def test_no_permission_writes_a_generation_input(world):
    from gallery.models import GenerationInput
    from generation.models import Generation

    generation, parent = _lineage(world)
    before = _input_rows()
    rows = list(GenerationInput.objects.filter(generation=generation).order_by("position"))
    clerk = _clerk(*_permissions(Generation), *_permissions(GenerationInput))
    forged = {
        "inputs-TOTAL_FORMS": "4",
        "inputs-INITIAL_FORMS": "3",
        "inputs-MIN_NUM_FORMS": "0",
        "inputs-MAX_NUM_FORMS": "1000",
        "images-TOTAL_FORMS": "1",
        "images-INITIAL_FORMS": "1",
        "images-MIN_NUM_FORMS": "0",
        "images-MAX_NUM_FORMS": "1000",
        "images-0-id": str(generation.images.get().pk),
        "images-0-generation": str(generation.pk),
    }
    for index, row in enumerate(rows):
        forged |= {
            f"inputs-{index}-id": str(row.pk),
            f"inputs-{index}-generation": str(generation.pk),
            f"inputs-{index}-role": "input",
            f"inputs-{index}-file": "images/ev/il/evil.png",
            f"inputs-{index}-DELETE": "on",
        }
    forged |= {
        "inputs-3-generation": str(generation.pk),
        "inputs-3-image": str(parent.pk),
        "inputs-3-role": "mask",
        "inputs-3-file": "../../etc/passwd",
    }
    for user in (clerk, world.users["staff"]):
        _login(user).post(_url(Generation, "change", generation.pk), forged)
        assert _input_rows() == before
