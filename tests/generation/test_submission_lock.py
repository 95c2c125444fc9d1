"""A submission is validated (and its preferences, style, project and key read) before the
write transaction opens; only the budget check and the inserts hold it, all or none."""

import pytest
from django.db import connection

from generation import services
from generation.models import Generation


@pytest.mark.django_db(transaction=True)
def test_validation_runs_outside_the_write_transaction(owner, monkeypatch):
    seen = []
    real = services.build_request

    def build_request(user, data):
        seen.append(connection.in_atomic_block)
        return real(user, data)

    monkeypatch.setattr(services, "build_request", build_request)
    generations = services.create_generations(owner, {
        "provider": "offline", "prompt": "a {red|blue} fox", "width": 64, "height": 64})
    assert len(generations) == 2
    assert seen == [False, False]


@pytest.mark.django_db(transaction=True)
def test_an_invalid_variation_queues_none_of_them(owner):
    with pytest.raises(services.ValidationError):
        services.create_generations(owner, {
            "provider": "offline", "prompt": "a {red|blue} fox", "width": 64, "height": 64,
            "params": {"nonsense": 1}})
    assert not Generation.objects.exists()
