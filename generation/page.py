"""What the Generate page shows beside the form: the feed of the user's generations, the
aspect-ratio chips a model accepts, a price line that is true for every model, and whether
the user can run the chosen provider. The views render these; nothing here writes."""

import math
import re
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction

from django.db.models import Q

from gallery import lineage
from gallery.models import MAX_ID, Image, InputRole
from generation.inputs import MAX_INPUT_IMAGES
from generation.models import FINISHED_STATUSES, Generation
from generation.progress import progress_for
from generation.prompts.enhance import PREFERENCE as ENHANCE_PROVIDERS
from generation.usage.policy import offered_models
from generation.validation import LABELS
from imagegen.core.permissions import VIEW
from imagegen.providers import all_providers, get_provider
from imagegen.providers.base import GenerationRequest, ModelSpec, Operation, Provider
from imagegen.providers.cloud import CloudProvider
from imagegen.providers.models import PriceUnit
from settings_app.keys import has_usable_key, resolve_api_key

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
# A free-size model's chips aim at about one megapixel, or at its own ``target_pixels``.
TARGET_PIXELS = 1024 * 1024


def feed(user, *, recent: int = RECENT_CARDS) -> list[Generation]:
    """The user's generations for the feed, newest first: every one still queued or running
    and the ``recent`` latest finished ones (uploads, recorded as generations, are none)."""
    scope = Generation.objects.for_user(user, "view").runs()
    finished_ids = list(
        scope.filter(status__in=FINISHED_STATUSES).values_list("pk", flat=True)[:recent]
    )
    return list(
        scope.filter(~Q(status__in=FINISHED_STATUSES) | Q(pk__in=finished_ids))
        .select_related("project", "backend")
        .defer("backend__secret")
        .prefetch_related("images", "inputs")
        .order_by("-pk")
    )


def with_progress(generations: list[Generation]) -> list[Generation]:
    """The generations, each with ``.standing``: why it waits and how long it should take
    (generation.progress), None where nothing is known. (Not ``.progress``: that is the
    model's field, the 0..1 the backend reports, which the card shows as a bar.)"""
    standing = progress_for(generations)
    for generation in generations:
        generation.standing = standing.get(generation.pk)
    return generations


@dataclass(frozen=True)
class CardInput:
    """One input image as a card shows it: its id, and whether the viewer may still see it
    (``present``), it was deleted, or it is no longer theirs to see (``hidden``)."""

    ref: int | None
    state: str
    width: int
    height: int


def with_inputs(user, generations: list[Generation]) -> list[Generation]:
    """The generations, each with ``.card_inputs`` (its input images, in order), ``.has_mask``
    and ``.operation_text`` ("Upscale ×2"): what the feed's card says it was made from."""
    by_generation = lineage.described_by_generation(user, generations)
    for generation in generations:
        generation.card_inputs = [
            CardInput(parent.image, parent.state, parent.row.width, parent.row.height)
            for parent in by_generation[generation.pk]
            if parent.row.role == InputRole.INPUT
        ]
        generation.has_mask = any(
            parent.row.role == InputRole.MASK for parent in by_generation[generation.pk]
        )
        generation.operation_text = operation_text(generation)
    return generations


def for_cards(user, generations: list[Generation]) -> list[Generation]:
    """Everything a feed card shows beyond the row: progress and inputs."""
    return with_inputs(user, with_progress(generations))


def operation_text(generation: Generation) -> str:
    """The operation in words for a card ("" for a plain generate)."""
    operation = generation.operation
    if operation in (Operation.GENERATE, "", None) or operation not in LABELS:
        return ""
    params = generation.operation_params or {}
    if operation == Operation.UPSCALE and params.get("scale"):
        return f"Upscale ×{params['scale']}"
    if operation == Operation.OUTPAINT and params.get("margins"):
        m = params["margins"]
        sides = [f"{name} {m[name]}" for name in SIDES if m.get(name)]
        return "Outpaint (" + ", ".join(sides) + " px)" if sides else "Outpaint"
    return LABELS[operation]


# --- The operation selector and the input tray (issue #16) ------------------------------------

OPERATIONS = [(operation.value, LABELS[operation]) for operation in Operation]
SIDES = ("left", "top", "right", "bottom")


def operation_or_none(text) -> str | None:
    """``?operation=…``: an operation's name, or None for anything else."""
    return text if text in Operation.__members__.values() else None


def query_ids(values) -> list[int]:
    """``?input=12&input=13``: the distinct ids, in order; anything not an id is dropped."""
    ids = []
    for text in values:
        text = (text or "").strip()
        if text.isascii() and text.isdigit() and 0 < int(text) <= MAX_ID and int(text) not in ids:
            ids.append(int(text))
    return ids[:MAX_INPUT_IMAGES]


def tray_images(user, ids: list[int]) -> list[Image]:
    """The images with these ids that the user may view, in this order (the others are
    dropped silently, like a remix of an image they may not see)."""
    if not ids:
        return []
    found = {image.pk: image for image in Image.objects.for_user(user, VIEW).filter(pk__in=ids)}
    return [found[pk] for pk in ids if pk in found]


def model_for(user, operation: str, provider_name: str, model_id: str) -> tuple[str, str] | None:
    """The provider and model to start with for ``operation``: the given ones when the model
    does it, else the given provider's first model that does, else the first provider the
    user can run with a model that does; None when no model the user can run does it."""
    provider = get_provider(provider_name or "")
    if provider is not None:
        offered = offered_models(user, provider)
        chosen = next((m for m in offered if m.id == model_id), None) or next(iter(offered), None)
        if chosen is not None and chosen.does(operation):
            return provider.name, chosen.id
        able = next((m for m in offered if m.does(operation)), None)
        if able is not None and has_usable_key(user, provider):
            return provider.name, able.id
    for other in all_providers():
        if not has_usable_key(user, other):
            continue
        able = next((m for m in offered_models(user, other) if m.does(operation)), None)
        if able is not None:
            return other.name, able.id
    return None


def max_inputs(spec: ModelSpec | None, operation: str) -> int:
    """How many input images the operation takes on this model (0: none)."""
    if spec is None or operation == Operation.GENERATE or not spec.does(operation):
        return 0
    if operation == Operation.EDIT:
        return max(1, spec.max_input_images)
    return 1


def sections(spec: ModelSpec | None, operation: str) -> dict[str, bool]:
    """Which parts of the form the operation shows (generate.js applies the same rules when
    the operation or the model changes)."""
    edits = operation in (Operation.EDIT, Operation.INPAINT, Operation.OUTPAINT)
    return {
        "tray": operation != Operation.GENERATE,
        "mask": operation == Operation.INPAINT,
        "prompt": operation not in (Operation.UPSCALE, Operation.REMOVE_BACKGROUND)
        and takes_prompt(spec),
        "strength": edits and spec is not None and spec.strength is not None,
        "scale": operation == Operation.UPSCALE,
        "outpaint": operation == Operation.OUTPAINT,
        "size": operation == Operation.GENERATE,
        "count": operation not in (Operation.UPSCALE, Operation.REMOVE_BACKGROUND),
    }


def takes_prompt(spec: ModelSpec | None) -> bool:
    """False for a model whose catalog entry maps the prompt to nothing (an upscaler)."""
    return spec is None or "prompt" not in spec.inputs or spec.inputs["prompt"] is not None


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
    ideal = math.sqrt((spec.target_pixels or TARGET_PIXELS) / (ratio_w * ratio_h))
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
    """Whether the provider runs on this server (free): the offline one. Cloud providers and
    the team's own GPUs (priced per GPU-second) show their estimate."""
    return not isinstance(provider, CloudProvider) and not provider.self_hosted


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
    provider: Provider,
    spec: ModelSpec,
    width: int | None,
    height: int | None,
    params: dict,
    operation: str = Operation.GENERATE,
) -> PriceLine:
    """What one image of this model costs at this size (and quality), in words, from the
    catalog the estimates use; the price basis alone when the size is not one it prices.
    For an image operation the size is the result's (set by its input)."""
    if runs_locally(provider):
        return PriceLine("Free (runs on this server)", free=True)
    unit = dict(PriceUnit.choices).get(spec.price_unit, "")
    per_image = None
    if width and height:
        request = GenerationRequest(
            prompt="",
            model=spec.id,
            width=width,
            height=height,
            num_images=1,
            params=params,
            operation=Operation(operation),
        )
        per_image = provider.estimate_cost(request)
    if provider.self_hosted:  # priced per GPU-second by the admin, not by a catalog
        if per_image is None:
            return PriceLine("Priced by GPU time on the team's own GPU")
        if not per_image:
            return PriceLine("Free (the team's own GPU, no price set)", free=True)
        at = f" at {width}×{height}" if width else ""
        return PriceLine(f"about {_money(per_image)} per image{at} (GPU time)")
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
