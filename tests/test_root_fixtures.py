"""The root conftest's fixtures do what its docstring says: how the users are related, and
what ``fast_time`` shrinks (and what it leaves alone)."""

import time

import pytest

from generation import runner
from imagegen.providers import errors
from imagegen.providers.base import GenerationCanceled, GenerationTimedOut, RunContext
from projects.models import Project, ProjectMembership
from tests.users import member_as

pytestmark = pytest.mark.django_db


def roles(project):
    return dict(project.memberships.values_list("user__username", "role"))


# --- Users ------------------------------------------------------------------------------------


def test_member_is_an_editor_on_the_owners_shared_project(owner, member, shared_project):
    assert shared_project.owner == owner and shared_project.name == "Shared"
    assert roles(shared_project) == {"viewer": "viewer", "editor": "editor", "member": "editor"}
    assert list(Project.objects.all()) == [shared_project]


@member_as("viewer", "editor")
def test_member_role_is_chosen_per_test(member, member_role, shared_project, member_api):
    assert roles(shared_project)["member"] == member_role
    (row,) = member_api.get("/api/projects").json()["results"]
    assert (row["name"], row["role"]) == ("Shared", member_role)


@member_as(None)
def test_a_member_alone_is_on_no_project_and_makes_none(member):
    assert member.username == "member"
    assert not ProjectMembership.objects.exists() and not Project.objects.exists()


def test_the_shared_project_alone_has_its_viewer_and_editor(shared_project):
    assert roles(shared_project) == {"viewer": "viewer", "editor": "editor"}


def test_the_outsider_sees_nothing_of_it(outsider_api, member, shared_project):
    assert outsider_api.get("/api/projects").json()["results"] == []
    assert outsider_api.get(f"/api/projects/{shared_project.pk}").status_code == 404


# --- fast_time --------------------------------------------------------------------------------


def always(status, retry_after=None):
    calls = []

    def call():
        calls.append(time.monotonic())
        raise errors.Retryable(status, retry_after=retry_after)

    return call, calls


def test_retry_waits_take_no_wall_clock_time_but_spend_the_deadline():
    ctx = RunContext(deadline=time.monotonic() + 30)
    answers = iter([errors.Retryable(429, retry_after=5), errors.Retryable(503), "done"])

    def call():
        answer = next(answers)
        if isinstance(answer, Exception):
            raise answer
        return answer

    started = time.monotonic()
    assert errors.with_retries(ctx, "Fake", call) == "done"
    assert time.monotonic() - started < 1
    waited = 5 + 2 * errors.FIRST_BACKOFF  # Retry-After, then the backoff (doubled by then)
    assert waited <= 30 - ctx.remaining() < waited + 1


def test_the_deadline_still_decides_how_many_attempts_fit():
    # A 3 s budget and "retry after 1 s": the second attempt leaves too little time for a
    # third, exactly as when the second really waited.
    call, calls = always(429, retry_after=1)
    ctx = RunContext(deadline=time.monotonic() + 3)
    with pytest.raises(errors.ProviderError, match="Rate limited by Fake after 2 attempts"):
        errors.with_retries(ctx, "Fake", call)
    assert len(calls) == 2 and calls[-1] - calls[0] < 1


def test_backoff_alone_runs_out_of_attempts_not_time():
    call, calls = always(503)
    ctx = RunContext(deadline=time.monotonic() + 60)
    with pytest.raises(errors.ProviderError, match=r"unavailable right now \(HTTP 503\)"):
        errors.with_retries(ctx, "Fake", call)
    assert len(calls) == errors.MAX_ATTEMPTS and calls[-1] - calls[0] < 1


def test_a_cancel_still_stops_the_retries():
    ctx = RunContext(deadline=time.monotonic() + 30)
    ctx.cancel_event.set()
    call, calls = always(503)
    with pytest.raises(GenerationCanceled):
        errors.with_retries(ctx, "Fake", call)
    assert len(calls) == 1


def test_a_provider_sleep_still_takes_real_time_and_a_deadline_still_expires():
    ctx = RunContext(deadline=time.monotonic() + 0.3)
    started = time.monotonic()
    with pytest.raises(GenerationTimedOut):
        ctx.sleep(5)  # a poll or a provider's own wait: not fast-forwarded
    assert 0.25 < time.monotonic() - started < 2


def test_the_runners_pacing_is_shrunk_and_the_deadlines_are_not(settings):
    from imagegen import settings_test as configured

    assert settings.PROVIDER_POLL_INTERVAL < 0.1
    assert runner.CANCEL_CHECK_SECONDS <= runner.TICK_SECONDS
    assert runner.DEADLINE_GRACE_SECONDS <= 2 * runner.TICK_SECONDS
    for name in ("GENERATION_TIMEOUT", "FETCH_TIMEOUT", "PROMPT_ENHANCE_TIMEOUT"):
        assert getattr(settings, name) == getattr(configured, name)
