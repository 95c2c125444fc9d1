"""The fixtures every folder shares, defined here once.

Users, related the way healthchecks' BaseTestCase relates alice, bob and charlie:

* ``owner`` ("owner") owns ``shared_project`` ("Shared").
* ``viewer`` ("viewer") and ``editor`` ("editor") are on ``shared_project`` with those roles;
  requesting ``shared_project`` makes both memberships, so its members are always these two
  (plus ``member`` when a test asks for it).
* ``member`` ("member") really is on ``shared_project`` too, as an editor by default. Its role
  is the ``member_role`` fixture: override it with ``@member_as("viewer")`` (or several
  roles, one run each) from tests/users.py. ``@member_as(None)`` gives the same user on no
  project at all, for tests that share things with ``member`` themselves and count the result.
* ``outsider`` ("outsider") shares nothing with anyone.
* ``admin_user`` ("boss") is a superuser who is a member of nothing.

API clients logged in as each: ``owner_api``, ``member_api``, ``viewer_api``, ``editor_api``,
``outsider_api``; ``api`` is anonymous; ``owner_client`` is Django's test client (HTML pages).
Plain helpers (PASSWORD, make_user, client_for, member_as) live in tests/users.py: test
modules import those, never a conftest.

Also here: ``isolated_storage`` (autouse: each test stores files under its own folder),
``fast_time`` (autouse: waits that only pace the code are shrunk, see its docstring),
``run_jobs`` (submit and run the enqueued job inline), ``background_jobs`` (every enqueued
generation runs on a thread of its own, as on a worker: for browser tests that watch a job
run) and ``scripted`` (a provider the test scripts). The Playwright ``browser`` and ``page``
fixtures come from tests/plugins/browser.py.
"""

import pytest

from tests.users import PASSWORD, client_for, make_user

pytest_plugins = ["tests.plugins.browser"]


@pytest.fixture(autouse=True)
def isolated_storage(settings, tmp_path):
    """Each test stores files under its own folder."""
    location = tmp_path / "storage"
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {**settings.STORAGES["default"], "OPTIONS": {"location": str(location)}},
    }
    settings.STORAGE_DIR = location
    return location


# --- Waiting ---------------------------------------------------------------------------------

# What fast_time sets: a poll, a cancel check and the grace past a deadline take about one tick
# of the runner's watch loop (TICK_SECONDS, 0.1 s), not seconds.
FAST_POLL_INTERVAL = 0.02  # settings.PROVIDER_POLL_INTERVAL (replicate, fal): 1.0 s
FAST_CANCEL_CHECK = 0.05  # generation.runner.CANCEL_CHECK_SECONDS: 1.0 s, so every tick
FAST_DEADLINE_GRACE = 0.1  # generation.runner.DEADLINE_GRACE_SECONDS: 1.0 s


class _FastForwardContext:
    """The RunContext that the providers' retry helper sees: a retry wait (backoff or the
    server's Retry-After) takes no wall-clock time but is taken off the run's deadline, as if
    that much time had passed. So as many attempts fit into GENERATION_TIMEOUT, and the same
    failure is reported, as when the wait is real. Everything else reads the real context."""

    def __init__(self, ctx):
        self._ctx = ctx

    def __getattr__(self, name):
        return getattr(self._ctx, name)

    def sleep(self, seconds: float) -> None:
        from imagegen.providers.base import GenerationCanceled

        ctx = self._ctx
        ctx.check()
        wait = min(seconds, ctx.remaining())
        if ctx.cancel_event.is_set():
            raise GenerationCanceled()
        ctx.deadline -= wait
        ctx.check()


@pytest.fixture(autouse=True)
def fast_time(settings, monkeypatch):
    """Waits that only pace the code no longer take real time; deadlines a test measures do.

    * Retry waits in ``imagegen.providers.errors.with_retries`` (0.5 s doubling backoff, or a
      fake's Retry-After) are fast-forwarded: see _FastForwardContext.
    * Providers poll every FAST_POLL_INTERVAL (PROVIDER_POLL_INTERVAL).
    * The runner's watch loop looks for a cancel every tick (FAST_CANCEL_CHECK) and abandons
      an uncooperative provider FAST_DEADLINE_GRACE after the deadline (instead of 1 s each).

    Untouched: GENERATION_TIMEOUT, FETCH_TIMEOUT and PROMPT_ENHANCE_TIMEOUT (a test that sets
    one to 1 s still waits that second and sees it expire), the polling sleeps themselves (a
    poll waits for a fake to finish: shorter, but real), TICK_SECONDS, HEARTBEAT_SECONDS and
    SLOT_WAIT_SECONDS (no in-process test waits for them), and anything in the real processes
    of the ``slow`` tests.
    """
    from generation import runner
    from imagegen.providers import errors

    settings.PROVIDER_POLL_INTERVAL = FAST_POLL_INTERVAL
    monkeypatch.setattr(runner, "CANCEL_CHECK_SECONDS", FAST_CANCEL_CHECK)
    monkeypatch.setattr(runner, "DEADLINE_GRACE_SECONDS", FAST_DEADLINE_GRACE)

    real_with_retries = errors.with_retries

    def with_retries(ctx, label, call):
        return real_with_retries(_FastForwardContext(ctx), label, call)

    monkeypatch.setattr(errors, "with_retries", with_retries)


# --- Users -----------------------------------------------------------------------------------


@pytest.fixture
def owner(db):
    return make_user("owner")


@pytest.fixture
def viewer(db):
    """On ``shared_project`` as a viewer (the membership comes with ``shared_project``)."""
    return make_user("viewer")


@pytest.fixture
def editor(db):
    """On ``shared_project`` as an editor (the membership comes with ``shared_project``)."""
    return make_user("editor")


@pytest.fixture
def shared_project(owner, viewer, editor):
    """The owner's project "Shared", with ``viewer`` and ``editor`` as its members."""
    from projects.models import Project, ProjectMembership, Role

    project = Project.objects.create(owner=owner, name="Shared")
    ProjectMembership.objects.create(project=project, user=viewer, role=Role.VIEWER)
    ProjectMembership.objects.create(project=project, user=editor, role=Role.EDITOR)
    return project


@pytest.fixture
def member_role():
    """``member``'s role on ``shared_project``; override with tests.users.member_as."""
    return "editor"


@pytest.fixture
def member(db, member_role, request):
    """A member of ``shared_project`` in ``member_role`` (None: of no project at all)."""
    user = make_user("member")
    if member_role is not None:
        from projects.models import ProjectMembership

        project = request.getfixturevalue("shared_project")
        ProjectMembership.objects.create(project=project, user=user, role=member_role)
    return user


@pytest.fixture
def outsider(db):
    """Shares nothing with anyone."""
    return make_user("outsider")


@pytest.fixture
def admin_user(db):
    from django.contrib.auth import get_user_model

    return get_user_model().objects.create_superuser("boss", password=PASSWORD)


# --- Clients ---------------------------------------------------------------------------------


@pytest.fixture
def api():
    """An unauthenticated API client."""
    from rest_framework.test import APIClient

    return APIClient()


@pytest.fixture
def owner_api(owner):
    return client_for(owner)


@pytest.fixture
def member_api(member):
    return client_for(member)


@pytest.fixture
def viewer_api(viewer):
    return client_for(viewer)


@pytest.fixture
def editor_api(editor):
    return client_for(editor)


@pytest.fixture
def outsider_api(outsider):
    return client_for(outsider)


@pytest.fixture
def owner_client(client, owner):
    """Django's test client, logged in as the owner (HTML pages)."""
    client.force_login(owner)
    return client


# --- Jobs and providers ----------------------------------------------------------------------


@pytest.fixture
def run_jobs(django_capture_on_commit_callbacks):
    """Run what the request enqueued (sync django-q2 runs generations inline)."""

    def submit(client, payload, expect=202):
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post("/api/generate", payload, format="json")
        assert response.status_code == expect, response.content
        return response

    return submit


@pytest.fixture
def background_jobs(monkeypatch):
    """Every enqueued generation runs on its own thread (as on a worker), not inline in the
    request; the threads are joined at the end of the test. Yields the list of threads."""
    # Deferred (import time): the root conftest is imported before Django is set up.
    import threading

    from django.db import connection

    from generation import backends, runner, services

    threads = []

    def run(generation_id):
        try:
            runner.execute(generation_id)
        finally:
            connection.close()

    def enqueue(generation_id):
        thread = threading.Thread(target=run, args=(generation_id,), daemon=True)
        threads.append(thread)
        thread.start()

    for module in (services, runner, backends):  # each imports enqueue_generation by name
        monkeypatch.setattr(module, "enqueue_generation", enqueue)
    yield threads
    for thread in threads:
        thread.join(timeout=30)
        assert not thread.is_alive(), "a generation thread did not end"


@pytest.fixture
def scripted():
    """A provider whose behaviour the test scripts (see tests/generation/helpers.py)."""
    from tests.generation.helpers import install_scripted, uninstall_scripted

    provider = install_scripted()
    yield provider
    uninstall_scripted()
