"""Prompt enhancement: a chat model rewrites the user's prompt with more detail for image
models, through OpenRouter or OpenAI, with the user's own key.

The call goes to the chat-completions endpoint with the official ``openai`` SDK at
``OPENROUTER_BASE_URL`` / ``OPENAI_BASE_URL`` (tests point these at local fake servers).
Failures are ``EnhanceRefused`` (400: the user can fix it: key, credit, model) or
``EnhanceError`` (502: the provider failed), each with a message in words.
The key never appears in a message, a log line or a response.

Cost: OpenRouter reports it (``usage.cost``, USD). For OpenAI it is computed from the token
counts and ``OPENAI_CHAT_PRICES`` (USD per million tokens, list prices of late 2025); a model
not in the table has an unknown cost (``None``).

Spending: enhancement may be paid by the team's or the server's key, so it passes the same
gate as a generation (``generation.usage.gate``): only the models of ``allowed_models()``,
the most the call can cost (``estimate_cost``) checked against the user's and the team's
monthly budgets and reserved before the call, and the reported cost (or the estimate, when
none is reported) recorded after it, so it counts against those budgets. The API view adds
the per-user rate limit (``PromptEnhanceThrottle``).
"""

import logging
from dataclasses import dataclass
from decimal import ROUND_UP, Decimal

from django.conf import settings
from django.core.exceptions import ValidationError

from generation.usage.gate import release_spend, reserve_spend, settle_spend
from generation.usage.policy import effective_limits
from imagegen.core import limits
from imagegen.core.exceptions import BadRequest, ServiceError, UpstreamError
from imagegen.core.lazy_import import lazy_module
from imagegen.providers.errors import redact
from settings_app.keys import ResolvedKey, missing_key_message, record_key_use, resolve_api_key

logger = logging.getLogger(__name__)
# Imported on first use: see imagegen/core/lazy_import.py.
openai = lazy_module("openai")

PROVIDERS = {"openrouter": "OpenRouter", "openai": "OpenAI"}
# Tried in this order when the request names no provider.
PREFERENCE = ("openrouter", "openai")

# USD per 1M tokens: (input, output).
OPENAI_CHAT_PRICES: dict[str, tuple[Decimal, Decimal]] = {
    "gpt-4o-mini": (Decimal("0.15"), Decimal("0.60")),
    "gpt-4o": (Decimal("2.50"), Decimal("10.00")),
    "gpt-4.1-nano": (Decimal("0.10"), Decimal("0.40")),
    "gpt-4.1-mini": (Decimal("0.40"), Decimal("1.60")),
    "gpt-4.1": (Decimal("2.00"), Decimal("8.00")),
    "gpt-5-nano": (Decimal("0.05"), Decimal("0.40")),
    "gpt-5-mini": (Decimal("0.25"), Decimal("2.00")),
}
MAX_ENHANCED_LENGTH = 4000
# The longest answer asked for, in tokens: the bound of the output side of a call's cost.
MAX_COMPLETION_TOKENS = 300
# Tokens a chat request adds around each message and the whole conversation (generous).
MESSAGE_OVERHEAD_TOKENS = 8
SPEND_KIND = "prompt_enhance"

SYSTEM_INSTRUCTION = (
    "You improve prompts for text-to-image models. Rewrite the user's prompt into one richer "
    "prompt: keep the user's subject, every object, person, text and constraint they asked "
    "for, and their language; add concrete visual detail: setting, composition, lighting, "
    "colour, materials, mood and camera or medium. Do not change what the image is of. Keep "
    "any {a|b|c} alternatives exactly as written. Answer with the prompt only, no preamble, "
    "no quotes, at most 80 words."
)


class EnhanceError(UpstreamError):
    """Enhancement failed at the provider (502); the message says why in words."""


class EnhanceRefused(BadRequest):
    """Enhancement cannot run as asked: a key, credit or model to fix (400)."""


@dataclass(frozen=True)
class Enhanced:
    prompt: str
    model: str
    provider: str
    cost_usd: Decimal | None


def _base_url(provider: str) -> str:
    return settings.OPENROUTER_BASE_URL if provider == "openrouter" else settings.OPENAI_BASE_URL


def _default_model(provider: str) -> str:
    if provider == "openrouter":
        return settings.PROMPT_ENHANCE_MODEL_OPENROUTER
    return settings.PROMPT_ENHANCE_MODEL_OPENAI


def allowed_models() -> list[str]:
    """The models a request may name: the two defaults and PROMPT_ENHANCE_ALLOWED_MODELS."""
    models = [settings.PROMPT_ENHANCE_MODEL_OPENROUTER, settings.PROMPT_ENHANCE_MODEL_OPENAI]
    models += settings.PROMPT_ENHANCE_ALLOWED_MODELS
    return list(dict.fromkeys(model for model in models if model))


def check_model(model: str | None) -> None:
    """EnhanceRefused (400, on ``model``) for a model that is not allowed, naming those that
    are: a caller may not pick any model on the team's bill."""
    if model and model not in allowed_models():
        raise EnhanceRefused(
            f"The model {model!r} is not allowed for prompt enhancement; use one of: "
            f"{', '.join(allowed_models())}.",
            field="model",
        )


def _prices(provider: str, model: str) -> tuple[Decimal, Decimal] | None:
    """Input and output prices per 1M tokens, when known: OpenAI's models, directly or as
    OpenRouter's ``openai/…``."""
    if provider == "openrouter":
        if not model.startswith("openai/"):
            return None
        model = model.removeprefix("openai/")
    return OPENAI_CHAT_PRICES.get(model)


def estimate_cost(provider: str, model: str, messages: list[dict]) -> Decimal:
    """The most one call can cost, in USD: every byte of the messages counted as a token (a
    token is never shorter than a byte) plus overheads, and the longest answer asked for, at
    the model's prices; PROMPT_ENHANCE_UNPRICED_COST_USD for a model without a known price."""
    prices = _prices(provider, model)
    if prices is None:
        return settings.PROMPT_ENHANCE_UNPRICED_COST_USD
    tokens_in = sum(
        len(message["content"].encode()) + MESSAGE_OVERHEAD_TOKENS for message in messages
    )
    most = (tokens_in * prices[0] + MAX_COMPLETION_TOKENS * prices[1]) / Decimal(1_000_000)
    return most.quantize(Decimal("0.000001"), rounding=ROUND_UP)


def _costs_nothing(exc: Exception) -> bool:
    """A call the provider refused with an error status, or that never reached it (not a
    timeout: the provider may have run it), is not charged."""
    if isinstance(exc, openai.APIStatusError):
        return True
    return isinstance(exc, openai.APIConnectionError) and not isinstance(
        exc, openai.APITimeoutError
    )


def choose_provider(user, provider: str | None) -> tuple[str, ResolvedKey]:
    """The provider to ask and the user's key for it (with where it comes from): the one
    named, or the first with a key among those the user's groups allow. EnhanceRefused (400,
    on ``provider``) names the key that is missing or the groups that refuse the provider.
    Nothing is recorded: the key counts as used once the spending gate lets the call go."""
    limits = effective_limits(user)
    if provider:
        if provider not in PROVIDERS:
            raise EnhanceRefused(
                f"Unknown provider {provider!r}; enhancement uses {' or '.join(PROVIDERS)}.",
                field="provider",
            )
        if not limits.allows_provider(provider):
            raise EnhanceRefused(
                f"Your groups ({', '.join(limits.group_names)}) don't allow provider "
                f"{PROVIDERS[provider]}.",
                field="provider",
            )
        key = resolve_api_key(user, provider)
        if key is None:
            raise EnhanceRefused(missing_key_message(PROVIDERS[provider]), field="provider")
        return provider, key
    allowed = [name for name in PREFERENCE if limits.allows_provider(name)]
    if not allowed:
        raise EnhanceRefused(
            f"Your groups ({', '.join(limits.group_names)}) don't allow OpenRouter or OpenAI, "
            "which enhancing a prompt uses.",
            field="provider",
        )
    for name in allowed:
        key = resolve_api_key(user, name)
        if key is not None:
            return name, key
    raise EnhanceRefused(
        "Enhancing a prompt needs an OpenRouter or OpenAI API key: add one "
        "under Settings → Provider keys, or ask an administrator for access to "
        "the team key.",
        field="provider",
    )


def _instruction(style) -> str:
    if style is None:
        return SYSTEM_INSTRUCTION
    return (
        f"{SYSTEM_INSTRUCTION} The user's prompt will then be placed into the style "
        f'template "{style.template}" (style: {style.name}), so describe the subject and '
        f"scene to suit that style without repeating the template's words."
    )


def _provider_message(exc: "openai.APIStatusError", api_key: str) -> str:
    body = exc.body if isinstance(exc.body, dict) else {}
    message = body.get("message") or (body.get("error") or {}).get("message") or ""
    return redact(message, api_key)[:300]


def _explain(exc: Exception, label: str, api_key: str) -> ServiceError:
    """An SDK failure in words: EnhanceRefused or EnhanceError."""
    if isinstance(exc, openai.APITimeoutError):
        return EnhanceError(f"{label} did not answer in time; try again.")
    if isinstance(exc, openai.APIConnectionError):
        return EnhanceError(f"Could not reach {label}; try again later.")
    if isinstance(exc, openai.APIStatusError):
        status, code = exc.status_code, str(getattr(exc, "code", "") or "")
        if status == 401:
            return EnhanceRefused(f"{label} rejected the API key: check it in Settings.")
        if status == 402 or code == "insufficient_quota":
            return EnhanceRefused(
                f"The {label} account has no credit left: add credit or use another key."
            )
        if status == 403:
            detail = _provider_message(exc, api_key)
            return EnhanceRefused(f"{label} refused the request{': ' + detail if detail else '.'}")
        if status == 429:
            return EnhanceError(f"{label} is rate limiting requests; wait a moment and try again.")
        if status >= 500:
            return EnhanceError(f"{label} is having problems (HTTP {status}); try again later.")
        detail = _provider_message(exc, api_key)
        return EnhanceRefused(
            f"{label} did not accept the request{': ' + detail if detail else '.'}"
        )
    return EnhanceError(f"{label} sent an answer that could not be read; try again.")


def _cost(provider: str, model: str, usage) -> Decimal | None:
    if usage is None:
        return None
    if provider == "openrouter":
        cost = getattr(usage, "cost", None)
        if cost is None and usage.model_extra:
            cost = usage.model_extra.get("cost")
        return Decimal(str(cost)) if cost is not None else None
    prices = OPENAI_CHAT_PRICES.get(model)
    if prices is None:
        return None
    million = Decimal(1_000_000)
    return (
        Decimal(usage.prompt_tokens or 0) * prices[0]
        + Decimal(usage.completion_tokens or 0) * prices[1]
    ) / million


def _clean(text: str) -> str:
    text = text.strip()
    for prefix in ("Prompt:", "prompt:", "Enhanced prompt:"):
        if text.startswith(prefix):
            text = text[len(prefix) :].strip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'":
        text = text[1:-1].strip()
    return text


def enhance_prompt(
    user, prompt: str, *, style=None, provider: str | None = None, model: str | None = None
) -> Enhanced:
    """Ask a chat model for a more detailed prompt with the same subject, with the user's key
    for OpenRouter or OpenAI (or the team's or the server's), through the spending gate.
    Raises EnhanceRefused (a model not allowed, a key missing), the budget refusals of
    ``generation.usage.gate`` and EnhanceError, each with a message in words."""
    too_long = limits.too_long(prompt or "", limits.MAX_ENHANCE_PROMPT)
    if too_long:
        raise ValidationError({"prompt": [too_long]})
    check_model(model)
    provider, key = choose_provider(user, provider)
    api_key = key.value
    label = PROVIDERS[provider]
    model = model or _default_model(provider)
    messages = [
        {"role": "system", "content": _instruction(style)},
        {"role": "user", "content": prompt},
    ]
    # The spending gate: refused (400/429) before any call when a budget cannot take the
    # most this call can cost; otherwise that estimate counts as running until it answers.
    spend = reserve_spend(
        user,
        kind=SPEND_KIND,
        provider=provider,
        model=model,
        estimate_usd=estimate_cost(provider, model, messages),
    )
    # Admitted: the key is used now (a team key's first use is audited; a refusal is not).
    try:
        record_key_use(user, provider, key.source)
    except BaseException:
        release_spend(spend)
        raise
    client = openai.OpenAI(
        base_url=_base_url(provider),
        api_key=api_key,
        max_retries=0,
        timeout=settings.PROMPT_ENHANCE_TIMEOUT,
    )
    try:
        completion = client.chat.completions.create(
            model=model,
            messages=messages,
            max_tokens=MAX_COMPLETION_TOKENS,
            temperature=0.7,
        )
    except (openai.OpenAIError, ValueError) as exc:  # ValueError: a body that is not JSON
        if _costs_nothing(exc):
            release_spend(spend)
        else:
            settle_spend(spend, None)
        error = _explain(exc, label, api_key)
        logger.warning("prompt enhancement via %s (%s) failed: %s", provider, model, error.detail)
        raise error from None
    except BaseException:
        settle_spend(spend, None)
        raise
    finally:
        client.close()
    cost = _cost(provider, model, completion.usage)
    settle_spend(spend, cost)

    # OpenRouter may answer 200 with {"error": {...}} and no choices.
    extra = completion.model_extra or {}
    if isinstance(extra.get("error"), dict):
        detail = redact(extra["error"].get("message"), api_key)[:300]
        raise EnhanceError(
            f"{label} could not enhance the prompt{': ' + detail if detail else '.'}"
        )
    choices = completion.choices or []
    content = choices[0].message.content if choices and choices[0].message else None
    enhanced = _clean(content or "")
    if not enhanced:
        raise EnhanceError(f"{label} answered without a prompt; try again.")
    logger.info("prompt enhanced via %s (%s), cost %s", provider, model, cost)
    return Enhanced(
        prompt=enhanced[:MAX_ENHANCED_LENGTH],
        model=completion.model or model,
        provider=provider,
        cost_usd=cost,
    )
