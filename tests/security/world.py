"""The objects every security test acts on: one shared project and everything around it.

``owner`` owns a project shared with ``viewer`` (viewer role) and ``editor`` (editor role),
the root conftest's ``shared_project``; it gets one of the owner's images and one of the
editor's. The owner also has a queued generation, a style preset shared into the project, a
provider key, a named API token and a prompt-history entry. ``outsider`` has nothing shared
with them; ``staff`` is a superuser who is not a member of anything. ``ensure_admin_rows``
adds one row for every model the admin registers, so each change page can be opened.
"""

from base64 import b32encode
from dataclasses import dataclass

from django.contrib import admin
from django.contrib.auth.models import Group
from django.utils import timezone

from gallery.models import Image, Tag
from generation.models import Generation, ModelAlias, Status
from generation.prompts.history import entry_id
from generation.prompts.models import StylePreset
from imagegen.core import audit
from projects.models import Project
from settings_app import services as settings_services
from settings_app import two_factor
from settings_app.models import ApiKey, OidcIdentity, Preferences, TeamKey
from tests.gallery.factories import make_image
from tests.mfa.helpers import code_for as totp_code

ROLES = ("anonymous", "outsider", "viewer", "editor", "owner", "staff")
# A provider key that looks real: no page, answer or admin view may ever show it whole.
OWNER_KEY = "sk-owner-secret-0123456789abcdefXYZW"
TEAM_KEY = "sk-team-secret-9876543210fedcbaQRST"
BACKEND_SECRET = "gpu-box-token-5a5a5a5a5a5a5a5a5a5a"


@dataclass
class World:
    users: dict
    project: Project
    image: Image  # the owner's, in the shared project
    editor_image: Image  # the editor's, in the owner's project
    generation: Generation  # the owner's image's (succeeded)
    pending: Generation  # the owner's, queued
    style: StylePreset  # the owner's, shared into the project
    token_pk: int  # the owner's named token
    token: str  # its plaintext
    history_key: str  # the owner's prompt-history entry
    totp_key: str = ""  # the outsider's authenticator secret (hex), two-factor sign-in on

    def user(self, role):
        return self.users.get(role)


def build_world(project, viewer, editor, outsider, staff) -> World:
    """Every object the permission matrix and the hostile-text tests need, in and around
    ``project`` (the owner's, shared with ``viewer`` and ``editor``)."""
    owner = project.owner
    image = make_image(
        owner, project=project, title="owner's image", tags=["fox"], prompt="the owner's own prompt"
    )
    editor_image = make_image(editor, project=project, title="editor's image")
    pending = Generation.objects.create(
        owner=owner,
        provider="offline",
        model="offline-shapes",
        prompt="still queued",
        width=64,
        height=64,
        status=Status.QUEUED,
    )
    style = StylePreset.objects.create(
        owner=owner, project=project, name="Owner style", template="{prompt}, watercolor"
    )
    settings_services.save_api_key(owner, "openai", OWNER_KEY)
    named, token = settings_services.create_named_token(owner, "laptop")
    # The outsider has two-factor sign-in: its secret is one more thing no page may show.
    device = two_factor.start_enrolment(outsider)
    two_factor.confirm_enrolment(outsider, totp_code(device))
    generation = image.generation
    return World(
        users={
            "anonymous": None,
            "outsider": outsider,
            "viewer": viewer,
            "editor": editor,
            "owner": owner,
            "staff": staff,
        },
        project=project,
        image=image,
        editor_image=editor_image,
        generation=generation,
        pending=pending,
        style=style,
        token_pk=named.pk,
        token=token,
        totp_key=device.secret,
        history_key=entry_id(
            generation.prompt_text or generation.prompt,
            generation.negative_prompt_text or generation.negative_prompt,
        ),
    )


def admin_secrets(world: World) -> list[str]:
    """What no admin page may show: provider keys, the API token, the test password, the
    site's keys, every stored password hash (and its hash part), and a second factor's
    secret (hex and base32). (An API token's digest
    is its row's primary key, in every admin URL: a one-way hash of a random token, it signs
    nobody in.)"""
    from django.conf import settings
    from django.contrib.auth import get_user_model

    from tests.users import PASSWORD

    hashes = [h for h in get_user_model().objects.values_list("password", flat=True) if h]
    totp = [world.totp_key, b32encode(bytes.fromhex(world.totp_key)).decode().rstrip("=")]
    return [
        *totp,
        OWNER_KEY,
        TEAM_KEY,
        world.token,
        PASSWORD,
        BACKEND_SECRET,
        settings.SECRET_KEY,
        settings.ENCRYPTION_KEY,
        *hashes,
        *(h.rsplit("$", 1)[-1] for h in hashes),
    ]


def _admin_factories(world: World) -> dict:
    """How to make one row of each admin-registered model that may have none yet."""
    from django_q.models import OrmQ, Schedule, Task

    from generation.usage.models import SpendEntry, TeamBudget, UserBudget

    owner = world.users["owner"]

    def task(success):
        now = timezone.now()
        return Task.objects.create(
            id=f"task-{int(success)}",
            name=f"task {success}",
            func="generation.tasks.run_generation",
            args=(1,),
            started=now,
            stopped=now,
            success=success,
        )

    def axes_row(name, **extra):
        from django.apps import apps

        model = apps.get_model("axes", name)
        fields = {f.name for f in model._meta.get_fields()}
        values = {
            "username": "owner",
            "ip_address": "127.0.0.1",
            "user_agent": "matrix",
            "path_info": "/login/",
            "http_accept": "text/html",
            **extra,
        }
        return model.objects.create(**{k: v for k, v in values.items() if k in fields})

    def backend():
        from imagegen.providers.backends import Backend

        return Backend.objects.create(
            kind="comfyui",
            name="gpu-matrix",
            base_url="http://127.0.0.1:9",
            auth="bearer",
            secret=BACKEND_SECRET,
        )

    def workflow():
        from imagegen.providers.backends import Workflow

        graph = {
            "6": {"class_type": "CLIPTextEncode", "inputs": {"text": "x", "clip": ["4", 1]}},
            "4": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": "a.ckpt"}},
            "9": {"class_type": "SaveImage", "inputs": {"images": ["6", 0]}},
        }
        return Workflow.objects.create(
            model_id="matrix-flow",
            label="Matrix",
            workflow=graph,
            fields={"prompt": {"node": "6", "input": "text"}},
        )

    return {
        "generation.Backend": backend,
        "generation.Workflow": workflow,
        ModelAlias: lambda: ModelAlias.objects.create(
            name="team-default", provider="offline", model="offline-shapes"
        ),
        Group: lambda: Group.objects.create(name="Artists"),
        Tag: lambda: Tag.objects.get_or_create(name="fox")[0],
        Schedule: lambda: Schedule.objects.create(
            func="generation.tasks.recover_generations", name="matrix"
        ),
        OrmQ: lambda: OrmQ.objects.create(key="default", payload="x", lock=None),
        Preferences: lambda: Preferences.for_user(owner),
        OidcIdentity: lambda: OidcIdentity.objects.create(
            user=owner, issuer="https://sso.example.com", subject="u-1"
        ),
        TeamKey: lambda: settings_services.save_team_key("openai", TEAM_KEY, owner),
        ApiKey: lambda: ApiKey.objects.first(),
        UserBudget: lambda: UserBudget.objects.create(user=owner),
        TeamBudget: lambda: TeamBudget.objects.get_or_create(pk=1)[0],
        SpendEntry: lambda: SpendEntry.objects.create(
            owner=owner, kind="prompt_enhance", provider="openai", model="m", cost_usd=1
        ),
        "django_q.Success": lambda: task(True),
        "django_q.Failure": lambda: task(False),
        "axes.AccessAttempt": lambda: axes_row("AccessAttempt", failures_since_start=1),
        "axes.AccessLog": lambda: axes_row("AccessLog"),
        "axes.AccessFailureLog": lambda: axes_row("AccessFailureLog"),
        "core.AuditEntry": lambda: audit.record("auth.sign_in", actor=owner, obj=owner),
    }


def ensure_admin_rows(world: World) -> dict:
    """One row for every model registered in the admin: {model: object}. A newly registered
    model without rows and without a factory above fails here, on purpose."""
    factories = _admin_factories(world)
    rows = {}
    for model in admin.site._registry:
        obj = model.objects.order_by("pk").first()
        if obj is None:
            factory = factories.get(model) or factories.get(model._meta.label)
            assert factory is not None, f"no admin test row for {model._meta.label}"
            factory()
            obj = model.objects.order_by("pk").first()
        rows[model] = obj
    return rows
