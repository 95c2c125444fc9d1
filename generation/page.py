"""What the Generate page shows beside the form: the feed of the user's generations, the
aspect-ratio chips a model accepts, a price line that is true for every model, and whether
the user can run the chosen provider. The views render these; nothing here writes."""

import math
import re
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction

from django.db.models import Q

from generation.models import FINISHED_STATUSES, Generation
from generation.progress import progress_for
from generation.prompts.enhance import PREFERENCE as ENHANCE_PROVIDERS
from imagegen.providers.base import GenerationRequest, ModelSpec, Provider
from imagegen.providers.cloud import CloudProvider
from imagegen.providers.models import PriceUnit
from settings_app.keys import resolve_api_key

RECENT_CARDS = 12  # finished generations shown in the feed under the in-flight ones

# The ratios offered for models that take any size, widest last; each as (width, height).
COMMON_RATIOS = ((1, 1), (3, 2), (2, 3), (4, 3), (3, 4), (16, 9), (9, 16))
# Names for the ratios of fixed-size models (1344×768 is what Flux calls 16:9).
NAMED_RATIOS = (
    *COMMON_RATIOS,
    (5, 4),
    (4, 5),
    (21, 9),
    (9, 21),
    (4, 1),
    (1, 4),
    (8, 1),
    (1, 8),
)
RATIO_TEXT = re.compile(r"\d{1,2}:\d{1,2}")
TARGET_PIXELS = 1024 * 1024  # a free-size model's chips aim at about one megapixel


def feed(user, *, recent: int = RECENT_CARDS) -> list[Generation]:
    """The user's generations for the feed, newest first: every one still queued or running
    and the ``recent`` latest finished ones."""
    scope = Generation.objects.for_user(user, "view")
    finished_ids = list(
        scope.filter(status__in=FINISHED_STATUSES).values_list("pk", flat=True)[:recent]
    )
    return list(
        scope.filter(~Q(status__in=FINISHED_STATUSES) | Q(pk__in=finished_ids))
        .select_related("project")
        .prefetch_related("images")
        .order_by("-pk")
    )


def with_progress(generations: list[Generation]) -> list[Generation]:
    """The generations, each with ``.progress``: why it waits and how long it should take
    (generation.progress), None where nothing is known."""
    progress = progress_for(generations)
    for generation in generations:
        generation.progress = progress.get(generation.pk)
    return generations


@dataclass(frozen=True)
class AspectChip:
    """One aspect-ratio chip: its label and the exact size it sets."""

    label: str
    width: int
    height: int


def _ratio_label(spec: ModelSpec, width: int, height: int) -> str:
    """The ratio the provider itself names for the size (Flux: 1152×896 is "4:3"), else the
    closest common name within 4%, else the reduced fraction."""
    native = str(spec.native_sizes.get(f"{width}x{height}", ""))
    if RATIO_TEXT.fullmatch(native):
        return native
    actual = width / height
    off, w, h = min((abs(actual / (w / h) - 1), w, h) for w, h in NAMED_RATIOS)
    if off <= 0.04:
        return f"{w}:{h}"
    reduced = Fraction(width, height)
    return f"{reduced.numerator}:{reduced.denominator}"


def _fit(spec: ModelSpec, ratio_w: int, ratio_h: int) -> tuple[int, int] | None:
    """A size of exactly ``ratio_w:ratio_h`` near one megapixel that the model accepts (its
    range and size multiple; multiples of 8 where it allows), or None when there is none."""
    multiple = math.lcm(spec.size_multiple, 8) if spec.max_size >= 512 else spec.size_multiple
    # Both sides must be multiples of ``multiple``: width = ratio_w * k, height = ratio_h * k.
    step = math.lcm(
        multiple // math.gcd(multiple, ratio_w), multiple // math.gcd(multiple, ratio_h)
    )
    ideal = math.sqrt(TARGET_PIXELS / (ratio_w * ratio_h))
    candidates = sorted(
        {max(step, round(ideal / step) * step + delta * step) for delta in range(-8, 9)},
        key=lambda k: abs(k - ideal),
    )
    for k in candidates:
        width, height = ratio_w * k, ratio_h * k
        if spec.min_size <= min(width, height) and max(width, height) <= spec.max_size:
            return width, height
    return None


def aspect_chips(spec: ModelSpec) -> list[AspectChip]:
    """The aspect-ratio chips for a model: its own sizes when it has a fixed list (a ratio
    that appears twice names its size), else the common ratios at sizes it accepts."""
    if spec.sizes:
        labels = [_ratio_label(spec, w, h) for w, h in spec.sizes]
        return [
            AspectChip(f"{label} · {w}" if labels.count(label) > 1 else label, w, h)
            for label, (w, h) in zip(labels, spec.sizes, strict=True)
        ]
    chips = []
    for ratio_w, ratio_h in COMMON_RATIOS:
        size = _fit(spec, ratio_w, ratio_h)
        if size:
            chips.append(AspectChip(f"{ratio_w}:{ratio_h}", *size))
    return chips


def runs_locally(provider: Provider) -> bool:
    """Whether the provider runs on this server (free): every provider but the cloud ones."""
    return not isinstance(provider, CloudProvider)


def _money(value: Decimal) -> str:
    """$0.053, $0.0063, $0.000975: enough digits to be exact for small catalog prices."""
    text = f"{value:f}".rstrip("0").rstrip(".")
    whole, _, fraction = text.partition(".")
    if len(fraction) < 3 and whole == "0":
        fraction = fraction.ljust(3, "0")
    return f"${whole}.{fraction}" if fraction else f"${whole}"


@dataclass(frozen=True)
class PriceLine:
    """The Generate page's price line: the words, and whether it needs the catalog link."""

    text: str
    free: bool = False
    date: str = ""

    @property
    def links_catalog(self) -> bool:
        return not self.free


def price_line(
    provider: Provider, spec: ModelSpec, width: int | None, height: int | None, params: dict
) -> PriceLine:
    """What one image of this model costs at this size (and quality), in words, from the
    catalog the estimates use; the price basis alone when the size is not one it prices."""
    if runs_locally(provider):
        return PriceLine("Free (runs on this server)", free=True)
    unit = dict(PriceUnit.choices).get(spec.price_unit, "")
    per_image = None
    if width and height:
        request = GenerationRequest(
            prompt="", model=spec.id, width=width, height=height, num_images=1, params=params
        )
        per_image = provider.estimate_cost(request)
    quality = ""
    if spec.options.get("quality") and spec.price_table:
        quality = params.get("quality") or ""
        if quality in ("", "auto"):
            qualities = spec.options["quality"]
            quality = "medium" if "medium" in qualities else qualities[0]
    where = f" at {width}×{height}" + (f", {quality}" if quality else "") if width else ""
    basis = ""
    if spec.price_unit == PriceUnit.TOKEN:
        basis = "billed per token"
    elif spec.price_unit == PriceUnit.MEGAPIXEL and spec.price_usd is not None:
        basis = f"{_money(spec.price_usd)} per megapixel, rounded up"
    elif spec.price_unit == PriceUnit.SECOND and spec.price_usd is not None:
        seconds = spec.typical_seconds or 10
        basis = f"{_money(spec.price_usd)} per second, about {seconds:g} s"
    elif spec.price_unit == PriceUnit.REQUEST:
        basis = "per request, however many images"
    if per_image is not None:
        about = "about " if spec.price_unit == PriceUnit.SECOND else ""
        text = f"{about}{_money(per_image)} per image{where}"
        if basis:
            text += f" ({basis})"
    elif spec.price_usd is not None and unit:
        text = f"{_money(spec.price_usd)} {unit}"
    else:
        text = "No catalog price for this size" + (f"; {basis}" if basis else "")
    return PriceLine(text, date=spec.price_date)


def has_enhance_key(user) -> bool:
    """Whether the user has a key that can enhance prompts (OpenRouter or OpenAI)."""
    return any(resolve_api_key(user, name) is not None for name in ENHANCE_PROVIDERS)
