"""The generation app's models, one module per concern (as netbox splits its models):
generations here, prompt tools in ``generation.prompts.models``, the usage ledger and budgets
in ``generation.usage.models`` (tables of the ``dashboard`` app), and the model catalog's
table, which the providers package defines (``imagegen.providers.models``)."""

from generation.models.aliases import DEFAULT_ALIAS, ModelAlias
from generation.models.generation import (
    FINISHED_STATUSES,
    UPLOAD,
    Generation,
    GenerationQuerySet,
    OperationChoice,
    Status,
)
from generation.prompts.models import HiddenPrompt, StylePreset
from generation.usage.models import (
    DailyUsage,
    RolledUpGeneration,
    SpendEntry,
    TeamBudget,
    UserBudget,
)
from imagegen.providers.backends import Backend, Workflow
from imagegen.providers.models import CatalogModel, PriceUnit

__all__ = [
    "FINISHED_STATUSES",
    "Backend",
    "CatalogModel",
    "DEFAULT_ALIAS",
    "DailyUsage",
    "Generation",
    "GenerationQuerySet",
    "HiddenPrompt",
    "ModelAlias",
    "OperationChoice",
    "PriceUnit",
    "RolledUpGeneration",
    "SpendEntry",
    "Status",
    "StylePreset",
    "TeamBudget",
    "UPLOAD",
    "UserBudget",
    "Workflow",
]
