"""The permission matrix: every URL the project exposes, how to call it, and who gets what.

``REGISTRY`` maps a URL's name (``namespace:name``; the route for an unnamed pattern) to an
``Entry``: how to build its arguments from the test world (tests/security/world.py) and the
requests to make, each with the status every role must get. ``test_permission_matrix.py``
fails when a URL exists without an entry and when an entry names a URL that is gone, so a new
endpoint cannot be added without deciding who may use it.

Roles (tests/security/world.py): anonymous, outsider (shares nothing), viewer and editor of
the owner's project, owner, staff (a superuser who is no member of anything).

``writers`` are the roles whose request may change data; for every other role the test
snapshots the database and the stored files before and after and requires them unchanged.
By default the writers are the roles answered with a 2xx to a non-GET request.

Admin URLs are generated from ``admin.site._registry``: every registered ModelAdmin gets
the same rows (staff 200, everyone else a redirect to the admin login), so a model added to
the admin is covered; a ModelAdmin that adds its own URLs (``get_urls``) is not, and fails
the coverage test until an entry is written for it.
"""

from collections.abc import Callable
from dataclasses import dataclass, field

from django.contrib import admin

ROLES = ("anonymous", "outsider", "viewer", "editor", "owner", "staff")


def expect(default=None, **per_role) -> dict:
    """Statuses per role: ``default`` for every role not named."""
    table = dict.fromkeys(ROLES, default)
    table.update(per_role)
    missing = [role for role, status in table.items() if status is None]
    assert not missing, f"no expected status for {missing}"
    return table


# The common shapes.
API_ANY = expect(200, anonymous=401)  # any signed-in user, about their own things
PAGE_ANY = expect(200, anonymous=302)  # login_required page
OWN_API = expect(404, anonymous=401, owner=200)  # the owner's private object
OWN_PAGE = expect(404, anonymous=302, owner=200)
SHARED_API = expect(200, anonymous=401, outsider=404, staff=404)  # seen through the project
SHARED_PAGE = expect(200, anonymous=302, outsider=404, staff=404)
# Changing one's own image / style / project: the owner; members are told 403; others 404.
OWNER_WRITE_API = expect(403, anonymous=401, outsider=404, staff=404, owner=200)


@dataclass(frozen=True)
class Case:
    """One request and the status each role must get."""

    method: str
    statuses: dict
    data: Callable | dict | None = None  # a dict, or a function of the world
    query: str = ""
    form: bool = False  # send ``data`` form-encoded (HTML forms) instead of JSON
    writers: frozenset | None = None
    kwargs: Callable | None = None  # overrides the entry's kwargs for this case

    def status_for(self, role, world) -> int:
        status = self.statuses[role]
        return status(world) if callable(status) else status

    def may_write(self, role, world) -> bool:
        if self.writers is not None:
            return role in self.writers
        return self.method != "GET" and 200 <= self.status_for(role, world) < 300

    def payload(self, world):
        return self.data(world) if callable(self.data) else self.data


@dataclass(frozen=True)
class Entry:
    """How to build the URL's arguments from the world, and what to request."""

    cases: tuple
    kwargs: Callable = field(default=lambda w: {})


def _pk(attr):
    return lambda w: {"pk": getattr(w, attr).pk}


ALL_SIGNED_IN = frozenset(ROLES) - {"anonymous"}
GENERATE = {
    "provider": "offline",
    "model": "offline-shapes",
    "prompt": "a quiet harbour",
    "width": 64,
    "height": 64,
    "num_images": 1,
}
UPSCALE = {"provider": "offline", "model": "offline-shapes", "operation": "upscale", "scale": 2}
INPAINT = {"provider": "offline", "model": "offline-shapes", "operation": "inpaint", "prompt": "x"}
SHARED_OPERATION = expect(202, anonymous=401, outsider=404, staff=404)


def _upload(**fields) -> dict:
    """A multipart upload body with a fresh file object (each role reads its own)."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    from tests.gallery.factories import image_bytes

    return {"file": SimpleUploadedFile("matrix.png", image_bytes(colour=7)), **fields}


# Reading one's settings (or the Generate page, which starts from them) creates one's own
# preferences row on first use; that is the only write a read may do.
OWN_PREFERENCES = ALL_SIGNED_IN

REGISTRY: dict[str, Entry] = {
    # --- Auth -------------------------------------------------------------------------------
    "home": Entry((Case("GET", expect(302)),)),
    "login": Entry(
        (
            Case("GET", expect(302, anonymous=200)),
            Case(
                "POST",
                expect(302, anonymous=200),
                form=True,
                data={"username": "owner", "password": "wrong"},
                writers=frozenset(),
            ),
        )
    ),
    # The second sign-in step: without a password step just before, back to /login/.
    "login-verify": Entry(
        (
            Case("GET", expect(302)),
            Case("POST", expect(302), form=True, data={"code": "000000"}, writers=frozenset()),
        )
    ),
    "logout": Entry((Case("POST", expect(302), writers=ALL_SIGNED_IN),)),
    "password_change": Entry(
        (
            Case("GET", PAGE_ANY),
            Case("POST", PAGE_ANY, form=True, data={"old_password": "wrong"}),
        )
    ),
    "password_change_done": Entry((Case("GET", PAGE_ANY),)),
    # The browsable API's log-in sends everyone to /login/ (settings_app/signin.py); a
    # password posted here is not read.
    "rest_framework:login": Entry(
        (
            Case("GET", expect(302)),
            Case(
                "POST",
                expect(302),
                form=True,
                data={"username": "owner", "password": "x"},
                writers=frozenset(),
            ),
        )
    ),
    "rest_framework:logout": Entry((Case("POST", expect(302), writers=ALL_SIGNED_IN),)),
    # Two-factor sign-in under Settings: one's own, for every signed-in user. The outsider
    # has it on (tests/security/world.py), so cannot start a set-up; a wrong code counts
    # against their device (django-otp's back-off), the only write a refusal makes.
    "two-factor": Entry(
        (
            Case("GET", PAGE_ANY),
            Case(
                "POST",
                expect(302, outsider=400),
                form=True,
                data={},
                writers=ALL_SIGNED_IN - {"outsider"},
            ),
        )
    ),
    "two-factor-confirm": Entry(
        (Case("POST", expect(400, anonymous=302), form=True, data={"code": "000000"}),)
    ),
    "two-factor-recovery-codes": Entry(
        (
            Case(
                "POST",
                expect(400, anonymous=302),
                form=True,
                data={"code": "000000"},
                writers=frozenset({"outsider"}),
            ),
        )
    ),
    "two-factor-disable": Entry(
        (
            Case(
                "POST",
                expect(400, anonymous=302),
                form=True,
                data={"password": "wrong", "code": "000000"},
            ),
        )
    ),
    # Linking one's account to single sign-on: a 404 while OIDC is off, as here (the links
    # themselves: tests/oidc/test_link.py).
    "sso-link": Entry(
        (Case("POST", expect(404, anonymous=302), form=True, data={"password": "x"}),)
    ),
    "sso-unlink": Entry(
        (Case("POST", expect(404, anonymous=302), form=True, data={"password": "x"}),)
    ),
    "signup": Entry(
        (Case("GET", expect(404)), Case("POST", expect(404), form=True, data={"username": "new"}))
    ),
    "api-token": Entry(
        (Case("POST", expect(401), data={"username": "owner", "password": "wrong"}),)
    ),
    # OpenID Connect sign-in (settings_app/oidc/): a 404 while OIDC_ISSUER is unset, as here;
    # tests/oidc/ covers it switched on, against a real provider.
    "oidc_authentication_init": Entry((Case("GET", expect(404)),)),
    "oidc_authentication_callback": Entry(
        (
            Case("GET", expect(404)),
            Case("GET", expect(404), query="code=forged&state=forged"),
        )
    ),
    # Desktop mode's one-time sign-in (imagegen/core/desktop.py): a 404 on a team server,
    # with or without a ticket; tests/desktop/test_sign_in.py covers desktop mode itself.
    "desktop-sign-in": Entry(
        (
            Case("GET", expect(404)),
            Case("POST", expect(404), form=True, data={"ticket": "anything"}),
        )
    ),
    # --- Generation -------------------------------------------------------------------------
    "api-generate": Entry(
        (
            Case("POST", expect(202, anonymous=401), data=GENERATE),
            # Into the shared project: only its owner and editors may generate there.
            Case(
                "POST",
                expect(400, anonymous=401, owner=202, editor=202),
                data=lambda w: {**GENERATE, "project": w.project.pk},
            ),
            # An image operation takes any image the user may view (the project's, for its
            # viewer too); anyone else gets the 404 of a missing image, and nothing is stored.
            Case(
                "POST", SHARED_OPERATION, data=lambda w: {**UPSCALE, "input_images": [w.image.pk]}
            ),
            Case(
                "POST",
                SHARED_OPERATION,
                data=lambda w: {
                    **INPAINT,
                    "input_images": [w.image.pk],
                    "mask": w.editor_image.pk,
                },
            ),
        )
    ),
    "api-estimate": Entry(
        (
            Case("POST", API_ANY, data=GENERATE, writers=frozenset()),
            Case(
                "POST",
                expect(200, anonymous=401, outsider=404, staff=404),
                data=lambda w: {**UPSCALE, "input_images": [w.image.pk]},
                writers=frozenset(),
            ),
        )
    ),
    "api-root": Entry((Case("GET", API_ANY),)),
    "api-providers": Entry((Case("GET", API_ANY),)),
    "api-generation": Entry((Case("GET", OWN_API),), kwargs=_pk("generation")),
    "api-generation-cancel": Entry((Case("POST", OWN_API),), kwargs=_pk("pending")),
    # The old paths (deprecated aliases of the same views): the same rows.
    "api-generation-alias": Entry((Case("GET", OWN_API),), kwargs=_pk("generation")),
    "api-generation-cancel-alias": Entry((Case("POST", OWN_API),), kwargs=_pk("pending")),
    "api-generations": Entry((Case("GET", API_ANY),)),
    "generate": Entry(
        (
            Case("GET", PAGE_ANY, writers=OWN_PREFERENCES),
            Case(
                "POST", expect(302, anonymous=302), form=True, data=GENERATE, writers=ALL_SIGNED_IN
            ),
            Case(
                "POST",
                expect(400, anonymous=302, owner=302, editor=302),
                form=True,
                data=lambda w: {**GENERATE, "project": w.project.pk},
                writers=frozenset({"owner", "editor"}),
            ),
        )
    ),
    "generate-models": Entry((Case("GET", PAGE_ANY, query="provider=offline"),)),
    "generate-model-info": Entry(
        (Case("GET", PAGE_ANY, query="provider=offline&model=offline-shapes"),)
    ),
    "generate-price": Entry(
        (Case("GET", PAGE_ANY, query="provider=offline&model=offline-shapes&width=64&height=64"),)
    ),
    "generation-detail": Entry((Case("GET", OWN_PAGE),), kwargs=_pk("generation")),
    "generation-status": Entry((Case("GET", OWN_PAGE),), kwargs=_pk("generation")),
    "generation-cancel": Entry(
        (Case("POST", expect(404, anonymous=302, owner=302), writers=frozenset({"owner"})),),
        kwargs=_pk("pending"),
    ),
    # Retry queues a copy of the owner's generation: a redirect to the new one for the owner.
    "generation-retry": Entry(
        (Case("POST", expect(404, anonymous=302, owner=302), writers=frozenset({"owner"})),),
        kwargs=_pk("generation"),
    ),
    # --- Prompt tools -----------------------------------------------------------------------
    "api-prompt-styles": Entry(
        (
            Case("GET", API_ANY),
            Case(
                "POST",
                expect(201, anonymous=401),
                data={"name": "Mine", "template": "{prompt}, ink"},
            ),
            # Sharing a preset into a project needs write access to it.
            Case(
                "POST",
                expect(400, anonymous=401, owner=201, editor=201),
                data=lambda w: {
                    "name": "Shared",
                    "template": "{prompt}, ink",
                    "project": w.project.pk,
                },
            ),
        )
    ),
    "api-prompt-style": Entry(
        (
            Case("GET", SHARED_API),
            Case("PATCH", OWNER_WRITE_API, data={"name": "Renamed"}),
            Case("PUT", OWNER_WRITE_API, data={"name": "Renamed", "template": "{prompt}"}),
            Case("DELETE", expect(403, anonymous=401, outsider=404, staff=404, owner=204)),
        ),
        kwargs=_pk("style"),
    ),
    "api-prompt-enhance": Entry((Case("POST", expect(400, anonymous=401), data={}),)),
    "api-prompt-history": Entry(
        (
            Case("GET", API_ANY),
            Case("DELETE", expect(200, anonymous=401)),
        )
    ),
    "api-prompt-history-entry": Entry(
        (Case("DELETE", expect(404, anonymous=401, owner=204)),),
        kwargs=lambda w: {"key": w.history_key},
    ),
    "api-prompt-variations-preview": Entry(
        (
            Case(
                "POST",
                API_ANY,
                data={**GENERATE, "prompt": "a {red|blue} fox"},
                writers=frozenset(),
            ),
        )
    ),
    # --- Gallery ----------------------------------------------------------------------------
    "api-gallery": Entry((Case("GET", API_ANY),)),
    "api-gallery-bulk": Entry(
        (
            # Favoriting is the image owner's alone: anyone else's id refuses the whole request.
            Case(
                "POST",
                expect(404, anonymous=401, owner=200),
                data=lambda w: {"ids": [w.image.pk], "action": "favorite"},
            ),
            # Moving out of the project: the image owner and the project's editors.
            Case(
                "POST",
                expect(404, anonymous=401, owner=200, editor=200),
                data=lambda w: {"ids": [w.image.pk], "action": "move", "project": None},
            ),
        )
    ),
    "api-gallery-image": Entry(
        (
            Case("GET", SHARED_API),
            Case("PATCH", OWNER_WRITE_API, data={"title": "changed"}),
            Case("PUT", OWNER_WRITE_API, data={"title": "changed", "notes": "", "tags": []}),
            Case("DELETE", expect(403, anonymous=401, outsider=404, staff=404, owner=204)),
            # The editor's image in the owner's project: the project owner may not retitle it.
            Case(
                "PATCH",
                expect(403, anonymous=401, outsider=404, staff=404, editor=200),
                data={"title": "changed"},
                kwargs=_pk("editor_image"),
            ),
        ),
        kwargs=_pk("image"),
    ),
    "api-gallery-favorite": Entry((Case("POST", OWNER_WRITE_API),), kwargs=_pk("image")),
    "api-gallery-remix": Entry((Case("GET", SHARED_API),), kwargs=_pk("image")),
    "api-image-download": Entry((Case("GET", SHARED_API),), kwargs=_pk("image")),
    "api-gallery-download": Entry(
        (Case("POST", SHARED_API, data=lambda w: {"ids": [w.image.pk]}, writers=frozenset()),)
    ),
    # Uploads (multipart): anyone signed in, into their own gallery or a project they may
    # contribute to (the viewer may not; for anyone else it is no such project).
    "api-gallery-upload": Entry(
        (
            Case("POST", expect(201, anonymous=401), form=True, data=lambda w: _upload()),
            Case(
                "POST",
                expect(400, anonymous=401, owner=201, editor=201),
                form=True,
                data=lambda w: _upload(project=w.project.pk),
            ),
        )
    ),
    "gallery": Entry((Case("GET", PAGE_ANY),)),
    "gallery-image-panel": Entry((Case("GET", SHARED_PAGE),), kwargs=_pk("image")),
    # The action bar's project picker: whoever sees the image (a viewer gets no choices).
    "gallery-image-projects": Entry((Case("GET", SHARED_PAGE),), kwargs=_pk("image")),
    # The action bar's "Edit and more" menu: whoever sees the image may use it as an input.
    "gallery-image-tools": Entry((Case("GET", SHARED_PAGE),), kwargs=_pk("image")),
    # Files: staff who may view images in the admin see the files too (the admin shows them).
    "image-file": Entry(
        (Case("GET", expect(200, anonymous=401, outsider=404)),), kwargs=_pk("image")
    ),
    "image-thumbnail": Entry(
        (Case("GET", expect(200, anonymous=401, outsider=404)),), kwargs=_pk("image")
    ),
    # --- Projects ---------------------------------------------------------------------------
    "api-projects": Entry(
        (
            Case("GET", API_ANY),
            Case("POST", expect(201, anonymous=401), data={"name": "New one"}),
        )
    ),
    "api-project": Entry(
        (
            Case("GET", SHARED_API),
            Case("PATCH", OWNER_WRITE_API, data={"name": "Renamed"}),
            Case("PUT", OWNER_WRITE_API, data={"name": "Renamed", "description": ""}),
            Case("DELETE", expect(403, anonymous=401, outsider=404, staff=404, owner=204)),
        ),
        kwargs=_pk("project"),
    ),
    "api-project-download": Entry((Case("GET", SHARED_API),), kwargs=_pk("project")),
    "projects": Entry(
        (
            Case("GET", PAGE_ANY),
            Case(
                "POST",
                expect(302),
                form=True,
                data={"name": "From the page"},
                writers=ALL_SIGNED_IN,
            ),
        )
    ),
    "project-detail": Entry((Case("GET", SHARED_PAGE),), kwargs=_pk("project")),
    # Members are sent back to the project with a message; nothing changes.
    "project-edit": Entry(
        (
            Case(
                "POST",
                expect(302, outsider=404, staff=404),
                form=True,
                data={"name": "Renamed"},
                writers=frozenset({"owner"}),
            ),
        ),
        kwargs=_pk("project"),
    ),
    "project-members": Entry(
        (
            Case(
                "POST",
                expect(302, outsider=404, staff=404),
                form=True,
                data={"username": "outsider", "role": "editor"},
                writers=frozenset({"owner"}),
            ),
        ),
        kwargs=_pk("project"),
    ),
    # A member leaves (viewer, editor); the owner is told to delete instead; others 404.
    "project-leave": Entry(
        (
            Case(
                "POST",
                expect(302, outsider=404, staff=404),
                form=True,
                writers=frozenset({"viewer", "editor"}),
            ),
        ),
        kwargs=_pk("project"),
    ),
    "project-delete": Entry(
        (
            Case(
                "POST",
                expect(302, outsider=404, staff=404),
                form=True,
                data={"delete_images": "on"},
                writers=frozenset({"owner"}),
            ),
        ),
        kwargs=_pk("project"),
    ),
    # --- Dashboard --------------------------------------------------------------------------
    "api-dashboard-stats": Entry(
        (
            Case("GET", API_ANY),
            Case("GET", expect(403, anonymous=401, staff=200), query="scope=team"),
        )
    ),
    "api-dashboard-usage": Entry((Case("GET", API_ANY),)),
    "api-dashboard-trends": Entry((Case("GET", API_ANY),)),
    "api-dashboard-budget": Entry((Case("GET", API_ANY),)),
    "dashboard": Entry((Case("GET", PAGE_ANY),)),
    # A read sent as a POST (the prompt stays out of URLs); GET is refused.
    "dashboard-budget-notice": Entry(
        (
            Case("POST", PAGE_ANY, form=True, data={"provider": "offline"}, writers=frozenset()),
            Case("GET", expect(405, anonymous=302)),
        )
    ),
    "dashboard-in-progress": Entry((Case("GET", PAGE_ANY),)),
    # --- Audit trail: staff only; every other signed-in user is told it does not exist ------
    "audit": Entry((Case("GET", expect(404, anonymous=302, staff=200)),)),
    "audit-export": Entry((Case("GET", expect(404, anonymous=302, staff=200)),)),
    "api-audit": Entry((Case("GET", expect(404, anonymous=401, staff=200)),)),
    # --- Live updates -----------------------------------------------------------------------
    # Any signed-in user's own stream (what reaches it: tests/web/test_live_events.py);
    # anonymous gets no stream.
    "live-events": Entry((Case("GET", expect(200, anonymous=403)),)),
    # --- Settings, keys, tokens -------------------------------------------------------------
    "api-settings": Entry(
        (
            Case("GET", API_ANY, writers=OWN_PREFERENCES),
            Case("PATCH", API_ANY, data={"theme": "light"}),
        )
    ),
    "api-keys": Entry(
        (
            Case("GET", API_ANY),
            Case(
                "POST",
                expect(201, anonymous=401, owner=200),
                data={"provider": "openai", "api_key": "sk-new-key-0123456789abcdef"},
            ),
        )
    ),
    "api-key": Entry(
        (Case("DELETE", expect(404, anonymous=401, owner=204)),),
        kwargs=lambda w: {"provider": "openai"},
    ),
    # An unknown provider: nothing is called, so no test reaches the network.
    "api-test-connection": Entry((Case("GET", expect(400, anonymous=401), query="provider=nope"),)),
    "api-tokens": Entry(
        (
            Case("GET", API_ANY),
            Case("POST", expect(201, anonymous=401), data={"name": "ci"}),
        )
    ),
    "api-token-detail": Entry(
        (Case("DELETE", expect(404, anonymous=401, owner=204)),),
        kwargs=lambda w: {"pk": w.token_pk},
    ),
    "settings": Entry(
        (
            Case("GET", PAGE_ANY, writers=OWN_PREFERENCES),
            Case(
                "POST",
                expect(302),
                form=True,
                data={"theme": "light", "items_per_page": 20},
                writers=ALL_SIGNED_IN,
            ),
        )
    ),
    "toggle-theme": Entry((Case("POST", expect(302), writers=ALL_SIGNED_IN),)),
    "settings-key-save": Entry(
        (
            Case(
                "POST",
                expect(302),
                form=True,
                writers=ALL_SIGNED_IN,
                data={"openai-api_key": "sk-new-key-0123456789abcdef"},
            ),
        ),
        kwargs=lambda w: {"provider": "openai"},
    ),
    # Removing "your" key removes only your own: the owner's stays for everyone else.
    "settings-key-delete": Entry(
        (Case("POST", expect(302), writers=frozenset({"owner"})),),
        kwargs=lambda w: {"provider": "openai"},
    ),
    "settings-key-test": Entry(
        (Case("POST", expect(404, anonymous=302)),), kwargs=lambda w: {"provider": "nope"}
    ),
    "settings-token-create": Entry(
        (Case("POST", expect(200, anonymous=302), form=True, data={"name": "ci"}),)
    ),
    "settings-token-revoke": Entry(
        (Case("POST", expect(404, anonymous=302, owner=302), writers=frozenset({"owner"})),),
        kwargs=lambda w: {"pk": w.token_pk},
    ),
    # --- The /v1 gateway (OpenAI's API): API tokens only, never a session, so a page's cookie
    # (and a cross-site form) can do nothing there; token isolation is tests/gateway's.
    "gateway-generations": Entry(
        (Case("POST", expect(401), data={"model": "offline-shapes", "prompt": "x"}),)
    ),
    "gateway-edits": Entry((Case("POST", expect(401)),)),
    "gateway-models": Entry((Case("GET", expect(401)),)),
    "gateway-model": Entry(
        (Case("GET", expect(401)),), kwargs=lambda w: {"model_id": "offline-shapes"}
    ),
    # A signed link: whoever holds a valid one may fetch it (as OpenAI's); a forged one is 404.
    "gateway-file": Entry((Case("GET", expect(404)),), kwargs=lambda w: {"signed": "1..:forged"}),
    "gateway-not-found": Entry((Case("GET", expect(404)),), kwargs=lambda w: {"rest": "chat"}),
    # --- API schema and docs ----------------------------------------------------------------
    # Public on purpose: they describe the API's shape and hold no one's data.
    "api-schema": Entry((Case("GET", expect(200)),)),
    "api-docs": Entry((Case("GET", expect(200)),)),
}


# --- The admin -------------------------------------------------------------------------------
STAFF_ONLY = expect(302, staff=200)  # everyone else is sent to the admin login
STAFF_ONLY_WRITE = expect(302)


def _admin_object(model):
    def kwargs(world):
        return {"object_id": world.admin_rows[model].pk}

    return kwargs


def _admin_entries() -> dict[str, Entry]:
    entries = {
        "admin:index": Entry((Case("GET", STAFF_ONLY),)),
        # The admin's login is the site's /login/ (two-factor included); a signed-in user
        # without admin access is told 403 rather than sent round in a loop.
        "admin:login": Entry((Case("GET", expect(403, anonymous=302, staff=302)),)),
        "admin:logout": Entry((Case("POST", expect(302), writers=ALL_SIGNED_IN),)),
        "admin:jsi18n": Entry((Case("GET", STAFF_ONLY),)),
        # Staff only; without the app/model/field arguments it refuses with 403.
        "admin:autocomplete": Entry((Case("GET", expect(302, staff=403)),)),
        "admin:view_on_site": Entry(
            (Case("GET", expect(302, staff=404)),),
            kwargs=lambda w: {"content_type_id": 1, "object_id": 1},
        ),
        "admin:app_list": Entry(
            (Case("GET", STAFF_ONLY),), kwargs=lambda w: {"app_label": "gallery"}
        ),
        "admin:password_change": Entry((Case("GET", STAFF_ONLY),)),
        "admin:password_change_done": Entry((Case("GET", STAFF_ONLY),)),
        # UserAdmin's own URL: setting another user's password.
        "admin:auth_user_password_change": Entry(
            (
                Case("GET", STAFF_ONLY),
                Case(
                    "POST",
                    STAFF_ONLY_WRITE,
                    form=True,
                    data={"password1": "n3w-Passw0rd!x", "password2": "n3w-Passw0rd!x"},
                    writers=frozenset({"staff"}),
                ),
            ),
            kwargs=lambda w: {"id": w.users["owner"].pk},
        ),
        # The catch-all: unknown admin paths.
        "admin/(?P<url>.*)$": Entry(
            (Case("GET", expect(302, staff=404)),), kwargs=lambda w: {"url": "nothing/here/"}
        ),
    }
    for model in admin.site._registry:
        info = f"admin:{model._meta.app_label}_{model._meta.model_name}"
        obj = _admin_object(model)
        entries[f"{info}_changelist"] = Entry((Case("GET", STAFF_ONLY),))
        entries[f"{info}_add"] = Entry((Case("GET", expect(302, staff=_may(model, "add"))),))
        entries[f"{info}_change"] = Entry((Case("GET", STAFF_ONLY),), kwargs=obj)
        entries[f"{info}_history"] = Entry((Case("GET", STAFF_ONLY),), kwargs=obj)
        entries[f"{info}_delete"] = Entry(
            (
                Case("GET", expect(302, staff=_may(model, "delete"))),
                Case(
                    "POST",
                    expect(302, staff=_may(model, "delete", 302)),
                    form=True,
                    data={"post": "yes"},
                    writers=frozenset({"staff"}),
                ),
            ),
            kwargs=obj,
        )
        # The old-style change URL admin/app/model/<id>/ redirects to .../<id>/change/.
        entries[f"admin/{model._meta.app_label}/{model._meta.model_name}/<path:object_id>/"] = (
            Entry((Case("GET", expect(302)),), kwargs=obj)
        )
    return entries


def _may(model, action, allowed=200):
    """The staff status of an add or delete page: ``allowed`` when the ModelAdmin permits the
    action to a superuser, else 403 (read-only admins such as the job-queue tables)."""

    def status(world):
        model_admin = admin.site._registry[model]
        request = world.staff_request
        if action == "add":
            permitted = model_admin.has_add_permission(request)
        else:
            permitted = model_admin.has_delete_permission(request, world.admin_rows[model])
        return allowed if permitted else 403

    return status


REGISTRY.update(_admin_entries())
