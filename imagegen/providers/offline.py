"""The built-in offline provider: deterministic pictures drawn locally, no key, no network.

The same prompt, seed and size always give the same bytes; a different prompt gives visibly
different colours, shapes and caption. ``OFFLINE_PROVIDER_DELAY_MS`` adds an artificial wait
(cancel-aware) for demos and benchmarks.
"""

import hashlib
import io
import random
import textwrap
import time
from decimal import Decimal

from django.conf import settings
from PIL import Image, ImageDraw, ImageFont, ImageOps

from imagegen.providers.base import (
    GeneratedImage,
    GenerationRequest,
    ModelSpec,
    Provider,
    ProviderResult,
    RunContext,
)

MODELS = [
    ModelSpec(
        id="offline-shapes",
        label="Shapes (deterministic test pattern)",
        min_size=64,
        max_size=2048,
        max_images=4,
        steps=(1, 150),
        default_steps=None,
        cfg_scale=(0.0, 30.0),
        default_cfg_scale=None,
    ),
]


def _palette(digest: bytes) -> list[tuple[int, int, int]]:
    return [tuple(digest[i : i + 3]) for i in range(0, 30, 3)]


def render(prompt: str, seed: int, width: int, height: int, negative_prompt: str = "") -> bytes:
    """A PNG of ``width``×``height`` drawn from the prompt and seed; deterministic."""
    digest = hashlib.sha256(f"{prompt}\x00{negative_prompt}".encode()).digest()
    colors = _palette(digest)
    rng = random.Random(int.from_bytes(digest[:8], "big") ^ (seed & 0xFFFFFFFFFFFFFFFF))

    gradient = Image.linear_gradient("L").rotate(
        rng.randrange(360), resample=Image.BILINEAR, expand=False, fillcolor=128
    )
    background = ImageOps.colorize(gradient, colors[0], colors[1])
    canvas = background.resize((width, height), Image.BILINEAR).convert("RGBA")

    overlay = Image.new("RGBA", (width, height), (0, 0, 0, 0))
    draw = ImageDraw.Draw(overlay)
    scale = min(width, height)
    for _ in range(6 + digest[30] % 10):
        color = (*rng.choice(colors[2:]), rng.randrange(90, 200))
        x, y = rng.randrange(width), rng.randrange(height)
        radius = rng.randrange(max(2, scale // 16), max(3, scale // 3))
        box = (x - radius, y - radius, x + radius, y + radius)
        shape = rng.randrange(3)
        if shape == 0:
            draw.ellipse(box, fill=color)
        elif shape == 1:
            draw.rectangle(box, fill=color)
        else:
            points = [
                (x + rng.randrange(-radius, radius + 1), y + rng.randrange(-radius, radius + 1))
                for _ in range(3)
            ]
            draw.polygon(points, fill=color)
    canvas = Image.alpha_composite(canvas, overlay)

    if scale >= 128:
        _caption(canvas, prompt, seed, scale)
    out = io.BytesIO()
    canvas.convert("RGB").save(out, format="PNG", compress_level=3)
    return out.getvalue()


def _caption(canvas: Image.Image, prompt: str, seed: int, scale: int) -> None:
    font_size = max(10, scale // 28)
    font = ImageFont.load_default(size=font_size)
    chars_per_line = max(12, int(canvas.width / (font_size * 0.6)))
    lines = textwrap.wrap(prompt, chars_per_line)[:3] + [f"seed {seed}"]
    band_height = int(len(lines) * font_size * 1.3 + font_size)
    draw = ImageDraw.Draw(canvas)
    draw.rectangle(
        (0, canvas.height - band_height, canvas.width, canvas.height), fill=(0, 0, 0, 160)
    )
    y = canvas.height - band_height + font_size // 2
    for line in lines:
        draw.text((font_size // 2, y), line, fill=(255, 255, 255, 255), font=font)
        y += int(font_size * 1.3)


class OfflineProvider(Provider):
    name = "offline"
    label = "Offline (built-in, no network)"
    requires_key = False

    def models(self) -> list[ModelSpec]:
        return MODELS

    def generate(self, request: GenerationRequest, ctx: RunContext) -> ProviderResult:
        # The delay is the provider's whole time, like a remote job's: draw first, then wait
        # out the rest, so many delayed generations do not all draw at the same moment.
        started = time.monotonic()
        images = []
        for index in range(request.num_images):
            ctx.check()
            seed = request.seed + index
            data = render(
                request.prompt, seed, request.width, request.height, request.negative_prompt
            )
            images.append(GeneratedImage(data=data, seed=seed))
        remaining = settings.OFFLINE_PROVIDER_DELAY_MS / 1000 - (time.monotonic() - started)
        if remaining > 0:
            ctx.sleep(remaining)
        return ProviderResult(
            images=images,
            request_id=f"offline-{request.seed}",
            cost_usd=Decimal("0"),
            cost_is_estimate=False,
            seed=request.seed,
        )

    def estimate_cost(self, request: GenerationRequest) -> Decimal:
        return Decimal("0")
