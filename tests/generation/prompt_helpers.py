"""Helpers for prompt-tools tests: a project a teammate may use, a provider with prices."""

from decimal import Decimal

import pytest

from generation import providers
from generation.providers.base import ModelSpec
from projects.models import Project, ProjectQuerySet
from tests.generation.helpers import ScriptedProvider


@pytest.fixture
def team_project(owner, member, monkeypatch):
    """A project of ``owner`` that ``member`` may see and edit. Project membership is built
    separately; the prompt tools rely only on ``visible_to``/``writable_by``, so this grants
    the member access the way membership will."""
    project = Project.objects.create(owner=owner, name="Team")
    original = ProjectQuerySet.visible_to

    def visible_to(self, user):
        mine = original(self, user)
        if user.is_authenticated and user.pk == member.pk:
            return mine | self.filter(pk=project.pk)
        return mine

    monkeypatch.setattr(ProjectQuerySet, "visible_to", visible_to)
    return project


class PricedProvider(ScriptedProvider):
    """A scripted provider that estimates $0.04 per image."""

    name = "priced"
    label = "Priced"

    def models(self):
        return [ModelSpec(id="priced-1", label="Priced", negative_prompt=False)]

    def estimate_cost(self, request):
        return Decimal("0.04") * request.num_images


@pytest.fixture
def priced():
    provider = providers.register(PricedProvider())
    yield provider
    providers._REGISTRY.pop(PricedProvider.name, None)
