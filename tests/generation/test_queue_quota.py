"""The queue cap: at most MAX_QUEUED_GENERATIONS_PER_USER generations queued or running per
user (default 20), checked under the user's row lock for the whole submission; a 429."""

import pytest
from django.conf import settings as django_settings

from generation import services
from generation.models import Generation, Status
from imagegen.core.exceptions import QuotaExceeded
from tests.generation.helpers import make_generation

pytestmark = pytest.mark.django_db

OFFLINE = {"provider": "offline", "model": "offline-shapes", "width": 64, "height": 64}


def test_there_is_a_default_cap():
    assert django_settings.MAX_QUEUED_GENERATIONS_PER_USER == 20


def test_a_submission_over_the_queue_cap_is_a_429(owner, owner_api, settings):
    settings.MAX_QUEUED_GENERATIONS_PER_USER = 3
    make_generation(owner)
    make_generation(owner, status=Status.RUNNING)
    make_generation(owner, status=Status.SUCCEEDED)  # finished ones do not count
    assert (
        owner_api.post("/api/generate", {**OFFLINE, "prompt": "a"}, format="json").status_code
        == 202
    )
    response = owner_api.post("/api/generate", {**OFFLINE, "prompt": "b"}, format="json")
    assert response.status_code == 429, response.content
    assert "3 queued or running" in response.json()["queued"][0]
    assert Generation.objects.filter(owner=owner).count() == 4


def test_variations_count_against_the_cap_all_or_none(owner, owner_api, settings):
    settings.MAX_QUEUED_GENERATIONS_PER_USER = 4
    make_generation(owner)
    response = owner_api.post(
        "/api/generate", {**OFFLINE, "prompt": "a {1|2|3|4} fox"}, format="json"
    )
    assert response.status_code == 429, response.content
    assert "adds 4" in response.json()["queued"][0]
    assert Generation.objects.filter(owner=owner).count() == 1


def test_the_cap_is_per_user(owner, outsider_api, settings):
    settings.MAX_QUEUED_GENERATIONS_PER_USER = 1
    make_generation(owner)
    response = outsider_api.post("/api/generate", {**OFFLINE, "prompt": "a"}, format="json")
    assert response.status_code == 202


def test_zero_means_no_cap(owner, settings):
    settings.MAX_QUEUED_GENERATIONS_PER_USER = 0
    for _ in range(3):
        make_generation(owner)
    services.create_generations(owner, {**OFFLINE, "prompt": "a {1|2} fox"})
    assert Generation.objects.filter(owner=owner).count() == 5


def test_retry_and_direct_callers_are_capped_too(owner, settings):
    settings.MAX_QUEUED_GENERATIONS_PER_USER = 1
    original = make_generation(owner, status=Status.FAILED)
    services.retry_generation(original)
    with pytest.raises(QuotaExceeded):
        services.retry_generation(original)
