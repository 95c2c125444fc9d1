"""The pools of self-hosted backends: which backend runs a job, health, and the environment's
backends (docs/self-hosted-backends.md).

A job of a self-hosted provider is assigned a backend when it is claimed
(``generation.runner.claim``): the enabled, healthy backend of the provider's kind that serves
the model, that the owner may use, with the most free capacity (``max_concurrent`` minus the
jobs it runs now). With none free the job stays queued ("waiting for a free GPU") and is
dispatched again when a backend's job ends. A backend that stops answering is marked
unhealthy with the reason and the time; the minute health check marks it healthy again once
it answers.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from generation.models import Generation, Status
from generation.services import enqueue_generation
from imagegen.providers import get_provider
from imagegen.providers.backends import Backend, BackendKind, BackendSource
from imagegen.providers.selfhosted import SelfHostedProvider

logger = logging.getLogger(__name__)

ENV_SETTINGS = {
    BackendKind.COMFYUI: "COMFYUI_BASE_URL",
    BackendKind.A1111: "A1111_BASE_URL",
    BackendKind.OPENAI_COMPATIBLE: "OPENAI_COMPATIBLE_BASE_URL",
}


@dataclass(frozen=True)
class Choice:
    """The outcome of picking a backend: one, or why there is none (``waiting`` when every
    capable backend is busy, else a failure in words)."""

    backend: Backend | None = None
    waiting: bool = False
    reason: str = ""


def self_hosted(provider_name: str) -> SelfHostedProvider | None:
    provider = get_provider(provider_name)
    return provider if isinstance(provider, SelfHostedProvider) else None


def choose(generation: Generation) -> Choice:
    """The backend for this job (called inside the claim's transaction)."""
    provider = self_hosted(generation.provider)
    usable = list(provider.backends(generation.owner).with_running())
    capable = provider.capable(usable, generation.model)
    if not capable:
        return Choice(
            reason=f"No {provider.label} backend you may use serves {generation.model} any "
            "more; choose another model."
        )
    healthy = [b for b in capable if b.healthy]
    if not healthy:
        # A backend down for a moment (a restart) should not fail the queue: the job waits
        # for the minute check to see one back, for as long as a job may run.
        waited = (timezone.now() - generation.created_at).total_seconds()
        if waited < settings.BACKEND_TIMEOUT:
            return Choice(waiting=True)
        sick = capable[0]
        since = f" at {sick.unhealthy_since:%Y-%m-%d %H:%M} UTC" if sick.unhealthy_since else ""
        return Choice(
            reason=f"No {provider.label} backend answered for {int(waited)} s: {sick.name} "
            f"stopped answering{since} ({sick.last_error or 'no reason recorded'})."
        )
    free = [b for b in healthy if b.running < b.max_concurrent]
    if not free:
        return Choice(waiting=True)
    best = max(free, key=lambda b: (b.max_concurrent - b.running, -b.running, -b.pk))
    return Choice(backend=best)


def waiting_for_gpu(generation: Generation) -> bool:
    """A queued job of a self-hosted provider whose capable backends are all busy."""
    return generation.backend_id is None and self_hosted(generation.provider) is not None


def dispatch_waiting(provider_name: str) -> None:
    """Queue again the oldest waiting jobs of this provider (a backend slot came free)."""
    waiting = Generation.objects.filter(
        provider=provider_name, status=Status.QUEUED, cancel_requested=False
    ).order_by("id")
    room = sum(
        max(0, b.max_concurrent - b.running)
        for b in Backend.objects.filter(
            kind=provider_name, enabled=True, healthy=True
        ).with_running()
    )
    for generation_id in waiting.values_list("id", flat=True)[: max(room, 1)]:
        enqueue_generation(generation_id)


# --- Health --------------------------------------------------------------------------------


def mark_unhealthy(backend_id: int, reason: str) -> None:
    """The backend stopped answering: record why and since when (the first time only)."""
    now = timezone.now()
    Backend.objects.filter(pk=backend_id, healthy=True).update(
        healthy=False, unhealthy_since=now, updated_at=now
    )
    Backend.objects.filter(pk=backend_id).update(last_error=reason[:500], last_checked_at=now)
    logger.warning("backend %s: unhealthy: %s", backend_id, reason)


def check_backend(backend: Backend) -> bool:
    """Ask the backend whether it answers and what it serves; record the answer."""
    provider = self_hosted(backend.kind)
    health = provider.check_health(backend.target())
    now = timezone.now()
    fields = {"last_checked_at": now}
    if health.ok:
        fields.update(healthy=True, unhealthy_since=None, last_error="")
        if health.models:
            fields["listed_models"] = health.models
        if health.extra:
            fields["listed_extra"] = health.extra
        if not backend.healthy:
            logger.info("backend %s (%s): answering again", backend.pk, backend.name)
    else:
        fields.update(healthy=False, last_error=health.error[:500])
        if backend.healthy or backend.unhealthy_since is None:
            fields["unhealthy_since"] = now
    Backend.objects.filter(pk=backend.pk).update(**fields)
    for name, value in fields.items():
        setattr(backend, name, value)
    return health.ok


def check_backends() -> dict[str, int]:
    """The minute health check of every enabled backend; jobs waiting on a backend that came
    back are dispatched."""
    counts = {"healthy": 0, "unhealthy": 0}
    revived = set()
    for backend in Backend.objects.filter(enabled=True):
        was = backend.healthy
        try:
            ok = check_backend(backend)
        except Exception:  # one backend's odd answer must not stop the others' checks
            logger.exception("backend %s: health check failed", backend.pk)
            continue
        counts["healthy" if ok else "unhealthy"] += 1
        if ok and not was:
            revived.add(backend.kind)
    for kind in revived:
        dispatch_waiting(kind)
    return counts


def missing_node_types(workflow: dict) -> dict[str, list[str]]:
    """For each enabled ComfyUI backend that answers, the node types of the workflow it does
    not have (custom nodes not installed there): {backend name: [class_type, …]}."""
    provider = self_hosted(BackendKind.COMFYUI)
    wanted = {
        node.get("class_type")
        for node in workflow.values()
        if isinstance(node, dict) and isinstance(node.get("class_type"), str)
    }
    missing = {}
    for backend in Backend.objects.filter(kind=BackendKind.COMFYUI, enabled=True):
        known = provider.node_types(backend.target())
        if known is not None and wanted - known:
            missing[backend.name] = sorted(wanted - known)
    return missing


# --- Backends from the environment -----------------------------------------------------------


def env_urls(kind: str) -> list[str]:
    raw = getattr(settings, ENV_SETTINGS[kind], "") or ""
    return [url.strip() for url in raw.split(",") if url.strip()]


def sync_environment_backends() -> list[Backend]:
    """One backend row per URL in COMFYUI_BASE_URL, A1111_BASE_URL and
    OPENAI_COMPATIBLE_BASE_URL (named after its host), created once and then kept as the
    admin leaves it (a row the admin disabled stays disabled); a URL no longer in the
    environment disables its row. Run after migrate."""
    rows = []
    with transaction.atomic():
        seen = set()
        for kind in ENV_SETTINGS:
            for url in env_urls(kind):
                if urlsplit(url).username or urlsplit(url).password:
                    logger.error(
                        "%s: a URL with a login in it is ignored (it would be stored in "
                        "plain text); add that backend in the admin with its login instead",
                        ENV_SETTINGS[kind],
                    )
                    continue
                backend = Backend.objects.filter(kind=kind, base_url=url).first()
                if backend is None:
                    backend = Backend.objects.create(
                        kind=kind,
                        name=unique_name(f"{kind}-{urlsplit(url).hostname or 'server'}"),
                        base_url=url,
                        source=BackendSource.ENVIRONMENT,
                    )
                seen.add(backend.pk)
                rows.append(backend)
        Backend.objects.filter(source=BackendSource.ENVIRONMENT).exclude(pk__in=seen).update(
            enabled=False
        )
    return rows


def unique_name(base: str) -> str:
    name, n = base[:90], 2
    while Backend.objects.filter(name=name).exists():
        name, n = f"{base[:90]}-{n}", n + 1
    return name
