"""A deactivated user's queued generations are cancelled and running ones asked to stop
(settings_app's ``user_deactivated`` signal; generation listens)."""

import pytest

from generation.models import Generation, Status
from tests.generation.helpers import make_generation

pytestmark = pytest.mark.django_db


def test_deactivating_a_user_cancels_their_queued_generations(owner, outsider):
    queued = make_generation(owner)
    running = make_generation(owner, status=Status.RUNNING)
    done = make_generation(owner, status=Status.SUCCEEDED)
    someone_elses = make_generation(outsider)
    owner.is_active = False
    owner.save()
    assert Generation.objects.get(pk=queued.pk).status == Status.CANCELED
    assert Generation.objects.get(pk=running.pk).cancel_requested
    assert Generation.objects.get(pk=done.pk).status == Status.SUCCEEDED
    assert Generation.objects.get(pk=someone_elses.pk).status == Status.QUEUED


def test_saving_an_active_user_cancels_nothing(owner):
    queued = make_generation(owner)
    owner.first_name = "Olive"
    owner.save()
    assert Generation.objects.get(pk=queued.pk).status == Status.QUEUED
