"""Provider test helpers: the good key of each fake (KEYS), submitting through the API and
running the job inline (generate), counting stored images, and the image-operation helpers the
provider tests share (input pictures and masks, requests, running one through a provider with
its fake's good key, the message of a refusal)."""

import base64
import io
import time

import pytest
from PIL import Image as PILImage

from gallery.models import Image
from imagegen.providers import get_provider
from imagegen.providers.base import GenerationRequest, ProviderError, RunContext
from imagegen.providers.inputs import png_input

# The environment variable and the key each fake provider accepts.
KEYS = {
    "openai": ("OPENAI_API_KEY", "sk-test-good"),
    "replicate": ("REPLICATE_API_TOKEN", "r8_test_good"),
    "fal": ("FAL_KEY", "fal-key-id:fal-key-secret"),
    "openrouter": ("OPENROUTER_API_KEY", "sk-or-v1-test-good"),
}


def generate(client, run_jobs, **payload):
    body = run_jobs(client, payload).json()
    return client.get(f"/api/generation/{body['id']}").json()


def stored_image_count(generation_id) -> int:
    return Image.objects.filter(generation_id=generation_id).count()


def picture(width, height, color=(30, 90, 160)):
    """A plain PNG input image of that size and colour."""
    return png_input(PILImage.new("RGB", (width, height), color))


def white_square_mask(width, height):
    """A mask PNG, white (change) on a quarter-size square from (w/4, h/4)."""
    mask = PILImage.new("L", (width, height), 0)
    mask.paste(255, (width // 4, height // 4, width // 2, height // 2))
    return png_input(mask)


def decoded(uri: str) -> PILImage.Image:
    """The image a PNG data URI holds."""
    assert uri.startswith("data:image/png;base64,"), uri[:40]
    return PILImage.open(io.BytesIO(base64.b64decode(uri.partition(",")[2])))


def request_for(model, operation, images, width=None, height=None, **fields):
    """An operation request; its size is the first input's unless given."""
    first = images[0] if images else None
    return GenerationRequest(
        prompt=fields.pop("prompt", "make the sky stormy"),
        model=model,
        width=width or first.width,
        height=height or first.height,
        operation=operation,
        input_images=list(images),
        **fields,
    )


def catalog_spec(provider_name, model):
    spec = get_provider(provider_name).get_model(model)
    assert spec is not None, f"{model} is not offered"
    return spec


def run_operation(provider_name, request, spec=None, seconds=30):
    """Runs the request through the provider with its fake's good key and the catalog's spec of
    the model (or ``spec``); returns the provider and the result."""
    provider = get_provider(provider_name)
    ctx = RunContext(deadline=time.monotonic() + seconds, api_key=KEYS[provider_name][1])
    ctx.spec = spec or catalog_spec(provider_name, request.model)
    return provider, provider.generate(request, ctx)


def refusal_of(run, request, spec=None) -> str:
    """The message of the ProviderError ``run(request, spec)`` raises."""
    with pytest.raises(ProviderError) as exc:
        run(request, spec)
    return str(exc.value)
