"""Helpers for prompt-tools tests: a project a teammate may use, a provider with prices."""

from decimal import Decimal

import pytest

from imagegen import providers
from imagegen.providers.base import ModelSpec
from projects.models import Project
from tests.generation.helpers import ScriptedProvider


@pytest.fixture
def team_project(owner, member):
    """A project of ``owner`` that ``member`` may see and edit (an editor membership)."""
    from projects.models import ProjectMembership

    project = Project.objects.create(owner=owner, name="Team")
    ProjectMembership.objects.create(project=project, user=member, role="editor")
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
