"""What the providers of a team's own GPU servers share (ComfyUI, AUTOMATIC1111/Forge,
OpenAI-compatible servers): models from the backends' rows, GPU-second prices, HTTP with the
backend's credentials, and the errors that say which backend failed and why.

The pipeline (generation.runner) picks one backend of the provider's pool for each job and
hands it over as ``ctx.backend`` (a ``BackendTarget``); ``prepare`` reads what the job needs
from the database before the provider's thread starts. docs/self-hosted-backends.md.
"""

from __future__ import annotations

import json
import logging
import math
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal

import httpx
from django.conf import settings

from imagegen.providers import errors
from imagegen.providers.backends import Backend, BackendTarget
from imagegen.providers.base import (
    BackendUnreachable,
    GenerationRequest,
    GenerationTimedOut,
    ModelSpec,
    Provider,
    ProviderError,
    RunContext,
)

logger = logging.getLogger(__name__)


@dataclass
class Health:
    """What one health check learned of a backend: whether it answers, and what it serves."""

    ok: bool
    error: str = ""
    models: list = field(default_factory=list)
    extra: dict = field(default_factory=dict)


class SelfHostedProvider(Provider):
    """A provider whose work runs on the team's own backends of one kind."""

    requires_key = False
    self_hosted = True
    kind = ""

    # --- What is offered ---------------------------------------------------------------

    def backends(self, user=None):
        rows = Backend.objects.filter(kind=self.kind, enabled=True)
        return rows if user is None else Backend.objects.usable_by(user).filter(kind=self.kind)

    def models(self) -> list[ModelSpec]:
        return self.specs(self.backends())

    def models_for(self, user) -> list[ModelSpec]:
        return self.specs(self.backends(user))

    def specs(self, backends) -> list[ModelSpec]:
        """The union of the models the given backends serve, first listed first."""
        specs: dict[str, ModelSpec] = {}
        for backend in backends:
            for spec in self.backend_specs(backend):
                specs.setdefault(spec.id, spec)
        return list(specs.values())

    def backend_specs(self, backend: Backend) -> list[ModelSpec]:
        """The models one backend serves (from what its last health check listed)."""
        return []

    def serves(self, backend: Backend, model_id: str) -> bool:
        return any(spec.id == model_id for spec in self.backend_specs(backend))

    def capable(self, backends, model_id: str) -> list[Backend]:
        """The given backends that serve the model."""
        return [backend for backend in backends if self.serves(backend, model_id)]

    # --- Cost ----------------------------------------------------------------------------

    def estimate_cost(self, request: GenerationRequest) -> Decimal | None:
        """GPU-seconds one image usually takes × images × the dearest backend's price that
        serves the model (the estimate budgets are checked against before a run)."""
        serving = self.capable(self.backends(), request.model)
        if not serving:
            return None
        worst = max(
            serving, key=lambda b: (b.price_per_gpu_second or 0) * Decimal(str(b.typical_seconds))
        )
        if not worst.price_per_gpu_second:
            return Decimal(0)
        seconds = Decimal(str(worst.typical_seconds)) * request.num_images
        return gpu_cost(worst.price_per_gpu_second, float(seconds))

    # --- The run -------------------------------------------------------------------------

    def target(self, ctx: RunContext) -> BackendTarget:
        if ctx.backend is None:
            raise ProviderError(f"No {self.label} backend was chosen for this job.")
        return ctx.backend

    def check_health(self, target: BackendTarget) -> Health:
        """Ask the backend whether it answers and what it serves (a short timeout)."""
        raise NotImplementedError

    def client(self, target: BackendTarget, timeout: float) -> httpx.Client:
        """An HTTP client for the backend's own base URL with its credentials. The URL is the
        admin's (a private address is fine); nothing a backend returns is followed here."""
        return httpx.Client(
            base_url=target.base_url,
            headers=target.headers,
            timeout=timeout,
            follow_redirects=False,
        )

    def timeout(self, ctx: RunContext, cap: float | None = None) -> float:
        remaining = ctx.remaining()
        if remaining <= 0:
            raise GenerationTimedOut()
        return max(0.1, min(remaining, cap) if cap else remaining)

    def name_of(self, target: BackendTarget) -> str:
        return f"{self.label} ({target.name})"

    @contextmanager
    def talking_to(self, target: BackendTarget, ctx: RunContext):
        """Transport failures in words: a backend that cannot be reached or that drops the
        connection is ``BackendUnreachable`` (the runner marks it and may move the job)."""
        try:
            yield
        except httpx.TimeoutException:
            if ctx.remaining() <= 1:
                raise GenerationTimedOut() from None
            raise BackendUnreachable(
                f"{self.name_of(target)} did not answer in time.", target.id
            ) from None
        except (httpx.ConnectError, httpx.RemoteProtocolError, httpx.ReadError) as exc:
            raise BackendUnreachable(
                f"{self.name_of(target)} stopped answering ({connection_reason(exc)}).",
                target.id,
            ) from None
        except httpx.HTTPError as exc:
            raise BackendUnreachable(
                f"{self.name_of(target)} could not be reached ({type(exc).__name__}).",
                target.id,
            ) from None

    def refused(self, target: BackendTarget, response: httpx.Response, what: str) -> ProviderError:
        """A non-2xx answer in words, with the backend's own reason where it gives one."""
        return self.refusal(target, response.status_code, backend_reason(response), what)

    def refusal(self, target: BackendTarget, status: int, reason: str, what: str):
        """The words of a refusal: the backend's own reason, never its credentials (a proxy
        may echo the Authorization header back)."""
        if status in (401, 403):
            return ProviderError(
                f"{self.name_of(target)} refused the credentials set in the admin (HTTP {status})."
            )
        reason = redact_secrets(errors.clean(reason, api_key=None), target)
        text = f"{self.name_of(target)} refused {what} (HTTP {status})"
        return ProviderError(f"{text}: {reason}" if reason else f"{text}.")

    def json_object(self, target: BackendTarget, response: httpx.Response, what: str) -> dict:
        """The answer as a JSON object, or a failure in words."""
        answer = self.json(target, response, what)
        if not isinstance(answer, dict):
            raise ProviderError(
                f"{self.name_of(target)} answered {what} with JSON of another shape than expected."
            )
        return answer

    @contextmanager
    def understood(self, target: BackendTarget):
        """An answer of a shape this code does not expect (a value of another type, a key
        missing) is a failure naming the backend, never an internal error."""
        try:
            yield
        except (TypeError, KeyError, AttributeError, IndexError, ValueError) as exc:
            logger.warning("%s answered something unexpected", self.name_of(target), exc_info=True)
            raise ProviderError(
                f"{self.name_of(target)} answered with something this server does not "
                f"understand ({type(exc).__name__}); is it the kind of server set in the admin?"
            ) from None

    def quietly_cancel(self, ctx: RunContext) -> None:
        """Ask the backend to stop the job; a failure to ask is not the job's failure."""
        try:
            self.cancel(ctx)
        except Exception:  # noqa: BLE001 - best effort: the job already has its outcome
            return

    def json(self, target: BackendTarget, response: httpx.Response, what: str):
        if response.status_code >= 400:
            raise self.refused(target, response, what)
        try:
            return response.json()
        except (ValueError, UnicodeDecodeError):
            raise ProviderError(
                f"{self.name_of(target)} answered {what} with something that is not JSON."
            ) from None


def redact_secrets(text: str, target: BackendTarget) -> str:
    for secret in target.secrets:
        if secret:
            text = errors.redact(text, secret)
    return text


def gpu_cost(price: Decimal | None, seconds: float | None) -> Decimal | None:
    """Seconds × the backend's price, to the micro-dollar (rounded up)."""
    if price is None or seconds is None:
        return None
    micro = math.ceil(Decimal(str(seconds)) * price * 1_000_000)
    return Decimal(micro) / 1_000_000


def connection_reason(exc: Exception) -> str:
    text = str(exc).lower()
    if "refused" in text:
        return "connection refused"
    if "reset" in text or "closed" in text or "disconnect" in text:
        return "the connection was dropped"
    if "name or service" in text or "resolve" in text or "nodename" in text:
        return "the host name does not resolve"
    return type(exc).__name__


def backend_reason(response: httpx.Response) -> str:
    """The reason a backend gives in its error body (A1111: error/detail/errors; ComfyUI:
    error.message + node_errors; FastAPI: detail; OpenAI shape: error.message)."""
    try:
        body = response.json()
    except (ValueError, UnicodeDecodeError):
        return response.text[:300].strip()
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict):
            parts = [str(error.get("message") or "")]
            details = error.get("details")
            if details:
                parts.append(str(details))
            text = ": ".join(p for p in parts if p)
            nodes = node_errors(body.get("node_errors"))
            return (f"{text}; {nodes}" if nodes else text)[:500]
        pieces = [str(body.get(k)) for k in ("error", "detail", "errors") if body.get(k)]
        if pieces:
            return ": ".join(pieces)[:500]
    return json.dumps(body)[:300]


def node_errors(errors) -> str:
    """ComfyUI's ``node_errors`` ({node_id: {errors: [{message, details}], class_type}}) in
    words: where a refused graph's real reasons are."""
    if not isinstance(errors, dict):
        return ""
    lines = []
    for node_id, entry in errors.items():
        if not isinstance(entry, dict):
            continue
        for item in entry.get("errors") or []:
            if isinstance(item, dict):
                detail = f"{item.get('message', '')}: {item.get('details', '')}".strip(": ")
                lines.append(f"node {node_id} ({entry.get('class_type', '?')}): {detail}")
    return "; ".join(lines)


def poll_interval() -> float:
    return settings.BACKEND_POLL_INTERVAL
