"""The provider interface: what a provider declares, what it is given and what it returns.

A provider is one module under ``imagegen/providers/`` with a subclass of ``Provider``,
registered in ``imagegen/providers/__init__.py``. It declares its models and their parameter
ranges (used for validation at submission), generates images for a ``GenerationRequest`` under
a ``RunContext`` (deadline, cancellation, key), may cancel remote work, and checks a key.
"""

from __future__ import annotations

import base64
import enum
import threading
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any


class Operation(enum.StrEnum):
    """What a generation does. ``generate`` makes images from a prompt; the others take input
    images (docs/image-operations.md)."""

    GENERATE = "generate"
    EDIT = "edit"  # an instruction edit of one or more input images (references)
    INPAINT = "inpaint"  # change the first input only where the mask is white
    OUTPAINT = "outpaint"  # extend the canvas: the runner pads the input and masks the margins
    UPSCALE = "upscale"  # ``scale`` 2 or 4
    REMOVE_BACKGROUND = "remove_background"


# Operations that take input images (all but generate).
IMAGE_OPERATIONS = tuple(op for op in Operation if op != Operation.GENERATE)


class ProviderError(Exception):
    """A failure to report to the user in words (stored as the generation's error)."""


class KeyRestricted(ProviderError):
    """The provider accepted the key but will not let it use this model (e.g. OpenAI's 403
    "Your organization must be verified to use the model …"). The runner records it on the
    key, so the key's status says what the last run learned."""

    def __init__(self, message: str, model: str = ""):
        super().__init__(message)
        self.model = model


class BackendUnreachable(ProviderError):
    """A self-hosted backend stopped answering (refused, reset, vanished mid-job). The runner
    marks it unhealthy and, when the job produced no image, runs the job once more on another
    backend of the pool (within the attempts fence)."""

    def __init__(self, message: str, backend_id: int | None = None):
        super().__init__(message)
        self.backend_id = backend_id


class GenerationCanceled(Exception):
    """The user asked to cancel; the provider stopped waiting."""


class GenerationTimedOut(Exception):
    """The generation ran out of time (GENERATION_TIMEOUT)."""


@dataclass(frozen=True)
class ModelSpec:
    """What one model accepts. Sizes are either free (min/max/multiple) or a fixed list."""

    id: str
    label: str
    min_size: int = 64
    max_size: int = 2048
    size_multiple: int = 1
    sizes: tuple[tuple[int, int], ...] = ()  # when set, only these (width, height) pairs
    max_images: int = 4
    steps: tuple[int, int] | None = (1, 150)  # None: the model takes no steps
    default_steps: int | None = None
    cfg_scale: tuple[float, float] | None = (0.0, 30.0)  # None: the model takes no guidance
    default_cfg_scale: float | None = None
    negative_prompt: bool = True
    seed: bool = True
    max_prompt_length: int = 10_000
    # Enumerated extras a user may pass in ``params`` (e.g. quality, style) and their values;
    # ``passthrough`` names extras taken as given; ``any_params`` accepts anything (custom).
    options: dict = field(default_factory=dict)
    passthrough: tuple[str, ...] = ()
    any_params: bool = False
    # How unified fields map to the model's native inputs (see providers/mapping.py).
    inputs: dict = field(default_factory=dict)
    native_sizes: dict = field(default_factory=dict)  # "WxH" -> native value (ratio, preset)
    fixed_inputs: dict = field(default_factory=dict)
    version: str = ""  # Replicate version id for community models
    # Price: unit (image, megapixel, second, token, request), amount in USD, when it was read.
    price_unit: str = ""
    price_usd: Decimal | None = None
    price_date: str = ""
    price_table: dict = field(default_factory=dict)  # e.g. {"1024x1024/hd": 0.08}
    typical_seconds: float | None = None  # for per-second prices: the estimate's run time
    # What the provider says of the model's life (catalog.json or refresh_catalog):
    # ``available`` False once the provider stopped listing it (kept for history, not offered).
    available: bool = True
    deprecated: bool = False
    shutdown_date: str = ""  # ISO date, when announced
    # Image inputs (docs/image-operations.md): the operations the model performs (an
    # ``inpaint`` model also outpaints: the runner pads the canvas and masks the margins),
    # how many input images it takes, the strength range where it takes one and the upscale
    # factors it offers.
    operations: tuple[str, ...] = (Operation.GENERATE,)
    # The area the model is made for (a ComfyUI SD 1.5 workflow: 512 × 512); the Generate
    # page's aspect chips aim at it. None: about one megapixel.
    target_pixels: int | None = None
    max_input_images: int = 0
    strength: tuple[float, float] | None = None
    scales: tuple[int, ...] = ()

    def does(self, operation: str) -> bool:
        return operation in self.operations

    @property
    def takes_mask(self) -> bool:
        return Operation.INPAINT in self.operations

    def allowed_sizes_text(self) -> str:
        if self.sizes:
            return ", ".join(f"{w}x{h}" for w, h in self.sizes)
        text = f"{self.min_size} to {self.max_size} pixels per side"
        if self.size_multiple > 1:
            text += f", in multiples of {self.size_multiple}"
        return text

    def to_dict(self) -> dict[str, Any]:
        return {
            "price": {
                "unit": self.price_unit or None,
                "usd": str(self.price_usd) if self.price_usd is not None else None,
                "date": self.price_date or None,
                "table": self.price_table or None,
            },
            "options": self.options,
            "passthrough": list(self.passthrough),
            "id": self.id,
            "label": self.label,
            "sizes": [f"{w}x{h}" for w, h in self.sizes],
            "min_size": self.min_size,
            "max_size": self.max_size,
            "size_multiple": self.size_multiple,
            "max_images": self.max_images,
            "steps": list(self.steps) if self.steps else None,
            "default_steps": self.default_steps,
            "cfg_scale": list(self.cfg_scale) if self.cfg_scale else None,
            "default_cfg_scale": self.default_cfg_scale,
            "negative_prompt": self.negative_prompt,
            "seed": self.seed,
            "available": self.available,
            "deprecated": self.deprecated,
            "shutdown_date": self.shutdown_date or None,
            "operations": list(self.operations),
            "max_input_images": self.max_input_images,
            "mask": self.takes_mask,
            "strength": list(self.strength) if self.strength else None,
            "scales": list(self.scales),
        }


class KeyStatus(enum.StrEnum):
    """What a key check knows. ``VALID`` and ``RESTRICTED`` keys can generate (the latter not
    with every model); ``UNVERIFIED`` means the check itself was refused or unreachable."""

    VALID = "valid"
    INVALID = "invalid"
    RESTRICTED = "restricted"  # valid, but not allowed to use a model (say which in message)
    UNVERIFIED = "unverified"  # could not verify: the provider refused the check endpoint
    NO_CREDIT = "no_credit"


@dataclass(frozen=True)
class KeyCheck:
    """The answer of ``Provider.check_key``: a status and a message in words (never the key)."""

    status: KeyStatus
    message: str

    @property
    def ok(self) -> bool:
        """The key can be used to generate (with at least some models)."""
        return self.status in (KeyStatus.VALID, KeyStatus.RESTRICTED)


@dataclass
class ListedModel:
    """One model as the provider's own listing describes it (read by ``refresh_catalog``).

    ``input_schema`` is the JSON Schema of the model's input object where the provider
    publishes one (Replicate's OpenAPI ``Input``, fal's endpoint OpenAPI request body); the
    catalog derives sizes, steps, guidance and options from it. A provider without schemas
    (OpenAI, OpenRouter) may instead give ``spec``: a catalog spec dict (see catalog.json).
    """

    id: str
    label: str = ""
    input_schema: dict | None = None
    spec: dict | None = None
    deprecated: bool = False
    shutdown_date: date | None = None
    price_unit: str = ""  # a PriceUnit value, when the listing states a price
    price_usd: Decimal | None = None
    version: str = ""  # Replicate: the latest version id, for community models
    extra: dict = field(default_factory=dict)


@dataclass
class Listing:
    """A provider's listing. ``complete``: every model the provider still offers (within the
    scope the catalog uses) is in ``models``, so a catalog row of this provider that is
    missing from it has been retired."""

    models: list[ListedModel]
    complete: bool = True
    notes: list[str] = field(default_factory=list)  # words for the refresh report


@dataclass(frozen=True)
class InputImage:
    """An image handed to a provider: a stored input (or a mask), read by the runner.

    A mask is a PNG of the first input's size in the app's one convention: white (255) where
    the image may change, black (0) where it must not, grey in between (feathering). Each
    provider converts it to its own convention (OpenAI: transparent where it may change)."""

    data: bytes
    format: str  # PNG, JPEG or WEBP
    width: int
    height: int

    @property
    def mime(self) -> str:
        return {"PNG": "image/png", "JPEG": "image/jpeg", "WEBP": "image/webp"}[self.format]

    @property
    def extension(self) -> str:
        return {"PNG": "png", "JPEG": "jpg", "WEBP": "webp"}[self.format]

    def data_uri(self) -> str:
        """``data:<mime>;base64,…``: how fal, Replicate and OpenRouter take an image inline
        (never a URL of this server, which a provider cannot reach behind a firewall)."""
        return f"data:{self.mime};base64,{base64.b64encode(self.data).decode('ascii')}"


@dataclass(frozen=True)
class Margins:
    """How far outpaint extends the canvas on each side, in pixels of the input."""

    left: int = 0
    top: int = 0
    right: int = 0
    bottom: int = 0


@dataclass
class GenerationRequest:
    """The unified request, already validated against the model's spec.

    For an image operation ``width`` and ``height`` are the size of the result the app
    expects (the input's size for inpaint and remove_background, times ``scale`` for upscale,
    the padded canvas for outpaint). ``input_images`` and ``mask`` are filled by the runner
    from storage just before the provider runs (validation leaves them empty); for outpaint
    the runner hands over the padded canvas as the first input and a mask of the margins, so
    a provider that inpaints also outpaints."""

    prompt: str
    model: str
    width: int
    height: int
    num_images: int = 1
    negative_prompt: str = ""
    steps: int | None = None
    cfg_scale: float | None = None
    seed: int | None = None
    params: dict[str, Any] = field(default_factory=dict)
    operation: str = Operation.GENERATE
    input_images: list[InputImage] = field(default_factory=list)
    mask: InputImage | None = None
    strength: float | None = None
    scale: int | None = None
    margins: Margins | None = None


@dataclass
class GeneratedImage:
    """One result: bytes, or a URL for the safe fetcher to download."""

    data: bytes | None = None
    url: str | None = None
    seed: int | None = None


@dataclass
class ProviderResult:
    images: list[GeneratedImage]
    request_id: str = ""
    cost_usd: Decimal | None = None
    cost_is_estimate: bool = True
    seed: int | None = None  # the seed actually used, when the provider reports one
    metadata: dict[str, Any] = field(default_factory=dict)
    # Self-hosted backends: GPU time from the backend's own timings, where it reports them
    # (the runner otherwise counts the run time).
    gpu_seconds: float | None = None


class RunContext:
    """What a running provider call may consult: time left, cancellation, the key.

    The pipeline sets ``cancel_event`` when the user cancels and enforces the deadline itself
    too, so a provider that ignores the context is abandoned, never waited on forever.
    """

    def __init__(
        self,
        *,
        deadline: float,
        api_key: str | None = None,
        cancel_event: threading.Event | None = None,
    ):
        self.deadline = deadline
        self.api_key = api_key
        self.cancel_event = cancel_event or threading.Event()
        self.remote_handle: Any = None  # set by providers that can cancel remote work
        # The model's spec, resolved by the pipeline before the provider's thread starts:
        # provider code never touches the database.
        self.spec: ModelSpec | None = None
        # Self-hosted providers: the backend chosen for this job (a BackendTarget) and what
        # ``Provider.prepare`` read for it (a workflow, a checkpoint's title).
        self.backend: Any = None
        self.model_data: dict[str, Any] = {}
        # Set by a provider that knows how far it is (0..1); the pipeline stores it.
        self.progress: float | None = None

    def report_progress(self, fraction: float | None) -> None:
        """How far the job is, 0..1 (clamped); read and stored by the pipeline's watcher."""
        if fraction is None:
            self.progress = None
        else:
            self.progress = min(1.0, max(0.0, float(fraction)))

    def remaining(self) -> float:
        return max(0.0, self.deadline - time.monotonic())

    def check(self) -> None:
        """Raise if the user canceled or time is up."""
        if self.cancel_event.is_set():
            raise GenerationCanceled()
        if time.monotonic() >= self.deadline:
            raise GenerationTimedOut()

    def sleep(self, seconds: float) -> None:
        """Wait, waking at once on cancel; raise on cancel or when the deadline passes."""
        self.check()
        wait = min(seconds, self.remaining())
        if self.cancel_event.wait(wait):
            raise GenerationCanceled()
        self.check()


class Provider(ABC):
    """One image provider. Subclasses set the class attributes and implement generate()."""

    name: str = ""
    label: str = ""
    requires_key: bool = True
    # A team's own GPU servers (providers/selfhosted.py): jobs go to one backend of a pool.
    self_hosted: bool = False
    # It reports how far a job is (``RunContext.report_progress``): done is then 1.0, not null.
    reports_progress: bool = False

    @abstractmethod
    def models(self) -> list[ModelSpec]:
        """The models this provider offers, default first."""

    def get_model(self, model_id: str) -> ModelSpec | None:
        return next((m for m in self.models() if m.id == model_id), None)

    def models_for(self, user) -> list[ModelSpec]:
        """The models this user may use (self-hosted backends may belong to groups)."""
        return self.models()

    def prepare(self, ctx: RunContext, request: GenerationRequest) -> None:  # noqa: B027
        """Read what the run needs from the database into ``ctx.model_data``, before the
        provider's thread starts (the pipeline calls it; provider threads never query)."""

    @property
    def default_model(self) -> ModelSpec:
        return self.models()[0]

    @abstractmethod
    def generate(self, request: GenerationRequest, ctx: RunContext) -> ProviderResult:
        """Produce images for the request, honouring ``ctx`` (deadline, cancel)."""

    def cancel(self, ctx: RunContext) -> None:  # noqa: B027 - optional hook
        """Ask the provider to stop remote work identified by ``ctx.remote_handle``."""

    def estimate_cost(self, request: GenerationRequest) -> Decimal | None:
        """What the request will cost before it runs, or None when unknown."""
        return None

    def check_key(self, api_key: str | None) -> KeyCheck:
        """What the provider says of the key, in words (see ``KeyStatus``)."""
        return KeyCheck(KeyStatus.VALID, "No key needed.")

    def list_models(self, api_key: str | None, known: list[str]) -> Listing | None:
        """The provider's own model listing, for ``refresh_catalog``; ``known`` are the
        catalog's model ids for this provider (a provider that can only look models up one by
        one checks those). None: this provider has no listing. Raises ProviderError (in
        words) when the listing cannot be read; the refresh then changes nothing."""
        return None
