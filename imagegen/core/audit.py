"""The audit trail: ``record(action, ...)`` writes one ``AuditEntry`` in the caller's
transaction (no on_commit: the entry commits or rolls back with the action it records).

Who and from where: the actor is the ``actor`` given, else the signed-in user of the
current request; the address (``imagegen.core.client_ip``) and the client (the browser's
User-Agent, ``API token <prefix> (<name>)``, ``admin``) come from the request that
``AuditRequestMiddleware`` keeps in a context variable. Without a request the client is
``worker`` in the job queue's processes, else ``command`` (``set_process_client``).

Never a secret: ``redact`` drops every value whose key looks like one (key, secret, token,
password, api_key, totp, …) from ``changes`` and ``details``, at any depth; hooks pass only
what they mean to record, and this is the net under them.

**One entry per action, one source per action.** The hooks live in the app that owns the
action (settings_app: keys, tokens; projects: sharing; gallery: deletions and ZIP exports;
generation: budgets, catalog, backends) or here in the core for what Django and its
contrib apps do (sign-in signals, users and groups, the admin's LogEntry). The rule between
a domain hook and the admin's LogEntry, which both see an admin save:

- the domain hook wins. An admin save runs the model's hooks first (``save_model``), then
  writes its LogEntry; ``record`` notes every object it recorded during the request, and the
  LogEntry receiver records ``admin.change`` only for an object nothing recorded yet (so an
  admin change of a budget is one ``budget.changed`` with before/after, an admin change of a
  preference row is one ``admin.change``);
- a deletion is the other way round: the admin writes its LogEntry *before* deleting, so the
  LogEntry receiver records ``admin.change`` (``details.admin_action = "deletion"``) and
  claims the object; a domain hook that then sees the same object deleted is skipped;
- the admin's bulk "Delete selected" writes its LogEntries with ``bulk_create`` (no
  signal), so ``audited_delete_selected`` replaces the site-wide action: one
  ``admin.change`` entry with the count and ids, and the objects claimed as above;
- an inline's entry answers for its parent (``record(..., parent=…)``: a group's policy, a
  user's key deleted on the user's page), so the parent's LogEntry adds no second entry.
"""

import logging
import re
import sys
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import timedelta
from decimal import Decimal
from urllib.parse import urlsplit, urlunsplit

from django.conf import settings
from django.core.exceptions import ObjectDoesNotExist
from django.db.models.signals import post_delete, post_save, pre_save
from django.utils import timezone

from imagegen.core.client_ip import client_ip
from imagegen.core.models import AuditEntry

logger = logging.getLogger(__name__)

# The vocabulary: every action an entry may name, with the words the page shows.
ACTIONS = {
    "auth.sign_in": "Signed in",
    "auth.sign_out": "Signed out",
    "auth.sign_in_failed": "Failed sign-in",
    "auth.lockout": "Locked out",
    "key.added": "Provider key added",
    "key.rotated": "Provider key replaced",
    "key.deleted": "Provider key deleted",
    "key.team_first_use": "Team key used for the first time",
    "token.created": "API token created",
    "token.revoked": "API token revoked",
    "user.created": "User created",
    "user.changed": "User changed",
    "user.password_changed": "Password changed",
    "user.deleted": "User deleted",
    "user.sso_linked": "Single sign-on linked",
    "user.sso_unlinked": "Single sign-on unlinked",
    "group.changed": "Group changed",
    "mfa.enabled": "Two-factor sign-in turned on",
    "mfa.recovery_codes": "Recovery codes replaced",
    "mfa.disabled": "Two-factor sign-in turned off",
    "mfa.reset": "Two-factor sign-in reset",
    "project.shared": "Project shared",
    "project.unshared": "Project unshared",
    "project.role_changed": "Project role changed",
    "project.deleted": "Project deleted",
    "budget.changed": "Budget changed",
    "limit.changed": "Limit changed",
    "catalog.changed": "Catalog changed",
    "backend.changed": "GPU backend changed",
    "image.deleted": "Images deleted",
    "generation.deleted": "Generations deleted",
    "export.zip": "ZIP export",
    "admin.change": "Admin change",
    "audit.purged": "Old audit entries purged",
}

# A key naming one of these words (as a whole word of a snake/kebab/camel name), or containing
# one of the SECRET_FRAGMENTS anywhere, holds a secret: its value is never stored.
SECRET_WORDS = frozenset(
    {"key", "keys", "secret", "token", "tokens", "password", "passwd", "pwd", "totp", "otp",
     "credential", "credentials", "recovery", "signature", "hash", "salt", "cookie", "session",
     "authorization", "auth", "pin", "seed"}
)  # fmt: skip
SECRET_FRAGMENTS = ("secret", "password", "passwd", "token", "apikey", "api_key", "totp")
REDACTED_NOTE = "[redacted]"

_request: ContextVar = ContextVar("audit_request", default=None)
# (object_type, object_id) pairs recorded during the current request, and those an admin
# deletion claimed (see the module docstring).
_recorded: ContextVar = ContextVar("audit_recorded", default=None)
_claimed: ContextVar = ContextVar("audit_claimed", default=None)
_process_client = {"name": None}
# (actor, details) that ``acting`` set for the entries written inside it.
_acting: ContextVar = ContextVar("audit_acting", default=None)


# --- Context --------------------------------------------------------------------------------


@contextmanager
def request_context(request):
    """Make ``request`` the current one for ``record`` (AuditRequestMiddleware uses this)."""
    tokens = (_request.set(request), _recorded.set(set()), _claimed.set(set()))
    try:
        yield
    finally:
        _claimed.reset(tokens[2])
        _recorded.reset(tokens[1])
        _request.reset(tokens[0])


@contextmanager
def acting(actor, **details):
    """The entries written inside name ``actor`` (when the caller gives none) and carry
    ``details`` (under the caller's own): what a sign-in does to its own account (an OIDC
    sign-in creates it and syncs its groups) comes from an anonymous request, which would
    otherwise name no one. ``actor`` may still be unsaved: it is read at each entry."""
    token = _acting.set((actor, details))
    try:
        yield
    finally:
        _acting.reset(token)


def current_request():
    """The request being answered on this thread, or None."""
    return _request.get()


def set_process_client(name: str) -> None:
    """Name this process's client for entries written without a request ("worker")."""
    _process_client["name"] = name


def _default_client() -> str:
    if _process_client["name"]:
        return _process_client["name"]
    if any(arg == "qcluster" for arg in sys.argv[1:2]):
        return "worker"
    return "command"


def request_client(request) -> str:
    """How the request came: ``API token <prefix> (<name>)``, ``admin``, or the browser."""
    token = getattr(request, "auth", None)
    token_key = getattr(token, "token_key", None)
    if token_key:
        try:
            name = token.named.name
        except (ObjectDoesNotExist, AttributeError):
            name = ""
        label = f"API token {token_key[:8]}…"
        return f"{label} ({name})"[:200] if name else label
    if request.path.startswith("/admin/"):
        return "admin"
    return (request.headers.get("User-Agent") or "browser")[:200]


def object_key(obj=None, *, object_type: str = "", object_id="") -> tuple[str, str]:
    """(object_type, object_id) of a model instance, or of the given type and id."""
    if obj is not None:
        return obj._meta.label_lower, str(obj.pk)
    return object_type, str(object_id or "")


def claim(object_type: str, object_id) -> None:
    """Mark an object as recorded for the rest of the request: domain hooks that see it
    deleted afterwards write nothing (an admin deletion recorded it first)."""
    claimed = _claimed.get()
    if claimed is not None:
        claimed.add((object_type, str(object_id)))


def is_claimed(object_type: str, object_id) -> bool:
    """Whether an admin deletion claimed the object in this request (see ``claim``)."""
    claimed = _claimed.get()
    return claimed is not None and (object_type, str(object_id)) in claimed


def already_recorded(object_type: str, object_id) -> bool:
    """Whether this request already recorded an entry about the object."""
    recorded = _recorded.get()
    return recorded is not None and (object_type, str(object_id)) in recorded


# --- Redaction ------------------------------------------------------------------------------


def is_secret_name(name) -> bool:
    """Whether a key's name says its value is a secret."""
    text = str(name)
    # camelCase → camel_case, then split on anything that is not a letter or digit.
    words = re.split(r"[^a-z0-9]+", re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", text).lower())
    if SECRET_WORDS.intersection(words):
        return True
    lowered = text.lower()
    return any(fragment in lowered for fragment in SECRET_FRAGMENTS)


def _plain(value):
    """A JSON-able form of a value an entry stores."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, Decimal):
        return str(value)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if hasattr(value, "pk") and hasattr(value, "_meta"):
        return str(value.pk)
    return str(value)


def redact(value):
    """``value`` without any entry whose key looks secret, at any depth; the rest made
    JSON-able (Decimals and dates as text)."""
    if isinstance(value, dict):
        return {str(k): redact(v) for k, v in value.items() if not is_secret_name(k)}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [redact(v) for v in value]
    return _plain(value)


def redact_url(url):
    """The URL without what may carry a credential: the user and password
    (``http://user:pass@host``), the query string (``?api_key=…``) and the fragment.
    Anything that is not a URL with a host is returned as it came (None, "")."""
    if not isinstance(url, str) or not url:
        return url
    try:
        parts = urlsplit(url)
        host = parts.hostname
        port = parts.port
    except ValueError:  # an unparsable URL: keep nothing of it but the scheme
        return "[unparsable URL]"
    if not host:
        return "[URL without a host]" if ("@" in url or "?" in url) else url
    netloc = f"[{host}]" if ":" in host else host
    if port is not None:
        netloc = f"{netloc}:{port}"
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


# --- Recording ------------------------------------------------------------------------------


def record(
    action: str,
    *,
    actor=None,
    obj=None,
    changes=None,
    details=None,
    request=None,
    object_type: str = "",
    object_id="",
    object_label: str = "",
    actor_label: str = "",
    parent=None,
):
    """Write one entry for ``action`` (a slug of ACTIONS) in the caller's transaction and
    return it; None when an admin deletion already recorded this object in this request.

    ``obj`` names the object (or ``object_type``/``object_id``/``object_label`` for one that
    is gone or several: a bulk deletion gives the type and ``details={"count": n}``).
    ``changes`` is {field: [before, after]}; ``details`` anything else worth keeping (counts).
    Both are redacted. ``parent``: the object whose admin form changed this one through an
    inline (a group's policy, a user's key); the entry answers for it too, so the admin's
    LogEntry of the parent adds no second entry for the same save."""
    if action not in ACTIONS:
        raise ValueError(f"Unknown audit action {action!r}; add it to ACTIONS.")
    request = request if request is not None else current_request()
    object_type, object_id = object_key(obj, object_type=object_type, object_id=object_id)
    claimed = _claimed.get()
    if object_id and claimed is not None and (object_type, object_id) in claimed:
        return None
    acting_as = _acting.get()
    if acting_as is not None:
        actor = actor if actor is not None else acting_as[0]
        details = {**acting_as[1], **(details or {})}
    if actor is None and request is not None:
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            actor = user
    if obj is not None and not object_label:
        object_label = str(obj)
    entry = AuditEntry.objects.create(
        actor=actor if actor is not None and actor.pk else None,
        actor_label=(actor_label or (actor.get_username() if actor is not None else ""))[:150],
        ip_address=client_ip(request) if request is not None else None,
        client=request_client(request) if request is not None else _default_client(),
        action=action,
        object_type=object_type[:100],
        object_id=object_id[:64],
        object_label=object_label[:200],
        changes=redact(changes or {}),
        details=redact(details or {}),
    )
    recorded = _recorded.get()
    if recorded is not None and object_id:
        recorded.add((object_type, object_id))
    if recorded is not None and parent is not None:
        recorded.add(object_key(parent))
    return entry


def diff(before: dict, after: dict) -> dict:
    """{field: [before, after]} for the fields whose value changed (secrets left out)."""
    return {
        name: [_plain(before.get(name)), _plain(after.get(name))]
        for name in after
        if _plain(before.get(name)) != _plain(after.get(name)) and not is_secret_name(name)
    }


# --- Tracking a model's settings ------------------------------------------------------------


def track_model(
    model,
    fields,
    action: str,
    *,
    creations: str = "request",
    deletions=True,
    cleaners=None,
    parent=None,
):
    """Record ``action`` with before/after of ``fields`` whenever a row of ``model`` is saved
    with one of them changed (a pre_save read of the stored row; none when ``update_fields``
    names none of them), and when a row is deleted.

    ``creations``: "always" records new rows; "request" only those made during a request (a
    person's, not a start-up sync that fills a catalog); "never" none. ``cleaners``:
    {field: function} applied to both values before they are compared and stored (a URL's
    credentials: ``redact_url``); a change they hide entirely is recorded as
    ``details["hidden_changes"]`` (the field names, never the values). ``parent``: a
    function of the row giving the object whose admin page edits it inline (``record``'s
    ``parent``)."""
    fields = tuple(fields)
    cleaners = dict(cleaners or {})

    def clean(values):
        return {
            name: cleaners[name](value) if name in cleaners else value
            for name, value in values.items()
        }

    uid = f"audit.{model._meta.label_lower}"

    def before_save(sender, instance, raw=False, update_fields=None, **kwargs):
        instance._audit_before = None
        if raw or instance._state.adding or instance.pk is None:
            return
        if update_fields is not None and not set(update_fields) & set(fields):
            instance._audit_skip = True
            return
        instance._audit_skip = False
        instance._audit_before = sender._base_manager.filter(pk=instance.pk).values(*fields).first()

    def after_save(sender, instance, created, raw=False, **kwargs):
        if raw or getattr(instance, "_audit_skip", False):
            instance._audit_skip = False
            return
        after = clean({name: getattr(instance, name) for name in fields})
        if created:
            if creations == "never" or (creations == "request" and current_request() is None):
                return
            defaults = clean({name: model._meta.get_field(name).get_default() for name in fields})
            changes = diff(defaults, after)
            if not changes:
                return
            record(
                action,
                obj=instance,
                changes=changes,
                details={"created": True},
                parent=parent(instance) if parent else None,
            )
            return
        before = getattr(instance, "_audit_before", None)
        instance._audit_before = None
        if before is None:
            return
        changes = diff(clean(before), after)
        # A change the cleaner hides entirely (a URL's user, password, query string or
        # fragment): that it changed is recorded, never what it was or became.
        hidden = [
            name
            for name in cleaners
            if name in before and name not in changes and before[name] != getattr(instance, name)
        ]
        if changes or hidden:
            record(
                action,
                obj=instance,
                changes=changes,
                details={"hidden_changes": hidden} if hidden else None,
                parent=parent(instance) if parent else None,
            )

    def after_delete(sender, instance, **kwargs):
        record(
            action,
            obj=instance,
            details={"deleted": True},
            parent=parent(instance) if parent else None,
        )

    pre_save.connect(before_save, sender=model, weak=False, dispatch_uid=f"{uid}.pre")
    post_save.connect(after_save, sender=model, weak=False, dispatch_uid=f"{uid}.post")
    if deletions:
        post_delete.connect(after_delete, sender=model, weak=False, dispatch_uid=f"{uid}.del")


# --- Retention ------------------------------------------------------------------------------


def purge_expired_entries() -> int:
    """The retention purge: delete the entries older than AUDIT_RETENTION_DAYS, and note how
    many in one entry when there were any; returns the count. The job queue runs it daily
    as generation.tasks.purge_audit_entries (the queue runs only that module's functions)."""
    cutoff = timezone.now() - timedelta(days=settings.AUDIT_RETENTION_DAYS)
    deleted = AuditEntry.objects.purge_older_than(cutoff)
    if deleted:
        record(
            "audit.purged",
            details={"count": deleted, "retention_days": settings.AUDIT_RETENTION_DAYS},
        )
        logger.info("purged %d audit entries older than %s", deleted, cutoff.date())
    return deleted
