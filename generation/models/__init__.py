"""The generation app's models, one module per concern (as netbox splits its models):
generations here, prompt tools in ``generation.prompts.models``, and the model catalog's
table, which the providers package defines (``imagegen.providers.models``)."""

from generation.models.generation import FINISHED_STATUSES, Generation, GenerationQuerySet, Status
from generation.prompts.models import HiddenPrompt, StylePreset
from imagegen.providers.models import CatalogModel, PriceUnit

__all__ = [
    "FINISHED_STATUSES", "CatalogModel", "Generation", "GenerationQuerySet", "HiddenPrompt",
    "PriceUnit", "Status", "StylePreset",
]
