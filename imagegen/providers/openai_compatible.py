"""Any OpenAI-compatible image server on the team's own GPU (LocalAI and the like), through
the openai SDK pointed at the backend's base URL.

Models are what ``GET /v1/models`` lists (read by the health check); generate is
``POST /v1/images/generations`` and, where the admin says the server has it
(``Backend.edits``), edit and inpaint are ``POST /v1/images/edits`` (multipart ``image`` and,
for inpaint, ``mask``: transparent where it may change, as OpenAI's API defines it). Images
are asked for as ``b64_json``; a server that answers URLs anyway has them downloaded by the
safe fetcher, which trusts only the backend's own host (a backend cannot make the server
fetch an arbitrary address). GPU time is the call's run time.
"""

from __future__ import annotations

import time
from urllib.parse import urlsplit, urlunsplit

from django.conf import settings

from imagegen.core.lazy_import import lazy_module
from imagegen.providers.backends import Backend, BackendKind, BackendTarget
from imagegen.providers.base import (
    BackendUnreachable,
    GeneratedImage,
    GenerationRequest,
    GenerationTimedOut,
    ModelSpec,
    Operation,
    ProviderError,
    ProviderResult,
    RunContext,
)
from imagegen.providers.fetch import decode_base64, fetch_image, netloc_of
from imagegen.providers.inputs import mask_for_openai
from imagegen.providers.selfhosted import Health, SelfHostedProvider, connection_reason

openai_sdk = lazy_module("openai")


class OpenAICompatibleProvider(SelfHostedProvider):
    name = "openai_compatible"
    label = "OpenAI-compatible server"
    kind = BackendKind.OPENAI_COMPATIBLE

    def backend_specs(self, backend: Backend) -> list[ModelSpec]:
        operations = (
            (Operation.GENERATE, Operation.EDIT, Operation.INPAINT)
            if backend.edits
            else (Operation.GENERATE,)
        )
        return [
            ModelSpec(
                id=item,
                label=item,
                min_size=64,
                max_size=2048,
                size_multiple=8,
                max_images=4,
                steps=None,
                cfg_scale=None,
                negative_prompt=False,
                seed=False,
                operations=operations,
                max_input_images=1 if backend.edits else 0,
                price_unit="second",
            )
            for item in backend.listed_models
            if isinstance(item, str) and item and backend.offers(item)
        ]

    def serves(self, backend: Backend, model_id: str) -> bool:
        return model_id in backend.listed_models and backend.offers(model_id)

    def sdk(self, target: BackendTarget, timeout: float):
        token = target.headers.get("Authorization", "")
        bearer = token[7:] if token.startswith("Bearer ") else "none"
        headers = {} if token.startswith("Bearer ") else dict(target.headers)
        return openai_sdk.OpenAI(
            api_key=bearer,
            base_url=api_base(target.base_url),
            max_retries=0,
            timeout=timeout,
            default_headers=headers,
            # Only the admin's URL is called: a redirect (with the credentials) is not followed.
            http_client=openai_sdk.DefaultHttpxClient(follow_redirects=False, timeout=timeout),
        )

    def check_health(self, target: BackendTarget) -> Health:
        try:
            with self.sdk(target, settings.BACKEND_CHECK_TIMEOUT) as client:
                listing = client.models.list()
            ids = [item.id for item in listing.data if getattr(item, "id", None)]
        except openai_sdk.APIStatusError as exc:
            return Health(ok=False, error=f"GET /v1/models answered HTTP {exc.status_code}")
        except openai_sdk.APIError as exc:
            return Health(ok=False, error=f"no answer ({type(exc).__name__})")
        except (ValueError, TypeError, AttributeError):
            return Health(ok=False, error="GET /v1/models is not an OpenAI model list")
        if not ids:
            return Health(ok=False, error="it lists no model")
        return Health(ok=True, models=ids)

    def generate(self, request: GenerationRequest, ctx: RunContext) -> ProviderResult:
        target = self.target(ctx)
        with self.understood(target):
            return self._generate(request, ctx, target)

    def _generate(self, request, ctx: RunContext, target: BackendTarget) -> ProviderResult:
        started = time.monotonic()
        with self.sdk(target, self.timeout(ctx)) as client:
            answer = self._call(client, request, ctx, target)
            if not isinstance(getattr(answer, "data", None), list):
                raise ProviderError(
                    f"{self.name_of(target)} answered with something that is not an images "
                    "response."
                )
            seconds = round(time.monotonic() - started, 3)
            images = []
            for item in answer.data or []:
                if getattr(item, "b64_json", None):
                    images.append(GeneratedImage(data=decode_base64(item.b64_json)))
                elif getattr(item, "url", None):
                    images.append(GeneratedImage(data=self._download(item.url, target, ctx)))
        return ProviderResult(images=images, gpu_seconds=seconds, metadata={"backend": target.name})

    def _call(self, client, request: GenerationRequest, ctx: RunContext, target):
        """One images call; transport trouble is the backend's (BackendUnreachable)."""
        body = {
            "model": request.model,
            "prompt": request.prompt,
            "n": request.num_images,
            "size": f"{request.width}x{request.height}",
            "response_format": "b64_json",
        }
        try:
            if request.operation == Operation.GENERATE:
                return client.images.generate(**body)
            if not target.edits:
                raise ProviderError(f"{self.name_of(target)} does not serve image edits.")
            source = request.input_images[0]
            files = {"image": (f"image.{source.extension}", source.data, source.mime)}
            if request.mask is not None:
                mask = mask_for_openai(request.mask, source)
                files["mask"] = ("mask.png", mask.data, "image/png")
            return client.images.edit(**body, **files)
        except openai_sdk.APITimeoutError:
            if ctx.remaining() <= 1:
                raise GenerationTimedOut() from None
            raise BackendUnreachable(
                f"{self.name_of(target)} did not answer in time.", target.id
            ) from None
        except openai_sdk.APIConnectionError as exc:
            reason = connection_reason(exc.__cause__ or exc)
            raise BackendUnreachable(
                f"{self.name_of(target)} stopped answering ({reason}).", target.id
            ) from None
        except openai_sdk.APIStatusError as exc:
            body = exc.body if isinstance(exc.body, dict) else {}
            reason = str(body.get("message") or exc.message or "")
            raise self.refusal(target, exc.status_code, reason, "the request") from None
        except openai_sdk.APIError as exc:  # e.g. an answer that fails the SDK's validation
            raise ProviderError(
                f"{self.name_of(target)} answered with something the openai SDK cannot read "
                f"({type(exc).__name__})."
            ) from None

    def _download(self, url: str, target: BackendTarget, ctx: RunContext) -> bytes:
        return fetch_image(url, ctx, trusted_extra={netloc(target.base_url)})


def api_base(base_url: str) -> str:
    """The SDK's base URL: the admin's URL, with ``/v1`` added when it has no path."""
    parts = urlsplit(base_url)
    if parts.path in ("", "/"):
        return urlunsplit((parts.scheme, parts.netloc, "/v1", "", ""))
    return base_url.rstrip("/")


def netloc(url: str) -> str:
    """host:port of the backend's URL, as the fetcher compares them."""
    return netloc_of(urlsplit(url))
