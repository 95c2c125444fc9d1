"""The gateway's business: OpenAI requests checked and turned into studio generations, and
finished generations turned into OpenAI answers. Synchronous (the ORM); the async views
(generation/gateway/views.py) call it through ``sync_to_async`` and only wait themselves.

A request is one ordinary generation (``num_images`` = ``n``): queued, fair, counted against
budgets and limits, cancellable from the studio, and its images land in the user's gallery
with origin "api". OpenAI's fields map as follows; every other field is refused, as OpenAI
refuses an argument it does not know:

- ``size`` "WxH" is the width and height; "auto" (or none) the model's default.
- ``quality``, ``background``, ``style`` and ``moderation`` go to the model as its own
  parameters where its catalog entry offers that value; "auto" means the model's default.
- ``output_format`` and ``output_compression`` are honoured on the way out (the stored
  original is converted for the answer), ``response_format`` chooses base64 or a signed link.
"""

import base64
import contextlib
import hashlib
import io
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.signing import BadSignature, SignatureExpired, TimestampSigner
from django.db.models import Case, Q, When
from django.urls import reverse
from django.utils import timezone
from knox.auth import TokenAuthentication
from PIL import Image as PILImage
from rest_framework.exceptions import AuthenticationFailed

from gallery.downloads import MissingFile, read_original
from gallery.models import Image, Origin
from gallery.services import discard_unreferenced
from generation import services, uploads
from generation.gateway import offers
from generation.gateway.errors import OpenAIError, from_service, from_validation, invalid
from generation.models import Generation, Status
from generation.usage.rollup import team_zone
from imagegen.core import limits
from imagegen.core.exceptions import ServiceError
from imagegen.core.imaging import InvalidImage, validate_image
from projects.models import Project
from settings_app import tokens

SIZE = re.compile(r"^([1-9][0-9]{0,4})x([1-9][0-9]{0,4})$")
OUTPUT_FORMATS = {"png": "PNG", "jpeg": "JPEG", "webp": "WEBP"}
MEDIA_TYPES = {"PNG": "image/png", "JPEG": "image/jpeg", "WEBP": "image/webp"}
RESPONSE_FORMATS = ("b64_json", "url")
# OpenAI's fields passed to the model as its own parameters when its catalog offers them.
MODEL_OPTIONS = ("quality", "background", "style", "moderation", "input_fidelity")
COMMON_FIELDS = {
    "model",
    "prompt",
    "n",
    "size",
    "response_format",
    "user",
    "output_format",
    "output_compression",
    "stream",
    "partial_images",
    "safety_identifier",
    *MODEL_OPTIONS,
}
EDIT_FIELDS = COMMON_FIELDS | {"image", "image[]", "mask"}
MAX_N = 10  # OpenAI's own bound; the model's is checked after
MAX_USER = 256
MAX_INPUTS = 16
LINK_SALT = "imagegen.gateway.file"


# --- Who is asking ----------------------------------------------------------------------------


def authenticate(header: str | None):
    """The user an ``Authorization: Bearer <token>`` header names (``Token`` works too), with
    the token's rate limit counted; 401 / 429 in OpenAI's words otherwise."""
    try:
        key = tokens.token_key(header)
    except tokens.MalformedHeader:
        raise OpenAIError(
            "The Authorization header must be 'Bearer <token>': one token after the word Bearer.",
            status=401,
            code="invalid_api_key",
        ) from None
    if key is None:
        raise OpenAIError(
            "You didn't provide an API key. You need to provide your API key in an "
            "Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY). "
            "Make one under Settings → API tokens.",
            status=401,
            code="missing_api_key" if not header else "invalid_api_key",
        )
    try:
        user, token = TokenAuthentication().authenticate_credentials(key.encode())
    except AuthenticationFailed:
        raise OpenAIError(
            "Incorrect API key provided. Make a token under Settings → API tokens.",
            status=401,
            code="invalid_api_key",
        ) from None
    try:
        tokens.admit(token)
    except tokens.RateLimited as exc:
        raise OpenAIError(
            str(exc),
            status=429,
            type="requests",
            code="rate_limit_exceeded",
            retry=False if not exc.wait else None,
            retry_after=exc.wait or None,
        ) from None
    return user


# --- The request ------------------------------------------------------------------------------


@dataclass
class Ask:
    """A checked request: what to queue and how to answer."""

    data: dict
    response_format: str = "b64_json"
    output_format: str | None = None  # None: as the model made it
    compression: int | None = None
    model: str | None = None  # the name sent (None: the default)
    options: dict = field(default_factory=dict)  # quality, background, …: the non-"auto" ones
    client_user: str = ""  # the client's user (or safety_identifier) field
    images: list = field(default_factory=list)  # edits: the uploaded input files
    mask: bytes | None = None


def _typed(body: dict, name: str, kind, label: str):
    value = body.get(name)
    if value is None:
        return None
    if kind is int and isinstance(value, bool) or not isinstance(value, kind):
        raise invalid(
            f"Invalid type for '{name}': expected {label}, but got a "
            f"{type(value).__name__} value instead.",
            name,
            "invalid_type",
        )
    return value


def _choice(body: dict, name: str, allowed) -> str | None:
    value = _typed(body, name, str, "a string")
    if value is not None and value not in allowed:
        options = ", ".join(f"'{a}'" for a in allowed)
        raise invalid(f"Invalid value: '{value}'. Supported values are: {options}.", name)
    return value


def read_generation(body) -> Ask:
    """``POST /v1/images/generations``'s JSON body, checked field by field."""
    if not isinstance(body, dict):
        raise invalid("The request body must be a JSON object.", None, "invalid_type")
    return _read(body, COMMON_FIELDS, operation="generate")


def read_edit(fields: dict, files: dict) -> Ask:
    """``POST /v1/images/edits``'s multipart form: ``fields`` {name: [values]}, ``files``
    {name: [UploadedFile]}. Numbers arrive as text in a form and are read as numbers."""
    body: dict = {}
    for name, values in fields.items():
        if name in ("image", "image[]", "mask"):
            raise invalid(f"Send '{name}' as a file, not as a text field.", name)
        body[name] = values[-1]
    for name in ("n", "output_compression", "partial_images"):
        if isinstance(body.get(name), str):
            text = body[name].strip()
            if not re.fullmatch(r"-?[0-9]{1,6}", text):
                raise invalid(
                    f"Invalid type for '{name}': expected an integer, but got '{text}'.",
                    name,
                    "invalid_type",
                )
            body[name] = int(text)
    if isinstance(body.get("stream"), str):
        body["stream"] = body["stream"].strip().lower() in ("true", "1")
    unknown = sorted(set(files) - {"image", "image[]", "mask"})
    if unknown:
        raise invalid(f"Unrecognized file field supplied: {unknown[0]}", unknown[0], None)
    images = [*files.get("image", []), *files.get("image[]", [])]
    if not images:
        raise invalid("Missing required parameter: 'image'.", "image", "missing_required_parameter")
    if len(images) > MAX_INPUTS:
        raise invalid(f"At most {MAX_INPUTS} images per edit.", "image")
    masks = files.get("mask", [])
    if len(masks) > 1:
        raise invalid("Send one mask.", "mask")
    ask = _read(body, EDIT_FIELDS, operation="inpaint" if masks else "edit")
    ask.images = uploads.read_files(images)
    if masks:
        if masks[0].size > settings.MAX_IMAGE_SIZE:
            raise invalid(f"The mask is over the {settings.MAX_IMAGE_SIZE:,}-byte limit.", "mask")
        ask.mask = masks[0].read()
    return ask


def _read(body: dict, known: set, *, operation: str) -> Ask:
    unknown = sorted(set(body) - known)
    if unknown:
        raise OpenAIError(f"Unrecognized request argument supplied: {unknown[0]}")
    prompt = _typed(body, "prompt", str, "a string")
    if prompt is None or not prompt.strip():
        raise invalid(
            "Missing required parameter: 'prompt'.", "prompt", "missing_required_parameter"
        )
    if len(prompt) > limits.MAX_PROMPT:
        raise invalid(
            f"The prompt is {len(prompt)} characters; at most {limits.MAX_PROMPT} are taken.",
            "prompt",
            "string_above_max_length",
        )
    model = _typed(body, "model", str, "a string")
    if model is not None and len(model) > limits.MAX_IDENTIFIER:
        raise invalid("The model name is too long.", "model")
    n = _typed(body, "n", int, "an integer")
    if n is not None and not 1 <= n <= MAX_N:
        raise invalid(
            f"Invalid 'n': integer below minimum value. Expected a value between 1 and "
            f"{MAX_N}, but got {n} instead.",
            "n",
        )
    # OpenAI's ``safety_identifier`` replaces ``user``: either is recorded as the client's user.
    user = _typed(body, "user", str, "a string") or ""
    user = user or _typed(body, "safety_identifier", str, "a string") or ""
    if len(user) > MAX_USER:
        raise invalid(f"The user field is at most {MAX_USER} characters.", "user")
    for name, value in (("prompt", prompt), ("model", model), ("user", user)):
        if value and "\x00" in value:
            raise invalid("Null characters are not allowed.", name)
        if value and not _utf8(value):
            raise invalid("The text is not valid Unicode (a lone surrogate).", name)
    if _typed(body, "stream", bool, "a boolean"):
        raise invalid("Streaming is not supported by this server; leave 'stream' out.", "stream")
    if _typed(body, "partial_images", int, "an integer"):
        raise invalid(
            "Partial images need streaming, which this server does not do.", "partial_images"
        )
    if operation == "generate" and body.get("input_fidelity") is not None:
        raise OpenAIError("Unrecognized request argument supplied: input_fidelity")
    response_format = _choice(body, "response_format", RESPONSE_FORMATS) or "b64_json"
    output_format = _choice(body, "output_format", tuple(OUTPUT_FORMATS))
    compression = _typed(body, "output_compression", int, "an integer")
    if compression is not None:
        if not 0 <= compression <= 100:
            raise invalid("output_compression is a percentage from 0 to 100.", "output_compression")
        if output_format not in ("jpeg", "webp"):
            raise invalid(
                "output_compression applies to output_format 'jpeg' or 'webp' only.",
                "output_compression",
            )
    options = {name: _typed(body, name, str, "a string") for name in MODEL_OPTIONS}
    if options["background"] == "transparent" and output_format == "jpeg":
        raise invalid("A transparent background needs output_format 'png' or 'webp'.", "background")
    data: dict = {"prompt": prompt, "operation": operation, "num_images": n or 1}
    size = _typed(body, "size", str, "a string")
    if size not in (None, "auto"):
        match = SIZE.match(size)
        if match is None:
            raise invalid(
                f"Invalid value: '{size}'. Supported values are: 'auto' and 'WIDTHxHEIGHT' "
                "(e.g. '1024x1024').",
                "size",
            )
        data["width"], data["height"] = int(match[1]), int(match[2])
    return Ask(
        data,
        response_format,
        output_format,
        compression,
        model=model,
        options={k: v for k, v in options.items() if v not in (None, "auto")},
        client_user=user,
    )


# ``quality`` on a model without a quality setting of its own, as a share of its default
# sampling steps (dall-e-3's "standard" and "hd" are medium and high).
QUALITY_STEPS = {"low": 0.5, "medium": 1.0, "standard": 1.0, "high": 1.5, "hd": 1.5}
# Values a model without the setting honours by doing what it always does.
NATIVE = {"background": ("opaque",), "input_fidelity": ("low",)}


def _utf8(value: str) -> bool:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _model_params(offer: offers.Offer, options: dict, data: dict) -> dict:
    """``quality``, ``background``, ``style``, ``moderation`` and ``input_fidelity`` as the
    model's own parameters where its catalog offers the value. Else: ``quality`` sets the
    sampling steps of a model that takes steps (low: half its default, high: one and a half)
    and is its one quality on a model that takes none; an opaque background and low input
    fidelity are what every model does; anything else is refused in OpenAI's words."""
    spec = offer.spec
    params = {}
    for name, value in options.items():
        allowed = spec.options.get(name)
        if allowed and value in allowed:
            params[name] = value
        elif not allowed and name == "quality" and value in QUALITY_STEPS:
            if spec.steps is not None:
                low, high = spec.steps
                base = spec.default_steps or settings.DEFAULT_STEPS
                steps = round(base * QUALITY_STEPS[value])
                data["steps"] = max(low, min(high, steps))
        elif not allowed and value in NATIVE.get(name, ()):
            continue
        else:
            offered = (
                f"it takes {', '.join(repr(a) for a in allowed)}"
                if allowed
                else "it has no such setting"
            )
            raise invalid(
                f"The model '{offer.name}' does not support {name} '{value}': {offered}.", name
            )
    return params


def project_of(user, header: str | None):
    """The project an ``X-Project`` header names (its id or its name), one the user may add
    to; None without the header."""
    if header is None or not header.strip():
        return None
    value = header.strip()
    projects = Project.objects.for_user(user, "contribute")
    named = Q(name=value)
    if value.isascii() and value.isdigit() and len(value) < 19:
        named |= Q(pk=int(value))  # an id, or a project whose name is digits
    found = list(projects.filter(named)[:2])
    if len(found) > 1:
        raise invalid(
            f"'{value}' names several projects you may add to; send the id of one.",
            "X-Project",
            "ambiguous_project",
        )
    if not found:
        raise OpenAIError(
            f"No project '{value}' that you may add images to.",
            status=404,
            param="X-Project",
            code="project_not_found",
        )
    return found[0]


def submit(user, ask: Ask, *, project_header: str | None, user_agent: str) -> tuple[int, int]:
    """Queue the generation the request asks for: its id, and how long to wait for it
    (GENERATION_TIMEOUT; BACKEND_TIMEOUT on the team's own GPUs, where a job may wait for a
    free one). Refusals in OpenAI's shape."""
    data = dict(ask.data)
    try:
        project = project_of(user, project_header)
        offer = offers.resolve(user, ask.model, data["operation"])
        data.update(provider=offer.provider.name, model=offer.spec.id, project=project)
        data["params"] = _model_params(offer, ask.options, data)
        client = {
            "origin": Origin.API,
            "client_user": ask.client_user,
            "user_agent": (user_agent or "")[:300],
        }
        # The inputs are stored first, outside any transaction (decoding and thumbnailing
        # sixteen large images must not hold the database's write lock), and removed again
        # if the generation is refused.
        stored: list[Image] = []
        try:
            if ask.images:
                ids, stored, first = _inputs(user, ask.images, project)
                data["input_images"] = ids
                if ask.mask is not None:
                    data["mask"] = ContentFile(_studio_mask(ask.mask, first), name="mask.png")
            generation = services.create_generation(user, data, client=client)
        except BaseException:
            _discard_uploads(stored)
            raise
        if offer.provider.self_hosted:
            return generation.pk, settings.BACKEND_TIMEOUT
        return generation.pk, settings.GENERATION_TIMEOUT
    except ValidationError as exc:
        if "file" in getattr(exc, "error_dict", {}):  # an input upload refused
            raise invalid(exc.message_dict["file"][0], "image") from None
        raise from_validation(exc, quota_reset) from None
    except ServiceError as exc:
        raise from_service(exc) from None


def _inputs(user, files, project) -> tuple[list[int], list[Image], tuple[int, int]]:
    """The edit's input files as gallery images: an image the user may already see with the
    same bytes (a client editing a picture the studio just gave it) is used as it is, the
    others are stored as uploads (all or none). The ids in order, the images stored, and
    the first input's size."""
    digests = [hashlib.sha256(item.data).hexdigest() if item.data else None for item in files]
    known: dict[str, Image] = {}
    visible = Image.objects.for_user(user, "view").filter(sha256__in=[d for d in digests if d])
    # The user's own copy first where there are several.
    for image in visible.order_by(Case(When(owner=user, then=0), default=1), "-id"):
        known.setdefault(image.sha256, image)
    # The files to store, and where each input comes from.
    fresh, source = [], []
    first_of: dict[str, int] = {}
    first_of_position: dict[str, int] = {}
    for item, digest in zip(files, digests, strict=True):
        if digest in known:
            source.append(known[digest])
        elif digest is not None and digest in first_of:
            raise invalid(
                f"Images {first_of_position[digest] + 1} and {len(source) + 1} are the same "
                "picture; send it once.",
                "image",
            )
        else:
            if digest is not None:
                first_of[digest] = len(fresh)
                first_of_position[digest] = len(source)
            source.append(len(fresh))
            fresh.append(item)
    stored = uploads.upload_images(user, fresh, project=project) if fresh else []
    images = [stored[s] if isinstance(s, int) else s for s in source]
    return [image.pk for image in images], stored, (images[0].width, images[0].height)


def _discard_uploads(stored: list[Image]) -> None:
    """Remove inputs stored for a request that was then refused: their rows and files."""
    if not stored:
        return
    Generation.objects.filter(pk__in={image.generation_id for image in stored}).delete()
    discard_unreferenced([name for image in stored for name in (image.file, image.thumbnail)])


def _studio_mask(data: bytes, first: tuple[int, int]) -> bytes:
    """OpenAI's mask (fully transparent where the image may change, the size of the first
    image) as the studio's (white where it may change)."""
    try:
        checked = validate_image(data)
    except InvalidImage as exc:
        raise invalid(f"The mask is not a usable image: {exc}.", "mask") from None
    if checked.format != "PNG":
        raise invalid("The mask must be a PNG.", "mask")
    if (checked.width, checked.height) != first:
        raise invalid(
            f"The mask is {checked.width}×{checked.height}; it must be the size of the first "
            f"image ({first[0]}×{first[1]}).",
            "mask",
        )
    decoded = checked.decoded
    if "A" not in decoded.getbands() and "transparency" not in decoded.info:
        raise invalid(
            "The mask has no alpha channel: its fully transparent pixels mark where the "
            "image may change.",
            "mask",
        )
    alpha = decoded.convert("RGBA").getchannel("A")
    studio = alpha.point(lambda a: 255 if a == 0 else 0)
    out = io.BytesIO()
    studio.save(out, format="PNG")
    return out.getvalue()


def quota_reset(kind: str) -> tuple[int | None, str]:
    """When a limit of ``kind`` resets (seconds from now, and in words): "day" at the team's
    next midnight, "month" on the first of next month, "queue" when generations finish."""
    if kind == "queue":
        return None, "It frees up as your queued generations finish."
    zone = team_zone()
    now = timezone.now().astimezone(zone)
    if kind == "day":
        reset = datetime.combine(now.date() + timedelta(days=1), datetime.min.time())
    else:
        first = now.date().replace(day=1)
        reset = datetime.combine((first + timedelta(days=32)).replace(day=1), datetime.min.time())
    reset = reset.replace(tzinfo=zone)
    # In UTC: subtracting two times of one zone object ignores a daylight-saving change.
    seconds = max(1, int((reset.astimezone(UTC) - now.astimezone(UTC)).total_seconds()))
    return seconds, f"It resets at {reset:%Y-%m-%d %H:%M} ({zone})."


# --- Waiting and the answer ---------------------------------------------------------------------


def status_of(generation_id: int) -> str | None:
    return Generation.objects.filter(pk=generation_id).values_list("status", flat=True).first()


def cancel(generation_id: int) -> None:
    """The client went away (or waited too long): stop its generation, whatever state."""
    generation = Generation.objects.filter(pk=generation_id).first()
    if generation is None or generation.is_finished:
        return
    with contextlib.suppress(services.GenerationConflict):  # it finished meanwhile
        services.cancel_generation(generation)


def answer(generation_id: int, ask: Ask, base_url: str) -> dict:
    """The OpenAI answer for a finished generation: its images, or its failure."""
    generation = Generation.objects.get(pk=generation_id)
    if generation.status == Status.FAILED:
        raise OpenAIError(
            f"The provider failed: {generation.error or 'no reason given'} "
            f"(generation {generation.pk}).",
            status=502,
            type="server_error",
            code="provider_error",
            retry=False,
        )
    if generation.status == Status.CANCELED:
        raise OpenAIError(
            f"Generation {generation.pk} was canceled before it finished.",
            status=409,
            type="server_error",
            code="canceled",
            retry=False,
        )
    images = list(generation.images.order_by("index"))
    if not images:
        raise OpenAIError(
            f"Generation {generation.pk} succeeded without an image (the provider returned none).",
            status=502,
            type="server_error",
            code="provider_error",
            retry=False,
        )
    revised = (generation.provider_metadata or {}).get("revised_prompt")
    data = []
    for image in images:
        if ask.response_format == "url":
            item = {"url": base_url + file_link(image, ask.output_format, ask.compression)}
        else:
            body, _media = converted(image, ask.output_format, ask.compression)
            item = {"b64_json": base64.b64encode(body).decode("ascii")}
        if isinstance(revised, str) and revised:
            item["revised_prompt"] = revised
        data.append(item)
    return {
        "created": int(generation.created_at.timestamp()),
        "data": data,
        "output_format": (ask.output_format or images[0].format).lower(),
        "size": f"{images[0].width}x{images[0].height}",
    }


def give_up(generation_id: int, waited: float) -> OpenAIError | None:
    """The wait is over: cancel the generation and say so (504), or None when it finished
    meanwhile (the images are answered as usual)."""
    cancel(generation_id)
    if status_of(generation_id) == Status.SUCCEEDED:
        return None
    return OpenAIError(
        f"Generation {generation_id} did not finish within {int(waited)} s "
        "(GENERATION_TIMEOUT); it was canceled.",
        status=504,
        type="server_error",
        code="timeout",
        retry=False,
    )


def converted(image: Image, output_format: str | None, compression: int | None):
    """The stored original, or it converted to ``output_format`` (with ``compression``
    for JPEG and WebP); (bytes, media type)."""
    try:
        data = read_original(image)
    except MissingFile:
        raise OpenAIError(
            f"Image {image.pk}'s file is missing from storage.", status=404, code="not_found"
        ) from None
    wanted = OUTPUT_FORMATS.get(output_format or "", image.format)
    if wanted == image.format and compression is None:
        return data, MEDIA_TYPES.get(image.format, "application/octet-stream")
    decoded = PILImage.open(io.BytesIO(data))
    decoded.load()
    if wanted == "JPEG" and decoded.mode not in ("RGB", "L"):
        decoded = decoded.convert("RGB")
    out = io.BytesIO()
    options = {"quality": compression} if compression is not None else {}
    decoded.save(out, format=wanted, **options)
    return out.getvalue(), MEDIA_TYPES[wanted]


# --- Signed links ---------------------------------------------------------------------------------


def file_link(image: Image, output_format: str | None, compression: int | None) -> str:
    """The path of a signed link to ``image`` as asked, valid GATEWAY_LINK_SECONDS: like
    OpenAI's result URLs, whoever holds it may fetch it until it expires."""
    value = f"{image.pk}.{output_format or ''}.{'' if compression is None else compression}"
    signed = TimestampSigner(salt=LINK_SALT).sign(value)
    return reverse("gateway-file", args=[signed])


def linked_file(signed: str):
    """The (bytes, media type) a signed link stands for; 404 when it is forged or expired,
    or its image is gone."""
    try:
        value = TimestampSigner(salt=LINK_SALT).unsign(
            signed, max_age=settings.GATEWAY_LINK_SECONDS
        )
    except SignatureExpired:
        raise OpenAIError("This link has expired.", status=404, code="link_expired") from None
    except BadSignature:
        raise OpenAIError("No such file.", status=404, code="not_found") from None
    pk, output_format, compression = value.split(".")
    image = Image.objects.filter(pk=int(pk)).first()
    if image is None:
        raise OpenAIError("No such file.", status=404, code="not_found")
    return converted(image, output_format or None, int(compression) if compression else None)
